from __future__ import annotations

from datetime import date

import pytest

from shared.ai.llm.catalog import Catalog
from shared.ai.llm.types import Usage
from shared.core.errors import ConfigError, InvalidInput


def _catalog(prices: list[dict[str, object]]) -> Catalog:
    return Catalog(
        {
            "models": {
                "m1": {
                    "provider": "openai",
                    "context_window": 1000,
                    "max_output": 100,
                    "tools": True,
                    "json": True,
                }
            },
            "tiers": {"fast": {"models": ["m1"]}},
            "prices": prices,
        }
    )


def test_cost_uses_the_price_in_force_and_bills_cached_input_cheaper() -> None:
    catalog = _catalog(
        [
            {
                "model": "m1",
                "effective_from": "2025-01-01",
                "input": 1.0,
                "cached_input": 0.1,
                "output": 4.0,
            },
            {
                "model": "m1",
                "effective_from": "2026-01-01",
                "input": 2.0,
                "cached_input": 0.2,
                "output": 8.0,
            },
        ]
    )
    usage = Usage(input_tokens=1_000_000, output_tokens=500_000, cached_input_tokens=400_000)
    # 600k fresh at 1.0 + 400k cached at 0.1 + 500k out at 4.0
    assert catalog.cost("m1", usage, date(2025, 6, 1)) == pytest.approx(0.6 + 0.04 + 2.0)
    assert catalog.cost("m1", usage, date(2026, 6, 1)) == pytest.approx(1.2 + 0.08 + 4.0)


def test_the_shipped_catalogue_is_consistent() -> None:
    catalog = Catalog.load()
    assert {"fast", "balanced", "best"} <= set(catalog.tiers)
    assert {m.provider for m in catalog.models.values()} == {"openai", "anthropic", "gemini"}
    with pytest.raises(InvalidInput, match="tier"):
        catalog.tier("turbo")


def test_a_model_without_a_price_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="without a price"):
        _catalog([])


def test_no_shipped_model_is_deprecated_by_its_sdk() -> None:
    from anthropic.resources.messages.messages import DEPRECATED_MODELS

    catalog = Catalog.load()
    anthropic_models = {m.id for m in catalog.models.values() if m.provider == "anthropic"}
    assert not anthropic_models & set(DEPRECATED_MODELS)
