"""The account's bridges: rename and revoke (listing lives with the conversations API).

``DELETE /api/v1/devices/{id}`` revokes for good: the key can never connect or pair again,
and a live connection is closed at once. Other accounts' devices are 404.
"""

from __future__ import annotations

from aiohttp import web

from protocol.messages import LinkClose
from server.api.common import id_param, json_response, read_json, services, string_field
from server.auth.web import verified_account
from server.errors import NotFound
from server.log import device_logger
from server.storage.devices import MAX_NAME
from server.ws.device_views import device_views

routes = web.RouteTableDef()


def _device_id(request: web.Request) -> int:
    return id_param(request, "device_id")


@routes.delete(r"/api/v1/devices/{device_id}")
async def revoke_device(request: web.Request) -> web.Response:
    svc = services(request)
    account = await verified_account(request, svc)
    device_id = _device_id(request)
    if not await svc.devices.revoke(account.id, device_id, svc.clock.now()):
        raise NotFound()
    device_logger.info("device %d revoked by its owner", device_id)
    await svc.registry.close(device_id, LinkClose.REVOKED)  # on whichever node holds it
    svc.devices_changed(account.id)
    return web.Response(status=204)


@routes.patch(r"/api/v1/devices/{device_id}")
async def rename_device(request: web.Request) -> web.Response:
    svc = services(request)
    account = await verified_account(request, svc)
    device_id = _device_id(request)
    name = string_field(await read_json(request), "name", max_len=MAX_NAME, code="invalid_name")
    if not await svc.devices.rename(account.id, device_id, name.strip() or name):
        raise NotFound()
    svc.devices_changed(account.id)
    views = await device_views(svc, account.id)
    return json_response({"device": next(v for v in views if v.id == device_id)})
