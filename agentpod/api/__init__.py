"""The HTTP API: a second shell beside the CLI, over the same control functions.

``app.create_app`` builds the FastAPI application; ``server.ApiThread`` serves it inside
``agentpod serve``, on its own thread, so that the API and the reconcile loop never stop
each other.
"""
