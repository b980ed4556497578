"""Hints and orders between the parts of a server, and between server nodes.

The database is the truth; what travels here are hints. A listener that misses one loses
nothing: its followers catch up from their cursors. One interface, two implementations:

* :class:`Hub` (this module): one node, everything in process.
* :class:`server.nodes.RedisHub`: several ``ferry serve`` nodes behind a load balancer;
  Redis carries the same hints and orders between them, the registry of which node
  holds which bridge's socket, and the shared throttles (see ``server/nodes``).

Hints, per account::

    ChangesHint(upto)  the account's seq moved: followers behind it fetch changes
    DevicesHint        a bridge connected, went away or reported modem state
    OutboxHint         new outgoing messages (or a freed line): outbox pumps look again

:meth:`Hub.publish` hands a hint to this node's observers (``Services``: drops the
device-view cache, wakes outbox pumps) and to the account's listener (its browser
fan-out, ``server.ws.fanout``: one per account, not per socket), then to the other nodes,
where the same happens.

Orders, node-wide: each node applies them to the sockets it holds::

    CloseSessions(handles)           these sessions ended: close their browser sockets
    CloseAccount(account, keep, …)   close the account's browser sockets but ``keep``'s
                                     (and its bridges', when the account is gone)
    CloseDevice(device, code)        close this bridge's socket (revoked)
    DeviceConnected(device, since)   the bridge connected elsewhere: close an older socket
    ForgetFrames(account)            texts were masked: drop the account's cached frames

The caller applies an order on its own node, then :meth:`Hub.broadcast` sends it to the
others (the in-process hub has no others).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Iterable

import msgspec

from protocol.messages import ImportProgress, ModemInfo


class ChangesHint(msgspec.Struct, frozen=True, tag="changes"):
    """The account's seq moved; followers behind it should fetch changes."""

    upto: int


class DevicesHint(msgspec.Struct, frozen=True, tag="devices"):
    """A bridge connected, disconnected or reported modem state."""


class OutboxHint(msgspec.Struct, frozen=True, tag="outbox"):
    """The account has new outgoing messages, or a line of it was let go."""


Hint = ChangesHint | DevicesHint | OutboxHint
Listener = Callable[[Hint], None]
Observer = Callable[[int, Hint], None]


class CloseSessions(msgspec.Struct, frozen=True, tag="close_sessions"):
    """These sessions ended: close their browser sockets."""

    handles: list[str]


class CloseAccount(msgspec.Struct, frozen=True, tag="close_account"):
    """Close the account's browser sockets, but those of session ``keep``; with
    ``devices`` (the account is gone) its bridges' sockets too."""

    account: int
    keep: str | None = None
    devices: bool = False


class CloseDevice(msgspec.Struct, frozen=True, tag="close_device"):
    """Close this bridge's socket with ``code`` (a ``LinkClose``)."""

    device: int
    code: int


class DeviceConnected(msgspec.Struct, frozen=True, tag="device_connected"):
    """The bridge connected at ``since`` (wall clock): an older socket of it closes."""

    device: int
    since: float


class ForgetFrames(msgspec.Struct, frozen=True, tag="forget_frames"):
    """Drop the account's cached change frames: texts in them were masked."""

    account: int


Order = CloseSessions | CloseAccount | CloseDevice | DeviceConnected | ForgetFrames
OrderHandler = Callable[[Order], Awaitable[None]]


class GatewaySend(msgspec.Struct, frozen=True, tag="gateway_send"):
    """Send an SMS through this bridge (the ``device`` gateway). ``sealed``: recipient
    and text, sealed with a key every node holds (``server/sms_gateway/device.py``)."""

    device: int
    outbox_id: int
    sealed: bytes


#: A question for the node holding a bridge; the answer is None (done) or why not.
Request = GatewaySend
RequestHandler = Callable[[Request], Awaitable[str | None]]


class Presence(msgspec.Struct, frozen=True):
    """A bridge's socket on some node: which node, since when, its last modem report and
    how far its import has come (while one runs)."""

    node: str
    since: float
    modem: ModemInfo | None = None
    importing: ImportProgress | None = None


class Unreachable(Exception):
    """The other nodes cannot be reached (Redis is down or did not answer in time)."""


class Hub:
    """One node, everything in process (see the module docstring)."""

    #: Hints and orders reach every node as they happen. False while a multi-node hub
    #: has lost Redis: nodes then poll the database instead (``server/nodes``).
    live = True

    def __init__(self) -> None:
        #: This process's id among the nodes (random at every start).
        self.node = secrets.token_hex(8)
        self._listeners: dict[int, Listener] = {}
        self._observers: list[Observer] = []
        self._latest: dict[int, int] = {}

    def listen(self, account_id: int, listener: Listener) -> None:
        """Call ``listener`` (synchronously; it must not block) with the account's hints."""
        self._listeners[account_id] = listener

    def unlisten(self, account_id: int, listener: Listener) -> None:
        if self._listeners.get(account_id) is listener:
            del self._listeners[account_id]

    def observe(self, observer: Observer) -> None:
        """Call ``observer(account_id, hint)`` with every hint of every account, before
        the account's listener (synchronously; it must not block)."""
        self._observers.append(observer)

    def publish(self, account_id: int, hint: Hint) -> None:
        """Deliver ``hint`` on this node and send it to the others."""
        self.deliver(account_id, hint)

    def deliver(self, account_id: int, hint: Hint) -> None:
        """Deliver ``hint`` on this node only (a hint from another node, or found by
        polling the database)."""
        if isinstance(hint, ChangesHint):
            self._latest[account_id] = max(self._latest.get(account_id, 0), hint.upto)
        for observer in self._observers:
            observer(account_id, hint)
        listener = self._listeners.get(account_id)
        if listener is not None:
            listener(hint)

    def latest(self, account_id: int) -> int:
        """The highest seq announced for the account since this process started.

        A change committed before then is visible to any read that starts after start-up,
        so a shared read that reaches this seq is fresh enough for a new subscriber.
        """
        return self._latest.get(account_id, 0)

    # ------------------------------------------------------------- other nodes

    def on_order(self, handler: OrderHandler) -> None:
        """Run ``handler`` for every order another node broadcasts."""

    def broadcast(self, order: Order) -> None:
        """Send ``order`` to the other nodes (the caller applied it on this one)."""

    def announce(
        self,
        device_id: int,
        since: float,
        modem: ModemInfo | None,
        importing: ImportProgress | None = None,
    ) -> None:
        """This node holds the bridge's socket (connected at ``since``), whose modem last
        reported ``modem`` and whose import (if one runs) reached ``importing``."""

    def withdraw(self, device_id: int, since: float) -> None:
        """The socket connected at ``since`` closed (a newer one may hold the bridge)."""

    async def presence(self, device_ids: Iterable[int]) -> dict[int, Presence]:
        """The bridges among ``device_ids`` whose socket another node holds."""
        return {}

    def on_request(self, handler: RequestHandler) -> None:
        """Answer other nodes' requests with ``handler``."""

    async def ask(self, node: str, request: Request) -> str | None:
        """Have ``node`` carry out ``request``; None once it did, else why it did not.

        Raises:
            Unreachable: no answer (the request may or may not have been carried out).
        """
        raise Unreachable("this server runs as a single node")

    async def start(
        self, *, resync: Callable[[], Awaitable[None]], poll: Callable[[], Awaitable[None]]
    ) -> None:
        """Start talking to the other nodes. ``resync`` runs whenever the link to them
        is (re)established, ``poll`` periodically (often while it is lost)."""

    async def close(self) -> None:
        """Stop talking to the other nodes."""
