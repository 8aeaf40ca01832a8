"""The app as ASGI servers import it (``counter.asgi:app``), configured from ``COUNTER_*``."""

from __future__ import annotations

import gc

from counter.app import create_app
from counter.cli.servers import die_with_server

die_with_server()
app = create_app(handle_signals=True)

# A server process (not an embedding host, which owns its GC policy): move everything
# built at import out of the collector's sight and collect young objects less often.
# The cyclic collector's full passes over long-lived objects made the p99 latency tail.
gc.collect()
gc.freeze()
gc.set_threshold(50_000, 20, 100)
