"""Fake Termux:API commands for one phone described by a JSON file (``FERRY_FAKE_TERMUX``).

Run as a program under the command's name (tests put launchers named ``termux-sms-list``,
``termux-sms-send``, ``termux-contact-list`` and ``termux-telephony-deviceinfo`` first on
``PATH``). Output follows Termux:API (``SmsInboxAPI``, ``ContactListAPI``,
``TelephonyAPI``): ``termux-sms-list`` sorts by ``date DESC``, applies offset and limit,
then prints the page oldest first, each row with ``threadid``, ``type``, ``read``,
``sender`` (only when the number is a contact), ``address``, ``number``, ``received``
(local time ``yyyy-MM-dd HH:mm:ss``), ``body``, ``_id``. ``termux-sms-send`` reads the
text from standard input and, as Android does for an app that is not the default SMS
app, the system writes the message into the sent box; it prints nothing.

The JSON file::

    {"sms": [{"_id": 1, "type": 1, "address": "+1555…", "body": "…", "date": ms}],
     "contacts": [{"name": "Alice", "number": "+1555…"}],
     "deviceinfo": {"network_operator_name": "Ferry Mobile", …},
     "fail_send": false}

Every invocation (name, arguments, standard input) is appended to ``FERRY_FAKE_TERMUX_LOG``.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

TYPES = {1: "inbox", 2: "sent", 3: "draft", 4: "outbox", 5: "failed"}
TYPE_ARGS = {"all": 0, "inbox": 1, "sent": 2, "draft": 3, "outbox": 4}


def main(name: str, argv: list[str]) -> int:
    path = Path(os.environ["FERRY_FAKE_TERMUX"])
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        phone = json.loads(path.read_text(encoding="utf-8"))
        stdin = sys.stdin.read() if name == "termux-sms-send" else None
        if log := os.environ.get("FERRY_FAKE_TERMUX_LOG"):
            with open(log, "a", encoding="utf-8") as f:
                f.write(json.dumps([name, argv, stdin]) + "\n")
        if name == "termux-sms-list":
            return _list(phone, _opts(argv))
        if name == "termux-sms-send":
            return _send(phone, path, _opts(argv), stdin or "")
        if name == "termux-contact-list":
            print(json.dumps(phone.get("contacts", []), indent=2))
            return 0
        if name == "termux-telephony-deviceinfo":
            print(json.dumps(phone.get("deviceinfo", {}), indent=2))
            return 0
    print(f"fake termux: unknown command {name}", file=sys.stderr)
    return 1


def _opts(argv: list[str]) -> dict[str, str]:
    return dict(zip(argv[::2], argv[1::2], strict=False))


def _list(phone: dict, opts: dict[str, str]) -> int:
    kind = TYPE_ARGS[opts.get("-t", "all")]
    limit, offset = int(opts.get("-l", "10")), int(opts.get("-o", "0"))
    rows = [r for r in phone["sms"] if kind == 0 or r["type"] == kind]
    rows.sort(key=lambda r: (r["date"], r["_id"]), reverse=True)
    page = rows[offset : offset + limit]
    names = {c["number"]: c["name"] for c in phone.get("contacts", [])}
    out = []
    for r in reversed(page):  # the API prints the newest last
        item: dict[str, object] = {"threadid": 1, "type": TYPES[r["type"]], "read": True}
        if r["address"] in names:
            item["sender"] = names[r["address"]] if r["type"] == 1 else "You"
        when = datetime.fromtimestamp(r["date"] / 1000).strftime("%Y-%m-%d %H:%M:%S")
        item.update(address=r["address"], number=r["address"], received=when, body=r["body"],
                    _id=r["_id"])  # fmt: skip
        out.append(item)
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


def _send(phone: dict, path: Path, opts: dict[str, str], text: str) -> int:
    if "-n" not in opts:
        print("termux-sms-send: no recipient number given")
        return 1
    if phone.get("fail_send"):
        return 0  # as the real one: a refused send is silent
    for number in opts["-n"].split(","):
        sms_id = max((r["_id"] for r in phone["sms"]), default=0) + 1
        body = text[:-1] if text.endswith("\n") else text
        phone["sms"].append({"_id": sms_id, "type": 2, "address": number, "body": body,
                             "date": int(time.time() * 1000), "slot": opts.get("-s")})  # fmt: skip
    path.write_text(json.dumps(phone), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
