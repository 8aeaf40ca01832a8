"""``/api/v0/export``: start an export, poll it, download its gzip CSV (from any instance)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from counter.api.io import ApiError, json_response, namespace_for, read_json, require, token_of
from counter.engine.exports import Exporter, render_job
from counter.runtime import Runtime

_BODY_FIELDS = frozenset({"namespace", "start_from_hit_id"})


class ExportRoutes:
    def __init__(self, runtime: Runtime, exporter: Exporter) -> None:
        self.runtime = runtime
        self.exporter = exporter

    async def start(self, request: Request) -> Response:
        require(request, "export")
        body = await read_json(request, self.runtime.settings.api_max_body_bytes)
        unknown = sorted(set(body) - _BODY_FIELDS)
        if unknown:
            raise ApiError(400, errors={field: ["unknown field"] for field in unknown})
        namespace = namespace_for(request, "export", body.get("namespace"))
        start = body.get("start_from_hit_id")
        if start is None:
            start = 0
        if not isinstance(start, int) or isinstance(start, bool) or not 0 <= start < 2**53:
            raise ApiError(400, errors={"start_from_hit_id": ["must be a hit id (integer >= 0)"]})
        job = await self.exporter.start(await self.runtime.store(), namespace, start)
        return json_response(render_job(job), 202)

    async def show(self, request: Request) -> Response:
        return json_response(render_job(await self._job(request)))

    async def download(self, request: Request) -> Response:
        job = await self._job(request)
        state = job.get("state")
        if state == "running":
            return json_response(render_job(job), 202)
        if state != "finished":
            raise ApiError(409, f"export failed: {job.get('error', 'unknown error')}")
        store = await self.runtime.store()
        payload = await store.export_payload(job["namespace"], int(job["id"]))
        if payload is None:
            raise ApiError(404, "not found")
        filename = f"counter-export-{job['namespace']}-{job['id']}.csv.gz"
        return Response(
            payload,
            200,
            {
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Cache-Control": "no-store",
            },
            media_type="application/gzip",
        )

    async def _job(self, request: Request) -> dict[str, str]:
        require(request, "export")
        export_id: int = request.path_params["export_id"]
        store = await self.runtime.store()
        namespace = await store.export_namespace(export_id)
        # Another namespace's export reads as missing: ids do not reveal other namespaces.
        if namespace is None or not token_of(request).allows_namespace(namespace):
            raise ApiError(404, "not found")
        job = await self.exporter.job(store, namespace, export_id)
        if job is None:
            raise ApiError(404, "not found")
        return job
