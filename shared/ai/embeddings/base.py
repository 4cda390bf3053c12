"""The embedding seam: turn texts into unit-length vectors, with the model id stored beside them."""

from __future__ import annotations

from typing import Protocol


class Embedder(Protocol):
    """Turns texts into unit vectors for the store's vector search. ``model_id`` is stored beside
    every vector, so a new model or size means the stored vectors are re-embedded, never mixed."""

    model_id: str  # stored with every vector; a new id means the vectors must be re-embedded
    dim: int

    def embed(self, texts: list[str]) -> list[list[float]]:
        """One L2-normalised vector per text, in order.

        Raises:
            TransientError: a remote embedding service was unavailable.
        """
        ...
