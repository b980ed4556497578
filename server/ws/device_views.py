"""The account's bridges as browsers see them (stored rows + live connections)."""

from __future__ import annotations

from protocol.messages import DeviceView
from server.services import Services


async def device_views(svc: Services, account_id: int) -> list[DeviceView]:
    views = []
    for device in await svc.devices.for_account(account_id):
        last = device.last_seen_at
        views.append(
            DeviceView(
                id=device.id,
                name=device.name,
                online=svc.registry.get(device.id) is not None,
                last_seen=last.isoformat().replace("+00:00", "Z") if last else None,
            )
        )
    return views
