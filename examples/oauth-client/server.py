"""A tiny server for the example third-party Ferry client: it serves one static page
(``static/``) at ``/`` and at the redirect URI ``/callback``. Everything else happens in
the browser: PKCE, the token exchange, the API calls and the live socket.

    python examples/oauth-client/server.py --ferry http://127.0.0.1:8080 \\
        --client-id ferry-XXXX --port 8765

Register the app first in Ferry (Settings > Connected apps > Developer apps) with the
redirect URI ``http://127.0.0.1:8765/callback`` (public client: no secret).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

STATIC = Path(__file__).resolve().parent / "static"


def make_app(ferry_url: str, client_id: str) -> web.Application:
    """The example app, talking to the Ferry server at ``ferry_url`` as ``client_id``."""
    ferry = ferry_url.rstrip("/")
    parts = urlsplit(ferry)
    socket_origin = f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}"
    csp = (
        f"default-src 'self'; connect-src 'self' {ferry} {socket_origin}; "
        "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )

    async def page(request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html")

    async def config(request: web.Request) -> web.Response:
        return web.json_response({"ferry": ferry, "client_id": client_id})

    @web.middleware
    async def headers(request: web.Request, handler):  # type: ignore[no-untyped-def]
        resp = await handler(request)
        resp.headers["Content-Security-Policy"] = csp
        resp.headers["Referrer-Policy"] = "no-referrer"  # the code never leaks onwards
        resp.headers["Cache-Control"] = "no-store"
        return resp

    app = web.Application(middlewares=[headers])
    app.router.add_get("/", page)
    app.router.add_get("/callback", page)
    app.router.add_get("/config.json", config)
    app.router.add_static("/static/", STATIC)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ferry", required=True, help="the Ferry server's URL")
    parser.add_argument("--client-id", required=True, help="the app's client id in Ferry")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    print(json.dumps({"open": f"http://127.0.0.1:{args.port}/"}))
    # No access log: the callback's URL carries the authorization code.
    web.run_app(
        make_app(args.ferry, args.client_id), host="127.0.0.1", port=args.port, access_log=None
    )


if __name__ == "__main__":
    main()
