"""The account's bridges as browsers see them (stored rows + live connections).

While a bridge is connected, to this node or (several nodes) to another, its last
``ModemInfo`` fills in signal, operator and ``modem_state``, and its last
``ImportProgress`` the import's progress; the bridge registry in Redis says which bridges
other nodes hold and what they last reported. With ``not_responding`` the view carries
no signal or operator (they are unknown then, not stale), and the browser says "modem
not responding".
"""

from __future__ import annotations

from protocol.messages import DeviceView
from server.services import Services


async def device_views(svc: Services, account_id: int) -> list[DeviceView]:
    """Cached per account; ``Services.devices_changed`` drops the cache."""
    cached = svc.device_views.get(account_id)
    if cached is not None:
        return list(cached)
    views = []
    generation = svc.device_views_generation
    devices = await svc.devices.for_account(account_id)
    elsewhere = await svc.hub.presence(d.id for d in devices if svc.registry.get(d.id) is None)
    for device in devices:
        last = device.last_seen_at
        live = svc.registry.get(device.id) or elsewhere.get(device.id)
        modem = live.modem if live is not None else None
        importing = live.importing if live is not None else None
        # A modem that stopped answering has no signal or network to show, whatever the
        # bridge last said about them.
        shown = modem if modem is not None and modem.state != "not_responding" else None
        views.append(
            DeviceView(
                id=device.id,
                name=device.name,
                online=live is not None,
                last_seen=last.isoformat().replace("+00:00", "Z") if last else None,
                signal_dbm=shown.signal_dbm if shown else None,
                operator=shown.operator if shown else None,
                lines=list(device.lines),
                modem_state=modem.state if modem else None,
                import_done=importing.done if importing else None,
                import_total=importing.total if importing else None,
            )
        )
    if generation == svc.device_views_generation:  # no hint came meanwhile: still true
        svc.device_views[account_id] = views
    return list(views)
