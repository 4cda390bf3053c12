"""The Google embedder through google-genai against the simulator, in both wire formats the SDK
speaks (the Gemini API's batchEmbedContents and Vertex AI's predict), with failures mapped to
the errors the platform retries or refuses."""

from __future__ import annotations

from typing import Any

import pytest

from shared.ai.embeddings.google import BATCH, GoogleEmbedder
from shared.ai.llm.providers.base import Endpoint
from shared.ai.llm.providers.gemini_provider import genai_client
from shared.core.errors import InvalidInput, TransientError
from shared.core.store.base import cosine


def _gemini_api(url: str, dims: int = 64) -> GoogleEmbedder:
    endpoint = Endpoint("sim", url, simulated=True)
    return GoogleEmbedder(
        "text-embedding-005", dims, lambda: genai_client(endpoint, None, "us-central1")
    )


def _vertex(url: str, dims: int = 64) -> GoogleEmbedder:
    from google import genai
    from google.genai import types
    from google.oauth2.credentials import Credentials

    client = genai.Client(
        vertexai=True,
        project="demo",
        location="us-central1",
        credentials=Credentials(token="simulated"),  # type: ignore[no-untyped-call]
        http_options=types.HttpOptions(
            base_url=url, retry_options=types.HttpRetryOptions(attempts=1)
        ),
    )
    return GoogleEmbedder("text-embedding-005", dims, lambda: client)


@pytest.mark.parametrize("make", [_gemini_api, _vertex], ids=["gemini-api", "vertex"])
def test_vectors_are_unit_length_sized_and_ordered(make: Any, simulator_url: str, sim: Any) -> None:
    embedder = make(simulator_url)
    texts = [f"refund policy number {i}" for i in range(BATCH + 5)]  # two requests
    vectors = embedder.embed(texts)
    assert len(vectors) == len(texts) and {len(v) for v in vectors} == {64}
    assert all(abs(sum(x * x for x in v) - 1) < 1e-6 for v in vectors)
    [same] = embedder.embed([texts[7]])
    assert same == vectors[7]
    near, far = embedder.embed(["refund policy", "quarterly pipeline review"])
    assert cosine(vectors[0], near) > cosine(vectors[0], far)
    assert embedder.model_id == "google:text-embedding-005@64"


def test_throttling_is_transient_and_bad_input_is_not(simulator_url: str, sim: Any) -> None:
    embedder = _gemini_api(simulator_url)
    sim.post(
        "/_sim/faults",
        json={"provider": "gemini", "model": "text-embedding-005", "fault": {"status": 429}},
    )
    with pytest.raises(TransientError):
        embedder.embed(["hello"])
    sim.post(
        "/_sim/faults",
        json={"provider": "gemini", "model": "text-embedding-005", "fault": {"status": 400}},
    )
    with pytest.raises(InvalidInput) as err:
        embedder.embed(["hello"])
    assert err.value.field == "text"
    assert embedder.embed(["hello"])  # the faults were one-shot
