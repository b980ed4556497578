"""Debian's gammu, a real modem tool, against ``ferry emulate`` under every quirk profile.

One emulator process runs one phone per profile plus a recipient phone; gammu talks to
each phone's pty as it would to a USB modem: ``identify``, ``getallsms``, ``sendsms`` (a
plain text and a multipart Unicode one), ``networkinfo`` and ``monitor 1``. gammu sleeps
a few seconds per connection of its own accord, so the profiles run side by side.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from device_bridge.emulator.profiles import PROFILES
from tests.e2e.conftest import free_port

GAMMU = shutil.which("gammu") or "/usr/bin/gammu"
pytestmark = [
    pytest.mark.skipif(
        not os.access(GAMMU, os.X_OK),
        reason="gammu is not installed (apt-get install gammu; .ci/run installs it)",
    ),
    pytest.mark.timeout(240),
]

NAMES = sorted(PROFILES)
NUMBERS = {name: f"+1555010{n:04d}" for n, name in enumerate(NAMES, 1)}
RECIPIENT = "+15550100099"
SENDER = "+447700900123"
PLAIN = "Hello from gammu @ 5?"
UNICODE = "Привет 👋 from gammu! Ünïcödé, 你好世界, ἀλήθεια 🚀 — more than one part, surely."


@dataclass
class Run:
    """What gammu said for one profile, command by command."""

    profile: str
    results: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)

    def ok(self, command: str) -> str:
        result = self.results[command]
        assert result.returncode == 0, (
            f"gammu {command} failed under the {self.profile} profile "
            f"(exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
        return result.stdout


def _control(url: str, path: str, body: object = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url + path, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _gammu(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GAMMU, "-c", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _scenario(profile: str, pty: str, control: str, workdir: Path) -> Run:
    config = workdir / f"gammurc-{profile}"
    log = workdir / f"gammu-{profile}.log"
    config.write_text(
        f"[gammu]\ndevice = {pty}\nconnection = at\nlogfile = {log}\nlogformat = textalldate\n"
    )
    _control(control, f"/phones/{NUMBERS[profile]}/inject", {"from": SENDER, "text": PLAIN})
    run = Run(profile)
    commands = {
        "identify": ["identify"],
        "getallsms": ["getallsms"],
        "sendsms plain": ["sendsms", "TEXT", RECIPIENT, "-text", PLAIN],
        "sendsms unicode": [
            "sendsms",
            "TEXT",
            RECIPIENT,
            "-len",
            str(len(UNICODE)),
            "-unicode",
            "-text",
            UNICODE,
        ],
        "networkinfo": ["networkinfo"],
        "monitor 1": ["monitor", "1"],
    }
    for name, args in commands.items():
        run.results[name] = _gammu(config, *args)
    return run


def _wait_for_state(path: Path, proc: subprocess.Popen[bytes]) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"ferry emulate exited with {proc.returncode}")
        if path.exists():
            return json.loads(path.read_text())
        time.sleep(0.1)
    pytest.fail("ferry emulate did not write its state file within 30 s")


@pytest.fixture(scope="module")
def gammu_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Run], str]]:
    workdir = tmp_path_factory.mktemp("gammu")
    state = workdir / "state.json"
    argv = [
        sys.executable,
        "-m",
        "server",
        "emulate",
        "--control-port",
        str(free_port()),
        "--state-file",
        str(state),
        "--numbers",
        *NUMBERS.values(),
        RECIPIENT,
    ]
    for name, number in NUMBERS.items():
        argv += ["--profile", f"{number}={name}"]
    with (workdir / "emulator.log").open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=out)
    try:
        described = _wait_for_state(state, proc)
        ptys = {p["number"]: p["pty"] for p in described["phones"]}
        control = described["control"]
        with ThreadPoolExecutor(len(NAMES)) as pool:
            futures = {
                name: pool.submit(_scenario, name, ptys[NUMBERS[name]], control, workdir)
                for name in NAMES
            }
            runs = {name: future.result() for name, future in futures.items()}
        yield runs, control
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("profile", NAMES)
def test_gammu_works_with_the_profile(gammu_runs: tuple[dict[str, Run], str], profile: str) -> None:
    runs, control = gammu_runs
    run = runs[profile]
    emulated = PROFILES[profile]

    identity = run.ok("identify")
    assert "IMEI" in identity and NUMBERS[profile][-7:] in identity
    assert emulated.revision in identity

    listing = run.ok("getallsms")
    assert PLAIN in listing and SENDER in listing

    run.ok("sendsms plain")
    run.ok("sendsms unicode")
    received = _control(control, f"/phones/{RECIPIENT}/messages")
    assert isinstance(received, list)
    texts = [m["text"] for m in received if m["from"] == NUMBERS[profile]]
    assert sorted(texts) == sorted([PLAIN, UNICODE]), "both texts arrive whole, exactly once"

    info = run.ok("networkinfo")
    assert "Network state        : home network" in info
    assert "001 01" in info and "LAC" in info and "CID" in info
    assert "GPRS                 : attached" in info

    monitor = run.ok("monitor 1")
    assert "Network state        : home network" in monitor
    assert "Leaving monitor mode" in monitor
    if emulated.cnmi_modes & {2, 3}:  # gammu wants buffered or direct indications
        assert "Enabling info about incoming SMS    : No error." in monitor
