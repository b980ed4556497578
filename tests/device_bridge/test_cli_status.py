"""``ferry bridge status`` reads the journal of the bridge's data directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from device_bridge import cli
from device_bridge.journal import Journal


def test_status_takes_the_data_dir_like_the_other_bridge_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bridge = tmp_path / "bridge"
    Journal(bridge / "journal.db").close()
    assert cli.main(["status", "--data-dir", str(bridge)]) == 0
    assert "inbound waiting for the server: 0" in capsys.readouterr().out
    assert cli.main(["status", "--journal", str(bridge / "journal.db")]) == 0


def test_status_of_a_directory_without_a_journal_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["status", "--data-dir", str(tmp_path / "nothing")]) == 1
    assert "no journal at" in capsys.readouterr().err
    assert not (tmp_path / "nothing").exists()  # looking did not create an empty journal


def test_status_lists_what_the_server_refused_safely(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime

    bridge = tmp_path / "bridge"
    journal = Journal(bridge / "journal.db")
    now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    journal.add_inbound("k", "BA\nNK\x1b[2J", "your code", now)
    (item,) = journal.pending_inbound()
    journal.ack_inbound(item.n, now, {item.n: "bad_sender"})
    journal.close()
    assert cli.main(["status", "--data-dir", str(bridge)]) == 0
    out = capsys.readouterr().out
    assert "refused by the server, kept here and not sent again: 1" in out
    assert "the sender is not a number or name the server can show" in out
    assert "\x1b" not in out and "'BA\\nNK\\x1b[2J'" in out  # no terminal escapes pass through
    assert "your code" not in out  # the text stays in the (sealed) journal
