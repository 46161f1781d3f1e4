"""The service's WSGI app with the board page's token checked before the view, as before: two Redis round trips.

The "before" side of the A/B for the one-round-trip board page (bench/ab.py, variant board_two_trips).
"""

from project.wsgi import application  # isort: skip - sets Django up before the app module below

from apps.accounts.auth import token_checked_by_view

token_checked_by_view.checked_by_view = False

__all__ = ["application"]
