"""Names, placeholders and numbers, as CountAPI accepts them (pure functions, no Redis)."""

from __future__ import annotations

import pytest

from counter import InvalidInput
from counter.engine.names import (
    fit_name,
    is_valid_name,
    key_from_path,
    parse_bool,
    parse_int64,
    substitute,
)


@pytest.mark.parametrize(
    "name", ["abc", "a-b_c.d", "A" * 64, "6d5891ff-ebda-48fb-a760-8549d6a3bf3a", "..."]
)
def test_valid_names(name: str) -> None:
    assert is_valid_name(name)


@pytest.mark.parametrize(
    "name", ["ab", "", "A" * 65, "a b c", "abc\n", "{ab}", "a/b/c", "héllo", ":HOST:"]
)
def test_invalid_names(name: str) -> None:
    assert not is_valid_name(name)


def test_fit_name_pads_cuts_and_strips() -> None:
    assert fit_name("/example/page") == "examplepage"
    assert fit_name("/") == "..."
    assert fit_name("a") == "a.."
    assert fit_name("x" * 100) == "x" * 64
    assert key_from_path("/blog/2024/hello world!.html") == "blog2024helloworld.html"


def test_substitute_prefers_origin_then_referer() -> None:
    assert substitute(":HOST:", "https://a.com", "https://b.com/x") == "a.com"
    assert substitute(":HOST:", None, "https://b.com/x") == "b.com"
    assert substitute(":HOST:", "null", "https://b.com/x") == "b.com"
    assert substitute(":HOST:", None, None) == "..."
    assert substitute(":PATHNAME:", "https://a.com", "https://b.com/x/y-z") == "xy-z"
    assert substitute(":PATHNAME:", None, "not a url") == "notaurl"
    assert substitute("plain", "https://a.com", None) == "plain"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("-1", -1),
        ("+5", 5),
        ("007", 7),
        (str(2**63 - 1), 2**63 - 1),
        (str(-(2**63)), -(2**63)),
    ],
)
def test_parse_int64(text: str, value: int) -> None:
    assert parse_int64(text, "n") == value


@pytest.mark.parametrize(
    "text", ["1.0", "1e3", "0x10", " 1", "--1", str(2**63), str(-(2**63) - 1), "\uff11"]
)
def test_parse_int64_rejects(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"^n must"):
        parse_int64(text, "n")


def test_parse_int64_default_and_required() -> None:
    assert parse_int64(None, "n", default=3) == 3
    with pytest.raises(InvalidInput, match="n is required"):
        parse_int64(None, "n")


def test_parse_bool() -> None:
    assert parse_bool("True", "b") is True and parse_bool("0", "b") is False
    assert parse_bool(None, "b") is False
    with pytest.raises(InvalidInput):
        parse_bool("yes", "b")
