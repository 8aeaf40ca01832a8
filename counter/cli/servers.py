"""The ASGI servers ``counter serve`` can run: granian (default), uvicorn, Hypercorn.

Each runs ``counter.asgi:app`` in ``workers`` processes on uvloop and returns when
it has shut down after SIGINT/SIGTERM. Measured on this project's hot path (see the
docs/performance.md), granian and uvicorn serve several times what Hypercorn
does; Hypercorn stays for deployments that want it (HTTP/2 from the same process).
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
from collections.abc import Callable

from counter.redis.embedded import die_with_parent
from counter.settings import Settings

APP = "counter.asgi:app"
RSGI_APP = "counter.rsgi:app"  # the same app behind the RSGI front (counter/web/rsgi.py)
_SERVE_PID = "_COUNTER_SERVE_PID"  # tells a worker process which process serves it


def die_with_server() -> None:
    """In a worker of ``counter serve``: die with the serving process when it is killed.

    granian and uvicorn run workers as child processes; an orphaned worker would keep
    the port and the Redis connection. A graceful stop goes through the server (which
    stops its workers first); only a killed server leaves this to the kernel, and then
    the worker is killed too, as it would have been in a single process.
    """
    serve_pid = os.environ.get(_SERVE_PID)
    if serve_pid is None or int(serve_pid) == os.getpid():
        return
    die_with_parent(signal.SIGKILL)
    if os.getppid() != int(serve_pid):  # the server died before we asked
        os.kill(os.getpid(), signal.SIGKILL)


def connection_limit(settings: Settings) -> int:
    """Open connections per worker: the setting, or what the open-files limit allows.

    Raises the soft open-files limit to the hard one first (workers inherit it). A cap
    below the limit keeps accept() from failing with EMFILE; connections beyond it wait
    in the listen backlog (granian) or get a 503 (uvicorn).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if settings.max_connections:
        return settings.max_connections
    allowed = _MAX_AUTO_CONNECTIONS if soft == resource.RLIM_INFINITY else soft - _FD_RESERVE
    return max(64, min(allowed, _MAX_AUTO_CONNECTIONS))


def run_granian(settings: Settings) -> int:
    """granian with its RSGI interface: the hot path answered natively, the rest bridged."""
    return _granian(settings, rsgi=True)


def run_granian_asgi(settings: Settings) -> int:
    """granian with its ASGI interface (header bytes passed through as sent)."""
    return _granian(settings, rsgi=False)


def _granian(settings: Settings, *, rsgi: bool) -> int:
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server import Server

    Server(
        RSGI_APP if rsgi else APP,
        address=settings.host,
        port=settings.port,
        # Either way the app's lifespan runs: stats are flushed on shutdown.
        interface=Interfaces.RSGI if rsgi else Interfaces.ASGI,
        workers=settings.workers,
        loop=Loops.uvloop,
        log_level=LogLevels.warning,
        log_access=False,
        backlog=_BACKLOG,
        # HTTP/1 only: in "auto" mode the read that sniffs the protocol version has no
        # timer, so a connection that never sends a byte was held forever.
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(header_read_timeout=settings.header_timeout_s * 1000),
        backpressure=connection_limit(settings),  # per worker
        respawn_failed_workers=True,  # a worker killed (OOM killer) is replaced
        workers_kill_timeout=5,
    ).serve()
    return 0


def run_uvicorn(settings: Settings) -> int:
    import uvicorn

    from counter.cli.uvicorn_protocol import HeaderDeadlineProtocol

    # uvicorn re-raises the stop signal once it has shut down, through the handler that
    # was installed before it ran; a quiet one lets ``counter serve`` clean up and exit 0.
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, lambda number, frame: None)
    uvicorn.run(
        APP,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,  # its supervisor restarts a worker that dies
        loop="uvloop",
        http=HeaderDeadlineProtocol,
        lifespan="on",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=5,
        timeout_keep_alive=settings.header_timeout_s,
        limit_concurrency=connection_limit(settings),
        backlog=_BACKLOG,
    )
    return 0


def run_hypercorn(settings: Settings) -> int:
    from hypercorn.config import Config
    from hypercorn.run import run

    config = Config()
    config.application_path = APP
    config.bind = [f"{settings.host}:{settings.port}"]
    config.workers = 0 if settings.workers == 1 else settings.workers  # 0: in this process
    config.worker_class = "uvloop"
    config.accesslog = None
    config.graceful_timeout = 5
    config.backlog = _BACKLOG
    config.read_timeout = settings.header_timeout_s  # a silent connection is closed
    config.keep_alive_timeout = settings.header_timeout_s
    connection_limit(settings)  # Hypercorn has no cap; the raised open-files limit helps
    return int(run(config) or 0)


_BACKLOG = 4096
_FD_RESERVE = 512  # Redis connections, the AOF, logs: never starve them of descriptors
_MAX_AUTO_CONNECTIONS = 65_536


_RUNNERS: dict[str, Callable[[Settings], int]] = {
    "granian": run_granian,
    "granian-asgi": run_granian_asgi,
    "uvicorn": run_uvicorn,
    "hypercorn": run_hypercorn,
}


def run(settings: Settings) -> int:
    """Serve with ``settings.server`` until SIGINT/SIGTERM; returns the exit code."""
    os.environ[_SERVE_PID] = str(os.getpid())
    return _RUNNERS[settings.server](settings)
