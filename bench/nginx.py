"""The nginx + LuaJIT reference row: what a speed-first engineer would deploy instead.

Debian's ``nginx-light`` with ``libnginx-mod-http-lua``: N worker processes, each answering
``GET /hit/<namespace>/<key>`` with ONE ``EVALSHA`` of the minimal hit-like script
(``HINCRBY`` + ``PEXPIRE``, ``bench/redis_cost.py``) over a keepalive cosocket, speaking RESP
directly. No bounds, no history, no validation: a ceiling for a counting service in front of
the same Redis, not a competitor with the same guarantees.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit

import redis

from bench.redis_cost import MINIMAL_SCRIPT
from counter.engine.base import DEFAULT_TTL_MS

MODULES = Path("/usr/lib/nginx/modules")
NEEDED = ("ndk_http_module.so", "ngx_http_lua_module.so")

CONFIG = """
load_module {modules}/ndk_http_module.so;
load_module {modules}/ngx_http_lua_module.so;
worker_processes {workers};
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location = /healthz {{ return 200 "ok"; }}
    location ~ ^/hit/([^/]+)/([^/]+)$ {{
      content_by_lua_block {{
        local sock = ngx.socket.tcp()
        sock:settimeout(2000)
        local ok, err = sock:connect("{host}", {redis_port})
        if not ok then return ngx.exit(503) end
        if sock:getreusedtimes() == 0 and {db} ~= 0 then
          sock:send("*2\\r\\n$6\\r\\nSELECT\\r\\n$" .. #"{db}" .. "\\r\\n{db}\\r\\n")
          sock:receive("*l")
        end
        local key = "{prefix}min:{{" .. ngx.var[1] .. "/" .. ngx.var[2] .. "}}"
        local ttl = "{ttl}"
        sock:send({{"*5\\r\\n$7\\r\\nEVALSHA\\r\\n$40\\r\\n{sha}\\r\\n$1\\r\\n1\\r\\n$", #key,
          "\\r\\n", key, "\\r\\n$", #ttl, "\\r\\n", ttl, "\\r\\n"}})
        local line = sock:receive("*l")
        if line == nil or string.sub(line, 1, 1) ~= ":" then return ngx.exit(502) end
        sock:setkeepalive(10000, 256)
        ngx.header["Content-Type"] = "application/json"
        ngx.print('{{"value":', string.sub(line, 2), '}}')
      }}
    }}
  }}
}}
"""


def missing() -> str | None:
    """Why the row cannot run here, or None."""
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        return "nginx not installed (apt-get install nginx-light libnginx-mod-http-lua)"
    absent = [name for name in NEEDED if not (MODULES / name).exists()]
    if absent:
        return f"{', '.join(absent)} missing (apt-get install libnginx-mod-http-lua)"
    return None


def command(
    directory: Path, port: int, redis_url: str, workers: int, prefix: str
) -> list[str] | None:
    """The nginx command line serving the reference on ``port``; None when not installed."""
    if missing() is not None:
        return None
    client = redis.Redis.from_url(redis_url)
    try:
        sha = str(client.script_load(MINIMAL_SCRIPT))
    finally:
        client.close()
    split = urlsplit(redis_url)
    config = CONFIG.format(
        modules=MODULES,
        workers=workers,
        dir=directory,
        port=port,
        host=split.hostname or "127.0.0.1",
        redis_port=split.port or 6379,
        db=int(split.path.lstrip("/") or 0),
        prefix=prefix,
        ttl=DEFAULT_TTL_MS,
        sha=sha,
    )
    (directory / "nginx.conf").write_text(config)
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    return [binary, "-p", str(directory), "-c", str(directory / "nginx.conf"), "-e", "stderr"]
