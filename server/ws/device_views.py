"""The account's bridges as browsers see them (stored rows + live connections)."""

from __future__ import annotations

from protocol.messages import DeviceView
from server.services import Services


async def device_views(svc: Services, account_id: int) -> list[DeviceView]:
    """Cached per account; ``Services.devices_changed`` drops the cache."""
    cached = svc.device_views.get(account_id)
    if cached is not None:
        return list(cached)
    views = []
    for device in await svc.devices.for_account(account_id):
        last = device.last_seen_at
        live = svc.registry.get(device.id)
        modem = live.modem if live is not None else None
        views.append(
            DeviceView(
                id=device.id,
                name=device.name,
                online=live is not None,
                last_seen=last.isoformat().replace("+00:00", "Z") if last else None,
                signal_dbm=modem.signal_dbm if modem else None,
                operator=modem.operator if modem else None,
                lines=list(device.lines),
            )
        )
    svc.device_views[account_id] = views
    return list(views)
