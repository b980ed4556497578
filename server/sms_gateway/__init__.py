"""Outbound SMS for verification codes and account notices.

One small interface, :class:`SmsGateway`, and one adapter per way out, chosen by
``Config.sms_gateway`` (``FERRY_SMS_GATEWAY``):

=========  ==================================================================
``log``    development only: writes the message (and so the code) to the server log;
           refused by config validation unless serving plain HTTP on loopback.
``emulator``  delivers through the virtual GSM network's control API (``ferry demo``).
``device`` an operator's own paired bridge sends it through its modem: real GSM, no
           third-party provider. The operator's modem sees the codes it sends, as any
           SMS provider would; the operator runs the server anyway.
=========  ==================================================================

An SMPP adapter for a commercial SMSC will be one more class with the same ``send``.

``send`` returns once the gateway *accepted* the message, and only then does the user hear
"code sent". What accepted means, per gateway:

* ``log``: the line is in the server log;
* ``emulator``: the virtual network answered 2xx: the SMS is in the virtual phone's inbox;
* ``device``: the gateway bridge is connected, did not last report its modem as not
  responding, and the ``SendSms`` order was written to its encrypted link. The bridge
  journals an order before it touches the modem and never sends one id twice; its later
  ``sent``/``failed`` report is acknowledged but not waited for (a modem send can take
  a minute; the account screen asks again after that anyway).

Errors::

    GatewayError                 base: the message did not leave
    ├── GatewayUnavailable       the way out is down (bridge offline, emulator unreachable)
    └── GatewayRejected          the gateway refused this recipient or text
"""

from __future__ import annotations

from typing import Protocol


class GatewayError(Exception):
    """The SMS did not leave the server."""


class GatewayUnavailable(GatewayError):
    """The gateway cannot be reached right now."""


class GatewayRejected(GatewayError):
    """The gateway refused this message (unknown recipient, text it cannot encode, …)."""


class SmsGateway(Protocol):
    """Sends one text message. ``kind`` (``code``, ``notice``) is for logs and records."""

    name: str

    async def send(self, to: str, text: str, kind: str) -> None:
        """Raises: GatewayError subclasses."""
        ...

    async def close(self) -> None: ...


__all__ = ["GatewayError", "GatewayRejected", "GatewayUnavailable", "SmsGateway"]
