"""A tenant's knowledge base: chunking, embeddings in Firestore, hybrid retrieval."""

from __future__ import annotations

__all__: list[str] = []
