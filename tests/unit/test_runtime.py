from __future__ import annotations

import subprocess
import sys

import pytest

from devstack.procs import REPO
from devstack.topology import discover_functions
from shared.edge import runtime

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
    runtime.reset()
    from shared.core.config import get_settings

    assert get_settings().project_id == "p-one"
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p-two")
    runtime.reset()
    assert get_settings().project_id == "p-two"
    runtime.reset()
