"""The app as ASGI servers import it (``counter.asgi:app``), configured from ``COUNTER_*``."""

from __future__ import annotations

from .app import create_app

app = create_app()
