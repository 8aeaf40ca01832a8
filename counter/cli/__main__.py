"""``python -m counter.cli``: the same as the ``counter`` command."""

from __future__ import annotations

import sys

from counter.cli.main import main

sys.exit(main())
