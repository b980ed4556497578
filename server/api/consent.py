"""Recipient consent over REST: opt-outs (peers who replied STOP), consent records, and
broadcasts (one message to a list, sent only to numbers with recorded consent)."""

from __future__ import annotations

from aiohttp import web

from server.api.common import json_response, services
from server.api.session import _iso
from server.auth.web import verified_account

routes = web.RouteTableDef()


@routes.get("/api/v1/opt-outs")
async def list_optouts(request: web.Request) -> web.Response:
    """Peers who replied STOP (or another opt-out word) on one of the account's lines
    and have not sent START since: nothing is sent to them from that line."""
    svc = services(request)
    account = await verified_account(request, svc)
    found = await svc.optouts.for_account(account.id)
    return json_response(
        {
            "opt_outs": [
                {"line_id": o.line_id, "peer": o.peer, "keyword": o.keyword, "at": _iso(o.at)}
                for o in found
            ]
        }
    )
