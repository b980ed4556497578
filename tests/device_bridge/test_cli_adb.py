"""``ferry bridge run --adb [SERIAL]`` next to ``--port``."""

from __future__ import annotations

import argparse

import pytest

from device_bridge import cli


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[argparse.Namespace]:
    calls: list[argparse.Namespace] = []
    monkeypatch.setattr(cli, "_run", lambda ns: calls.append(ns) or 0)
    return calls


@pytest.mark.parametrize(
    ("argv", "adb", "port"),
    [
        (["run", "--adb"], "", None),
        (["run", "--adb", "R58M123"], "R58M123", None),
        (["run", "--port", "/dev/ttyUSB2"], None, "/dev/ttyUSB2"),
    ],
)
def test_device_choice(
    seen: list[argparse.Namespace], argv: list[str], adb: str | None, port: str | None
) -> None:
    assert cli.main(argv) == 0
    assert (seen[0].adb, seen[0].port, seen[0].poll_interval) == (adb, port, None)


@pytest.mark.parametrize("argv", [["run"], ["run", "--adb", "X", "--port", "/dev/ttyUSB2"]])
def test_exactly_one_device(seen: list[argparse.Namespace], argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(argv)
    assert seen == []
