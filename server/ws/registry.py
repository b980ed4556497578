"""Which bridges are connected right now, and a way to wake their outbox pumps."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import msgspec

from protocol.messages import ImportProgress, LinkClose, ModemInfo
from server.storage.devices import Device


@dataclass
class DeviceConnection:
    device: Device
    send: Callable[[msgspec.Struct], Awaitable[None]]
    #: Close the connection with a stable code (replaced, revoked).
    close: Callable[[LinkClose], Awaitable[None]]
    log: logging.Logger
    modem: ModemInfo | None = None
    #: The bridge's last report on importing its phone's history, while it imports.
    importing: ImportProgress | None = None
    outbox_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    #: False once the connection ended: nothing may be claimed for it any more.
    live: bool = True
    #: Stop taking uploads and wait until those taken are stored and acknowledged
    #: (shutdown; ``Ingester.finish``).
    finish: Callable[[], Awaitable[None]] | None = None


class DeviceRegistry:
    def __init__(self) -> None:
        self._by_id: dict[int, DeviceConnection] = {}

    def add(self, conn: DeviceConnection) -> DeviceConnection | None:
        """Register a connection; returns the one it replaces (same device), if any."""
        old = self._by_id.get(conn.device.id)
        self._by_id[conn.device.id] = conn
        return old

    def remove(self, conn: DeviceConnection) -> None:
        if self._by_id.get(conn.device.id) is conn:
            del self._by_id[conn.device.id]

    def get(self, device_id: int) -> DeviceConnection | None:
        return self._by_id.get(device_id)

    def for_account(self, account_id: int) -> list[DeviceConnection]:
        return [c for c in self._by_id.values() if c.device.account_id == account_id]

    def wake_outbox(self, account_id: int) -> None:
        for conn in self.for_account(account_id):
            conn.outbox_wakeup.set()

    def all(self) -> list[DeviceConnection]:
        return list(self._by_id.values())
