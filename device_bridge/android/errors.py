"""Errors of the Android (ADB) driver, grafted onto the AT error tree so the bridge treats
them like any other driver's (``device_bridge.gsm.errors``).

Hierarchy::

    AtError                       (device_bridge.gsm.errors)
    ├── CommandRejected
    │   └── SendNotSupported      ADB cannot send an SMS without the phone's screen; nothing
    │                             left the phone (the bridge records the send as failed)
    ├── ModemUnavailable
    │   ├── PhoneAppError         Termux:API or SMS Gateway cannot be reached or read
    │   │   └── SendMaybeSent     the app stopped answering during a send: the SMS may
    │   │                         or may not have left (reported unknown, never retried)
    └── ModemUnavailable
        └── AdbError              adb missing, device offline / unauthorized / not found,
            │                     a call timed out or printed more than its limit, or the
            │                     phone's content provider refused the query
            └── AdbOutputError    ``content query`` printed something we cannot read
                └── AmbiguousOutput  the text admits more than one reading (a value holds
                                     a column separator or a row header); the driver then
                                     asks again one column at a time

Messages never hold message text, names or numbers, so they are safe to log.
"""

from __future__ import annotations

from device_bridge.gsm.errors import AtError, CommandRejected, ModemUnavailable


class SendNotSupported(CommandRejected):
    """This driver cannot send SMS; the message certainly did not leave the phone."""

    #: The message is already a sentence for the user (``device_bridge.outcomes``).
    plain = True

    def __init__(self, reason: str) -> None:
        AtError.__init__(self, reason, command="send")
        self.result = reason


class PhoneAppError(ModemUnavailable):
    """The phone app (Termux:API, SMS Gateway) cannot be reached, or answered nonsense."""


class SendRefused(CommandRejected):
    """The phone app refused a send; nothing left the phone."""

    plain = True

    def __init__(self, reason: str) -> None:
        AtError.__init__(self, reason, command="send")
        self.result = reason


class SendMaybeSent(PhoneAppError):
    """The phone app stopped answering during a send: the SMS may have left."""

    plain = True
    state = "unknown"


class AdbError(ModemUnavailable):
    """The phone cannot be reached or read over ADB."""


class AdbOutputError(AdbError):
    """Output of an adb command that does not have the expected shape."""


class AmbiguousOutput(AdbOutputError):
    """``content query`` output that can be split into rows/columns in more than one way."""


class AdbOutputTooLarge(AdbError):
    """An adb command printed more than the caller's limit (the process was stopped)."""


# What adb prints on standard error when it cannot reach the phone, and what to tell the
# user instead (first match wins).
_ADB_FAILURES = (
    (
        "unauthorized",
        "the phone has not authorized this computer: unlock it and accept the USB debugging prompt",
    ),
    ("offline", "the phone is offline: reconnect it, or run 'adb reconnect'"),
    ("more than one", "several phones are connected: name one with --adb SERIAL"),
    ("not found", "the phone is not connected (adb does not list it)"),
    ("no devices", "no phone is connected (adb lists none)"),
    ("cannot connect to daemon", "the adb server cannot be started"),
)


def adb_failure(stderr: str, command: str) -> AdbError:
    """The error for an adb call that failed with ``stderr`` (a known reason, or adb's
    first line, cut short: adb's messages hold no message text)."""
    lowered = stderr.lower()
    for needle, meaning in _ADB_FAILURES:
        if needle in lowered:
            return AdbError(meaning, command=command)
    first = stderr.strip().splitlines()[0][:200] if stderr.strip() else "no output"
    return AdbError(f"adb failed: {first}", command=command)
