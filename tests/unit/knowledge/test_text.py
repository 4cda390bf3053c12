from __future__ import annotations

import json

import pytest

from shared.capabilities.knowledge.text import CHUNK_CHARS, chunk, terms_of
from shared.core.errors import InvalidInput


def test_markdown_splits_at_headings_and_paragraphs() -> None:
    text = "# A\n\nfirst paragraph\n\n## B\n\n" + ("long sentence here. " * 80)
    parts = chunk(text, "markdown")
    assert parts[0].startswith("# A")
    assert all(len(p) <= CHUNK_CHARS + 10 for p in parts)
    assert len(parts) >= 2


def test_json_is_flattened_to_labelled_lines() -> None:
    parts = chunk(json.dumps({"express": {"days": "1-2", "price": "9 EUR"}}), "json")
    assert parts == ["express / days: 1-2\nexpress / price: 9 EUR"]
    with pytest.raises(InvalidInput) as err:
        chunk("{not json", "json")
    assert err.value.field == "content"


def test_terms_drop_stop_words_and_plurals() -> None:
    assert terms_of("How do I reset my passwords?") == ["reset", "password"]
