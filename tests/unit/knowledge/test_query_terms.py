"""Keyword search corrects misspelled query words (issue 18: customers write as they type)."""

from __future__ import annotations

from shared.capabilities.knowledge.text import query_terms, terms_of


def test_misspelled_words_are_corrected_for_keyword_search() -> None:
    assert "return" in query_terms("i want to retrun my jacket")
    assert "subscription" in query_terms("when does my subscripton renew")
    assert "jean" in query_terms("do the jeens come in black")  # stemmed, as indexed


def test_known_words_short_words_and_contractions_are_left_alone() -> None:
    text = "refund the blender order 2fa didnt arrive"
    assert query_terms(text) == terms_of(text)


def test_a_correction_never_adds_punctuation_or_unknown_terms() -> None:
    terms = query_terms("theres a grease spot, wanna send it back")
    assert all(term.isalnum() for term in terms)
