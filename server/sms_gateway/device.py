"""The ``device`` gateway: the operator's own paired bridge sends the SMS through its modem.

The bridge journals every send by outbox id and never sends one id twice. Conversation
sends use the (positive) ids of outbox rows; this gateway uses the negated id of a
``gateway_messages`` row, a separate space whose ids are never reused. The message is not
stored as a conversation message of the operator, and its body (a code) is not kept.

Accepted (``send`` returns) means the order was written to the connected bridge's link; a
bridge that is not connected, or whose modem it last reported as not responding, is
refused up front with :class:`GatewayUnavailable` (see :mod:`server.sms_gateway`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from protocol.messages import SendSms
from server.clock import Clock
from server.sms_gateway import GatewayUnavailable
from server.storage.schema import gateway_messages
from server.storage.util import new_id
from server.ws.registry import DeviceRegistry


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
        self, device_id: int, registry: DeviceRegistry, engine: AsyncEngine, clock: Clock
    ) -> None:
        self._device_id = device_id
        self._registry = registry
        self._engine = engine
        self._clock = clock

    async def send(self, to: str, text: str, kind: str) -> None:
        conn = self._registry.get(self._device_id)
        if conn is None:
            raise GatewayUnavailable("the gateway bridge is not connected")
        if conn.modem is not None and conn.modem.state == "not_responding":
            raise GatewayUnavailable("the gateway bridge's modem is not responding")
        message_id = await _record(self._engine, self._device_id, to, kind, self._clock.now())
        try:
            await conn.send(SendSms(outbox_id=-message_id, to=to, body=text))
        except (ConnectionError, RuntimeError) as exc:
            # The socket closed under us (aiohttp raises these for a closing transport).
            raise GatewayUnavailable(
                f"the gateway bridge went away: {type(exc).__name__}"
            ) from None

    async def close(self) -> None:
        pass
