"""``/dashboard`` in real headless Chromium (Debian's, driven by Playwright): sign in, see the
numbers this test wrote, change counters with ``manage``, be refused without it.

Screenshots (desktop light, desktop dark, phone) go to tests/screenshots/; the desktop one is
also docs/img/dashboard.png, the README's picture.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.servers import RedisProcess, ServeProcess

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent.parent
SHOTS = ROOT / "tests" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip


def token(where: list[str], name: str, perms: str) -> str:
    created = subprocess.run(
        [sys.executable, "-m", "counter.cli", "token", "create", "--name", name, "--perm", perms,
         "--namespace", "site.com", *where],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return created.stdout.splitlines()[-1]


@pytest.fixture
def server(
    embedded_redis: RedisProcess, prefix: str, tmp_path: Path
) -> Iterator[tuple[str, list[str]]]:
    where = ["--redis-url", embedded_redis.url, "--prefix", prefix]
    serve = ServeProcess([*where, "--workers", "1"], {}, tmp_path).start()
    try:
        yield serve.base_url, where
    finally:
        serve.stop()
        for key in embedded_redis.command("KEYS", f"{prefix}*") or []:  # type: ignore[union-attr]
            embedded_redis.command("DEL", key)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


def open_dashboard(browser: Browser, base_url: str, secret: str, **context: object) -> Page:
    page = browser.new_page(locale="en-US", **context)  # type: ignore[arg-type]
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    foreign: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(base_url) else foreign.append(r.url))
    page.goto(f"{base_url}/dashboard/")
    page.fill("#token", secret)
    page.click("#sign-in-form button")
    expect(page.locator("#board")).to_be_visible()
    expect(page.locator("#loading")).to_have_text("")
    page.errors = errors  # type: ignore[attr-defined]
    page.foreign = foreign  # type: ignore[attr-defined]
    return page


def shoot(page: Page, name: str) -> Path:
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def month_of_hits(now: datetime) -> list[datetime]:
    """When each of a month of pageviews happened: a weekly rhythm, today so far included."""
    moments = []
    for day in range(30):
        for n in range(6 + (day * 5) % 9 + (4 if day % 7 in (1, 2) else 0)):
            hours = n % (now.hour + 1) if day == 0 else (n * 5) % 24
            moments.append(now - timedelta(days=day, hours=hours, minutes=n % 60))
    return moments


# Three visitors' browsers, referrers and screens (width, height, scale), used in turn.
AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
]
REFS = ["https://news.ycombinator.com/item?id=1", "https://duckduckgo.com/", ""]
SIZES = ["1920,1080,1", "1280,800,2", "390,844,3"]


def visitor(n: int) -> dict[str, object]:
    return {"user_agent": AGENTS[n % 3], "ref": REFS[n % 3], "size": SIZES[n % 3]}


def send_hits(base_url: str, secret: str, hits: list[dict[str, object]]) -> None:
    for start in range(0, len(hits), 500):
        sent = httpx.post(
            f"{base_url}/api/v0/count",
            headers={"Authorization": f"Bearer {secret}"},
            json={"namespace": "site.com", "no_sessions": True, "hits": hits[start : start + 500]},
            timeout=30,
        )
        assert sent.status_code == 202, sent.text


def test_dashboard_shows_and_manages_counters(
    server: tuple[str, list[str]], browser: Browser
) -> None:
    base_url, where = server
    now = datetime.now(UTC)
    paths = {"/": 3, "/blog": 2, "/docs/install": 1}  # pageviews per moment below
    moments = month_of_hits(now)
    hits = [{"path": path, "created_at": at.isoformat(), **visitor(n)}
            for n, at in enumerate(moments) for path, weight in paths.items()
            for _ in range(weight)]  # fmt: skip
    send_hits(base_url, token(where, "ingest", "count"), hits)
    for n in range(21):  # with the big one below: a second page in the table
        assert httpx.get(f"{base_url}/hit/site.com/page-{n:02d}").status_code == 200
    assert httpx.get(f"{base_url}/hit/site.com/home").status_code == 200
    manager = token(where, "manager", "read,manage,stats")
    reader = token(where, "reader", "read")
    today = sum(1 for at in moments if at.date() == now.date()) * 6 + 22
    first = (now - timedelta(days=29)).date()
    in_range = sum(1 for at in moments if at.date() >= first) * 6 + 22

    page = open_dashboard(browser, base_url, manager, viewport={"width": 1280, "height": 900})
    expect(page.locator("#total")).to_have_text(f"{len(hits) + 22:,}")
    expect(page.locator("#today")).to_have_text(f"{today:,}")
    expect(page.locator("#in-range")).to_have_text(f"{in_range:,}")
    expect(page.locator("#count")).to_have_text("25")
    expect(page.locator('tr[data-key="blog"] td.value')).to_have_text(f"{len(moments) * 2:,}")
    expect(page.locator("#counters tbody tr")).to_have_count(25)
    page.fill("#search", "page-1")
    expect(page.locator("#counters tbody tr")).to_have_count(10)
    page.fill("#search", "")
    page.click('th[data-sort="value"]')  # largest first
    expect(page.locator("#counters tbody tr").first).to_have_attribute("data-key", "...")
    # The statistics panels, from the real stats API: visits (no sessions: every hit).
    expect(page.locator("#stats")).to_be_visible()
    shown = sum(1 for at in moments if at.date() >= first) * 3  # the 30 days on screen
    expect(page.locator("#stats-hits li").first).to_have_text(f"/{shown:,}")
    expect(page.locator("#stats-browsers li")).to_have_count(3)
    page.click('tr[data-key="blog"] td.key')  # the selected counter joins the charts
    expect(page.locator("#daily-chart .u-legend")).to_contain_text("blog")
    shutil.copy(shoot(page, "dashboard-desktop.png"), ROOT / "docs" / "img" / "dashboard.png")

    # Beyond 2^53 the total stays exact (a float would round ...993 to ...992).
    assert subprocess.run([sys.executable, "-m", "counter.cli", "set", "site.com/big",
                           "9007199254740993", *where], check=False).returncode == 0  # fmt: skip
    page.reload()  # the token is still in this tab's session
    expect(page.locator("#total")).to_have_text(f"{9007199254740993 + len(hits) + 22:,}")
    expect(page.locator('tr[data-key="big"] td.value')).to_have_text("9,007,199,254,740,993")
    expect(page.locator("#page-info")).to_have_text("1\u201325 of 26")
    page.click("#next")  # 26 counters: the second page holds one
    expect(page.locator("#counters tbody tr")).to_have_count(1)
    page.click("#prev")

    page.locator('tr[data-key="home"]').get_by_role("button", name="set", exact=True).click()
    page.fill("#confirm-value", "42")
    page.click("#confirm-ok")
    expect(page.locator('tr[data-key="home"] td.value')).to_have_text("42")
    assert httpx.get(f"{base_url}/get/site.com/home").json() == {"value": 42}

    page.locator('tr[data-key="blog"]').get_by_role("button", name="delete").click()
    page.locator("#confirm button", has_text="Cancel").click()  # cancelled: nothing happens
    expect(page.locator('tr[data-key="blog"]')).to_have_count(1)
    page.locator('tr[data-key="blog"]').get_by_role("button", name="delete").click()
    page.click("#confirm-ok")
    expect(page.locator('tr[data-key="blog"]')).to_have_count(0)
    assert httpx.get(f"{base_url}/get/site.com/blog").status_code == 404

    page.fill("#new-key", "fresh")
    page.fill("#new-value", "7")
    page.click("#create-form button")
    expect(page.locator('tr[data-key="fresh"] td.value')).to_have_text("7")
    assert page.errors == [] and page.foreign == []  # type: ignore[attr-defined]

    dark = open_dashboard(browser, base_url, manager, viewport={"width": 1280, "height": 900},
                          color_scheme="dark")  # fmt: skip
    expect(dark.locator('tr[data-key="home"] td.value')).to_have_text("42")
    shoot(dark, "dashboard-desktop-dark.png")
    phone = open_dashboard(browser, base_url, manager, viewport={"width": 390, "height": 844},
                           device_scale_factor=2, is_mobile=True, has_touch=True)  # fmt: skip
    expect(phone.locator('tr[data-key="home"] td.value')).to_have_text("42")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at phone width ({width}px)"
    shoot(phone, "dashboard-phone.png")

    # Without manage: no controls, a note, and the server refuses a write made anyway.
    read_only = open_dashboard(browser, base_url, reader, viewport={"width": 1280, "height": 900})
    expect(read_only.locator('tr[data-key="home"] td.value')).to_have_text("42")
    expect(read_only.locator("#manage-note")).to_be_visible()
    expect(read_only.locator("#counters tbody button")).to_have_count(0)
    expect(read_only.locator("#create-form")).to_be_hidden()
    refused = read_only.evaluate("Api.put('site.com', 'home', 1n).catch((e) => e.status)")
    assert refused == 403
    assert httpx.get(f"{base_url}/get/site.com/home").json() == {"value": 42}


def test_dashboard_refuses_an_unknown_token(
    server: tuple[str, list[str]], browser: Browser
) -> None:
    base_url, _ = server
    page = browser.new_page()
    page.goto(f"{base_url}/dashboard/")
    page.fill("#token", "cnt_not-a-token")
    page.click("#sign-in-form button")
    expect(page.locator("#sign-in-error")).to_have_text("That token is not known to this server.")
    expect(page.locator("#board")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0


def test_dashboard_shows_the_stats_api_and_uses_streams_where_the_server_has_them(
    server: tuple[str, list[str]], browser: Browser
) -> None:
    """The panels read the real GoatCounter-style stats API from hits this test sends, and
    the selected counter follows the server's real /stream."""
    base_url, where = server
    now = datetime.now(UTC)
    visits = {"/": 5, "/blog": 3, "/docs": 1}
    hits = [{"path": path, "created_at": (now - timedelta(days=n % 3)).isoformat(), **visitor(n)}
            for path, many in visits.items() for n in range(many)]  # fmt: skip
    hits.append({"path": "/old", "created_at": (now - timedelta(days=40)).isoformat()})
    send_hits(base_url, token(where, "ingest", "count"), hits)
    assert httpx.get(f"{base_url}/hit/site.com/home").status_code == 200
    secret = token(where, "viewer", "read,stats")
    page = browser.new_page(locale="en-US", viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base_url}/dashboard/")
    page.fill("#token", secret)
    page.click("#sign-in-form button")
    expect(page.locator("#stats")).to_be_visible()
    expect(page.locator("#stats-note")).to_be_hidden()
    rows = {
        "hits": ["/5", "/blog3", "/docs1"],  # /old is outside the 30 days shown
        "browsers": ["Firefox4", "Chrome3", "Mobile Safari2"],
        "systems": ["Linux4", "Windows3", "iOS2"],
        "toprefs": ["news.ycombinator.com4", "duckduckgo.com3", "(no data)2"],  # 2 direct visits
        "sizes": ["Computer monitors larger than HD4", "Computer monitors3", "Phones2"],
    }
    for panel, expected in rows.items():
        if expected:
            expect(page.locator(f"#stats-{panel} li")).to_have_text(expected)
    shoot(page, "dashboard-stats.png")
    page.click('tr[data-key="home"] td.key')
    # The server's real /stream: once it is open, hits another client makes arrive live.
    expect(page.locator('tr[data-key="home"] td.key .live')).to_have_text("\u25cf live")
    for _ in range(3):
        assert httpx.get(f"{base_url}/hit/site.com/home").status_code == 200
    expect(page.locator('tr[data-key="home"] td.value')).to_have_text("4")
    # The live value replaces home's 1; the pages' counters (one per hit sent) stay.
    expect(page.locator("#total")).to_have_text(f"{4 + len(hits):,}")
    assert errors == []

    # A stats-only token reads no counters: tiles and charts show visits instead.
    visits_only = open_dashboard(browser, base_url, token(where, "analyst", "stats"))
    expect(visits_only.locator("#stats-hits li")).to_have_text(rows["hits"])
    expect(visits_only.locator("#total")).to_have_text("\u2013")
    expect(visits_only.locator("#in-range")).to_have_text("9")  # not /old, 40 days ago
    expect(visits_only.locator("#today")).to_have_text("4")  # n % 3 == 0 above: 2 + 1 + 1
    expect(visits_only.locator("#daily-chart .u-legend")).to_contain_text("visits")
    expect(visits_only.locator("#chart-note")).to_have_text("Charts show visits (statistics API).")
    expect(visits_only.locator("#counters-card")).to_be_hidden()
    shoot(visits_only, "dashboard-stats-only.png")
    visits_only.fill("#from", (now - timedelta(days=45)).date().isoformat())  # fetched anew
    visits_only.dispatch_event("#from", "change")
    expect(visits_only.locator("#in-range")).to_have_text("10")  # /old is in range now
    expect(visits_only.locator("#stats-hits li")).to_have_count(4)

    # A token without stats: the panels hide and say why.
    reader = open_dashboard(browser, base_url, token(where, "reader", "read"))
    expect(reader.locator("#stats-note")).to_be_visible()
    expect(reader.locator("#stats")).to_be_hidden()
