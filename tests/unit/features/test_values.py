"""Identifiers' one spelling (features/values.py): what normalisation removes and maps."""

from __future__ import annotations

import unicodedata

import pytest

from features.values import IDENTIFIER_MAX, normalised_identifier, normalised_text


@pytest.mark.parametrize(
    ("sent", "spelled"),
    [
        ("card_tok_x", "card_tok_x"),  # ASCII as it is
        ("card_\u200btok_x", "card_tok_x"),  # zero-width space
        ("\ufeffcard\u00adtok\u200d_x\u2060", "cardtok_x"),  # BOM, soft hyphen, joiners
        ("card\u202etok_x", "cardtok_x"),  # a right-to-left override
        ("\uff43\uff41\uff52\uff44\uff3f\uff58", "card_x"),  # fullwidth
        ("card_to\u0308k", "card_t\u00f6k"),  # decomposed: composed
        ("card_to\u200b\u0308k", "card_t\u00f6k"),  # a format character between: still composed
        ("card_\ufb01x", "card_fix"),  # a ligature
        ("Card_Tok", "Card_Tok"),  # case is kept: tokens are case-sensitive
        ("card\u00a0x", "card x"),  # a no-break space is a space
    ],
)
def test_one_spelling(sent: str, spelled: str) -> None:
    assert normalised_identifier(sent) == spelled
    assert normalised_text(spelled) == spelled  # its own normal form


def test_the_result_holds_no_format_character_and_is_nfkc() -> None:
    every_format = "".join(chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cf")
    text = normalised_text("a" + every_format + "\uff42")
    assert text == "ab"
    assert unicodedata.is_normalized("NFKC", text)


@pytest.mark.parametrize("sent", ["\u200b", "\ufeff\u00ad", "\ufdfa" * 8])
def test_nothing_left_or_too_long_is_refused(sent: str) -> None:
    with pytest.raises(ValueError, match=f"1-{IDENTIFIER_MAX} characters once normalised"):
        normalised_identifier(sent)
