"""Sentence embeddings: the interface, the offline ONNX model, and a content-hash cache."""

from shared.embeddings.base import Embedder, cosine
from shared.embeddings.cache import CachedEmbedder

__all__ = ["CachedEmbedder", "Embedder", "cosine"]
