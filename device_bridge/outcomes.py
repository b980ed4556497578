"""What a failed send means, in words a user can act on (pure).

The modem's own words (``AT+CMGS=42 timed out waiting for the prompt``,
``+CMS ERROR: 42 (congestion)``) help whoever debugs a modem, not someone who just
wants to know whether their text went out. A send that failed gets both: a plain
sentence saying what happened and what to do, and the technical detail, which the
browser shows one click away.
"""

from __future__ import annotations

from dataclasses import dataclass

from device_bridge.gsm.errors import (
    AtError,
    AtTimeout,
    CmeError,
    CmsError,
    CommandRejected,
    EncodeError,
    GsmError,
)

#: Longest technical detail kept (the server keeps 500 characters).
MAX_DETAIL = 300


@dataclass(frozen=True)
class Outcome:
    """How a send ended: ``failed`` (nothing left the phone) or ``unknown`` (it may
    have), with a plain sentence and the technical detail."""

    state: str
    error: str
    detail: str


_NOT_SENT = "The message was not sent."
_MAYBE = (
    "The message may or may not have been sent; check with the recipient before sending it again."
)

# +CMS ERROR codes (TS 27.005 §3.2.5) in plain words, with what the user can do.
_CMS_WORDS = {
    1: "The network says this number does not exist. Check the number.",
    8: "The mobile operator does not allow sending to this number.",
    10: "The mobile operator does not allow sending to this number.",
    21: "The network refused the message.",
    27: "The recipient's phone cannot be reached right now. Try again later.",
    28: "The network does not know this number. Check the number.",
    29: "The network refused the message.",
    30: "The network does not know this number. Check the number.",
    50: "Your mobile plan does not allow sending this message.",
    310: "There is no SIM card in the modem.",
    311: "The SIM card is locked: give the bridge its PIN.",
    313: "The SIM card is not working.",
    315: "The SIM card is not working.",
    316: "The SIM card is blocked: it needs its PUK code.",
    322: "The modem's message memory is full.",
    330: "The SIM card has no message centre number. Set it with your phone or operator.",
}
_CME_WORDS = {
    10: "There is no SIM card in the modem.",
    11: "The SIM card is locked: give the bridge its PIN.",
    12: "The SIM card is blocked: it needs its PUK code.",
    13: "The SIM card is not working.",
    30: "The modem has no mobile network. Check its signal, then try again.",
}
_BUSY = "The mobile network was busy or out of reach. Try again in a moment."


def explain(exc: GsmError) -> Outcome:
    """The outcome of a send that raised ``exc`` (see ``SerialModem.send_sms``)."""
    detail = _detail(exc)
    partial = bool(getattr(exc, "parts_sent", ()))
    if getattr(exc, "plain", False):  # the driver already said it in plain words
        return Outcome(getattr(exc, "state", "failed"), str(exc), detail)
    if isinstance(exc, EncodeError):
        return Outcome("failed", "This number or text cannot be sent as an SMS.", detail)
    if isinstance(exc, AtTimeout):
        if exc.may_have_sent or partial:
            stopped = "The modem stopped responding while sending. "
            return Outcome("unknown", stopped + _MAYBE, detail)
        silent = (
            f"The modem did not respond. {_NOT_SENT} Check that it is connected, then send again."
        )
        return Outcome("failed", silent, detail)
    if partial:
        return Outcome("unknown", "Only part of the long message was sent. " + _MAYBE, detail)
    if isinstance(exc, CmsError):
        if exc.transient:
            return Outcome("failed", _BUSY + " " + _NOT_SENT, detail)
        words = _CMS_WORDS.get(exc.code or -1, "The modem refused to send the message.")
        return Outcome("failed", f"{words} {_NOT_SENT}", detail)
    if isinstance(exc, CmeError):
        words = _CME_WORDS.get(exc.code or -1, "The modem refused to send the message.")
        return Outcome("failed", f"{words} {_NOT_SENT}", detail)
    if isinstance(exc, CommandRejected):
        return Outcome("failed", "The modem refused to send the message. " + _NOT_SENT, detail)
    if isinstance(exc, AtError):
        # The port vanished mid-send: the SMS may or may not have left.
        return Outcome("unknown", "The modem was disconnected while sending. " + _MAYBE, detail)
    return Outcome("failed", "The message could not be sent.", detail)


def _detail(exc: GsmError) -> str:
    text = exc.message if isinstance(exc, AtError) else str(exc)
    return text[:MAX_DETAIL]
