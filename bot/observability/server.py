"""The HTTP server of `lorebot run`: `/healthz`, `/readyz` and `/metrics` (aiohttp).

`/healthz` answers 200 while the process serves at all (liveness); `/readyz` answers 200
when every part is up and 503 otherwise, with a JSON body naming each part's state;
`/metrics` is the Prometheus text format of the registry.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.aiohttp import make_aiohttp_handler

from bot.observability.readiness import OK, Readiness
from knowledge.errors import LorebotError

logger = logging.getLogger(__name__)


class HttpServerError(LorebotError):
    """The address cannot be listened on; the message names the settings to change."""


def build_app(readiness: Readiness, registry: CollectorRegistry) -> web.Application:
    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        parts = await readiness.report()
        not_ready = [part for part, state in parts.items() if state != OK]
        body = {"ready": not not_ready, "not_ready": not_ready, "parts": parts}
        return web.json_response(body, status=503 if not_ready else 200)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", make_aiohttp_handler(registry))
    return app


@asynccontextmanager
async def http_server(host: str, port: int, readiness: Readiness, registry: CollectorRegistry) -> AsyncIterator[int]:
    """Serve on `host`:`port` (0: a free port) until the block ends; yields the bound port."""
    runner = web.AppRunner(build_app(readiness, registry), handle_signals=False, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise HttpServerError(
                f"Cannot serve /healthz, /readyz and /metrics on {host}:{port} ({exc.strerror or exc}); "
                "set HTTP_HOST and HTTP_PORT to a free address, or HTTP_PORT=0 to turn the server off."
            ) from exc
        bound = runner.addresses[0][1]
        logger.info("serving /healthz, /readyz and /metrics on %s:%d", host, bound)
        yield bound
    finally:
        await runner.cleanup()
