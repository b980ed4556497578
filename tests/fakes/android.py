"""A fake Android phone behind a fake ``adb`` on ``PATH`` (see ``tests/fakes/adb.py``)."""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

ADB_SCRIPT = Path(__file__).with_name("adb.py")
SERIAL = "R58M123FERRY"
ALICE = "+15550100002"
T0_MS = 1_793_530_800_000  # 2026-11-01 11:00 UTC
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8 + b"jpeg-pixels\xff\xd9"
PDF = b"%PDF-1.7\n" + b"invoice \x00\x01\x02" * 100 + b"\n%%EOF\n"


class FakePhone:
    """The phone's state as JSON, read by every fake ``adb`` call; edit it between polls."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.path = root / "phone.json"
        self.log = root / "adb.log"
        bin_dir = root / "bin"
        bin_dir.mkdir(parents=True, exist_ok=True)
        launcher = bin_dir / "adb"
        launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{ADB_SCRIPT}" "$@"\n')
        launcher.chmod(0o755)
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
        monkeypatch.setenv("FERRY_FAKE_PHONE", str(self.path))
        monkeypatch.setenv("FERRY_FAKE_ADB_LOG", str(self.log))
        self.state: dict[str, Any] = {
            "serial": SERIAL,
            "state": "device",
            "props": {"gsm.operator.alpha": "Ferry Mobile,"},
            "sms": [],
            "mms": [],
            "addr": [],
            "part": [],
            "phones": [],
        }
        self.save()

    def save(self) -> None:
        self.path.write_text(json.dumps(self.state))

    def add_sms(self, body: str, sender: str = ALICE, *, type_: int = 1) -> int:
        sms_id = max((r["_id"] for r in self.state["sms"]), default=0) + 1
        self.state["sms"].append(
            {
                "_id": sms_id,
                "address": sender,
                "body": body,
                "date": T0_MS + sms_id * 60_000 + 5_000,
                "date_sent": T0_MS + sms_id * 60_000,
                "type": type_,
            }
        )
        self.save()
        return sms_id

    def add_mms(
        self, text: str | None, parts: list[tuple[str, str | None, bytes]], sender: str = ALICE
    ) -> int:
        """An MMS with a SMIL layout part, ``text`` as a text part, and ``parts``
        as (media type, name, bytes)."""
        mms_id = max((r["_id"] for r in self.state["mms"]), default=0) + 1
        self.state["mms"].append(
            {"_id": mms_id, "date": T0_MS // 1000 + mms_id * 60, "date_sent": 0,
             "m_type": 132, "msg_box": 1}
        )  # fmt: skip
        self.state["addr"] += [
            {"_id": mms_id * 10, "msg_id": mms_id, "address": "+15550100001", "type": 151},
            {"_id": mms_id * 10 + 1, "msg_id": mms_id, "address": sender, "type": 137},
        ]
        rows: list[tuple[str, str | None, str | None, bytes | None]] = [
            ("application/smil", "smil.xml", "<smil/>", None)
        ]
        if text is not None:
            rows.append(("text/plain", "text_0.txt", text, None))
        rows += [(ct, name, None, data) for ct, name, data in parts]
        for ct, name, body, data in rows:
            part_id = max((p["_id"] for p in self.state["part"]), default=0) + 1
            self.state["part"].append(
                {
                    "_id": part_id,
                    "mid": mms_id,
                    "ct": ct,
                    "name": name,
                    "cl": name,
                    "text": body,
                    "data_b64": base64.b64encode(data).decode() if data is not None else None,
                }
            )
        self.save()
        return mms_id

    def add_history(self, sms: int, mms: int, *, sent_every: int = 5) -> None:
        """A phone with years of history, written once: ``sms`` texts (every
        ``sent_every``-th in the sent box) and ``mms`` picture messages, bodies
        ``history 000001`` … and ``picture 0001`` …"""
        first = max((r["_id"] for r in self.state["sms"]), default=0) + 1
        for n in range(first, first + sms):
            out = n % sent_every == 0
            self.state["sms"].append({
                "_id": n, "address": f"+1555020{n % 50:04d}", "body": f"history {n:06d}",
                "date": T0_MS - (first + sms - n) * 60_000, "date_sent": 0,
                "type": 2 if out else 1, "status": -1,
            })  # fmt: skip
        part = max((p["_id"] for p in self.state["part"]), default=0)
        for m in range(1, mms + 1):
            mms_id = max((r["_id"] for r in self.state["mms"]), default=0) + 1
            self.state["mms"].append({"_id": mms_id, "date": T0_MS // 1000 - m * 3600,
                                      "date_sent": 0, "m_type": 132, "msg_box": 1})  # fmt: skip
            self.state["addr"].append(
                {"_id": mms_id * 10 + 1, "msg_id": mms_id, "address": ALICE, "type": 137}
            )
            for ct, text, data in (("text/plain", f"picture {m:04d}", None),
                                   ("image/jpeg", None, JPEG)):  # fmt: skip
                part += 1
                self.state["part"].append({
                    "_id": part, "mid": mms_id, "ct": ct, "name": None if text else f"p{m}.jpg",
                    "cl": None, "text": text,
                    "data_b64": base64.b64encode(data).decode() if data else None,
                })  # fmt: skip
        self.save()

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]
