from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import flask
import pytest

from devstack.procs import REPO
from devstack.topology import discover_functions
from shared.ai.embeddings.words import WordHashEmbedder
from shared.core.auth.tokens import TokenVerifier
from shared.core.config import load_settings
from shared.core.messaging.pubsub import MemoryPublisher
from shared.core.store.memory import MemoryStore
from shared.core.web.http import dispatch
from shared.edge import services
from shared.edge.http.knowledge import ROUTES
from shared.edge.services import Services

if TYPE_CHECKING:
    from pathlib import Path

    from tests.conftest import TokenFactory

HEAVY = (
    "google.cloud.firestore",
    "google.cloud.pubsub_v1",
    "google.cloud.tasks_v2",
    "grpc",
    "openai",
    "anthropic",
    "google.genai",
    "google.cloud.bigquery",
    "pandas",
    "numpy",
    "lightgbm",
    "sklearn",
    "onnxruntime",
)


@pytest.mark.parametrize("name", [s.name for s in discover_functions()])
def test_a_cold_function_import_pulls_in_no_cloud_sdk(name: str) -> None:
    # In a fresh interpreter, as at a cold start: SDKs load only when a request needs them.
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('main', 'functions/{name}/main.py')\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_reset_forgets_built_dependencies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p-one")
    monkeypatch.setenv("APP_ENV", "local")
    monkeypatch.setenv("AUTH_PUBLIC_KEY_FILE", "/nonexistent.pem")
    services.reset()
    from shared.core.config import get_settings

    assert get_settings().project_id == "p-one"
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p-two")
    services.reset()
    assert get_settings().project_id == "p-two"
    services.reset()


SETTINGS = {"GOOGLE_CLOUD_PROJECT": "p1", "APP_ENV": "local", "AUTH_PUBLIC_KEY_FILE": "/k.pem"}


def test_given_clients_win_and_the_rest_is_built_only_when_asked() -> None:
    store, publisher = MemoryStore(), MemoryPublisher()
    built = Services(load_settings(SETTINGS), store=store, publisher=publisher)
    assert built.store is store and built.publisher is publisher
    assert built.crm_ingestor is built.crm_ingestor  # built once, on the given clients
    # Nothing else was built: no Cloud Tasks client, no LLM router, no embedder.
    assert not {"tasks", "llm", "embedder", "ledger"} & set(vars(built))
    built.flush_writes()  # no ledger yet: nothing to wait for, and nothing is built for it
    assert "ledger" not in vars(built)


def test_an_http_function_serves_on_in_memory_fakes(
    keys: tuple[Path, Path], make_token: TokenFactory
) -> None:
    # The knowledge API end to end through the edge's dispatch, on fakes the test hands in: no
    # emulator, no environment, no services.reset().
    store = MemoryStore()
    fakes = Services(load_settings(SETTINGS), store=store, embedder=WordHashEmbedder())
    verifier = TokenVerifier(
        issuer="crm-dev", audience="crm-ai", public_key_pem=keys[1].read_text()
    )
    app = flask.Flask("t")

    def call(path: str, body: dict[str, Any], roles: list[str]) -> tuple[Any, int]:
        headers = {"Authorization": f"Bearer {make_token('acme', roles)}"}
        with app.test_request_context(path, method="POST", headers=headers, json=body):
            text, status, _ = dispatch(
                flask.request, ROUTES, verifier=verifier, store=store, services=fakes
            )
        return json.loads(text), status

    doc = {"title": "Returns", "content": "Boots can be returned within 30 days for a refund."}
    added, status = call("/api/v1/ai/knowledge", doc, ["admin"])
    assert status == 201
    found, status = call("/api/v1/ai/knowledge/search", {"query": "refund boots"}, ["viewer"])
    assert status == 200 and found["results"][0]["id"] == added["doc_id"]
    assert store.get(f"tenants/acme/knowledge_docs/{added['doc_id']}") is not None
