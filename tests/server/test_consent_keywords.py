"""Opt-out / opt-in keywords: whole message, any case, accents and spacing."""

from __future__ import annotations

import pytest

from server.consent.keywords import MAX_KEYWORD_CHARS, Keyword, classify, normalise


@pytest.mark.parametrize(
    "text",
    [
        "STOP", "stop", " Stop. ", "Stop!", "STOPALL", "stop all", "Unsubscribe", "cancel",
        "END", "quit", "Opt-out", "opt out", "ARRET", "arrêt", "ARRÊT", "Arrêter",
        "stopp", "Abmelden", "alto", "Baja", "PARAR", "cancelar", "basta", "afmelden",
        "\u00a0stop\n",
    ],
)  # fmt: skip
def test_opt_out_words_in_several_languages(text: str) -> None:
    assert classify(text) is Keyword.OPT_OUT


@pytest.mark.parametrize("text", ["START", "start", "Unstop", "yes", "Yes!", "subscribe"])
def test_opt_in_words(text: str) -> None:
    assert classify(text) is Keyword.OPT_IN


@pytest.mark.parametrize(
    "text",
    [
        "", "   ", "Stop by the shop at 5", "please stop", "stopped", "STOP STOP",
        "don't stop", "yes please", "start at 9?", "ok",
    ],
)  # fmt: skip
def test_ordinary_messages_are_not_keywords(text: str) -> None:
    assert classify(text) is None


def test_long_messages_are_never_judged() -> None:
    padded = "stop" + " " * MAX_KEYWORD_CHARS
    assert normalise(padded) is None and classify(padded) is None


def test_normalised_form_is_upper_case_without_accents_or_joiners() -> None:
    assert normalise("  Arrêt. ") == "ARRET"
    assert normalise("opt_out") == "OPTOUT"
