"""One suite for every ``Embedder``: the in-memory fake (``WordHashEmbedder``), the packaged
ONNX model, Google's embedder through google-genai on the provider simulator, and the per-tenant
cache in front of a model. What the knowledge index and the caches rely on: one unit vector of
``dim`` numbers per text, in order, the same for the same text alone or in a batch, and texts
that share their words closer than texts that do not."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pytest

from shared.ai.embeddings import CachedEmbedder
from shared.ai.embeddings.words import WordHashEmbedder
from shared.core.store import MemoryStore
from shared.core.store.base import cosine

if TYPE_CHECKING:
    from shared.ai.embeddings.base import Embedder

TEXTS = [
    "I want a refund for my damaged boots",
    "refund for damaged boots please",
    "what time does the office open on monday",
    "Zürich office: opening hours 09:00 to 17:00 ✓",
]


@pytest.fixture(scope="module")
def local_onnx() -> Any:
    from shared.ai.embeddings.local import LocalOnnxEmbedder

    return LocalOnnxEmbedder()


@pytest.fixture(params=["words", "local-onnx", "google-on-simulator", "cached-local-onnx"])
def embedder(request: pytest.FixtureRequest, local_onnx: Any) -> Embedder:
    if request.param == "words":
        return WordHashEmbedder()
    if request.param == "local-onnx":
        return local_onnx  # type: ignore[no-any-return]
    if request.param == "cached-local-onnx":
        return CachedEmbedder(local_onnx, MemoryStore(), "tenant-a")
    from shared.ai.embeddings.google import GoogleEmbedder
    from shared.ai.llm.providers.base import Endpoint
    from shared.ai.llm.providers.gemini_provider import genai_client

    endpoint = Endpoint("sim", request.getfixturevalue("simulator_url"), simulated=True)
    return GoogleEmbedder(
        "text-embedding-005", 64, lambda: genai_client(endpoint, None, "us-central1")
    )


def test_one_unit_vector_of_dim_numbers_per_text_in_order(embedder: Embedder) -> None:
    vectors = embedder.embed(TEXTS)
    assert len(vectors) == len(TEXTS)
    for vector in vectors:
        assert len(vector) == embedder.dim
        assert all(math.isfinite(x) for x in vector)
        assert math.isclose(math.fsum(x * x for x in vector), 1.0, rel_tol=1e-3)
    # In order: each text's vector is the one it gets alone.
    for text, vector in zip(TEXTS, vectors, strict=True):
        assert cosine(embedder.embed([text])[0], vector) > 0.999


def test_no_texts_no_vectors(embedder: Embedder) -> None:
    assert embedder.embed([]) == []


def test_the_same_text_gets_the_same_vector(embedder: Embedder) -> None:
    first, again = embedder.embed([TEXTS[0], TEXTS[0]])
    assert cosine(first, again) > 0.999
    assert cosine(embedder.embed([TEXTS[0]])[0], first) > 0.999


def test_texts_that_share_their_words_are_closer(embedder: Embedder) -> None:
    refund, refund_again, office, _ = embedder.embed(TEXTS)
    assert cosine(refund, refund_again) > cosine(refund, office)


def test_the_model_id_names_the_model(embedder: Embedder) -> None:
    assert isinstance(embedder.model_id, str) and embedder.model_id
    assert isinstance(embedder.dim, int) and embedder.dim > 0


def test_a_long_batch_keeps_its_order(embedder: Embedder) -> None:
    texts = [f"note number {i} about order {i * 7}" for i in range(120)]  # past Google's 100
    vectors = embedder.embed(texts)
    assert len(vectors) == 120
    for i in (0, 99, 100, 119):
        assert cosine(embedder.embed([texts[i]])[0], vectors[i]) > 0.999
