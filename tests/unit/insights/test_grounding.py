from __future__ import annotations

from shared.capabilities.insights.grounding import check, sentences
from shared.capabilities.knowledge.index import Hit


def _hit(doc_id: str, text: str) -> Hit:
    return Hit(
        chunk_id=f"{doc_id}-0",
        doc_id=doc_id,
        source_type="knowledge",
        title="",
        text=text,
        date=None,
        score=1.0,
        vector_rank=0,
        keyword_rank=None,
    )


HITS = [
    _hit("kb-1", "To reset a password open the account page and click forgot password."),
    _hit("kb-2", "Refunds are paid within five business days."),
]


def test_citations_stay_with_their_sentence() -> None:
    assert sentences("Open the account page. [kb-1] Refunds take five days [kb-2].") == [
        "Open the account page. [kb-1]",
        "Refunds take five days [kb-2].",
    ]


def test_a_cited_sentence_the_source_supports_is_grounded() -> None:
    result = check(
        "To reset a password, open the account page. [kb-1] Refunds are paid within five"
        " business days. [kb-2]",
        HITS,
    )
    assert result["sentences"] == 2 and result["supported"] == 2 and result["score"] == 1.0


def test_uncited_wrongly_cited_and_unknown_sources_are_not() -> None:
    result = check(
        "Refunds are paid within five business days. [kb-1] "  # wrong source
        "Our premium plan includes priority support. "  # no source
        "Passwords expire yearly. [kb-9]",  # not retrieved
        HITS,
    )
    assert result["sentences"] == 3
    assert result["cited"] == 1 and result["supported"] == 0 and result["score"] == 0.0
    assert len(result["unsupported"]) == 3


def test_an_empty_answer_has_nothing_ungrounded() -> None:
    assert check("", HITS)["score"] == 1.0


def test_a_citation_ends_its_sentence_before_quoted_or_capitalised_text() -> None:
    assert sentences("Call back for the label. [kb-1] > Refunds are paid. [kb-2]") == [
        "Call back for the label. [kb-1]",
        "> Refunds are paid. [kb-2]",
    ]
