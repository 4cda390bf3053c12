"""Keyword search corrects misspelled query words and adds the support terms of everyday phrasings
(issue 18: customers write as they type, in their own words)."""

from __future__ import annotations

from shared.capabilities.knowledge.index import _keyword_ranks
from shared.capabilities.knowledge.text import query_parts, query_terms, terms_of
from shared.capabilities.knowledge.vocabulary import support_terms


def test_misspelled_words_are_corrected_for_keyword_search() -> None:
    assert "return" in query_terms("i want to retrun my jacket")
    assert "subscription" in query_terms("when does my subscripton renew")
    assert "jean" in query_terms("do the jeens come in black")  # stemmed, as indexed


def test_known_words_short_words_and_contractions_are_left_alone() -> None:
    text = "the blender order 2fa didnt arrive"
    assert query_terms(text)[: len(terms_of(text))] == terms_of(text)


def test_everyday_phrasings_add_the_support_terms_after_the_words_as_typed() -> None:
    terms = query_terms("theres a grease spot on my jacket, can i send it back")
    assert terms[:4] == ["grease", "spot", "jacket", "send"]
    assert {"stain", "return"} <= set(terms[4:])
    assert "refund" in query_terms("these boots arent what i expected, can i get my money back")
    assert "monogram" not in query_terms("can i put my initials on a shirt")
    assert "pricing" in query_terms("can i put my initials on a shirt")
    assert "membership" in query_terms("what perks do i get for being a member")


def test_a_query_in_the_documents_own_words_gains_nothing() -> None:
    text = "blender order arrived"
    assert query_terms(text) == terms_of(text)


def test_support_terms_are_matched_on_the_corrected_spelling_too() -> None:
    assert support_terms("my discont code") == []
    assert "promo" in query_terms("my discont code")  # "discount code", then its support terms
    assert support_terms("") == []


def test_a_correction_never_adds_punctuation_or_unknown_terms() -> None:
    terms = query_terms("theres a grease spot, wanna send it back")
    assert all(term.isalnum() for term in terms)


def test_phrasings_that_read_alike_stay_apart() -> None:
    # "slower" shipping is a cheaper delivery, not a slow website
    terms = support_terms("change my delivery to the cheaper slower option please")
    assert "downgrade shipping" in terms and "website slow" not in terms
    # a fee "added to my order" is not an item added to it; "an open refund" is not a new one
    assert "create order" not in support_terms("whats this surprise fee added to my order")
    assert "create order" in support_terms("can i throw one more shirt into the order")
    assert "initiate" not in support_terms("i have an open refund and want to add a shirt")
    assert "initiate" in support_terms("start a refund for a defective item")


def test_where_an_order_goes_and_where_it_is_are_different_questions() -> None:
    assert "manage shipping address" in support_terms(
        "i need to change the address my package is going to"
    )
    assert "shipping status" in support_terms("has my order shipped yet?")
    assert "shipping status" in support_terms("can you tell me where my parcel is right now")
    assert "membership" in support_terms("whats the difference between silver and gold members")
    assert "never bought" in support_terms("you billed me for a jacket i didnt buy")


def test_a_code_that_fails_and_a_code_that_expired_are_told_apart() -> None:
    assert "invalid" in support_terms("your coupon wont apply to my order")
    assert "invalid" not in support_terms("i tried a code from last month and it says its expired")
    assert "out of date" in support_terms("i tried a code from last month and it says its expired")
    # paying later is an extension, not paying the bill now
    assert "pay bill" not in support_terms("can i get a bit more time to pay my subscription")
    assert "pay bill" in support_terms("i'd like to pay off my subscription balance")


def test_the_query_keeps_apart_what_was_typed_and_what_a_rule_added() -> None:
    typed, support = query_parts("these boots arent what i expected, can i get my money back")
    assert "refund" in support and "refund" not in typed
    assert query_terms("these boots arent what i expected, can i get my money back") == [
        *typed,
        *support,
    ]


def test_a_title_matching_a_support_term_outranks_one_matching_a_typed_word() -> None:
    docs = {
        "faq-0": {"kw": {"gold": True, "membership": True}, "title_terms": ["gold"]},
        "member-0": {"kw": {"gold": True, "membership": True}, "title_terms": ["membership"]},
        "other-0": {"kw": {"membership": True}, "title_terms": []},  # membership: the commoner
    }
    wanted = ["gold", "membership"]
    assert _keyword_ranks(wanted, docs) == {"faq-0": 0, "member-0": 1, "other-0": 2}
    ranks = _keyword_ranks(wanted, docs, frozenset({"membership"}))
    assert ranks == {"member-0": 0, "faq-0": 1, "other-0": 2}
