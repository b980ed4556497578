"""Sign-up decisions and invite codes (pure): modes, the country allow-list, code format."""

from __future__ import annotations

import re

from server.auth.signup import (
    Refusal,
    SignupPolicy,
    invite_hash,
    new_invite_code,
    normalise_invite,
    region_of,
)


def test_modes_and_countries() -> None:
    fr, de, us = "+33612345678", "+4915112345678", "+15550100001"
    assert SignupPolicy("open").signup_refusal(de, invite_given=False) is None
    assert SignupPolicy("closed").signup_refusal(fr, invite_given=True) is Refusal.CLOSED
    assert SignupPolicy("invite").signup_refusal(fr, invite_given=False) is Refusal.INVITE_NEEDED
    assert SignupPolicy("invite").signup_refusal(fr, invite_given=True) is None
    only_fr = SignupPolicy("open", frozenset({"FR"}))
    assert only_fr.signup_refusal(fr, invite_given=False) is None
    assert only_fr.signup_refusal(de, invite_given=False) is Refusal.COUNTRY
    # A number the metadata does not know goes by its country code's main region.
    assert region_of(us) == "US" and region_of(fr) == "FR" and region_of("+999") is None


def test_invite_codes_are_grouped_and_read_forgivingly() -> None:
    code = new_invite_code()
    assert re.fullmatch(r"([0-9A-HJKMNP-TV-Z]{4}-){4}[0-9A-HJKMNP-TV-Z]{4}", code)
    assert new_invite_code() != code
    bare = normalise_invite(code)
    assert bare == code.replace("-", "")
    assert normalise_invite(code.lower().replace("-", " ")) == bare
    # Look-alikes typed for digits are the digits.
    assert normalise_invite("OIL0-0000-0000-0000-0000") == "01100000000000000000"
    for wrong in ("", "ABCD", "ABCD-EFGH-JKMN-PQRS-TVWU", "x" * 65):
        assert normalise_invite(wrong) is None
    assert invite_hash(bare or "") != invite_hash("0" * 20) and len(invite_hash("x")) == 32
