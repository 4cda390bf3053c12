"""Google text embeddings, simulated in both wire formats ``google-genai`` uses:

- Gemini API: ``POST /v1beta/models/{model}:batchEmbedContents``
  ``{"requests": [{"content": {"parts": [{"text"}]}, "outputDimensionality"}]}`` ->
  ``{"embeddings": [{"values": [...]}]}``
- Vertex AI: ``POST /v1beta1/projects/{p}/locations/{l}/publishers/google/models/{model}:predict``
  ``{"instances": [{"content"}], "parameters": {"outputDimensionality"}}`` ->
  ``{"predictions": [{"embeddings": {"values", "statistics"}}]}``

Vectors are deterministic feature hashes of a text's words and word pairs (signed buckets), so
texts sharing words are near each other: a lexical model, good enough to exercise retrieval.
Faults queued for provider ``gemini`` apply (status codes, latency).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from typing import Any

from devstack.simulator.brain import count_tokens

_WORD = re.compile(r"[a-z0-9]+")
DEFAULT_DIMENSIONS = 768


def embed_text(text: str, dimensions: int) -> list[float]:
    words = _WORD.findall(text.lower())
    features = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
    vector = [0.0] * dimensions
    for feature in features or ["<empty>"]:
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        bucket = int.from_bytes(digest[:4], "big") % dimensions
        vector[bucket] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [round(x / norm, 6) for x in vector]


def gemini_api_embed(body: dict[str, Any]) -> dict[str, Any]:
    out = []
    for request in body.get("requests", []):
        text = " ".join(p.get("text", "") for p in request.get("content", {}).get("parts", []))
        dims = int(request.get("outputDimensionality") or DEFAULT_DIMENSIONS)
        out.append({"values": embed_text(text, dims)})
    return {"embeddings": out}


def vertex_predict(body: dict[str, Any]) -> dict[str, Any]:
    dims = int((body.get("parameters") or {}).get("outputDimensionality") or DEFAULT_DIMENSIONS)
    predictions = []
    chars = 0
    for instance in body.get("instances", []):
        text = str(instance.get("content", ""))
        chars += len(text)
        predictions.append(
            {
                "embeddings": {
                    "values": embed_text(text, dims),
                    "statistics": {"token_count": count_tokens(text), "truncated": False},
                }
            }
        )
    return {"predictions": predictions, "metadata": {"billableCharacterCount": chars}}
