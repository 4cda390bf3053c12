"""Building the LLM layer from settings: real providers where keys are set, the simulator
otherwise (``LLM_SIMULATOR_URL``), nothing for a provider with neither."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.ai.llm.catalog import Catalog
from shared.ai.llm.providers.base import Endpoint
from shared.ai.llm.router import Router
from shared.core.errors import ConfigError

if TYPE_CHECKING:
    from shared.ai.llm.providers.base import Provider
    from shared.core.config import Settings

SIMULATED_KEY = "simulator"


def build_providers(settings: Settings) -> dict[str, Provider]:
    """The providers the settings enable: each real API whose key is set, else the local simulator,
    which speaks every provider's wire format."""
    from shared.ai.llm.providers.anthropic_provider import AnthropicProvider
    from shared.ai.llm.providers.gemini_provider import GeminiProvider
    from shared.ai.llm.providers.openai_provider import OpenAIProvider

    sim = settings.llm_simulator_url.rstrip("/") if settings.llm_simulator_url else None
    providers: dict[str, Provider] = {}
    if settings.openai_api_key:
        providers["openai"] = OpenAIProvider(Endpoint(settings.openai_api_key))
    elif sim:
        providers["openai"] = OpenAIProvider(Endpoint(SIMULATED_KEY, f"{sim}/v1", simulated=True))
    if settings.anthropic_api_key:
        providers["anthropic"] = AnthropicProvider(Endpoint(settings.anthropic_api_key))
    elif sim:
        providers["anthropic"] = AnthropicProvider(Endpoint(SIMULATED_KEY, sim, simulated=True))
    if settings.gemini_use_vertex or settings.gemini_api_key or sim:
        providers["gemini"] = GeminiProvider(
            gemini_endpoint(settings),
            vertex_project=settings.project_id,
            vertex_location=settings.region,
        )
    return providers


def gemini_endpoint(settings: Settings) -> Endpoint | None:
    """Where Google models are called: None for Vertex AI (the function's identity), the Gemini
    API with a key, else the simulator.

    Raises:
        ConfigError: none of the three is configured.
    """
    if settings.gemini_use_vertex:
        return None
    if settings.gemini_api_key:
        return Endpoint(settings.gemini_api_key)
    if settings.llm_simulator_url:
        return Endpoint(SIMULATED_KEY, settings.llm_simulator_url.rstrip("/"), simulated=True)
    raise ConfigError("Google models need GEMINI_USE_VERTEX, GEMINI_API_KEY or LLM_SIMULATOR_URL")


def build_router(settings: Settings, catalog: Catalog | None = None) -> Router:
    """A router over :func:`build_providers` and the catalogue."""
    return Router(build_providers(settings), catalog or Catalog.load())
