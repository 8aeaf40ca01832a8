"""The public HTTP face: the CountAPI routes, the raw-ASGI hot path, CORS and rendering.

``errors`` holds the one mapping from engine errors to HTTP responses and the JSON error
handlers that both this app and ``counter.api`` install.
"""
