"""The live line while a run goes on: rate, errors, p50/p99 of the last second (rich)."""

from __future__ import annotations

import sys
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.text import Text

from .stats import Second


def line(second: Second, target_rate: float = 0.0) -> Text:
    text = Text()
    text.append(f"{second.t + 1:>4.0f} s  ", style="dim")
    text.append(f"{second.requests:>8,} req/s", style="bold")
    if target_rate:
        text.append(f" (target {target_rate:,.0f})", style="dim")
    text.append("  errors ")
    text.append(f"{second.errors:,}", style="bold red" if second.errors else "green")
    text.append(f"  p50 {second.p50_ms:7.2f} ms  p99 {second.p99_ms:7.2f} ms")
    text.append(f"  max {second.max_ms:7.2f} ms", style="dim")
    return text


class LiveView:
    """One line on stderr, redrawn every second; silent when stderr is not a terminal."""

    def __init__(self, *, enabled: bool | None = None, target_rate: float = 0.0) -> None:
        self.console = Console(stderr=True, force_terminal=True if enabled else None)
        self.enabled = self.console.is_terminal if enabled is None else enabled
        self.target_rate = target_rate
        self._live: Live | None = None

    def __enter__(self) -> LiveView:
        if self.enabled:
            self._live = Live(
                Text("starting...", style="dim"),
                console=self.console,
                auto_refresh=False,
                transient=False,
            )
            self._live.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.__exit__(kind, error, trace)
            self._live = None

    def update(self, second: Second) -> None:
        if self._live is not None:
            self._live.update(line(second, self.target_rate), refresh=True)
        elif self.enabled:  # pragma: no cover - only between __exit__ and a late second
            print(line(second, self.target_rate).plain, file=sys.stderr)
