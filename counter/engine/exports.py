"""Background exports of a namespace's hit log as a gzip CSV (GoatCounter's version 2).

A job's state and payload live in Redis (``cnt:exp:{ns}:<id>``), so any instance can
report on it and serve its download. The instance that accepted the job runs it as an
asyncio task holding a lease it renews with every page it writes; a job whose lease
runs out (its worker died, or lost Redis) is marked failed by whoever looks at it next.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import io
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from counter.engine.base import StoreBase, as_text, driver_errors
from counter.engine.hits import CSV_HEADER, csv_row
from counter.engine.records import ExportStart, ExportStep
from counter.engine.scripts import Status
from counter.errors import CounterError, StoreError

if TYPE_CHECKING:
    from counter.engine.store import Store

Clock = Callable[[], int]
LEASE_EXPIRED = "the export's worker stopped before finishing (server restarted or crashed)"
SHUT_DOWN = "the export was interrupted: its server shut down"


class _ShuttingDown(Exception):
    """Raised inside a worker when its process is shutting down."""


@dataclass(frozen=True, slots=True)
class ExportSettings:
    page_size: int
    lease_ms: int
    retention_ms: int


class Exporter:
    """Starts export jobs, runs the ones this process accepted, reports on any job."""

    def __init__(self, settings: ExportSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._closing = False
        # Told +1 when this process starts running a job and -1 when it ends (metrics).
        self.on_running: Callable[[int], None] | None = None

    async def start(self, store: Store, namespace: str, start_from_hit_id: int) -> dict[str, str]:
        """Record a job and start its worker here; returns the job as stored."""
        export_id = await store.next_export_id()
        worker = uuid.uuid4().hex
        now = self.clock()
        await store.start_export(
            ExportStart(
                export_id=export_id,
                namespace=namespace,
                start_from_hit_id=start_from_hit_id,
                until_hit_id=await store.last_hit_id(namespace),
                now=now,
                worker=worker,
                lease_until=now + self.settings.lease_ms,
                retention_ms=self.settings.retention_ms,
            )
        )
        task = asyncio.get_running_loop().create_task(
            self._run(store, namespace, export_id, worker), name=f"export-{export_id}"
        )
        self._tasks[export_id] = task
        task.add_done_callback(lambda _: self._job_ended(export_id))
        if self.on_running is not None:
            self.on_running(1)
        job = await store.export_job(namespace, export_id)
        assert job is not None
        return job

    def _job_ended(self, export_id: int) -> None:
        self._tasks.pop(export_id, None)
        if self.on_running is not None:
            self.on_running(-1)

    async def job(self, store: Store, namespace: str, export_id: int) -> dict[str, str] | None:
        """The job's state; a running job whose lease ran out is failed first."""
        job = await store.export_job(namespace, export_id)
        if job is None or job.get("state") != "running":
            return job
        now = self.clock()
        if int(job.get("lease_until", "0")) <= now and await store.fail_export(
            namespace, export_id, worker="", error=LEASE_EXPIRED, now=now
        ):
            job = await store.export_job(namespace, export_id)
        return job

    async def wait(self, export_id: int) -> None:
        """Wait for a job this process runs (tests and graceful shutdown use it)."""
        task = self._tasks.get(export_id)
        if task is not None:
            await asyncio.shield(task)

    async def close(self, grace_s: float = 5.0) -> None:
        """Stop running jobs; each marks itself failed so no client waits for a lease.

        Workers stop at their next page; one stuck in a Redis call is cancelled after
        ``grace_s`` (cancelling first could be swallowed by the driver's own timeouts).
        """
        self._closing = True
        tasks = list(self._tasks.values())
        if not tasks:
            return
        _, stuck = await asyncio.wait(tasks, timeout=grace_s)
        for task in stuck:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, store: Store, namespace: str, export_id: int, worker: str) -> None:
        try:
            await self._write(store, namespace, export_id, worker)
        except (asyncio.CancelledError, _ShuttingDown) as stop:
            await self._give_up(store, namespace, export_id, worker, SHUT_DOWN)
            if isinstance(stop, asyncio.CancelledError):
                raise
        except CounterError as error:
            await self._give_up(store, namespace, export_id, worker, f"export failed: {error}")
        except Exception:
            await self._give_up(
                store, namespace, export_id, worker, "export failed: internal error"
            )
            raise

    async def _give_up(
        self, store: Store, namespace: str, export_id: int, worker: str, reason: str
    ) -> None:
        # If Redis is gone too, the lease runs out and the next reader fails the job.
        with contextlib.suppress(CounterError):
            await store.fail_export(
                namespace, export_id, worker=worker, error=reason, now=self.clock()
            )

    async def _write(self, store: Store, namespace: str, export_id: int, worker: str) -> None:
        job = await store.export_job(namespace, export_id)
        if job is None:
            return
        after, until = int(job["start_from_hit_id"]), int(job["until_hit_id"])
        compressor = zlib.compressobj(wbits=31)  # 31: a gzip container
        digest = hashlib.sha256()
        text = io.StringIO()
        rows = csv.writer(text, lineterminator="\n")
        rows.writerow(CSV_HEADER)
        while True:
            if self._closing:
                raise _ShuttingDown
            entries = await store.read_hit_log(
                namespace, after=after, until=until, count=self.settings.page_size
            )
            for hit_id, entry in entries:
                rows.writerow(csv_row(entry))
                after = hit_id
            finish = len(entries) < self.settings.page_size
            chunk = compressor.compress(text.getvalue().encode())
            text.seek(0)
            text.truncate()
            if finish:
                chunk += compressor.flush()
            digest.update(chunk)
            now = self.clock()
            step = ExportStep(
                worker=worker,
                chunk=chunk,
                rows=len(entries),
                last_hit_id=after,
                now=now,
                lease_until=now + self.settings.lease_ms,
                retention_ms=self.settings.retention_ms,
                finish=finish,
                payload_hash=f"sha256-{digest.hexdigest()}" if finish else "",
            )
            if not await store.export_progress(namespace, export_id, step) or finish:
                return  # finished, or the job was failed under us: stop writing
            await asyncio.sleep(0)  # let requests through between pages


def render_job(job: dict[str, str]) -> dict[str, Any]:
    """The export object as GoatCounter shows it (times in RFC 3339, UTC)."""
    finished = job.get("finished_at")
    return {
        "id": int(job["id"]),
        "namespace": job["namespace"],
        "start_from_hit_id": int(job["start_from_hit_id"]),
        "last_hit_id": int(job["last_hit_id"]),
        "created_at": _rfc3339(int(job["created_at"])),
        "finished_at": _rfc3339(int(finished)) if finished else None,
        "num_rows": int(job.get("num_rows", "0")),
        "size": int(job["size"]) if "size" in job else None,
        "hash": job.get("hash") or None,
        # A 2xx answer never carries an ``error`` key (GoatCounter's API promise; clients test
        # for the key), so a failed export says so in ``state`` and ``failure``.
        "state": job.get("state") or ("finished" if finished else "running"),
        "failure": job.get("error") or None,
    }


def _rfc3339(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ExportStore(StoreBase):
    """Export jobs: their state hash, the id -> namespace lookup and the gzip payload."""

    async def next_export_id(self) -> int:
        async with driver_errors():
            return int(await self.redis.incr(self.keys.export_sequence()))

    async def start_export(self, job: ExportStart) -> None:
        """Record a running export job and the id -> namespace lookup."""
        reply = await self._eval(
            "export_start",
            [self.keys.export(job.namespace, str(job.export_id))],
            [
                job.export_id,
                job.namespace,
                job.start_from_hit_id,
                job.until_hit_id,
                job.now,
                job.worker,
                job.lease_until,
                job.retention_ms,
            ],
        )
        if reply[0] == Status.EXISTS:
            raise StoreError(f"export {job.export_id} already exists")
        async with driver_errors():
            await self.redis.set(
                self.keys.export_namespace(str(job.export_id)), job.namespace, px=job.retention_ms
            )

    async def export_namespace(self, export_id: int) -> str | None:
        async with driver_errors():
            value = await self.redis.get(self.keys.export_namespace(str(export_id)))
        return None if value is None else as_text(value)

    async def export_job(self, namespace: str, export_id: int) -> dict[str, str] | None:
        async with driver_errors():
            raw = await self.redis.hgetall(self.keys.export(namespace, str(export_id)))
        return {as_text(name): as_text(value) for name, value in raw.items()} or None

    async def export_progress(self, namespace: str, export_id: int, step: ExportStep) -> bool:
        """Append a chunk as the job's worker (finishing it if asked); False if the job is lost."""
        reply = await self._eval(
            "export_progress",
            [
                self.keys.export(namespace, str(export_id)),
                self.keys.export_payload(namespace, str(export_id)),
            ],
            [
                step.worker,
                step.chunk,
                step.rows,
                step.last_hit_id,
                step.now,
                int(step.finish),
                step.lease_until,
                step.retention_ms,
                step.payload_hash,
            ],
        )
        return bool(reply[0] == Status.OK)

    async def fail_export(
        self, namespace: str, export_id: int, *, worker: str, error: str, now: int
    ) -> bool:
        """End a running job in error: as its worker, or (worker '') once its lease ran out."""
        reply = await self._eval(
            "export_fail",
            [
                self.keys.export(namespace, str(export_id)),
                self.keys.export_payload(namespace, str(export_id)),
            ],
            [worker, error, now],
        )
        return bool(reply[0] == Status.OK)

    async def export_payload(self, namespace: str, export_id: int) -> bytes | None:
        async with driver_errors():
            value = await self.redis.get(self.keys.export_payload(namespace, str(export_id)))
        return None if value is None else value if isinstance(value, bytes) else value.encode()
