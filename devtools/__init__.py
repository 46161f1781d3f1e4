"""Development tools: the WeChat and Sentry stand-ins and the `make run` launcher.

Nothing in corelib/, apps/ or project/ imports this package: production runs without it.
"""
