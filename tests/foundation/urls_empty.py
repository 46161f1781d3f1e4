"""A URLconf with no pattern: tests/foundation/test_wsgi.py swaps it in."""

urlpatterns: list = []
