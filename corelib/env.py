"""Typed readers for settings that come from the environment.

Every reader raises ImproperlyConfigured naming the variable when its value is
malformed, so a typo fails at start-up instead of at the first request.
"""

import os
import zoneinfo

from django.core.exceptions import ImproperlyConfigured

from corelib.secret_strength import weakness

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_MISSING = object()


def env_str(name: str, default: str | object = _MISSING) -> str:
    value = os.environ.get(name)
    if value is None:
        if default is _MISSING:
            raise ImproperlyConfigured(f"The environment variable {name} is required and not set.")
        return default  # type: ignore[return-value]
    return value


def env_secret(name: str, *, strong: bool = False) -> str:
    """A secret: no default anywhere, and an empty value counts as missing.

    Never one of .env.example's placeholders; with `strong`, also 50+ characters
    with enough randomness (corelib.secret_strength).
    """
    value = os.environ.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(f"The secret {name} is required and not set (environment or .env).")
    reason = weakness(value, strong=strong)
    if reason:
        raise ImproperlyConfigured(f"The secret {name} {reason}: set a value of your own (environment or .env).")
    return value


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use 1/0, true/false, yes/no, on/off).")


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below the minimum of {minimum}.")
    return number


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number.") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: list[str]) -> str:
    value = os.environ.get(name, "").strip() or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} is not one of {', '.join(choices)}.")
    return value


def env_time_zone(name: str, default: str) -> str:
    """An IANA zone name such as Asia/Shanghai or UTC."""
    value = os.environ.get(name, "").strip() or default
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(f"{name}={value!r} is not a time zone name (e.g. Asia/Shanghai, UTC).") from None
    return value
