"""The embedded Redis's data directory: who may use it (a lock) and who may read it (modes).

One lock decides who runs the embedded Redis: ``flock`` on ``<data dir>/lock``, taken
without waiting by whoever starts it and inherited by the ``redis-server`` child, so the
directory stays locked while either process lives. A PING is not a lock: a stopped
(SIGSTOP) or busy Redis does not answer one, and deciding from that started a second
server on the same AOF. Whoever cannot take the lock uses the running Redis through its
socket, and the socket of a live owner is never removed.

Hit logs and token digests live here: the directory is made 0700 and Redis writes its
files 0600 (umask 077); a directory that other users can write is refused.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from pathlib import Path

from counter.errors import ConfigError

LOCK_NAME = "lock"


class DataDirBusy(ConfigError):
    """Another process holds the data directory's lock (a server or a CLI runs on it)."""


class DataDirLock:
    """An exclusive ``flock`` on ``<data_dir>/lock``; released when every holder exits."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self.fd: int | None = None

    def acquire(self) -> None:
        """Take the lock now or raise DataDirBusy naming the holder."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise DataDirBusy(
                f"data directory {self.path.parent} is in use by a running counter process"
                f"{holder}; stop it or use another --data-dir"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd

    def locked_by_other(self) -> bool:
        """True when another process holds the lock (we neither hold nor take it)."""
        if self.fd is not None:
            return False
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing drops the probe's shared lock
        return False

    def release(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)  # a redis-server that inherited it keeps the lock until it exits


def _read_holder(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        pid = int(os.pread(fd, 32, 0).decode().strip())
        return f" (pid {pid})"
    return ""


def prepare(data_dir: Path) -> None:
    """Create ``data_dir`` 0700 (or tighten ours to 0700); refuse one others can write."""
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = data_dir.stat()
    except OSError as error:
        raise ConfigError(f"cannot create data directory {data_dir}: {error}") from None
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigError(
            f"data directory {data_dir} is writable by other users (mode "
            f"{stat.S_IMODE(info.st_mode):o}); chmod 700 it or use another --data-dir"
        )
    if info.st_uid != os.getuid():
        return  # not ours to change; Redis still writes its files 0600
    if stat.S_IMODE(info.st_mode) != 0o700:
        data_dir.chmod(0o700)
    for path in data_dir.iterdir():  # files an older version left readable
        with contextlib.suppress(OSError):
            mode = path.lstat().st_mode
            if stat.S_ISREG(mode) and stat.S_IMODE(mode) & 0o077:
                path.chmod(0o600)
