"""Sentence embeddings: the interface, the offline ONNX model, and a content-hash cache."""

from shared.ai.embeddings.base import Embedder
from shared.ai.embeddings.cache import CachedEmbedder

__all__ = ["CachedEmbedder", "Embedder"]
