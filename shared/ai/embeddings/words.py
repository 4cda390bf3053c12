"""The in-memory fake embedder for fast tests: one dimension per hashed word, so texts sharing
words are close. Held to the same conformance suite as the real embedders
(``tests/conformance/test_embedder.py``)."""

from __future__ import annotations

import hashlib

from typing_extensions import override

from shared.ai.embeddings.base import Embedder


class WordHashEmbedder(Embedder):
    """A deterministic bag-of-words embedder for fast tests: texts that share words get similar
    vectors, and it records every text it was asked to embed."""

    def __init__(self, model_id: str = "words@1", dim: int = 64) -> None:
        self.model_id = model_id
        self.dim = dim
        self.texts: list[str] = []  # every text embedded, for tests that count calls

    @override
    def embed(self, texts: list[str]) -> list[list[float]]:
        self.texts += texts
        return [self._one(text) for text in texts]

    def _one(self, text: str) -> list[float]:
        vector = [0.0] * self.dim
        # A text without words still gets a unit vector (its own dimension), as real models do.
        for word in text.lower().split() or [""]:
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            vector[int.from_bytes(digest, "big") % self.dim] += 1.0
        norm = sum(x * x for x in vector) ** 0.5
        return [x / norm for x in vector]
