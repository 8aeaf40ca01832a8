"""``counter serve --metrics``: the multiprocess directory every worker writes its samples to,
and the optional separate listener (``--metrics-port``) that sums them for a scrape."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from counter.web.metrics import MULTIPROC_ENV, scrape_registry


@contextmanager
def metrics_directory() -> Iterator[str]:
    """A fresh, empty directory in ``PROMETHEUS_MULTIPROC_DIR`` for this server's lifetime.

    Fresh on purpose: files left by an earlier run would add its counts to this one's.
    """
    path = tempfile.mkdtemp(prefix="counter-metrics-")
    os.environ[MULTIPROC_ENV] = path
    try:
        yield path
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(path, ignore_errors=True)


def serve_metrics(host: str, port: int) -> None:
    """Answer scrapes on ``host:port`` from a thread of the supervising process."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=host, registry=scrape_registry())
