"""The service's WSGI app with the board cache bypassed, for the `board uncached` case.

Every board read calls its loaders (MySQL), as the app does when Redis is down;
token checks and everything else stay as they are.
"""

from project.wsgi import application  # isort: skip - sets Django up before the app module below

from apps.boards import cache as board_cache
from bench.uncached import uncached_read

if not callable(getattr(board_cache, "cached_read", None)):
    # Patching a name the app no longer calls would measure the cached path under the uncached label.
    raise RuntimeError("apps.boards.cache.cached_read is gone: update bench/wsgi_uncached.py")

board_cache.cached_read = uncached_read

__all__ = ["application"]
