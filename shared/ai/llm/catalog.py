"""The model catalogue, the tiers that alias it, and the versioned price table.

``shared/ai/llm/models.json`` ships with every function bundle; ``LLM_CATALOG_FILE`` may point at
another file of the same shape. Prices are USD per million tokens with an effective date, so a
call is always costed at the price in force on its day.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from shared.ai.llm.types import Usage  # noqa: TC001 - kept at run time for clarity of cost()
from shared.core.errors import ConfigError, InvalidInput

DEFAULT_FILE = Path(__file__).with_name("models.json")
Strategy = Literal["ordered", "cost", "latency"]


@dataclass(frozen=True)
class ModelInfo:
    """One model: its provider, context window, output limit and what it supports."""

    id: str
    provider: str
    context_window: int
    max_output: int
    tools: bool
    json: bool


@dataclass(frozen=True)
class Price:
    """A model's USD prices per million tokens from ``effective_from`` on (prices change; usage is
    costed at the day's price)."""

    effective_from: date
    input: float
    cached_input: float
    output: float
    batch: float = 1.0  # factor on every price for work sent through the batch interface


@dataclass(frozen=True)
class Tier:
    """A named group of models (fast, balanced, best) and how the router picks among them."""

    name: str
    strategy: Strategy
    models: tuple[str, ...]


class Catalog:
    """The models, tiers and dated prices of ``models.json``: callers name a tier, never a model, so
    a model change is a data change."""

    def __init__(self, data: dict[str, Any]) -> None:
        try:
            self.models = {k: ModelInfo(id=k, **v) for k, v in data["models"].items()}
            self.tiers = {
                k: Tier(k, v.get("strategy", "ordered"), tuple(v["models"]))
                for k, v in data["tiers"].items()
            }
            prices: dict[str, list[Price]] = {}
            for row in data["prices"]:
                prices.setdefault(row["model"], []).append(
                    Price(
                        date.fromisoformat(row["effective_from"]),
                        row["input"],
                        row["cached_input"],
                        row["output"],
                        row.get("batch", 1.0),
                    )
                )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"model catalogue is malformed: {exc}") from exc
        self.prices = {k: sorted(v, key=lambda p: p.effective_from) for k, v in prices.items()}
        for tier in self.tiers.values():
            unknown = [m for m in tier.models if m not in self.models]
            if unknown:
                raise ConfigError(f"tier {tier.name} names unknown models: {', '.join(unknown)}")
        unpriced = [m for m in self.models if m not in self.prices]
        if unpriced:
            raise ConfigError(f"models without a price: {', '.join(unpriced)}")

    @classmethod
    def load(cls, path: str | Path | None = None) -> Catalog:
        """The catalogue in ``path`` (the packaged ``models.json`` by default)."""
        return cls(json.loads(Path(path or DEFAULT_FILE).read_text()))

    def tier(self, name: str) -> Tier:
        """The tier called ``name``; an unknown name is the caller's error (400 naming ``tier``)."""
        if name not in self.tiers:
            raise InvalidInput(
                f"unknown model tier {name!r}; known: {', '.join(self.tiers)}", field="tier"
            )
        return self.tiers[name]

    def price(self, model: str, on: date) -> Price:
        """The price of ``model`` in force on day ``on``."""
        history = self.prices[model]
        current = history[0]
        for price in history:
            if price.effective_from <= on:
                current = price
        return current

    def cost(self, model: str, usage: Usage, on: date, *, batch: bool = False) -> float:
        """USD for ``usage`` on ``model`` at the price in force on ``on``; cached input tokens
        (a subset of the input tokens) are billed at the cached price; ``batch`` applies the
        batch-interface factor."""
        price = self.price(model, on)
        fresh = max(usage.input_tokens - usage.cached_input_tokens, 0)
        usd = (
            fresh * price.input
            + usage.cached_input_tokens * price.cached_input
            + usage.output_tokens * price.output
        ) * (price.batch if batch else 1.0)
        return round(usd / 1_000_000, 9)
