"""The service's WSGI app with the board page cache bypassed, for the `board uncached` case.

board_version() answering None is the path the app takes when Redis is down:
every board read goes to MySQL. Token checks and everything else stay as they are.
"""

from project.wsgi import application  # isort: skip - sets Django up before the app module below

from apps.boards import cache as board_cache

board_cache.board_version = lambda board_id: None

__all__ = ["application"]
