"""The ASGI servers ``counter serve`` can run: granian (default), uvicorn, Hypercorn.

Each runs ``counter.asgi:app`` in ``workers`` processes on uvloop and returns when
it has shut down after SIGINT/SIGTERM. Measured on this project's hot path (see the
docs/performance.md), granian and uvicorn serve several times what Hypercorn
does; Hypercorn stays for deployments that want it (HTTP/2 from the same process).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

from counter.redis.embedded import die_with_parent
from counter.settings import Settings

APP = "counter.asgi:app"
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


def run_granian(settings: Settings) -> int:
    from granian.constants import Interfaces, Loops
    from granian.log import LogLevels
    from granian.server import Server

    Server(
        APP,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,  # with lifespan: stats are flushed on shutdown
        workers=settings.workers,
        loop=Loops.uvloop,
        log_level=LogLevels.warning,
        log_access=False,
        backlog=2048,
        workers_kill_timeout=5,
    ).serve()
    return 0


def run_uvicorn(settings: Settings) -> int:
    import uvicorn

    # uvicorn re-raises the stop signal once it has shut down, through the handler that
    # was installed before it ran; a quiet one lets ``counter serve`` clean up and exit 0.
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, lambda number, frame: None)
    uvicorn.run(
        APP,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=5,
        backlog=2048,
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
    return int(run(config) or 0)


_RUNNERS: dict[str, Callable[[Settings], int]] = {
    "granian": run_granian,
    "uvicorn": run_uvicorn,
    "hypercorn": run_hypercorn,
}


def run(settings: Settings) -> int:
    """Serve with ``settings.server`` until SIGINT/SIGTERM; returns the exit code."""
    os.environ[_SERVE_PID] = str(os.getpid())
    return _RUNNERS[settings.server](settings)
