"""The ``counter`` command line: ``serve`` and ``token`` (entry point ``counter.cli:main``)."""

from __future__ import annotations

from counter.cli.main import main

__all__ = ["main"]
