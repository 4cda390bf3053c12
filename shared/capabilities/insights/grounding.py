"""Is a chat answer grounded? Every sentence should cite a retrieved excerpt (``[id]``) and say
something that excerpt says.

A sentence counts as *cited* when it names the id of a retrieved chunk, and as *supported* when,
in addition, most of its content words (at least ``SUPPORT_SHARE`` of the words of four letters
or more) occur in one of the chunks it cites. Lexical support is a cheap check, not proof: it
catches a model citing a source for something the source does not contain, and a sentence with no
source at all. The answer's ``score`` is the share of supported sentences.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from collections.abc import Sequence

    from shared.capabilities.knowledge.index import Hit

SUPPORT_SHARE = 0.6
_CITATION = re.compile(r"\[([A-Za-z0-9_.:\-]{2,80})\]")
# A sentence ends at . ! or ? followed by space, unless a citation follows (it belongs to the
# sentence before it), or after a citation followed by anything but another citation or a
# lower-case continuation.
_BOUNDARY = re.compile(r"(?<=[.!?])\s+(?!\[)|(?<=\])\s+(?=[^\[\sa-z])")
_WORD = re.compile(r"[a-z0-9][a-z0-9'-]{3,}")
_COMMON = {"this", "that", "with", "from", "have", "your", "they", "will", "were", "then", "when"}


def sentences(answer: str) -> list[str]:
    """The answer's sentences that contain words, as groundedness checks them one by one."""
    return [s.strip() for s in _BOUNDARY.split(answer.strip()) if _WORD.search(s.lower())]


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _COMMON}


class Grounding(TypedDict):
    """How well an answer is supported by the passages it was given."""

    sentences: int
    cited: int
    supported: int
    score: float  # supported / sentences (1.0 for an empty answer)
    unsupported: list[str]


def check(answer: str, hits: Sequence[Hit]) -> Grounding:
    """Grounding of ``answer`` against the chunks it was given: counts, the score (supported
    sentences / sentences; 1.0 for an empty answer) and the sentences that are not supported."""
    by_id: dict[str, list[set[str]]] = {}
    for hit in hits:
        by_id.setdefault(hit.doc_id, []).append(_content_words(f"{hit.title} {hit.text}"))
    parts = sentences(answer)
    cited = supported = 0
    unsupported: list[str] = []
    for sentence in parts:
        sources = [ref for ref in _CITATION.findall(sentence) if ref in by_id]
        words = _content_words(_CITATION.sub(" ", sentence))
        cited += bool(sources)
        ok = bool(sources) and any(
            len(words & chunk) >= SUPPORT_SHARE * len(words)
            for ref in sources
            for chunk in by_id[ref]
        )
        supported += ok
        if not ok:
            unsupported.append(sentence[:200])
    return {
        "sentences": len(parts),
        "cited": cited,
        "supported": supported,
        "score": round(supported / len(parts), 3) if parts else 1.0,
        "unsupported": unsupported,
    }
