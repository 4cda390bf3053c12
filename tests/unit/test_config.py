from __future__ import annotations

import pytest

from shared.core.config import load_settings
from shared.core.errors import ConfigError

BASE = {"GOOGLE_CLOUD_PROJECT": "p1", "APP_ENV": "local", "AUTH_PUBLIC_KEY_FILE": "/tmp/key.pem"}


def test_settings_come_from_an_injected_mapping() -> None:
    settings = load_settings(
        {**BASE, "FIRESTORE_EMULATOR_HOST": "127.0.0.1:8081", "LOG_LEVEL": "DEBUG"}
    )
    assert settings.project_id == "p1"
    assert settings.firestore_emulator_host == "127.0.0.1:8081"
    assert settings.log_level == "DEBUG"
    assert settings.environment == "local"
    assert not settings.is_cloud


def test_missing_project_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="GOOGLE_CLOUD_PROJECT"):
        load_settings({"AUTH_PUBLIC_KEY_FILE": "/k"})


def test_cloud_environments_require_a_jwks_url() -> None:
    with pytest.raises(ConfigError, match="AUTH_JWKS_URL"):
        load_settings({**BASE, "APP_ENV": "prod"})
    settings = load_settings({**BASE, "APP_ENV": "prod", "AUTH_JWKS_URL": "https://idp/jwks"})
    assert settings.is_cloud


def test_unknown_environment_is_refused() -> None:
    with pytest.raises(ConfigError, match="APP_ENV"):
        load_settings({**BASE, "APP_ENV": "staging"})


def test_local_needs_some_key_source() -> None:
    with pytest.raises(ConfigError, match="AUTH_PUBLIC_KEY_FILE"):
        load_settings({"GOOGLE_CLOUD_PROJECT": "p1", "APP_ENV": "local"})


def test_the_environment_is_required_never_defaulted() -> None:
    """A unit that lost APP_ENV does not fall back to local mode (issue 15, M3)."""
    with pytest.raises(ConfigError, match="APP_ENV is required"):
        load_settings({"GOOGLE_CLOUD_PROJECT": "p1", "AUTH_PUBLIC_KEY_FILE": "/k"})


def test_a_deployed_unit_never_runs_in_local_mode() -> None:
    """Local mode trusts emulator-shaped service calls; on Cloud Run (K_SERVICE set by the
    platform) a missing or local APP_ENV is refused at start-up (issue 15, M3)."""
    without = {k: v for k, v in BASE.items() if k != "APP_ENV"}
    for env in (
        {**without, "K_SERVICE": "crm-events"},
        {**BASE, "K_SERVICE": "x", "APP_ENV": "local"},
    ):
        with pytest.raises(ConfigError, match="APP_ENV"):
            load_settings(env)
    deployed = {**BASE, "K_SERVICE": "x", "APP_ENV": "dev", "AUTH_JWKS_URL": "https://idp/jwks"}
    assert load_settings(deployed).is_cloud


def test_query_rewrite_is_off_by_default_and_auto_needs_a_real_provider() -> None:
    assert not load_settings(BASE).rewrites_queries
    simulated = {
        **BASE,
        "LLM_SIMULATOR_URL": "http://localhost:1",
        "KNOWLEDGE_QUERY_REWRITE": "auto",
    }
    assert not load_settings(simulated).rewrites_queries
    assert load_settings({**simulated, "ANTHROPIC_API_KEY": "k"}).rewrites_queries
    assert load_settings({**simulated, "GEMINI_USE_VERTEX": "true"}).rewrites_queries
    assert load_settings({**BASE, "KNOWLEDGE_QUERY_REWRITE": "on"}).rewrites_queries
    with pytest.raises(ConfigError, match="KNOWLEDGE_QUERY_REWRITE must be off, auto or on"):
        load_settings({**BASE, "KNOWLEDGE_QUERY_REWRITE": "yes"})
