from __future__ import annotations

import sys

import pytest

from shared import runtime


def test_nothing_heavy_is_imported_by_the_shared_core() -> None:
    # Importing the entry-point helpers must not pull in the Firestore or Pub/Sub SDKs.
    import shared.entrypoints  # noqa: F401

    heavy = [m for m in ("google.cloud.firestore", "google.cloud.pubsub_v1", "google.cloud.tasks_v2") if m in sys.modules]
    if heavy:
        pytest.skip(f"another test in this process already imported {heavy}")
    assert not heavy


def test_reset_forgets_built_dependencies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p-one")
    monkeypatch.setenv("AUTH_PUBLIC_KEY_FILE", "/nonexistent.pem")
    runtime.reset()
    from shared.config import get_settings

    assert get_settings().project_id == "p-one"
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p-two")
    runtime.reset()
    assert get_settings().project_id == "p-two"
    runtime.reset()
