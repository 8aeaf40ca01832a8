"""``counter import-countapi FILE``: bring back counts saved from CountAPI.

CountAPI closed and its users kept what they could: ``/info`` replies, lists of
``namespace, key, value``. Accepted, with ``namespace`` defaulting to ``default``:

- JSON: an array of objects, one object, or JSON lines, with the fields of CountAPI's
  ``/info`` (``namespace``, ``key``, ``value``, ``enable_reset``, ``update_lowerbound``,
  ``update_upperbound``; ``ttl`` and ``created`` are accepted and ignored: a restored counter
  starts a fresh lifetime);
- CSV with a header row naming those columns (``namespace,key,value`` at least).

Idempotent: each counter is set to the file's value and options, so a second run changes
nothing (and says so). The whole file is checked before anything is written.
"""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from counter.cli.progress import progress_bar
from counter.engine.names import DEFAULT_NAMESPACE, INT64_MAX, INT64_MIN, is_valid_name
from counter.engine.records import CounterInfo
from counter.engine.store import Store, wall_clock_ms
from counter.errors import CounterNotFound

OPTION_FIELDS = ("enable_reset", "update_lowerbound", "update_upperbound")
_KNOWN = frozenset({"namespace", "key", "value", *OPTION_FIELDS, "ttl", "created"})
_BATCH = 100


@dataclass(frozen=True, slots=True)
class Item:
    namespace: str
    key: str
    value: int
    options: dict[str, Any]  # only the options the file gives


def read_plan(path: Path) -> list[Item]:
    """The file's counters; ValueError lists what is wrong (then nothing is written)."""
    text = path.read_text(encoding="utf-8-sig")
    rows = _csv_rows(text) if _looks_like_csv(path, text) else _json_rows(text)
    items, errors, seen = [], [], set()
    for number, row in rows:
        try:
            item = _item(row)
        except ValueError as error:
            errors.append(f"{path}: {number}: {error}")
            continue
        if (item.namespace, item.key) in seen:
            errors.append(f"{path}: {number}: {item.namespace}/{item.key} appears twice")
        seen.add((item.namespace, item.key))
        items.append(item)
    if errors:
        raise ValueError("\n".join(errors[:20]) + ("\n..." if len(errors) > 20 else ""))
    return items


def _looks_like_csv(path: Path, text: str) -> bool:
    return path.suffix.lower() == ".csv" or text.lstrip()[:1] not in ("[", "{")


def _csv_rows(text: str) -> list[tuple[str, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not {"key", "value"} <= set(reader.fieldnames):
        raise ValueError("a CSV needs a header row with at least the columns key and value")
    rows = []
    for row in reader:
        cells = {name: value for name, value in row.items() if value not in (None, "")}
        if None in row:
            raise ValueError(f"line {reader.line_num}: more cells than header columns")
        rows.append((f"line {reader.line_num}", cells))
    return rows


def _json_rows(text: str) -> list[tuple[str, dict[str, Any]]]:
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError:
        lines = [line for line in text.splitlines() if line.strip()]
        try:
            return [(f"line {n}", orjson.loads(line)) for n, line in enumerate(lines, start=1)]
        except orjson.JSONDecodeError:
            raise ValueError("not JSON, JSON lines or CSV with a header row") from None
    items = document if isinstance(document, list) else [document]
    return [(f"item {n}", item) for n, item in enumerate(items, start=1)]


def _item(row: Any) -> Item:
    if not isinstance(row, dict):
        raise ValueError("each entry must be an object with key and value")
    unknown = sorted(set(row) - _KNOWN)
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(unknown)}")
    namespace, key = row.get("namespace", DEFAULT_NAMESPACE), row.get("key")
    for name, value in (("namespace", namespace), ("key", key)):
        if not isinstance(value, str) or not is_valid_name(value):
            raise ValueError(f"{name} {value!r} is not a valid name (3-64 of A-Z a-z 0-9 _ - .)")
    options: dict[str, Any] = {}
    if "enable_reset" in row:
        options["enable_reset"] = _flag(row["enable_reset"])
    for bound in ("update_lowerbound", "update_upperbound"):
        if bound in row:
            options[bound] = _int64(row[bound], bound)
    if options.get("update_lowerbound", 0) > 0 or options.get("update_upperbound", 0) < 0:
        raise ValueError("update_lowerbound must be <= 0 and update_upperbound >= 0")
    assert isinstance(namespace, str) and isinstance(key, str)
    return Item(namespace, key, _int64(row.get("value"), "value"), options)


def _int64(value: Any, name: str) -> int:
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"{name} must be a signed 64-bit integer, got {value!r}")
    return value


def _flag(value: Any) -> bool:
    text = str(value).strip().lower()
    if isinstance(value, bool) or text in ("true", "false", "1", "0"):
        return text in ("true", "1")
    raise ValueError(f"enable_reset must be true or false, got {value!r}")


def _change(item: Item, info: CounterInfo | None) -> str | None:
    """What importing ``item`` does to the counter now there: None when nothing."""
    if info is None:
        return f"create {item.namespace}/{item.key} = {item.value}"
    differs = [name for name, want in item.options.items() if getattr(info, name) != want]
    if info.value == item.value and not differs:
        return None
    what = f"{info.value} -> {item.value}" if info.value != item.value else f"= {item.value}"
    extra = f" ({', '.join(differs)})" if differs else ""
    return f"update {item.namespace}/{item.key} {what}{extra}"


async def apply(store: Store, items: list[Item], *, dry_run: bool, show: bool | None) -> int:
    """Bring every counter to the file's state; prints one line per change and a summary."""
    counts = {"create": 0, "update": 0, "unchanged": 0}
    verb = "would " if dry_run else ""

    async def one(item: Item) -> str | None:
        try:
            info: CounterInfo | None = await store.info(item.namespace, item.key)
        except CounterNotFound:
            info = None
        change = _change(item, info)
        if change is not None and not dry_run:
            await store.put(item.namespace, item.key, item.value, now=now, **item.options)
        return change

    now = wall_clock_ms()
    with progress_bar("import", len(items), show=show) as bar:
        for start in range(0, len(items), _BATCH):
            batch = items[start : start + _BATCH]
            for change in await asyncio.gather(*(one(item) for item in batch)):
                if change is None:
                    counts["unchanged"] += 1
                else:
                    counts[change.split(" ", 1)[0]] += 1
                    print(f"{verb}{change}")
            bar.advance(len(batch))
    print(
        f"{verb}create {counts['create']}, {verb}update {counts['update']}, "
        f"unchanged {counts['unchanged']}"
    )
    return 0
