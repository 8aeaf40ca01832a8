"""``GET /live.js``: the page helper that shows counters live (``static/live.js``).

Shipped inside the package (so in the wheel) and read once at import.
"""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

LIVE_JS = resources.files("counter.web").joinpath("static/live.js").read_bytes()


def live_script_route() -> Route:
    async def live_js(request: Request) -> Response:
        # An hour: pages pick up a new version soon, and repeat views skip the download.
        headers = {"Cache-Control": "public, max-age=3600"}
        return Response(LIVE_JS, 200, headers, media_type="application/javascript")

    return Route("/live.js", live_js, methods=["GET"])
