"""The ``ferry`` command line: what ``--help`` says, and the server's address record."""

from __future__ import annotations

import argparse
import os
import socket
from pathlib import Path

import pytest

import server.demo
from server import cli, listening
from tests.ports import dead_pid, held_ports


def _subcommand(name: str) -> argparse.ArgumentParser:
    parser = cli._parser()
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices[name]


@pytest.mark.parametrize("name", ["demo", "serve"])
def test_help_describes_every_option(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    options = [a for a in _subcommand(name)._actions if a.option_strings and a.dest != "help"]
    assert options
    for action in options:
        assert action.help and action.help != argparse.SUPPRESS, action.option_strings
    with pytest.raises(SystemExit):
        cli.main([name, "--help"])
    out = capsys.readouterr().out
    assert "FERRY_PORT" in out
    if name == "demo":
        assert "FERRY_EMULATOR_PORT" in out and "free one" in out


def test_bad_ports_are_refused_with_the_setting_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def must_not_start(*args: object, **kwargs: object) -> None:
        raise AssertionError("started despite a bad port")

    monkeypatch.setattr(server.demo, "run_demo", must_not_start)
    monkeypatch.setattr(cli, "start_server", must_not_start)
    with pytest.raises(SystemExit):
        cli.main(["demo", "--port", "70000"])
    assert "not a port number" in capsys.readouterr().err
    monkeypatch.setenv("FERRY_EMULATOR_PORT", "eighty")
    assert cli.main(["demo"]) == 2
    assert "FERRY_EMULATOR_PORT" in capsys.readouterr().err
    monkeypatch.delenv("FERRY_EMULATOR_PORT")
    monkeypatch.setenv("FERRY_PORT", "123456")
    assert cli.main(["serve"]) == 2
    assert "FERRY_PORT" in capsys.readouterr().err


def test_the_address_record_is_trusted_only_while_its_server_answers(tmp_path: Path) -> None:
    assert listening.running(tmp_path) is None  # no record at all
    with held_ports() as (port,):
        mine = listening.Listening("http", "127.0.0.1", port, os.getpid())
        path = listening.record(tmp_path, mine)
        assert listening.running(tmp_path) == mine
        assert mine.url == f"http://127.0.0.1:{port}"
        listening.record(tmp_path, listening.Listening("http", "127.0.0.1", port, dead_pid()))
        assert listening.running(tmp_path) is None  # its process is gone
        listening.forget(path, os.getpid())  # not this process's record: it stays
        assert path.exists()
    with socket.socket() as closed:  # its process lives, but nothing listens on the port
        closed.bind(("127.0.0.1", 0))
        gone = listening.Listening("http", "127.0.0.1", closed.getsockname()[1], os.getpid())
        listening.record(tmp_path, gone)
        assert listening.running(tmp_path) is None
    listening.forget(path, os.getpid())
    assert not path.exists()
    path.write_text('{"scheme": "gopher", "host": "x", "port": 70, "pid": 1}')
    assert listening.read(tmp_path) is None
