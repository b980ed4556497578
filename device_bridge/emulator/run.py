"""Start a virtual GSM network: phones on real ptys, a control API, scripted contacts.

>>> async with open_emulator(["+15550100001", "+15550100002"], control_port=0) as emu:
...     emu.phones[0].pty      # open this path with a serial driver
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType

from aiohttp import web

from .control import create_control_app
from .modem import EmulatedModem
from .network import Network, utc_now
from .profiles import PROFILES
from .pty import PtyPort
from .scripted import ScriptedContact

__all__ = [
    "DEFAULT_NUMBERS",
    "Emulator",
    "Phone",
    "default_numbers",
    "open_emulator",
    "run_emulator",
]

logger = logging.getLogger("ferry.emulator")

DEFAULT_NUMBERS = ("+15550100001", "+15550100002")
#: Who texts when only one phone runs with a scripted contact.
OUTSIDE_CONTACT = "+15550199999"


def default_numbers(count: int) -> list[str]:
    """``+15550100001``, ``+15550100002`` … for ``count`` phones."""
    return [f"+1555010{n:04d}" for n in range(1, count + 1)]


@dataclass
class Phone:
    """One virtual phone: its number, its modem's tty path, and the modem itself."""

    number: str
    pty: str
    modem: EmulatedModem
    port: PtyPort


class Emulator:
    """A running emulator; close it (or use ``async with``) to stop everything."""

    def __init__(self, network: Network, phones: list[Phone]) -> None:
        self.network = network
        self.phones = phones
        self.control_url = ""
        self._runner: web.AppRunner | None = None
        self._state_file: Path | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def phone(self, number: str) -> Phone:
        """The phone with ``number``.

        Raises:
            KeyError: No such phone.
        """
        subscriber = self.network.subscriber(number)
        for phone in self.phones:
            if phone.modem is subscriber:
                return phone
        raise KeyError(number)

    def describe(self) -> dict[str, object]:
        """The state-file JSON: control URL, this process, each phone's number and pty."""
        return {
            "control": self.control_url,
            "pid": os.getpid(),
            "phones": [{"number": p.number, "pty": p.pty} for p in self.phones],
        }

    async def close(self) -> None:
        """Stop the contacts and the control API, release the ptys, remove the state file."""
        if self._state_file is not None:
            self._state_file.unlink(missing_ok=True)
            self._state_file = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for phone in self.phones:
            phone.port.close()

    async def __aenter__(self) -> Emulator:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


async def run_emulator(
    numbers: list[str],
    *,
    control_host: str = "127.0.0.1",
    control_port: int = 8091,
    free_port_if_taken: bool = False,
    contact_interval: float | None = None,
    state_file: Path | None = None,
    profiles: dict[str, str] | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Emulator:
    """Start phones with ``numbers`` on ptys and the control API; return the emulator.

    Args:
        numbers: One virtual phone per number (``+E164``).
        control_host: Where the control API listens (keep it on loopback).
        control_port: Its port; 0 picks a free one (see ``Emulator.control_url``).
        free_port_if_taken: When ``control_port`` is taken, pick a free one instead of
            failing.
        contact_interval: If set, the second phone (or an outside number when there is
            only one phone) texts the first every this many seconds.
        state_file: Where to write ``{"control": url, "pid": pid, "phones": [{number,
            pty}]}``; removed again by ``close``.
        profiles: Quirk profile per number (``generic`` when absent).
        clock: Aware-time source for every timestamp.

    Raises:
        ValueError: No numbers, a duplicate, or an unknown profile.
        OSError: The control port cannot be bound (``errno.EADDRINUSE`` when taken).
    """
    if not numbers or len(set(numbers)) != len(numbers):
        raise ValueError("give at least one phone number, each once")
    network = Network(clock=clock)
    phones = [_start_phone(network, n, (profiles or {}).get(n, "generic")) for n in numbers]
    emulator = Emulator(network, phones)
    try:
        await _start_control(emulator, control_host, control_port, free_port_if_taken)
        if contact_interval is not None:
            sender = numbers[1] if len(numbers) > 1 else OUTSIDE_CONTACT
            contact = ScriptedContact(network, sender, numbers[0], interval=contact_interval)
            emulator._tasks.append(asyncio.create_task(contact.run()))
        if state_file is not None:
            _write_state(state_file, emulator.describe())
            emulator._state_file = state_file
    except BaseException:
        await emulator.close()
        raise
    for phone in phones:
        logger.info("phone %s on %s", phone.number, phone.pty)
    return emulator


@contextlib.asynccontextmanager
async def open_emulator(numbers: list[str], **options: object) -> AsyncIterator[Emulator]:
    """``async with`` form of :func:`run_emulator` (same arguments)."""
    emulator = await run_emulator(numbers, **options)  # type: ignore[arg-type]
    try:
        yield emulator
    finally:
        await emulator.close()


def _start_phone(network: Network, number: str, profile: str) -> Phone:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose from {sorted(PROFILES)}")
    loop = asyncio.get_running_loop()
    modem = EmulatedModem(
        number,
        network,
        profile=PROFILES[profile],
        schedule=lambda delay, callback: loop.call_later(delay, callback),
    )
    port = PtyPort(modem.receive)
    modem.attach(port.write)
    port.start()
    network.attach(modem)
    return Phone(number, port.path, modem, port)


async def _start_control(emulator: Emulator, host: str, port: int, any_if_taken: bool) -> None:
    runner = web.AppRunner(create_control_app(emulator), access_log=None)
    await runner.setup()
    emulator._runner = runner
    try:
        await _bind(runner, host, port)
    except OSError as exc:
        if not (any_if_taken and exc.errno == errno.EADDRINUSE):
            raise
        logger.info("control port %d is taken; using a free one", port)
        await _bind(runner, host, 0)
    bound_host, bound_port = runner.addresses[0][:2]
    emulator.control_url = f"http://{bound_host}:{bound_port}"


async def _bind(runner: web.AppRunner, host: str, port: int) -> None:
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError:
        await site.stop()  # a failed start stays registered with the runner
        raise


def _write_state(path: Path, state: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(state, indent=2) + "\n")
    os.replace(temporary, path)
