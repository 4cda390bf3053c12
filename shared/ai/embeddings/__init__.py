"""Sentence embeddings: the interface, the offline ONNX model, and a content-hash cache."""

from shared.ai.embeddings.base import Embedder, cosine
from shared.ai.embeddings.cache import CachedEmbedder

__all__ = ["CachedEmbedder", "Embedder", "cosine"]
