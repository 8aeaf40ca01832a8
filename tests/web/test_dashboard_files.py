"""The dashboard's files as the app serves them: local only, with a strict CSP."""

from __future__ import annotations

import re

import httpx

from counter.web.dashboard import STATIC_DIR


async def test_dashboard_is_served_with_its_files_and_a_strict_policy(
    client: httpx.AsyncClient,
) -> None:
    moved = await client.get("/dashboard")
    assert moved.status_code == 307 and moved.headers["location"].endswith("/dashboard/")
    page = await client.get("/dashboard/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and not [a for a in assets if ":" in a or a.startswith("//")]  # no CDN
    for asset in assets:
        served = await client.get(f"/dashboard/{asset}")
        assert served.status_code == 200, asset
        assert served.content == (STATIC_DIR / asset).read_bytes()
    vendored = (STATIC_DIR / "vendor" / "uPlot.iife.min.js").read_text()
    assert vendored.startswith("/*! https://github.com/leeoniya/uPlot (v1.6.32) */")
    assert (STATIC_DIR / "vendor" / "uPlot.LICENSE.txt").read_text().startswith("The MIT License")
    missing = await client.get("/dashboard/nothing-here.js")
    assert missing.status_code == 404 and missing.json() == {"error": "not found"}
