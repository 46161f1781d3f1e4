"""The active mini-program behind an appid, kept in each process for settings.MINI_PROGRAM_KEEP_SECONDS.

Every login reads its mini-program (its id and WeChat secret) before it calls
WeChat: one of the login's four MySQL round trips, for a row that changes only
when an operator edits it. So each process keeps what it read for a while (30 s
by default). A change takes effect at once in the process that saved it
(post_save and post_delete forget every kept row), and within that time in every
other worker. A secret that WeChat refuses is forgotten at once (forget), so the login
after an operator fixed it reads the new one. Only active mini-programs are
kept: an unknown appid is read again each time, so this holds at most one entry
per row.

Each call gets its own instance (from_db), so nothing a request does to it
reaches another request.
"""

from __future__ import annotations

import time

from django.conf import settings

from apps.accounts.models import MiniProgram
from corelib.db.row_read import first_where

ATTNAMES = tuple(field.attname for field in MiniProgram._meta.concrete_fields)

# appid -> (monotonic time it expires, database alias, values in ATTNAMES order)
_kept: dict[str, tuple[float, str, tuple]] = {}


def active(appid: str) -> MiniProgram | None:
    """The active mini-program with this appid, or None."""
    entry = _kept.get(appid)
    if entry is not None and entry[0] > time.monotonic():
        return MiniProgram.from_db(entry[1], ATTNAMES, entry[2])
    program = first_where(MiniProgram, appid=appid, is_active=True)
    if program is None:
        _kept.pop(appid, None)
        return None
    values = tuple(getattr(program, name) for name in ATTNAMES)  # plain values: each read builds its own instance
    keep = settings.MINI_PROGRAM_KEEP_SECONDS
    if keep > 0:
        _kept[appid] = (time.monotonic() + keep, program._state.db, values)
    return program


def forget(appid: str | None = None) -> None:
    """Read this appid's row (or every row) from MySQL next time."""
    if appid is None:
        _kept.clear()
    else:
        _kept.pop(appid, None)


def forget_on_change(sender, **kwargs) -> None:
    """post_save / post_delete of a MiniProgram: an appid may have changed too, so every row goes."""
    forget()
