from __future__ import annotations

import pytest

from shared.config import load_settings
from shared.errors import ConfigError

BASE = {"GOOGLE_CLOUD_PROJECT": "p1", "AUTH_PUBLIC_KEY_FILE": "/tmp/key.pem"}


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
        load_settings({"GOOGLE_CLOUD_PROJECT": "p1"})
