"""SMS Gateway for Android (``capcom6/android-sms-gateway``) in local server mode.

The app serves an HTTP API on the phone (default port 8080, basic auth, user ``sms``);
the bridge runs on a computer of the same network and talks to it. What is used, as the
app's ``WebService``/``MessagesRoutes``/``WebhooksRoutes`` and its swagger describe it:

* ``POST /messages`` ``{"id", "textMessage": {"text"}, "phoneNumbers": [n],
  "simNumber"?, "withDeliveryReport": true}`` → 202 with the message and its ``state``
  (``Pending``, ``Processed``, ``Sent``, ``Delivered``, ``Failed``); 409 when the id
  exists. Ids are ``ferry-`` + random, so a send is never posted twice.
* ``GET /messages/{id}`` — the message's state now (catch-up after a gap).
* ``POST /webhooks`` ``{"id", "url", "event"}`` for ``sms:received``, ``sms:sent``,
  ``sms:delivered``, ``sms:failed`` and ``mms:downloaded`` (ids ``ferry-<event>``,
  replaced in place). The app posts ``{"id", "webhookId", "event", "deviceId",
  "payload"}``, retries a non-2xx answer (15 times by default), and signs the body when
  a signing key is set: ``X-Signature`` = hex HMAC-SHA256(key, body + ``X-Timestamp``).
  Release builds accept only ``https://`` webhook URLs or ``http://127.0.0.1``.
* ``POST /messages/inbox/export`` ``{"since", "until"}`` — the app sends the webhooks
  of the SMS received in that period again: the catch-up after the bridge was down.
  ``payload.messageId`` of a received SMS is derived from its content and is not
  unique (the docs say so), so keys add a digest of sender, time and text.

The webhook receiver (:mod:`device_bridge.drivers.webhooks`) answers 2xx only once the
bridge journaled the message: a crash before that makes the app retry, nothing is lost.

Not possible through this app: messages the user typed in the phone's own SMS app
(the app reports only its own sends), and contacts (the API has none).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from device_bridge.android.errors import PhoneAppError, SendMaybeSent, SendRefused
from device_bridge.gsm.errors import ModemUnavailable
from protocol.messages import Attachment

from .base import (
    Contact,
    InboxChanged,
    InboxView,
    ModemEvent,
    ModemStatus,
    Received,
    SendUpdate,
    StoredMessage,
)
from .webhooks import WebhookReceiver

__all__ = ["SOURCE", "SmsGateway", "reference_of"]

logger = logging.getLogger("ferry.bridge.smsgate")

SOURCE = "smsgate"
EVENTS = ("sms:received", "sms:sent", "sms:delivered", "sms:failed", "mms:downloaded")
#: How far back the catch-up asks the app to replay received messages, at most.
CATCH_UP = timedelta(days=7)
_OUTCOMES = {"sms:delivered": "delivered", "sms:failed": "permanent_failure"}
_STATES = {"Delivered": "delivered", "Failed": "permanent_failure"}


def reference_of(message_id: str) -> int:
    """A stable 31-bit reference for a gateway message id (the journal matches delivery
    outcomes by reference and recipient, as it does a modem's TP-MRs)."""
    return int.from_bytes(hashlib.sha256(message_id.encode()).digest()[:4], "big") >> 1


class SmsGateway:
    """Implements :class:`.base.Modem` and :class:`.base.DecodedInbox` for the app.

    Args:
        url: The app's local server, e.g. ``http://192.168.1.20:8080``.
        username, password: Its basic-auth credentials (shown in the app).
        webhooks: The receiver the app posts to (started by :meth:`open`).
        sim_number: The SIM to send from (1-based, the app's ``simNumber``), or None.
        timeout: Seconds each API call may take.
    """

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        webhooks: WebhookReceiver,
        *,
        sim_number: int | None = None,
        timeout: float = 30.0,
        clock: Any = None,
    ) -> None:
        self._url = url.rstrip("/")
        self._auth = aiohttp.BasicAuth(username, password)
        self._hooks = webhooks
        self._sim = sim_number
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._now = clock or (lambda: datetime.now(UTC))
        self._session: aiohttp.ClientSession | None = None
        self._events: asyncio.Queue[ModemEvent | InboxChanged | SendUpdate] = asyncio.Queue()
        #: Sends whose fate is not final yet: gateway id → recipient.
        self._open_sends: dict[str, str] = {}

    # ------------------------------------------------------------ Modem

    async def open(self) -> None:
        self._session = aiohttp.ClientSession(auth=self._auth, timeout=self._timeout)
        self._hooks.on_event = self._on_webhook
        await self._hooks.start()
        for event in EVENTS:
            await self._call(
                "POST", "/webhooks", {"id": f"ferry-{event.replace(':', '-')}",
                                      "url": self._hooks.url, "event": event},
            )  # fmt: skip
        await self._catch_up()
        logger.info("SMS Gateway ready; webhooks at %s", self._hooks.url)

    async def close(self) -> None:
        await self._hooks.stop()
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._events.put_nowait(_Closed())  # type: ignore[arg-type]

    async def list_messages(self) -> list[StoredMessage]:
        return []

    async def read_message(self, index: int) -> StoredMessage | None:
        return None

    async def delete_message(self, index: int) -> None:
        """The phone keeps its messages."""

    async def send_sms(
        self, number: str, text: str, *, request_status_report: bool = False
    ) -> list[int]:
        message_id = "ferry-" + secrets.token_hex(10)
        body: dict[str, Any] = {
            "id": message_id,
            "textMessage": {"text": text},
            "phoneNumbers": [number],
            "withDeliveryReport": request_status_report,
        }
        if self._sim is not None:
            body["simNumber"] = self._sim
        try:
            status, answer = await self._request("POST", "/messages", body)
        except PhoneAppError as exc:
            raise SendMaybeSent(
                "The phone's SMS Gateway app stopped answering while sending; the message "
                "may or may not have been sent."
            ) from exc
        if status >= 400:
            reason = answer.get("message") if isinstance(answer, dict) else None
            raise SendRefused(
                f"The phone's SMS Gateway app refused the message ({reason or status})."
            )
        self._open_sends[message_id] = number
        return [reference_of(message_id)]

    async def next_event(self) -> ModemEvent | InboxChanged | SendUpdate:
        event = await self._events.get()
        if isinstance(event, _Closed):
            raise ModemUnavailable("the SMS Gateway driver was closed")
        return event

    async def status(self) -> ModemStatus:
        """Asking proves the app still answers; it reports no signal or operator here."""
        await self._call("GET", "/health")
        await self._refresh_sends()
        return ModemStatus(signal_dbm=None, operator=None, own_number=None)

    async def read_contacts(self) -> list[Contact]:
        raise SendRefused("The SMS Gateway app does not share the phone's contacts.")

    # ----------------------------------------------------- DecodedInbox

    async def history_size(self, view: InboxView) -> int | None:
        return None

    async def poll_new(self, view: InboxView, limit: int) -> list[Received]:
        return self._hooks.pending(limit)

    # ---------------------------------------------------------- webhooks

    async def _on_webhook(self, event: str, payload: dict[str, Any]) -> bool:
        """One webhook: True when it is taken care of (answer 2xx)."""
        if event in ("sms:received", "mms:downloaded"):
            received = _received(event, payload)
            if received is None:
                return True  # nothing we could ever read: retrying will not help
            self._events.put_nowait(InboxChanged())
            return await self._hooks.until_journaled(received)
        message_id = payload.get("messageId")
        recipient = payload.get("recipient") or payload.get("phoneNumber")
        if event in _OUTCOMES and isinstance(message_id, str) and isinstance(recipient, str):
            self._open_sends.pop(message_id, None)
            self._events.put_nowait(
                SendUpdate(reference_of(message_id), recipient, _OUTCOMES[event])
            )
        return True

    async def _catch_up(self) -> None:
        """Ask the app to replay what arrived while nobody listened."""
        now = self._now()
        since = now - CATCH_UP
        await self._call(
            "POST", "/messages/inbox/export",
            {"since": _iso(since), "until": _iso(now + timedelta(minutes=1))},
        )  # fmt: skip

    async def _refresh_sends(self) -> None:
        """Sends whose webhook never came (the bridge was down): ask for their state."""
        for message_id, recipient in list(self._open_sends.items()):
            status, answer = await self._request("GET", f"/messages/{message_id}")
            state = answer.get("state") if isinstance(answer, dict) else None
            if status == 404 or state in _STATES:
                self._open_sends.pop(message_id, None)
            if state in _STATES:
                self._events.put_nowait(
                    SendUpdate(reference_of(message_id), recipient, _STATES[state])
                )

    # ----------------------------------------------------------- plumbing

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = await self._request(method, path, body)
        if status == 401:
            raise PhoneAppError("the SMS Gateway app refused the username or password")
        if status >= 400:
            raise PhoneAppError(f"the SMS Gateway app answered {status} to {method} {path}")
        return answer

    async def _request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        if self._session is None:
            raise PhoneAppError("the SMS Gateway driver is not open")
        try:
            async with self._session.request(method, self._url + path, json=body) as resp:
                text = await resp.content.read(1024 * 1024)
                try:
                    answer = await resp.json(content_type=None) if text else None
                except ValueError:
                    answer = None
                return resp.status, answer
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PhoneAppError(
                f"the SMS Gateway app cannot be reached ({type(exc).__name__})"
            ) from None


class _Closed:
    """Ends :meth:`SmsGateway.next_event`."""


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _received(event: str, payload: dict[str, Any]) -> Received | None:
    """A received SMS or downloaded MMS as the bridge journals it, or None if unreadable."""
    sender = payload.get("sender") or payload.get("phoneNumber")
    when = payload.get("receivedAt")
    text = payload.get("message") if event == "sms:received" else payload.get("body")
    if not isinstance(sender, str) or not isinstance(when, str):
        return None
    try:
        sent_at = datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError:
        return None
    if sent_at.tzinfo is None:
        sent_at = sent_at.replace(tzinfo=UTC)
    body = text if isinstance(text, str) else ""
    attachments = _attachments(payload.get("attachments")) if event == "mms:downloaded" else ()
    digest = hashlib.sha256(f"{sender}\n{when}\n{body}".encode("utf-8", "surrogatepass"))
    message_id = str(payload.get("messageId", ""))[:40]
    millis = int(sent_at.timestamp() * 1000)
    return Received(
        key=f"smsgate:{event[:3]}:{message_id}:{digest.hexdigest()[:16]}",
        sender=sender,
        body=body,
        sent_at=sent_at,
        source=SOURCE,
        position=millis,
        attachments=attachments,
    )


def _attachments(raw: object) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("data"), str):
            continue
        try:
            data = base64.b64decode(item["data"], validate=True)
        except (binascii.Error, ValueError):
            continue
        mime = item.get("contentType")
        name = item.get("name")
        found.append(
            Attachment(
                mime=mime if isinstance(mime, str) else "application/octet-stream",
                data=data,
                name=name if isinstance(name, str) else None,
            )
        )
    return tuple(found)
