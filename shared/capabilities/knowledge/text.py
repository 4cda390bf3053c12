"""The text side of the knowledge base: documents cut into chunks, and the normalised words
that keyword search matches (stop words dropped, plurals folded)."""

from __future__ import annotations

import functools
import json
import re
from typing import Any, Literal

from shared.capabilities.knowledge.vocabulary import support_terms
from shared.core.errors import InvalidInput

Format = Literal["text", "markdown", "json"]
CHUNK_CHARS = 900
OVERLAP_CHARS = 120
_WORD = re.compile(r"[a-z0-9][a-z0-9'\-]+")
_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "this",
        "that",
        "my",
        "our",
        "your",
        "their",
        "i",
        "we",
        "you",
        "they",
        "he",
        "she",
        "do",
        "does",
        "did",
        "can",
        "could",
        "would",
        "should",
        "will",
        "not",
        "no",
        "at",
        "by",
        "from",
        "as",
        "if",
        "so",
        "what",
        "how",
        "when",
        "where",
        "which",
        "who",
        "why",
        "me",
        "us",
        "them",
        "have",
        "has",
        "had",
        "about",
        "into",
        "than",
        "then",
        "there",
    ]
)


def terms_of(text: str) -> list[str]:
    """Lower-cased words without stop words, lightly stemmed (plural s)."""
    out = []
    for word in _WORD.findall(text.lower()):
        if word in _STOP or len(word) < 3:
            continue
        if word.endswith("s") and len(word) > 4 and not word.endswith("ss"):
            word = word[:-1]
        out.append(word)
    return out


def query_terms(query: str) -> list[str]:
    """A query's keyword terms: :func:`query_parts`' words as typed, then its support terms."""
    typed, support = query_parts(query)
    return typed + support


def query_parts(query: str) -> tuple[list[str], list[str]]:
    """A query's keyword terms as typed and the support terms its phrasings add, misspellings
    corrected (issue 18: customers write "retrun",
    "subscripton", "jeens"). Only the keyword side uses them: the embedder reads the query as
    written (its word pieces cope with many typos, and a wrong correction would mislead both).

    A word of four letters or more that English does not know is replaced by its likeliest
    spelling within two edits, from the word frequencies pyspellchecker ships (MIT; loaded on
    first use, about 0.2 s): tuned on the support dev split, recall@5 0.958 -> 0.964 and MRR
    0.797 -> 0.808 (``tests/bench/bench_knowledge.py``); about 5 ms a query.

    Then the support terms that the query's everyday phrasings stand for are added ("money back"
    adds refund: :mod:`shared.capabilities.knowledge.vocabulary`).
    """
    words = []
    for word in _WORD.findall(query.lower()):
        if len(word) >= 4 and word.isalpha():
            words.append(_spelling(word))
        else:
            words.append(word)
    fixed = " ".join(words)
    return terms_of(fixed), terms_of(" ".join(support_terms(f"{query}\n{fixed}")))


@functools.lru_cache(maxsize=4096)
def _spelling(word: str) -> str:
    checker = _checker()
    if word in checker:
        return word
    fixed = checker.correction(word)
    return fixed if fixed and fixed.isalpha() else word  # "didnt" stays: not "didn't"


@functools.lru_cache(maxsize=1)
def _checker() -> Any:
    from spellchecker import SpellChecker

    return SpellChecker(language="en", distance=2)


def keyword_map(text: str, limit: int = 400) -> dict[str, bool]:
    """A chunk's searchable words as a map ``{word: True}``: keyword search asks for a map entry
    by equality (``has_key``), which Firestore answers from single-field indexes."""
    return dict.fromkeys(sorted(set(terms_of(text)))[:limit], True)


def _json_text(value: Any, path: tuple[str, ...] = ()) -> list[str]:
    """One ``a / b: value`` line per leaf, so every line keeps the keys that explain it."""
    if isinstance(value, dict):
        return [line for key, sub in value.items() for line in _json_text(sub, (*path, str(key)))]
    if isinstance(value, list):
        return [line for item in value for line in _json_text(item, path)]
    return [f"{' / '.join(path)}: {value}" if path else str(value)]


def chunk(content: str, fmt: Format) -> list[str]:
    """Chunks of about ``CHUNK_CHARS``, split at headings and paragraphs where possible, with a
    little overlap so a sentence cut at a boundary is still found whole in one chunk."""
    if fmt == "json":
        try:
            text = "\n".join(_json_text(json.loads(content)))
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"content is not valid JSON: {exc.msg}", field="content") from exc
    else:
        text = content
    blocks = (
        re.split(r"\n(?=#{1,6} )|\n\s*\n", text)
        if fmt == "markdown"
        else re.split(r"\n\s*\n", text)
    )
    chunks: list[str] = []
    current = ""
    for block in (b.strip() for b in blocks):
        if not block:
            continue
        while len(block) > CHUNK_CHARS:  # a long paragraph: cut at a sentence end if there is one
            cut = block.rfind(". ", 0, CHUNK_CHARS)
            cut = cut + 1 if cut > CHUNK_CHARS // 2 else CHUNK_CHARS
            if current:
                chunks.append(current)
                current = ""
            chunks.append(block[:cut].strip())
            block = block[max(cut - OVERLAP_CHARS, 1) :].strip()
        if len(current) + len(block) + 2 > CHUNK_CHARS and current:
            chunks.append(current)
            current = current[-OVERLAP_CHARS:] + "\n" + block if OVERLAP_CHARS else block
        else:
            current = f"{current}\n\n{block}" if current else block
    if current:
        chunks.append(current)
    return chunks
