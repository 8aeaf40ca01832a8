"""``counter load``: a load generator and correctness check for CountAPI-compatible services.

Closed or open loop (coordinated omission corrected), uniform/Zipf/single key choice,
HDR latency histograms, a ledger that proves (``--verify``) the server kept every
acknowledged increment, a live line, a text/JSON report and a plot. It talks HTTP only,
so it needs nothing of the server's own layers (it imports ``counter.errors`` alone).
"""

from __future__ import annotations

from counter.load.plan import LoadPlan, Route
from counter.load.runner import LoadFailure, Result, run

__all__ = ["LoadFailure", "LoadPlan", "Result", "Route", "run"]
