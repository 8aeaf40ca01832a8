"""Regenerate ``counter/web/badge_bold_widths.json``: DejaVu Sans Bold advance widths.

The for-the-badge style draws its message in bold; badgepy ships metrics for the regular
weight only. This reads the advance width of every character below U+0530 (Latin, Greek,
Cyrillic) and of General Punctuation from the font itself, in the same unit badgepy uses
(pixels at 110 px). Needs fontTools and Debian's fonts-dejavu-core:

    pip install fonttools
    python tools/badge_bold_widths.py /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from fontTools.ttLib import TTFont

SIZE = 110
RANGES = (range(0x20, 0x530), range(0x2000, 0x2070))
OUT = Path(__file__).resolve().parent.parent / "counter" / "web" / "badge_bold_widths.json"


def main(font_path: str) -> None:
    font = TTFont(font_path)
    scale = SIZE / font["head"].unitsPerEm
    cmap, hmtx = font.getBestCmap(), font["hmtx"]
    widths = {
        chr(code): round(hmtx[cmap[code]][0] * scale, 2)
        for block in RANGES
        for code in block
        if code in cmap
    }
    table = {"mean": round(statistics.mean(widths.values()), 2), "widths": widths}
    OUT.write_text(json.dumps(table, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"{OUT}: {len(widths)} characters")


if __name__ == "__main__":
    main(sys.argv[1])
