"""OpenTelemetry's GenAI client metrics for every LLM call (issue 17).

``gen_ai.client.operation.duration`` (seconds) and ``gen_ai.client.token.usage`` (tokens, with
``gen_ai.token.type`` input or output), with the semantic conventions' attributes
(``gen_ai.operation.name``, ``gen_ai.provider.name``, ``gen_ai.request.model``,
``gen_ai.response.model``, ``error.type``), plus ``crm_ai.llm.cost`` (USD) by feature: so an
OTLP backend (a collector, Cloud Monitoring through one, Langfuse, LangSmith) shows calls, tokens
and cost with no mapping of ours. They are exported when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set
(spans too, :mod:`shared.core.tracing`); the same figures are always in the log-based metrics
(``terraform/metrics.json``). OpenTelemetry's metrics SDK loads at the first call recorded, and
only when the metrics have somewhere to go.
"""

from __future__ import annotations

import os
import threading
from typing import Any

ENV_OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
_lock = threading.Lock()
_instruments: tuple[Any, Any, Any] | None = None
_extra_reader: Any = None

# OpenTelemetry's GenAI names for our providers (gen_ai.provider.name).
PROVIDER_NAMES = {"openai": "openai", "anthropic": "anthropic", "google": "gcp.gemini"}


def use_reader(reader: Any) -> None:
    """Attach ``reader`` (an OpenTelemetry metric reader) from now on: tests read what was
    recorded through an in-memory one."""
    global _instruments, _extra_reader
    with _lock:
        _extra_reader, _instruments = reader, None


def _get() -> tuple[Any, Any, Any]:
    global _instruments
    with _lock:
        if _instruments is None:
            from opentelemetry.sdk.metrics import MeterProvider

            readers = [_extra_reader] if _extra_reader is not None else []
            if os.environ.get(ENV_OTLP_ENDPOINT):
                from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                    OTLPMetricExporter,
                )
                from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

                readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
            meter = MeterProvider(metric_readers=readers).get_meter("crm-ai")
            _instruments = (
                meter.create_histogram(
                    "gen_ai.client.operation.duration",
                    unit="s",
                    description="GenAI operation duration",
                ),
                meter.create_histogram(
                    "gen_ai.client.token.usage",
                    unit="{token}",
                    description="Number of input and output tokens used",
                ),
                meter.create_histogram(
                    "crm_ai.llm.cost", unit="USD", description="Cost of an LLM call"
                ),
            )
        return _instruments


def record_call(
    *,
    provider: str,
    request_model: str,
    response_model: str | None,
    seconds: float,
    input_tokens: int,
    output_tokens: int,
    cost_usd: float,
    feature: str,
    error_type: str | None = None,
) -> None:
    """Record one LLM call (a cache hit is not a provider operation: the caller skips it).
    With nowhere to send them (no OTLP endpoint, no reader) nothing is loaded or recorded: the
    metrics SDK's import (75-100 ms) is paid only where the metrics go somewhere."""
    if _extra_reader is None and not os.environ.get(ENV_OTLP_ENDPOINT):
        return
    duration, tokens, cost = _get()
    attributes: dict[str, str] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": PROVIDER_NAMES.get(provider, provider or "unknown"),
        "gen_ai.request.model": request_model,
    }
    if response_model:
        attributes["gen_ai.response.model"] = response_model
    if error_type:
        attributes["error.type"] = error_type
    duration.record(seconds, attributes)
    if not error_type:
        tokens.record(input_tokens, {**attributes, "gen_ai.token.type": "input"})
        tokens.record(output_tokens, {**attributes, "gen_ai.token.type": "output"})
    cost.record(cost_usd, {**attributes, "crm_ai.feature": feature})
