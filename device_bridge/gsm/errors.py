"""Errors raised by the pure GSM codecs in ``device_bridge.gsm``.

Hierarchy::

    GsmError                  anything the GSM layer cannot accept or produce
    ├── PduError              a PDU from the modem/network is malformed or undecodable
    │                         (remote misbehaviour; ``.pdu`` holds the raw hex given)
    └── EncodeError           we were asked to build something GSM cannot carry
                              (local misuse: bad number or SMSC, text too long,
                              naive timestamp, out-of-range option)

AT-level errors (command failures, ``+CMS ERROR``) will join this tree as further
``GsmError`` subclasses. Messages never include message text, so they are safe to log.
"""

from __future__ import annotations


class GsmError(Exception):
    """Root of the errors raised by ``device_bridge.gsm``."""


class PduError(GsmError):
    """A PDU could not be decoded.

    Args:
        message: What is wrong, without the message body.
        pdu: The raw hex string as given to the decoder, kept for diagnostics.
    """

    def __init__(self, message: str, pdu: str) -> None:
        super().__init__(message)
        self.message = message
        self.pdu = pdu


class EncodeError(GsmError):
    """A message or field cannot be encoded as asked."""


# ---------------------------------------------------------------- AT-level errors
#
#   GsmError
#   └── AtError                 the AT conversation with a modem failed
#       ├── CommandRejected     a final result other than OK (ERROR, COMMAND NOT SUPPORT)
#       │   ├── CmsError        +CMS ERROR: <n>  (SMS service, TS 27.005 §3.2.5)
#       │   └── CmeError        +CME ERROR: <n>  (equipment, TS 27.007 §9.2)
#       ├── AtTimeout           no final result (or no "> " prompt) in time
#       └── ModemUnavailable    the port is gone or failed (translated serial errors)
#
# Commands in these errors are redacted (a PIN never appears), and they never hold
# message text, so they are safe to log.

_CMS_MEANINGS = {
    1: "unassigned (unallocated) number",
    8: "operator determined barring",
    10: "call barred",
    21: "short message transfer rejected",
    27: "destination out of service",
    28: "unidentified subscriber",
    29: "facility rejected",
    30: "unknown subscriber",
    38: "network out of order",
    41: "temporary failure",
    42: "congestion",
    47: "resources unavailable",
    50: "requested facility not subscribed",
    69: "requested facility not implemented",
    81: "invalid short message transfer reference value",
    95: "invalid message",
    96: "invalid mandatory information",
    97: "message type non-existent",
    98: "message not compatible with short message protocol state",
    99: "information element non-existent",
    111: "protocol error",
    127: "interworking, unspecified",
    300: "ME failure",
    301: "SMS service of ME reserved",
    302: "operation not allowed",
    303: "operation not supported",
    304: "invalid PDU mode parameter",
    305: "invalid text mode parameter",
    310: "SIM not inserted",
    311: "SIM PIN required",
    312: "PH-SIM PIN required",
    313: "SIM failure",
    314: "SIM busy",
    315: "SIM wrong",
    316: "SIM PUK required",
    317: "SIM PIN2 required",
    318: "SIM PUK2 required",
    320: "memory failure",
    321: "invalid memory index",
    322: "memory full",
    330: "SMSC address unknown",
    331: "no network service",
    332: "network timeout",
    340: "no +CNMA acknowledgement expected",
    500: "unknown error",
}
# Failures worth trying again later (the network or SIM was busy), as opposed to a
# message or number the network will never accept.
_CMS_TRANSIENT = frozenset({38, 41, 42, 47, 314, 331, 332})

_CME_MEANINGS = {
    0: "phone failure",
    1: "no connection to phone",
    2: "phone-adaptor link reserved",
    3: "operation not allowed",
    4: "operation not supported",
    5: "PH-SIM PIN required",
    10: "SIM not inserted",
    11: "SIM PIN required",
    12: "SIM PUK required",
    13: "SIM failure",
    14: "SIM busy",
    15: "SIM wrong",
    16: "incorrect password",
    17: "SIM PIN2 required",
    18: "SIM PUK2 required",
    20: "memory full",
    21: "invalid index",
    22: "not found",
    23: "memory failure",
    24: "text string too long",
    25: "invalid characters in text string",
    26: "dial string too long",
    27: "invalid characters in dial string",
    30: "no network service",
    31: "network timeout",
    32: "network not allowed - emergency calls only",
    100: "unknown",
}


def _meaning(table: dict[int, str], code: int | None, text: str | None) -> str:
    if code is not None and code in table:
        return table[code]
    return text or "unknown"


class AtError(GsmError):
    """An AT command failed.

    Args:
        message: What went wrong (no message text, no PIN).
        command: The command concerned, already redacted, if any.

    Attributes:
        parts_sent: For a multi-part send that failed part-way, the TP-MRs of the parts
            that did go out (the recipient may see a partial message).
    """

    parts_sent: tuple[int, ...] = ()

    def __init__(self, message: str, *, command: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.command = command


class CommandRejected(AtError):
    """The modem answered with a final result other than ``OK``.

    Args:
        result: The final result line (``ERROR``, ``COMMAND NOT SUPPORT`` …).
        command: The redacted command.
    """

    def __init__(self, result: str, *, command: str | None = None) -> None:
        super().__init__(f"{command or 'command'} failed: {result}", command=command)
        self.result = result


class CmsError(CommandRejected):
    """``+CMS ERROR: <code>``: the SMS service refused (TS 27.005 §3.2.5).

    Attributes:
        code: The numeric code, or None when the modem answered in words.
        meaning: The standard meaning of ``code`` (or the modem's words).
        transient: True when trying again later may succeed (busy, congestion …).
    """

    def __init__(
        self, code: int | None, *, command: str | None = None, text: str | None = None
    ) -> None:
        self.code = code
        self.meaning = _meaning(_CMS_MEANINGS, code, text)
        self.transient = code in _CMS_TRANSIENT
        detail = self.meaning if code is None else f"{code} ({self.meaning})"
        super().__init__(f"+CMS ERROR: {detail}", command=command)


class CmeError(CommandRejected):
    """``+CME ERROR: <code>``: the mobile equipment refused (TS 27.007 §9.2).

    Attributes:
        code: The numeric code, or None when the modem answered in words.
        meaning: The standard meaning of ``code`` (or the modem's words).
    """

    def __init__(
        self, code: int | None, *, command: str | None = None, text: str | None = None
    ) -> None:
        self.code = code
        self.meaning = _meaning(_CME_MEANINGS, code, text)
        detail = self.meaning if code is None else f"{code} ({self.meaning})"
        super().__init__(f"+CME ERROR: {detail}", command=command)


class AtTimeout(AtError):
    """No final result (or no SMS prompt) arrived in time.

    Attributes:
        stage: ``"response"`` (an ordinary command), ``"prompt"`` (no ``> `` after
            ``AT+CMGS``; the PDU was never sent, the send was aborted with ESC) or
            ``"send"`` (the PDU was sent but not confirmed: the SMS *may* have gone out).
    """

    def __init__(self, command: str | None, *, stage: str = "response") -> None:
        super().__init__(
            f"{command or 'command'} timed out waiting for the {stage}", command=command
        )
        self.stage = stage

    @property
    def may_have_sent(self) -> bool:
        """True when an SMS could have left despite the error (never resend blindly)."""
        return self.stage == "send"


class ModemUnavailable(AtError):
    """The modem's port could not be opened, vanished, or failed mid-conversation."""
