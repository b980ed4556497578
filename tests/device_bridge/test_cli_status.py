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
