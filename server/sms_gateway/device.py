"""The ``device`` gateway: the operator's own paired bridge sends the SMS through its modem.

The bridge journals every send by outbox id and never sends one id twice. Conversation
sends use the (positive) ids of outbox rows; this gateway uses the negated id of a
``gateway_messages`` row, a separate space whose ids are never reused. The message is not
stored as a conversation message of the operator, and its body (a code) is not kept.

Accepted (``send`` returns) means the order was written to the connected bridge's link; a
bridge that is not connected, or whose modem it last reported as not responding, is
refused up front with :class:`GatewayUnavailable` (see :mod:`server.sms_gateway`). A
number that replied STOP to one of the bridge's lines (``storage/optouts.py``) is not
texted again: :class:`GatewayRejected`.

With several nodes the bridge may be connected to another node: the bridge registry in
Redis names it, and that node is asked (:meth:`server.hub.Hub.ask`) to write the order
to the link; it answers whether it did. Recipient and text travel sealed (AES-256-GCM
under a key derived from the code key every node holds), so Redis never sees a code. No
answer within a few seconds, or Redis away, is reported as unavailable: the page then
says the code was not sent (the order may still have left, in which case the user gets
a code they can use).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import datetime

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from protocol.messages import SendSms
from server.clock import Clock
from server.hub import GatewaySend, Hub, Request, Unreachable
from server.sms_gateway import GatewayRejected, GatewayUnavailable
from server.storage.lines import LineStore
from server.storage.optouts import OptOutStore
from server.storage.schema import gateway_messages
from server.storage.util import new_id
from server.ws.registry import DeviceConnection, DeviceRegistry

_NONCE = 12


class _Sealed(msgspec.Struct, frozen=True):
    to: str
    text: str


async def _record(engine: AsyncEngine, device_id: int, to: str, kind: str, now: datetime) -> int:
    async with engine.begin() as conn:
        res = await conn.execute(
            insert(gateway_messages).values(
                created_at=now, device_id=device_id, recipient=to, kind=kind
            )
        )
        return new_id(res)


class DeviceGateway:
    name = "device"

    def __init__(
        self,
        device_id: int,
        registry: DeviceRegistry,
        engine: AsyncEngine,
        clock: Clock,
        *,
        hub: Hub | None = None,
        key: bytes = b"",
    ) -> None:
        self._device_id = device_id
        self._registry = registry
        self._engine = engine
        self._clock = clock
        self._hub = hub or Hub()
        self._key = key

    async def send(self, to: str, text: str, kind: str) -> None:
        await self._check_consent(to)
        conn = self._registry.get(self._device_id)
        if conn is None:
            await self._send_elsewhere(to, text, kind)
            return
        _check_modem(conn.modem.state if conn.modem else None)
        message_id = await _record(self._engine, self._device_id, to, kind, self._clock.now())
        error = await _write(conn, -message_id, to, text)
        if error is not None:
            raise GatewayUnavailable(error)

    async def _check_consent(self, to: str) -> None:
        """Raise GatewayRejected if ``to`` replied STOP to one of the bridge's lines."""
        optouts = OptOutStore(self._engine)
        for line in await LineStore(self._engine).for_device(self._device_id):
            if await optouts.blocked(line.id, [to]):
                raise GatewayRejected(f"{to} replied STOP to the gateway's number")

    async def _send_elsewhere(self, to: str, text: str, kind: str) -> None:
        found = (await self._hub.presence([self._device_id])).get(self._device_id)
        if found is None:
            raise GatewayUnavailable("the gateway bridge is not connected")
        _check_modem(found.modem.state if found.modem else None)
        message_id = await _record(self._engine, self._device_id, to, kind, self._clock.now())
        sealed = seal(self._key, self._device_id, -message_id, _Sealed(to, text))
        order = GatewaySend(self._device_id, -message_id, sealed)
        try:
            error = await self._hub.ask(found.node, order)
        except Unreachable as exc:
            raise GatewayUnavailable(f"the gateway bridge's server node: {exc}") from None
        if error is not None:
            raise GatewayUnavailable(error)

    async def close(self) -> None:
        pass


async def carry_out(registry: DeviceRegistry, key: bytes, request: Request) -> str | None:
    """Another node's ``GatewaySend`` for a bridge connected here: None once the order
    is on the link, else why not."""
    conn = registry.get(request.device)
    if conn is None:
        return "the gateway bridge is not connected"
    try:
        message = unseal(key, request.device, request.outbox_id, request.sealed)
    except ValueError:
        return "the order could not be opened (do the nodes share FERRY_CODE_KEY?)"
    try:
        _check_modem(conn.modem.state if conn.modem else None)
    except GatewayUnavailable as exc:
        return str(exc)
    return await _write(conn, request.outbox_id, message.to, message.text)


def _check_modem(state: str | None) -> None:
    if state == "not_responding":
        raise GatewayUnavailable("the gateway bridge's modem is not responding")


async def _write(conn: DeviceConnection, outbox_id: int, to: str, text: str) -> str | None:
    try:
        await conn.send(SendSms(outbox_id=outbox_id, to=to, body=text))
    except (ConnectionError, RuntimeError) as exc:
        # The socket closed under us (aiohttp raises these for a closing transport).
        return f"the gateway bridge went away: {type(exc).__name__}"
    return None


def _sealing_key(code_key: bytes) -> bytes:
    return hmac.new(code_key, b"ferry nodes: gateway sends", hashlib.sha256).digest()


def _aad(device_id: int, outbox_id: int) -> bytes:
    return f"{device_id}:{outbox_id}".encode()


def seal(code_key: bytes, device_id: int, outbox_id: int, message: _Sealed) -> bytes:
    """Recipient and text of a gateway send, for the node holding the bridge."""
    nonce = os.urandom(_NONCE)
    box = AESGCM(_sealing_key(code_key))
    return nonce + box.encrypt(nonce, msgspec.json.encode(message), _aad(device_id, outbox_id))


def unseal(code_key: bytes, device_id: int, outbox_id: int, sealed: bytes) -> _Sealed:
    """Raises: ValueError (another key, tampered, or not sealed for this send)."""
    box = AESGCM(_sealing_key(code_key))
    try:
        plain = box.decrypt(sealed[:_NONCE], sealed[_NONCE:], _aad(device_id, outbox_id))
        return msgspec.json.decode(plain, type=_Sealed)
    except (InvalidTag, msgspec.DecodeError):
        raise ValueError("not a sealed gateway send") from None
