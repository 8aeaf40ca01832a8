"""The app as granian's RSGI interface imports it (``counter.rsgi:app``), the default.

The same ASGI app as ``counter.asgi:app`` (configured from ``COUNTER_*``, same process
set-up), behind the RSGI front that answers plain ``/hit`` and ``/get`` itself.
"""

from __future__ import annotations

from counter.asgi import app as asgi_app
from counter.web.rsgi import RsgiFront

app = RsgiFront(asgi_app, asgi_app.state.counter_hot)
