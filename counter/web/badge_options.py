"""The query options of a badge, validated: label, colors, style, number format.

Unknown parameters are ignored (READMEs add cache busters such as ``?v=2``); a known
parameter with a bad value is an ``InvalidInput`` (400), raised before anything counts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from counter.errors import InvalidInput
from counter.web.badge_svg import STYLES, Badge

# shields.io's named colors, so a badge URL copied from there keeps its look.
NAMED_COLORS = {
    "brightgreen": "#4c1",
    "green": "#97ca00",
    "yellowgreen": "#a4a61d",
    "yellow": "#dfb317",
    "orange": "#fe7d37",
    "red": "#e05d44",
    "blue": "#007ec6",
    "lightgrey": "#9f9f9f",
    "lightgray": "#9f9f9f",
    "grey": "#555",
    "gray": "#555",
    "success": "#4c1",
    "important": "#fe7d37",
    "critical": "#e05d44",
    "informational": "#007ec6",
    "inactive": "#9f9f9f",
    "white": "#fff",
    "black": "#000",
}
_HEX = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
FORMATS = ("plain", "comma", "short")
MAX_LABEL = 64
_LOGO_OFF = {"", "off", "none", "false", "0"}
_SHORT_UNITS = ("", "k", "M", "G", "T", "P", "E")
MISSING_COLOR = NAMED_COLORS["lightgrey"]
DEFAULT_LABEL = "counter"  # abacus's default text


@dataclass(frozen=True, slots=True)
class BadgeOptions:
    label: str
    style: str
    number_format: str
    label_color: str
    color: str
    text_color: str

    def badge(self, message: str, *, color: str | None = None) -> Badge:
        return Badge(
            label=self.label,
            message=message,
            style=self.style,
            label_color=self.label_color,
            color=color or self.color,
            text_color=self.text_color,
        )

    def message(self, value: int) -> str:
        return format_number(value, self.number_format)


def parse_options(query: Mapping[str, str]) -> BadgeOptions:
    """The badge options in ``query`` (``text`` and ``bgcolor`` are abacus's spellings)."""
    label = _one_of_two(query, "label", "text", DEFAULT_LABEL)
    if len(label) > MAX_LABEL or not label.isprintable():
        raise InvalidInput(f"label must be at most {MAX_LABEL} printable characters")
    style = query.get("style", "flat").lower()
    if style not in STYLES:
        raise InvalidInput(f"style must be one of {', '.join(STYLES)}")
    number_format = query.get("format", "plain").lower()
    if number_format not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}")
    if query.get("logo", "").lower() not in _LOGO_OFF:
        raise InvalidInput("logo: badges have no logos (leave it out or use logo=off)")
    return BadgeOptions(
        label=label,
        style=style,
        number_format=number_format,
        label_color=parse_color(
            _one_of_two(query, "labelColor", "labelcolor", "#555"), "labelColor"
        ),
        color=parse_color(_one_of_two(query, "color", "bgcolor", "#007ec6"), "color"),
        text_color=parse_color(query.get("textcolor", "#fff"), "textcolor"),
    )


def _one_of_two(query: Mapping[str, str], name: str, alias: str, default: str) -> str:
    if name in query and alias in query and query[name] != query[alias]:
        raise InvalidInput(f"{name} and {alias} name the same option: give one")
    return query.get(name, query.get(alias, default))


def parse_color(text: str, name: str) -> str:
    """A named shields color or a 3/6-digit hex (``#`` optional), as ``#hex``."""
    named = NAMED_COLORS.get(text.lower())
    if named is not None:
        return named
    match = _HEX.fullmatch(text)
    if match is None:
        raise InvalidInput(f"{name} must be a hex color (such as 007ec6 or #4c1) or a named color")
    return "#" + match.group(1).lower()


def format_number(value: int, number_format: str) -> str:
    """``plain`` 1234567, ``comma`` 1,234,567, ``short`` 1.2M (exact for any int64)."""
    if number_format == "comma":
        return f"{value:,}"
    if number_format == "short":
        return _short(value)
    return str(value)


def _short(value: int) -> str:
    """Three significant digits at most: 999, 1.2k, 12k, 123k, 1.2M ... 9.2E."""
    sign, rest = ("-" if value < 0 else ""), abs(value)
    if rest < 1000:
        return f"{sign}{rest}"
    for power, unit in enumerate(_SHORT_UNITS[1:], start=1):
        scale = 1000**power
        last = power == len(_SHORT_UNITS) - 1
        # Rounded half up in integers (a float would blur the int64 range).
        tenths = (rest * 10 + scale // 2) // scale
        if tenths < 100:
            whole, tenth = divmod(tenths, 10)
            return f"{sign}{whole}{'.' + str(tenth) if tenth else ''}{unit}"
        whole = (rest + scale // 2) // scale
        if whole < 1000 or last:  # 999,600 would be 1000k: say 1M instead
            return f"{sign}{whole}{unit}"
    raise AssertionError("unreachable")  # pragma: no cover
