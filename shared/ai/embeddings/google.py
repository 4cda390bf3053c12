"""Google text embeddings (``text-embedding-005``, ``gemini-embedding-001``) through
``google-genai``: Vertex AI with the function's identity in the cloud, the Gemini API with a key,
or the provider simulator offline, which speaks both wire formats.

The vectors are requested at ``dimensions`` (the size of the Firestore vector index) and
L2-normalised here, since a reduced Gemini embedding is not unit length. The model id stored
beside each vector names the model and the size, so a change of either re-embeds.
"""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING, Any

from shared.ai.embeddings.base import Embedder
from shared.core.errors import InvalidInput, TransientError

if TYPE_CHECKING:
    from collections.abc import Callable

    from google import genai

BATCH = 100  # texts per request: Vertex AI accepts up to 250, the Gemini API 100
# Status codes a retry may cure; anything else (400 bad input, 403 no permission) is permanent.
_TRANSIENT = {408, 429, 500, 502, 503, 504}


class GoogleEmbedder(Embedder):
    """A Google embedding model at ``dimensions``, on the ``google-genai`` client that
    ``connect()`` builds on first use (the edge gives the same factory the Gemini LLM provider
    uses: Vertex AI, the Gemini API or the simulator)."""

    def __init__(
        self,
        model: str,
        dimensions: int,
        connect: Callable[[], genai.Client],
        *,
        timeout_s: float = 30.0,
    ) -> None:
        self.model = model
        self.dim = dimensions
        self.model_id = f"google:{model}@{dimensions}"
        self._connect = connect
        self._timeout_ms = int(timeout_s * 1000)
        self._client: genai.Client | None = None
        self._lock = threading.Lock()

    def _get(self) -> genai.Client:
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Raises:
        TransientError: the service was unavailable or throttled (the caller's platform retries).
        InvalidInput: the service refused the input (too long, empty).
        """
        out: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            out.extend(self._embed_batch(texts[start : start + BATCH]))
        return out

    def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        from google.genai import errors, types

        config = types.EmbedContentConfig(
            output_dimensionality=self.dim,
            task_type="RETRIEVAL_DOCUMENT",
            http_options=types.HttpOptions(timeout=self._timeout_ms),
        )
        contents: list[Any] = list(texts)  # the SDK's union types reject list[str]
        try:
            result = self._get().models.embed_content(
                model=self.model, contents=contents, config=config
            )
        except errors.APIError as exc:
            code = int(exc.code or 500)
            message = f"{self.model}: embedding failed with {code} {exc.message}"
            if code in _TRANSIENT:
                raise TransientError(message) from exc
            raise InvalidInput(message, field="text") from exc
        except Exception as exc:  # transport errors of several libraries: all transient
            raise TransientError(f"{self.model}: embedding call failed: {exc}") from exc
        vectors = [list(e.values or []) for e in (result.embeddings or [])]
        if len(vectors) != len(texts) or any(len(v) != self.dim for v in vectors):
            raise TransientError(
                f"{self.model}: expected {len(texts)} vectors of {self.dim}, got "
                f"{[len(v) for v in vectors]}"
            )
        return [_unit(v) for v in vectors]


def _unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm else vector
