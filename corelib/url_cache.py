"""URL resolution remembered per path, for the API's handler.

Django resolves every request's path from scratch: it walks the URL patterns
and their regexes and builds a ResolverMatch (11-15 µs of the 86 µs the json
probe costs in-process under gevent). A path resolves to the same view and
arguments for as long as the same resolver serves, so the match is kept,
keyed by the resolver too: a new URLconf (Django's clear_url_caches, a test's
override) brings a new resolver, and with it fresh matches.

Bounded: paths carry ids, and a client chooses them, so the least recently
used are dropped. A path that does not resolve raises Resolver404, which is
never kept. Each request gets its own copy of the match with its own kwargs
dict, since middleware's process_view may change the kwargs it is handed.
"""

from functools import lru_cache

from django.urls import ResolverMatch, get_resolver
from django.urls.resolvers import URLResolver

# Distinct paths kept per worker: a few hundred bytes each.
MAX_PATHS = 2048


@lru_cache(maxsize=MAX_PATHS)
def _resolve(resolver: URLResolver, path_info: str) -> ResolverMatch:
    return resolver.resolve(path_info)


def resolve(path_info: str) -> ResolverMatch:
    """The default URLconf's match for path_info, as get_resolver().resolve gives it, a fresh copy each call."""
    kept = _resolve(get_resolver(), path_info)
    match = ResolverMatch.__new__(ResolverMatch)
    match.__dict__.update(kept.__dict__)
    match.kwargs = dict(kept.kwargs)
    return match
