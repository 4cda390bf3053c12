"""The embedding seam: turn texts into unit-length vectors, with the model id stored beside them."""

from __future__ import annotations

from typing import Protocol


class Embedder(Protocol):
    model_id: str  # stored with every vector; a new id means the vectors must be re-embedded
    dim: int

    def embed(self, texts: list[str]) -> list[list[float]]:
        """One L2-normalised vector per text, in order.

        Raises:
            TransientError: a remote embedding service was unavailable.
        """
        ...


def cosine(a: list[float], b: list[float]) -> float:
    """Cosine similarity of two vectors (our vectors are unit length, so the dot product)."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = sum(x * x for x in a) ** 0.5
    nb = sum(y * y for y in b) ** 0.5
    return dot / (na * nb) if na and nb else 0.0
