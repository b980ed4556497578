"""A fake phone behind fake Termux:API commands on ``PATH`` (see ``tests/fakes/termux.py``)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).with_name("termux.py")
COMMANDS = ("termux-sms-list", "termux-sms-send", "termux-contact-list",
            "termux-telephony-deviceinfo")  # fmt: skip
ALICE = "+15550100002"
T0_MS = 1_793_530_800_000  # 2026-11-01 11:00 UTC


class FakeTermux:
    """The phone's state as JSON, read by every fake command; edit it between polls."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch | None = None) -> None:
        self.path = root / "termux.json"
        self.log = root / "termux.log"
        self.bin = root / "termux-bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        for name in COMMANDS:
            launcher = self.bin / name
            launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{SCRIPT}" {name} "$@"\n')
            launcher.chmod(0o755)
        self.env = {
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "FERRY_FAKE_TERMUX": str(self.path),
            "FERRY_FAKE_TERMUX_LOG": str(self.log),
        }
        if monkeypatch is not None:
            for key, value in self.env.items():
                monkeypatch.setenv(key, value)
        self.state: dict[str, Any] = {
            "sms": [],
            "contacts": [{"name": "Alice", "number": ALICE}],
            "deviceinfo": {
                "network_operator_name": "Ferry Mobile",
                "phone_count": 2,
                "sim_state": "ready",
            },
        }
        self.save()

    def save(self) -> None:
        self.path.write_text(json.dumps(self.state))

    def load(self) -> dict[str, Any]:
        self.state = json.loads(self.path.read_text())
        return self.state

    def add_sms(
        self, body: str, sender: str = ALICE, *, type_: int = 1, at: int | None = None
    ) -> int:
        sms_id = max((r["_id"] for r in self.state["sms"]), default=0) + 1
        date = at if at is not None else T0_MS + sms_id * 60_000
        self.state["sms"].append(
            {"_id": sms_id, "type": type_, "address": sender, "body": body, "date": date}
        )
        self.save()
        return sms_id

    def calls(self) -> list[list[Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]
