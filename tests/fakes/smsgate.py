"""A fake SMS Gateway for Android local server, built from the app's published API
(``WebService.kt``, ``MessagesRoutes.kt``, ``WebhooksRoutes.kt``, the webhook payload
classes and ``PayloadSingingPlugin.kt`` of ``capcom6/android-sms-gateway``).

Basic auth; ``POST /messages`` (409 for a known id, 202 with the message), ``GET
/messages/{id}``, ``POST /webhooks`` (replace by id), ``POST /messages/inbox/export``
(replays ``sms:received`` for the period), ``GET /health``. Webhooks are posted as the
app posts them (``{id, webhookId, event, deviceId, payload}``, signed with
``X-Signature``/``X-Timestamp`` when a key is set) and retried on a non-2xx answer or a
refused connection, up to ``retries`` times.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+00:00")


class FakeSmsGate:
    def __init__(self, *, signing_key: str | None = None, retries: int = 15) -> None:
        self.username, self.password = "sms", "p4ssw0rd"
        self.signing_key = signing_key
        self.retries = retries
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.inbox: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []  # what left the phone, in order
        self.deliver = True
        self.posted: list[tuple[str, int | None]] = []  # (event, answer status)
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.url = ""

    async def start(self) -> None:
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/health", lambda r: web.json_response({"status": "pass"}))
        app.router.add_post("/messages", self._post_message)
        app.router.add_get("/messages/{id}", self._get_message)
        app.router.add_post("/webhooks", self._post_webhook)
        app.router.add_post("/messages/inbox/export", self._export)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path != "/health":
            expected = aiohttp.BasicAuth(self.username, self.password).encode()
            if request.headers.get("Authorization") != expected:
                return web.json_response({"message": "Unauthorized"}, status=401)
        return await handler(request)

    # ------------------------------------------------------------ the API

    async def _post_message(self, request: web.Request) -> web.Response:
        body = await request.json()
        message_id = body.get("id")
        if message_id in self.messages:
            return web.json_response({"message": "already exists"}, status=409)
        number = body["phoneNumbers"][0]
        message = {
            "id": message_id,
            "deviceId": "fake",
            "state": "Pending",
            "recipients": [{"phoneNumber": number, "state": "Pending"}],
            "simNumber": body.get("simNumber"),
            "text": body["textMessage"]["text"],
        }
        self.messages[message_id] = message
        self._spawn(self._send(message))
        return web.json_response(message, status=202)

    async def _get_message(self, request: web.Request) -> web.Response:
        found = self.messages.get(request.match_info["id"])
        if found is None:
            return web.json_response({"message": "not found"}, status=404)
        return web.json_response(found)

    async def _post_webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        url = body["url"]
        if not (url.startswith("https://") or url.startswith("http://127.0.0.1")):
            return web.json_response(
                {"message": "url must start with https:// or http://127.0.0.1"}, status=400
            )
        self.webhooks[body["id"]] = body
        return web.json_response(body, status=201)

    async def _export(self, request: web.Request) -> web.Response:
        body = await request.json()
        since = datetime.fromisoformat(body["since"].replace("Z", "+00:00"))
        until = datetime.fromisoformat(body["until"].replace("Z", "+00:00"))
        for sms in self.inbox:
            if since <= sms["at"] <= until:
                self._emit("sms:received", self._received_payload(sms))
        return web.Response(status=202)

    # ---------------------------------------------------------- the phone

    def receive(self, sender: str, text: str, at: datetime | None = None) -> None:
        """An SMS arrives on the phone."""
        sms = {"sender": sender, "text": text, "at": at or datetime.now(UTC)}
        self.inbox.append(sms)
        self._emit("sms:received", self._received_payload(sms))

    def receive_mms(
        self, sender: str, text: str, attachments: list[tuple[str, str, bytes]]
    ) -> None:
        at = datetime.now(UTC)
        self._emit("mms:downloaded", {
            "messageId": "77", "sender": sender, "phoneNumber": sender, "recipient": None,
            "simNumber": 1, "body": text, "subject": None, "receivedAt": _iso(at),
            "attachments": [{"partId": i, "contentType": ct, "name": name, "size": len(data),
                             "data": base64.b64encode(data).decode()}
                            for i, (ct, name, data) in enumerate(attachments)],
        })  # fmt: skip

    def _received_payload(self, sms: dict[str, Any]) -> dict[str, Any]:
        # As ReceiverService: an id from the content's hash code (not unique).
        message_id = format(hash((sms["sender"], sms["text"])) & 0xFFFFFFFF, "x")
        return {"messageId": message_id, "message": sms["text"], "sender": sms["sender"],
                "phoneNumber": sms["sender"], "recipient": None, "simNumber": 1,
                "receivedAt": _iso(sms["at"])}  # fmt: skip

    async def _send(self, message: dict[str, Any]) -> None:
        await asyncio.sleep(0.05)
        number = message["recipients"][0]["phoneNumber"]
        self.sent.append(message)
        message["state"] = "Sent"
        base = {"messageId": message["id"], "sender": None, "recipient": number,
                "phoneNumber": number, "simNumber": message["simNumber"]}  # fmt: skip
        self._emit("sms:sent", {**base, "partsCount": 1, "sentAt": _iso(datetime.now(UTC))})
        await asyncio.sleep(0.05)
        if self.deliver:
            message["state"] = "Delivered"
            self._emit("sms:delivered", {**base, "deliveredAt": _iso(datetime.now(UTC))})

    # ------------------------------------------------------------ webhooks

    def _emit(self, event: str, payload: dict[str, Any]) -> None:
        for hook in list(self.webhooks.values()):
            if hook["event"] == event:
                body = {"id": f"ev-{time.monotonic_ns()}", "webhookId": hook["id"],
                        "event": event, "deviceId": "fake", "payload": payload}  # fmt: skip
                self._spawn(self._post(hook["url"], event, json.dumps(body)))

    async def _post(self, url: str, event: str, text: str) -> None:
        delay = 0.05
        for _ in range(self.retries):
            headers = {"Content-Type": "application/json"}
            if self.signing_key:
                stamp = str(int(time.time()))
                headers["X-Timestamp"] = stamp
                headers["X-Signature"] = hmac.new(
                    self.signing_key.encode(), (text + stamp).encode(), hashlib.sha256
                ).hexdigest()
            try:
                async with (
                    aiohttp.ClientSession() as session,
                    session.post(url, data=text.encode(), headers=headers) as resp,
                ):
                    self.posted.append((event, resp.status))
                    if 200 <= resp.status < 300:
                        return
            except aiohttp.ClientError:
                self.posted.append((event, None))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
