"""``counter export|snapshot|restore``: a namespace's hit log and counters to and from files.

Snapshots are the JSON lines of ``GET /api/v0/snapshot/{ns}`` (same module writes and
reads them), so a file from the CLI restores over HTTP and the other way round. A
restore reads and checks the whole file before writing anything.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, cast

from counter.api.snapshot_import import parse_line
from counter.api.snapshot_lines import snapshot_line
from counter.cli.progress import progress_bar
from counter.engine.hits import CSV_HEADER, csv_row
from counter.engine.records import CounterInfo, CounterRecord
from counter.engine.store import Store, wall_clock_ms
from counter.errors import CounterNotFound

PAGE = 100  # counters (or hit-log entries x10) per round of Redis calls


async def infos(store: Store, namespace: str, keys: list[str]) -> list[CounterInfo]:
    """The counters of ``keys`` still alive, in order (expired ones are skipped)."""

    async def one(key: str) -> CounterInfo | None:
        try:
            return await store.info(namespace, key)
        except CounterNotFound:
            return None

    found = await asyncio.gather(*(one(key) for key in keys))
    return [info for info in found if info is not None]


@contextmanager
def _output(out: str) -> Iterator[IO[bytes]]:
    """``out`` opened for writing; ``-`` is stdout. A ``.gz`` name is gzip-compressed."""
    if out == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    if out.endswith(".gz"):
        with gzip.open(out, "wb") as compressed:
            yield cast(IO[bytes], compressed)
    else:
        with open(out, "wb") as plain:
            yield plain


async def snapshot(store: Store, namespace: str, out: str, *, show: bool | None) -> int:
    keys = await store.namespace_keys(namespace)
    written = 0
    now = wall_clock_ms()
    with _output(out) as handle, progress_bar(f"snapshot {namespace}", len(keys), show=show) as bar:
        for start in range(0, len(keys), PAGE):
            page = await infos(store, namespace, keys[start : start + PAGE])
            histories = await asyncio.gather(
                *(store.history(namespace, info.key, now=now) for info in page)
            )
            handle.write(
                b"".join(snapshot_line(i, h[0]) for i, h in zip(page, histories, strict=True))
            )
            written += len(page)
            bar.advance(len(keys[start : start + PAGE]))
    _note(f"wrote {written} counter(s) of {namespace} to {out}")
    return 0


def read_snapshot(path: Path) -> list[tuple[str, CounterRecord]]:
    """Every line of a snapshot file; ValueError names each bad line (then nothing is written)."""
    now = wall_clock_ms()
    records, errors = [], []
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        if line.strip():
            try:
                records.append(parse_line(line, now))
            except ValueError as error:
                errors.append(f"{path}: line {number}: {error}")
    if errors:
        raise ValueError("\n".join(errors[:20]) + ("\n..." if len(errors) > 20 else ""))
    return records


async def restore(
    store: Store, namespace: str, records: list[tuple[str, CounterRecord]], *, show: bool | None
) -> int:
    now = wall_clock_ms()
    with progress_bar(f"restore {namespace}", len(records), show=show) as bar:
        for start in range(0, len(records), PAGE):
            batch = records[start : start + PAGE]
            await asyncio.gather(
                *(store.restore(namespace, key, record, now=now) for key, record in batch)
            )
            bar.advance(len(batch))
    _note(f"restored {len(records)} counter(s) into {namespace}")
    return 0


async def export(store: Store, namespace: str, out: str, *, show: bool | None) -> int:
    """The hit log as GoatCounter's CSV (version 2), oldest first, up to the last hit now."""
    until = await store.last_hit_id(namespace)
    after, rows = 0, 0
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    with _output(out) as handle, progress_bar(f"export {namespace}", until, show=show) as bar:
        while True:
            entries = await store.read_hit_log(namespace, after=after, until=until, count=PAGE * 10)
            writer.writerows(csv_row(entry) for _, entry in entries)
            handle.write(text.getvalue().encode())
            text.seek(0)
            text.truncate()
            if not entries:
                break
            bar.advance(entries[-1][0] - after)  # ids, not rows: trimmed ids count as done
            after, rows = entries[-1][0], rows + len(entries)
    _note(f"wrote {rows} hit(s) of {namespace} to {out}")
    return 0


def _note(message: str) -> None:
    print(message, file=sys.stderr)
