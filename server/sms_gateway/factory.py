"""Build the gateway ``Config.sms_gateway`` names."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from server.clock import Clock
from server.config import Config
from server.hub import Hub
from server.sms_gateway import SmsGateway
from server.sms_gateway.device import DeviceGateway
from server.sms_gateway.emulator import EmulatorGateway
from server.sms_gateway.log import LogGateway
from server.ws.registry import DeviceRegistry


def build_gateway(
    config: Config,
    registry: DeviceRegistry,
    engine: AsyncEngine,
    clock: Clock,
    *,
    hub: Hub | None = None,
    key: bytes = b"",
) -> SmsGateway:
    if config.sms_gateway == "emulator":
        return EmulatorGateway(config.emulator_url)
    if config.sms_gateway == "device":
        assert config.gateway_device_id is not None  # Config.validate
        return DeviceGateway(config.gateway_device_id, registry, engine, clock, hub=hub, key=key)
    return LogGateway()
