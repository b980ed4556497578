"""The emulator's control port when another program already holds it."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from device_bridge.emulator.run import run_emulator
from tests.ports import held_ports

ONE, TWO = "+15550100001", "+15550100002"


async def test_a_taken_control_port_fails_unless_a_free_one_may_be_taken(tmp_path: Path) -> None:
    state = tmp_path / "emulator.json"
    with held_ports() as (taken,):
        with pytest.raises(OSError) as caught:
            await run_emulator([ONE], control_port=taken)
        assert caught.value.errno == errno.EADDRINUSE
        async with await run_emulator(
            [ONE, TWO], control_port=taken, free_port_if_taken=True, state_file=state
        ) as emu:
            port = int(emu.control_url.rsplit(":", 1)[1])
            assert port not in (0, taken)
            written = json.loads(state.read_text())
            assert written["control"] == emu.control_url and written["pid"] == os.getpid()
    assert not state.exists()


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_cli_says_in_one_sentence_which_port_is_taken(how: str) -> None:
    with held_ports() as (taken,):
        args = ["--control-port", str(taken)] if how == "flag" else []
        env = {**os.environ, "FERRY_EMULATOR_PORT": str(taken)}
        done = subprocess.run(
            [sys.executable, "-m", "device_bridge", "emulate", "--phones", "1", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    (sentence,) = done.stderr.splitlines()  # one line: no traceback, no log noise
    assert sentence.startswith("ferry emulate: ") and f"port {taken} " in sentence
    assert "FERRY_EMULATOR_PORT" in sentence and "--control-port" in sentence
