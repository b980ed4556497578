"""Opt-out and opt-in keywords of an inbound SMS (pure: text in, verdict out).

A recipient who answers a text with one word such as STOP has asked not to be texted
again; START (or UNSTOP, YES) takes that back. Carriers and messaging regulators in
many countries treat these words this way, so Ferry does too, per line: the block is
between one of the user's lines and one peer number.

Rules:

* the whole message must be the keyword: "Stop by the shop at 5" is no opt-out;
* case, accents, surrounding whitespace and a trailing ``.`` or ``!`` do not matter,
  nor do spaces, hyphens or underscores inside (``Opt-out``, ``stop all``);
* a message longer than :data:`MAX_KEYWORD_CHARS` is never a keyword (and costs
  nothing to judge: most messages are).
"""

from __future__ import annotations

import unicodedata
from enum import Enum

#: Longest message judged at all; every keyword is far shorter.
MAX_KEYWORD_CHARS = 32


class Keyword(Enum):
    """What a keyword message asks for."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"


# Normalised spellings (upper case, no accents, no spaces or hyphens), by language.
_OPT_OUT = frozenset(
    {
        # English (the CTIA set and common variants)
        "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE",
        # French
        "ARRET", "ARRETER", "DESABONNER", "DESINSCRIRE", "DESINSCRIPTION",
        # German, Swedish, Norwegian, Danish
        "STOPP", "ABMELDEN", "ABBESTELLEN", "ENDE", "AVSLUTA", "AFMELD",
        # Spanish, Portuguese
        "ALTO", "BAJA", "PARAR", "CANCELAR", "DETENER", "SAIR",
        # Italian
        "BASTA", "ANNULLA", "DISISCRIVI",
        # Dutch, Polish
        "AFMELDEN", "UITSCHRIJVEN", "KONIEC",
    }
)  # fmt: skip
_OPT_IN = frozenset(
    {
        "START", "UNSTOP", "YES", "SUBSCRIBE", "OPTIN", "RESUME",  # English
        "ALTA", "INICIAR",  # Spanish
        "DEMARRER",  # French
        "ANMELDEN",  # German
    }
)  # fmt: skip

_JOINERS = str.maketrans("", "", " \t\r\n-_\u00a0")


def normalise(text: str) -> str | None:
    """``text`` as compared with the keyword lists, or None when it is too long to be one.

    >>> normalise("  Arrêt. ")
    'ARRET'
    """
    if len(text) > MAX_KEYWORD_CHARS:
        return None
    folded = unicodedata.normalize("NFKD", text.strip().casefold())
    bare = "".join(c for c in folded if not unicodedata.combining(c))
    return bare.rstrip(".!").translate(_JOINERS).upper()


def classify(text: str) -> Keyword | None:
    """``OPT_OUT``, ``OPT_IN`` or None (an ordinary message)."""
    word = normalise(text)
    if not word:
        return None
    if word in _OPT_OUT:
        return Keyword.OPT_OUT
    if word in _OPT_IN:
        return Keyword.OPT_IN
    return None
