"""``ferry emulate ctl`` against a running emulator's control API."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest

from device_bridge.emulator.ctl import main
from device_bridge.emulator.run import run_emulator
from tests.ports import dead_pid

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


# ------------------------------------------- which emulator: --control, env, the demo's


@pytest.fixture(autouse=True)
def _no_emulator_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FERRY_EMULATOR_URL", raising=False)


async def _refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = await asyncio.to_thread(main, list(args))
    err = capsys.readouterr().err
    assert code == 2, err
    return err


async def test_ctl_finds_the_demo_emulator_through_its_state_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "var" / "demo" / "emulator.json"
    async with (
        await run_emulator([ONE, TWO], control_port=0, state_file=state) as demo,
        await run_emulator([ONE, TWO], control_port=0) as other,  # same numbers, not ours
    ):
        monkeypatch.chdir(tmp_path)  # where `make run` was started: var/demo/emulator.json
        await _ctl(capsys, "inject", TWO, "--from", "+447700900123", "to the demo")
        assert [m.text for m in demo.phone(TWO).modem.received] == ["to the demo"]
        assert other.phone(TWO).modem.received == []
        phones = await _ctl(capsys, "--state-file", str(state), "phones")
        assert [p["pty"] for p in phones] == [p.pty for p in demo.phones]  # type: ignore[index]
        # An explicit choice wins over the state file.
        monkeypatch.setenv("FERRY_EMULATOR_URL", other.control_url)
        phones = await _ctl(capsys, "phones")
        assert [p["pty"] for p in phones] == [p.pty for p in other.phones]  # type: ignore[index]
    assert not state.exists()  # the emulator removes its state file when it stops


async def test_ctl_refuses_when_it_cannot_tell_which_emulator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with await run_emulator([ONE, TWO], control_port=0):  # someone else's, running
        err = await _refused(capsys, "phones")
    assert "cannot tell which emulator" in err and "FERRY_EMULATOR_URL" in err
    assert "var/demo/emulator.json" in err and "Traceback" not in err
    (tmp_path / "broken.json").write_text("{not json")
    err = await _refused(capsys, "--state-file", str(tmp_path / "broken.json"), "phones")
    assert "unreadable" in err


async def test_ctl_refuses_a_state_file_left_by_an_emulator_that_died(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "emulator.json"
    async with await run_emulator([ONE, TWO], control_port=0, state_file=state):
        # The emulator it names answers, but the process that wrote the file is gone.
        left = json.loads(state.read_text())
        (tmp_path / "left.json").write_text(json.dumps({**left, "pid": dead_pid()}))
        err = await _refused(capsys, "--state-file", str(tmp_path / "left.json"), "phones")
    assert "no longer running" in err


async def test_ctl_refuses_another_emulator_at_the_address_of_the_state_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "emulator.json"
    async with (
        await run_emulator([ONE, TWO], control_port=0, state_file=state),
        await run_emulator([ONE, TWO], control_port=0) as other,
    ):
        # As if the demo's emulator had gone and another took over its port.
        moved = {**json.loads(state.read_text()), "control": other.control_url}
        (tmp_path / "moved.json").write_text(json.dumps(moved))
        err = await _refused(capsys, "--state-file", str(tmp_path / "moved.json"), "phones")
        assert f"something else answers at {other.control_url}" in err
        with socket.socket() as closed:  # an address where nothing listens any more
            closed.bind(("127.0.0.1", 0))
            moved = {**moved, "control": f"http://127.0.0.1:{closed.getsockname()[1]}"}
            (tmp_path / "moved.json").write_text(json.dumps(moved))
            err = await _refused(capsys, "--state-file", str(tmp_path / "moved.json"), "phones")
        assert "does not answer" in err
