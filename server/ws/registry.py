"""Which bridges are connected to this node, and a way to wake their outbox pumps.

With several nodes the hub mirrors this registry in Redis (``server/nodes``): each
connection is announced with the time it started and its modem's last report, so every
node can tell whether a bridge is online and how its modem is, and a bridge that
connects to another node closes its older socket here (``DeviceConnected``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import msgspec

from protocol.messages import ImportProgress, LinkClose, ModemInfo
from server.hub import CloseDevice, DeviceConnected, Hub, OutboxHint
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
    #: When it connected (wall clock: compared across nodes, newest wins).
    since: float = field(default_factory=time.time)
    #: A newer connection of the bridge on another node replaced it.
    replaced: bool = False


# Connections being closed in the background (referenced until done).
_closing: set[asyncio.Task[None]] = set()


class DeviceRegistry:
    def __init__(self, hub: Hub | None = None) -> None:
        self._hub = hub or Hub()
        self._by_id: dict[int, DeviceConnection] = {}
        # The same, by account: every node hears every account's outbox hints.
        self._by_account: dict[int, dict[int, DeviceConnection]] = {}

    def add(self, conn: DeviceConnection) -> DeviceConnection | None:
        """Register a connection; returns the one it replaces on this node, if any."""
        old = self._by_id.get(conn.device.id)
        self._by_id[conn.device.id] = conn
        self._by_account.setdefault(conn.device.account_id, {})[conn.device.id] = conn
        self.announce(conn)
        return old

    def announce(self, conn: DeviceConnection) -> None:
        """Tell the other nodes (again) that this node holds the bridge's socket."""
        self._hub.announce(conn.device.id, conn.since, conn.modem, conn.importing)
        self._hub.broadcast(DeviceConnected(conn.device.id, conn.since))

    def remove(self, conn: DeviceConnection) -> None:
        if self._by_id.get(conn.device.id) is conn:
            del self._by_id[conn.device.id]
            account = self._by_account[conn.device.account_id]
            del account[conn.device.id]
            if not account:
                del self._by_account[conn.device.account_id]
            self._hub.withdraw(conn.device.id, conn.since)

    def report_modem(self, conn: DeviceConnection, modem: ModemInfo) -> bool:
        """Remember the bridge's modem report; True if it changed."""
        if modem == conn.modem:
            return False
        conn.modem = modem
        self._reannounce(conn)
        return True

    def report_import(self, conn: DeviceConnection, progress: ImportProgress | None) -> bool:
        """Remember how far the bridge's import has come (None: none runs); True if it
        changed."""
        if progress == conn.importing:
            return False
        conn.importing = progress
        self._reannounce(conn)
        return True

    def _reannounce(self, conn: DeviceConnection) -> None:
        if self._by_id.get(conn.device.id) is conn:
            self._hub.announce(conn.device.id, conn.since, conn.modem, conn.importing)

    def get(self, device_id: int) -> DeviceConnection | None:
        return self._by_id.get(device_id)

    def for_account(self, account_id: int) -> list[DeviceConnection]:
        return list(self._by_account.get(account_id, {}).values())

    def wake_outbox(self, account_id: int) -> None:
        """Wake the outbox pumps of the account's bridges, on whichever node."""
        self._hub.publish(account_id, OutboxHint())

    def wake_here(self, account_id: int) -> None:
        for conn in self.for_account(account_id):
            conn.outbox_wakeup.set()

    async def close(self, device_id: int, code: LinkClose) -> None:
        """Close the bridge's socket, on whichever node holds it."""
        self._hub.broadcast(CloseDevice(device_id, int(code)))
        await self.close_here(device_id, code)

    async def close_here(self, device_id: int, code: LinkClose) -> None:
        conn = self._by_id.get(device_id)
        if conn is not None:
            await conn.close(code)

    def connected_elsewhere(self, device_id: int, since: float) -> None:
        """The bridge connected to another node at ``since``: an older socket here goes."""
        conn = self._by_id.get(device_id)
        if conn is None or conn.since >= since:
            return
        conn.replaced = True
        conn.log.info("> replaced by a connection to another node")
        # Closing waits for the peer's close frame, which a dead bridge never sends.
        task = asyncio.create_task(conn.close(LinkClose.REPLACED))
        _closing.add(task)
        task.add_done_callback(_closing.discard)

    def all(self) -> list[DeviceConnection]:
        return list(self._by_id.values())
