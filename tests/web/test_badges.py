"""Badge routes through the app on every backend: options, errors, caching headers, formats."""

from __future__ import annotations

import re

import httpx
import pytest

from counter.errors import InvalidInput
from counter.web.badge_options import format_number, parse_color, parse_options
from counter.web.badge_svg import STYLES, Badge, render, text_width

NO_CACHE = "max-age=0, no-cache, no-store, must-revalidate"


def message_of(svg: str) -> str:
    return re.findall(r"<text [^>]*?y=\"\d+\"[^>]*>([^<]*)</text>", svg)[-1]


async def test_hit_shield_counts_then_draws_in_both_path_forms(client: httpx.AsyncClient) -> None:
    first = await client.get("/hit/site.com/visits/shield")
    assert first.status_code == 200
    assert first.headers["content-type"] == "image/svg+xml; charset=utf-8"
    assert first.headers["cache-control"] == NO_CACHE
    assert first.headers["x-path"] == "site.com/visits"
    assert "etag" not in first.headers  # every hit changes it
    assert message_of(first.text) == "1"
    second = await client.get("/hit/site.com/visits/shield?label=views")
    assert message_of(second.text) == "2" and 'aria-label="views: 2"' in second.text
    # One segment: the key in the default namespace (the hot path must not take it for a key).
    assert message_of((await client.get("/hit/visits/shield")).text) == "1"
    assert (await client.get("/get/visits")).json() == {"value": 1}
    assert (await client.get("/get/default/shield")).status_code == 404


async def test_get_shield_and_badge_draw_without_counting(client: httpx.AsyncClient) -> None:
    await client.get("/hit/ns.one/page")
    for url in ("/get/ns.one/page/shield", "/badge/ns.one/page.svg"):
        response = await client.get(url, params={"format": "comma"})
        assert response.status_code == 200 and message_of(response.text) == "1"
        assert response.headers["cache-control"] == NO_CACHE
    assert (await client.get("/get/ns.one/page")).json() == {"value": 1}
    await client.get("/hit/single.key")
    assert message_of((await client.get("/badge/single.key.svg")).text) == "1"


async def test_etag_revalidation_gives_304_until_the_value_changes(
    client: httpx.AsyncClient,
) -> None:
    await client.get("/hit/etags/page")
    first = await client.get("/get/etags/page/shield")
    tag = first.headers["etag"]
    again = await client.get("/get/etags/page/shield", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["cache-control"] == NO_CACHE and again.headers["etag"] == tag
    other_style = await client.get(
        "/get/etags/page/shield?style=plastic", headers={"If-None-Match": tag}
    )
    assert other_style.status_code == 200
    await client.get("/hit/etags/page")
    changed = await client.get("/get/etags/page/shield", headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag


async def test_missing_counter_draws_not_found_with_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/get/nobody/here/shield")
    assert response.status_code == 404
    assert message_of(response.text) == "not found" and 'fill="#9f9f9f"' in response.text
    endpoint = await client.get("/get/nobody/here/shield.json")
    assert endpoint.status_code == 404
    assert endpoint.json()["message"] == "not found"


async def test_out_of_bounds_hit_draws_the_unchanged_value_with_403(
    client: httpx.AsyncClient,
) -> None:
    await client.get(
        "/create", params={"namespace": "bounded", "key": "kkk", "value": 5, "update_upperbound": 0}
    )
    response = await client.get("/hit/bounded/kkk/shield")
    assert response.status_code == 403 and message_of(response.text) == "5"


@pytest.mark.parametrize(
    "query",
    [
        "style=round",
        "format=hex",
        "color=notacolor",
        "bgcolor=%23zzz",
        "labelColor=12345",
        "textcolor=",
        "logo=github",
        "label=" + "x" * 65,
        "label=tab%09here",
        "label=a&text=b",
    ],
)
async def test_invalid_options_are_400_json_and_count_nothing(
    client: httpx.AsyncClient, query: str
) -> None:
    response = await client.get(f"/hit/invalid/opts/shield?{query}")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"error"}
    assert (await client.get("/get/invalid/opts")).status_code == 404


async def test_invalid_name_is_400_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/get/ab/shield")
    assert response.status_code == 400 and "error" in response.json()


async def test_shield_json_is_the_shields_endpoint_schema(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await client.get("/hit/endpoint/key")
    response = await client.get(
        "/get/endpoint/key/shield.json", params={"text": "hits", "bgcolor": "red"}
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == NO_CACHE
    assert response.json() == {
        "schemaVersion": 1,
        "label": "hits",
        "message": "3",
        "color": "e05d44",
        "labelColor": "555",
    }


async def test_abacus_and_shields_spellings_and_unknown_parameters(
    client: httpx.AsyncClient,
) -> None:
    await client.get("/hit/spell/key")
    abacus = await client.get(
        "/get/spell/key/shield?text=hello&bgcolor=4c1&textcolor=000&style=flat-simple&v=2"
    )
    assert abacus.status_code == 200
    assert 'fill="#4c1"' in abacus.text and 'fill="#000"' in abacus.text
    assert "hello" not in abacus.text  # *-simple draws the number only
    shields = await client.get("/get/spell/key/shield?label=hello&color=blue&labelColor=%23abc")
    assert 'fill="#abc"' in shields.text and "hello" in shields.text


def test_number_formats_are_exact_over_int64() -> None:
    cases = {
        0: ("0", "0", "0"),
        999: ("999", "999", "999"),
        1234: ("1234", "1,234", "1.2k"),
        999_499: ("999499", "999,499", "999k"),
        999_950: ("999950", "999,950", "1M"),
        -1_550_000: ("-1550000", "-1,550,000", "-1.6M"),
        2**63 - 1: (str(2**63 - 1), f"{2**63 - 1:,}", "9.2E"),
        -(2**63): (str(-(2**63)), f"{-(2**63):,}", "-9.2E"),
    }
    for value, expected in cases.items():
        got = tuple(format_number(value, name) for name in ("plain", "comma", "short"))
        assert got == expected, value


def test_colors_and_options_parse() -> None:
    assert parse_color("4C1", "c") == "#4c1" and parse_color("#A0b1C2", "c") == "#a0b1c2"
    assert parse_color("brightgreen", "c") == "#4c1"
    with pytest.raises(InvalidInput):
        parse_color("#12", "c")
    options = parse_options({})
    assert (options.label, options.style, options.number_format) == ("counter", "flat", "plain")


def test_labels_are_escaped_and_widths_grow_with_text() -> None:
    svg = render(Badge(label='<a href="x">&', message="1"))
    assert "<a " not in svg and "&lt;a href=&quot;x&quot;&gt;&amp;" in svg
    assert text_width("1111") < text_width("WWWW")
    for style in STYLES:
        narrow = render(Badge(label="a", message="1", style=style))
        wide = render(Badge(label="a much longer label", message="1234567", style=style))
        width = lambda svg: int(re.search(r'width="(\d+)"', svg).group(1))  # noqa: E731
        assert width(narrow) < width(wide), style
