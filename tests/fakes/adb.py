"""A fake ``adb`` for one Android phone described by a JSON file (``FERRY_FAKE_PHONE``).

Run as a program (tests put a launcher named ``adb`` first on ``PATH``). The phone's
content providers are SQLite tables, as on a real phone, so ``--where``/``--sort`` are
real SQL; output is printed exactly as Android's ``content`` command prints it (values
raw, ``NULL`` for null, ``No result found.``, errors on stderr with exit status 0).

The JSON file::

    {"serial": "R58M", "state": "device", "props": {"gsm.operator.alpha": "Ferry Mobile"},
     "sms": [{"_id": 1, "address": "+1555…", "body": "…", "date": ms, "date_sent": ms,
             "type": 1, "status": -1}],
     "mms": [{"_id": 1, "date": s, "date_sent": s, "m_type": 132}],
     "addr": [{"msg_id": 1, "address": "+1555…", "type": 137}],
     "part": [{"_id": 1, "mid": 1, "ct": "image/jpeg", "name": "a.jpg", "cl": null,
               "text": null, "data_b64": "…"}],
     "phones": [{"_id": 1, "display_name": "Alice", "data1": "+1555…"}],
     "refuse": ["content://mms/part/9"]}

Every invocation's arguments are appended, one JSON list a line, to ``FERRY_FAKE_ADB_LOG``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import sqlite3
import sys
from pathlib import Path

_TABLES = {
    "sms": ["_id", "address", "body", "date", "date_sent", "type", "status"],
    "mms": ["_id", "date", "date_sent", "m_type", "msg_box"],
    "addr": ["_id", "msg_id", "address", "type"],
    "part": ["_id", "mid", "ct", "name", "cl", "text", "data_b64"],
    "phones": ["_id", "display_name", "data1"],
}


def main(argv: list[str]) -> int:
    phone = json.loads(Path(os.environ["FERRY_FAKE_PHONE"]).read_text(encoding="utf-8"))
    if log := os.environ.get("FERRY_FAKE_ADB_LOG"):
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps(argv) + "\n")
    if argv[:1] == ["-s"]:
        if argv[1] != phone["serial"]:
            return _fail(f"error: device '{argv[1]}' not found")
        argv = argv[2:]
    state = phone.get("state", "device")
    if argv == ["get-state"]:
        if state != "device":
            return _fail(f"error: device {state}")
        print("device")
        return 0
    if state != "device":
        return _fail(f"error: device {state}")
    verb, words = argv[0], shlex.split(" ".join(argv[1:]))
    if verb == "shell" and words[:1] == ["getprop"]:
        print(phone.get("props", {}).get(words[1], ""))
        return 0
    if verb == "shell" and words[:2] == ["content", "query"]:
        return _query(phone, _options(words[2:]))
    if verb == "exec-out" and words[:2] == ["content", "read"]:
        return _read(phone, _options(words[2:])["--uri"])
    return _fail(f"fake adb: unsupported {argv!r}")


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


def _options(words: list[str]) -> dict[str, str]:
    return dict(zip(words[::2], words[1::2], strict=True))


def _db(phone: dict) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    for table, columns in _TABLES.items():
        db.execute(f"CREATE TABLE {table} ({', '.join(columns)})")
        for row in phone.get(table, []):
            db.execute(
                f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})",
                [row.get(c) for c in columns],
            )
    return db


def _source(uri: str) -> tuple[str, str]:
    """The table and the provider's own condition for ``uri``."""
    if uri == "content://sms/inbox":
        return "sms", "type = 1"
    if uri == "content://sms":
        return "sms", "1"
    if uri == "content://mms/inbox":
        return "mms", "msg_box = 1"
    if uri == "content://mms":
        return "mms", "1"
    if m := re.fullmatch(r"content://mms/(\d+)/addr", uri):
        return "addr", f"msg_id = {int(m.group(1))}"
    if uri == "content://mms/part":
        return "part", "1"
    if uri == "content://com.android.contacts/data/phones":
        return "phones", "1"
    raise LookupError(uri)


def _query(phone: dict, opts: dict[str, str]) -> int:
    uri = opts["--uri"]
    if uri in phone.get("refuse", []):
        return _provider_error(uri)
    try:
        table, own = _source(uri)
    except LookupError:
        return _provider_error(uri)
    projection = opts.get("--projection", "*").replace(":", ", ")
    sql = f"SELECT {projection} FROM {table} WHERE {own}"
    if "--where" in opts:
        sql += f" AND ({opts['--where']})"
    if "--sort" in opts:
        sql += f" ORDER BY {opts['--sort']}"
    cur = _db(phone).execute(sql)
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    if not rows:
        print("No result found.")
    for i, row in enumerate(rows):
        values = ", ".join(f"{n}={_show(v)}" for n, v in zip(names, row, strict=True))
        sys.stdout.write(f"Row: {i} {values}\n")
    return 0


def _show(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return "BLOB"
    return str(value)


def _provider_error(uri: str) -> int:
    authority = uri.split("/")[2]
    print(f"Error while accessing provider:{authority}", file=sys.stderr)
    print("java.lang.SecurityException: Permission Denial", file=sys.stderr)
    return 0  # as Android's content command does


def _read(phone: dict, uri: str) -> int:
    m = re.fullmatch(r"content://mms/part/(\d+)", uri)
    part = next((p for p in phone.get("part", []) if m and p["_id"] == int(m.group(1))), None)
    if part is None or uri in phone.get("refuse", []) or part.get("data_b64") is None:
        # exec-out has no separate error stream: the phone's complaint is the output.
        sys.stdout.write("Error while accessing provider:mms\njava.io.FileNotFoundException\n")
        return 0
    sys.stdout.buffer.write(base64.b64decode(part["data_b64"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
