"""``ferry emulate ctl`` against a running emulator's control API."""

from __future__ import annotations

import asyncio
import json

import pytest

from device_bridge.emulator.ctl import main
from device_bridge.emulator.run import run_emulator

ONE, TWO = "+15550100001", "+15550100002"


async def _ctl(capsys: pytest.CaptureFixture[str], *args: str) -> object:
    code = await asyncio.to_thread(main, list(args))
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


async def test_ctl_injects_sends_reads_and_sets_faults(capsys: pytest.CaptureFixture[str]) -> None:
    async with await run_emulator([ONE, TWO], control_port=0) as emu:
        url = emu.control_url
        phones = await _ctl(capsys, "--control", url, "phones")
        assert [p["number"] for p in phones] == [ONE, TWO]  # type: ignore[union-attr]
        await _ctl(capsys, "--control", url, "inject", TWO, "--from", "+447700900123", "hi ✓")
        await _ctl(capsys, "--control", url, "send", TWO, "--to", ONE, "typed on phone 2")
        got = await _ctl(capsys, "--control", url, "messages", TWO)
        assert [(m["from"], m["text"]) for m in got] == [("+447700900123", "hi ✓")]  # type: ignore[union-attr]
        assert [m.text for m in emu.phone(ONE).modem.received] == ["typed on phone 2"]
        faults = await _ctl(capsys, "--control", url, "faults", ONE, "send_delay=3", "hang=true")
        assert faults["send_delay"] == 3 and faults["hang"] is True  # type: ignore[index]


def test_ctl_reports_an_unreachable_emulator(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--control", "http://127.0.0.1:9", "phones"]) == 1
    assert "cannot reach" in capsys.readouterr().err
