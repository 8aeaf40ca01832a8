"""Names and numbers as CountAPI accepts them: validation, substitution, parsing.

Error messages use the wording countapi-js's own test suite expects
("Malformed Namespace/Key", "update_upperbound must be positive", ...).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from counter.errors import InvalidInput

NAME_PATTERN = r"^[A-Za-z0-9_\-.]{3,64}$"
_NAME = re.compile(r"[A-Za-z0-9_\-.]{3,64}")
_OUTSIDE_ALPHABET = re.compile(r"[^A-Za-z0-9_\-.]")
_INTEGER = re.compile(r"[+-]?[0-9]{1,19}")

HOST_TOKEN = ":HOST:"
PATHNAME_TOKEN = ":PATHNAME:"
DEFAULT_NAMESPACE = "default"
MALFORMED_NAME = f"Malformed Namespace/Key: names must match {NAME_PATTERN}"

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def is_valid_name(name: str) -> bool:
    return _NAME.fullmatch(name) is not None


def validate_name(name: str) -> str:
    """Return ``name`` unchanged, or raise InvalidInput with CountAPI's wording."""
    if not is_valid_name(name):
        raise InvalidInput(MALFORMED_NAME)
    return name


def fit_name(text: str) -> str:
    """Turn arbitrary text into a valid name: drop foreign characters, pad with dots, cut."""
    kept = _OUTSIDE_ALPHABET.sub("", text)[:64]
    return kept.ljust(3, ".")


def _url_part(url: str | None, part: str) -> str:
    if not url:
        return ""
    try:
        split = urlsplit(url)
    except ValueError:
        return ""
    if part == "host":
        return split.hostname or ""
    return split.path


def caller_host(origin: str | None, referer: str | None) -> str:
    """The calling page's host name: from ``Origin``, else ``Referer``; may be empty."""
    return _url_part(origin, "host") or _url_part(referer, "host")


def substitute(name: str, origin: str | None, referer: str | None) -> str:
    """Replace the ``:HOST:`` / ``:PATHNAME:`` placeholders with the caller's page."""
    if name == HOST_TOKEN:
        return fit_name(caller_host(origin, referer))
    if name == PATHNAME_TOKEN:
        return key_from_path(_url_part(referer, "path"))
    return name


def key_from_path(path: str) -> str:
    """A page path as a counter key: ``/example/page`` -> ``examplepage``."""
    return fit_name(path)


def parse_int64(text: str | None, field: str, *, default: int | None = None) -> int:
    """Parse a decimal signed 64-bit integer query argument."""
    if text is None or text == "":
        if default is None:
            raise InvalidInput(f"{field} is required")
        return default
    if _INTEGER.fullmatch(text) is None:
        raise InvalidInput(f"{field} must be an integer")
    number = int(text)
    if not INT64_MIN <= number <= INT64_MAX:
        raise InvalidInput(f"{field} must fit in a signed 64-bit integer")
    return number


_TRUE = {"1", "true"}
_FALSE = {"0", "false", ""}


def parse_bool(text: str | None, field: str) -> bool:
    """Parse ``1``/``0``/``true``/``false`` (countapi-js sends ``true``)."""
    lowered = (text or "").lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InvalidInput(f"{field} must be 1, 0, true or false")
