"""The ``emulator`` gateway: hands the SMS to the virtual GSM network (``ferry demo``),
which delivers it to the virtual phone with that number like any SMS from the network."""

from __future__ import annotations

import aiohttp

from server.sms_gateway import GatewayRejected, GatewayUnavailable

SENDER = "Ferry"  # alphanumeric originator, as commercial SMS senders use


class EmulatorGateway:
    name = "emulator"

    def __init__(self, control_url: str, *, timeout: float = 5.0) -> None:
        self._url = control_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def send(self, to: str, text: str, kind: str) -> None:
        url = f"{self._url}/phones/{to}/inject"
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout) as http,
                http.post(url, json={"from": SENDER, "text": text}) as resp,
            ):
                if resp.status == 404:
                    raise GatewayRejected("no virtual phone has this number")
                if resp.status >= 400:
                    raise GatewayRejected(f"emulator refused the message ({resp.status})")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise GatewayUnavailable(f"emulator unreachable: {type(exc).__name__}") from None

    async def close(self) -> None:
        pass
