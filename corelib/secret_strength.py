"""Why a secret is not good enough for a deployed environment, or None when it is.

A deployed service must not run on a value anyone can read in the repository
(.env.example's placeholders, which `check --deploy` does not know about), on
a short one, or on one with little randomness in it ("aaaa...", "1234..."):
Django signs admin sessions and password-reset links with SECRET_KEY, and the
test environment shares the admin tables with production.
"""

from __future__ import annotations

import math
from collections import Counter
from functools import lru_cache
from pathlib import Path

EXAMPLE_FILE = Path(__file__).resolve().parent.parent / ".env.example"
MIN_LENGTH = 50
# Shannon entropy per character of the value itself. 50 random characters from
# base64 or hex measure 4.4-5.4 and 3.5-3.9 bits; a word repeated, or a run of
# one character, stays well under 3.
MIN_BITS_PER_CHARACTER = 3.0


@lru_cache(maxsize=1)
def placeholders() -> frozenset[str]:
    """Every value .env.example gives, whole and item by item (comma-separated lists)."""
    values: set[str] = set()
    if not EXAMPLE_FILE.exists():
        return frozenset()
    for line in EXAMPLE_FILE.read_text().splitlines():
        name, sep, value = line.strip().lstrip("#").strip().partition("=")
        if sep and name.isupper() and value.strip():
            values.add(value.strip())
            values.update(item.strip() for item in value.split(",") if item.strip())
    return frozenset(values)


def bits_per_character(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values()) if value else 0.0


def weakness(value: str, *, strong: bool) -> str | None:
    """A short reason the value is refused. `strong`: also require length and randomness."""
    items = {value, *(item.strip() for item in value.split(","))}
    if items & placeholders():
        return "is a placeholder from .env.example"
    if not strong:
        return None
    if len(value) < MIN_LENGTH:
        return f"is shorter than {MIN_LENGTH} characters"
    if bits_per_character(value) < MIN_BITS_PER_CHARACTER:
        return "has too little randomness (a repeated pattern?)"
    return None
