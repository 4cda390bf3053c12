"""One trace per request across every hop (issue 17), with OpenTelemetry.

A hop continues the caller's W3C ``traceparent`` (an HTTP header; a Pub/Sub message attribute; a
Cloud Tasks task header) or starts a trace, and passes its own on: :func:`carrier` gives the
``traceparent`` that publishers and task queues attach. Every log line written inside a span
carries ``logging.googleapis.com/trace`` and ``logging.googleapis.com/spanId``
(``shared/core/log.py``), so Cloud Logging and ``./scripts/trace ID`` put a request's lines together.

Spans go to Cloud Trace when ``TRACE_EXPORTER=cloud_trace`` (Terraform sets it on deployed
units), and to any OTLP backend when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; locally and in tests
nothing is exported, the ids are in the logs. OpenTelemetry is
imported on the first span, never at module import (cold starts): a process that never opens a
span never loads it, and :func:`carrier` and :func:`current_ids` answer empty until then.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import re
import sys
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Generator, Iterable, Iterator

T = TypeVar("T")
TRACEPARENT = "traceparent"
ENV_TRACE_EXPORTER = "TRACE_EXPORTER"
_CLOUD_HEADER = re.compile(r"^([0-9a-fA-F]{32})/(\d{1,20})(?:;o=([01]))?$")
_lock = threading.Lock()
_tracer: Any = None


def _get_tracer() -> Any:
    global _tracer
    with _lock:
        if _tracer is None:
            from opentelemetry import trace
            from opentelemetry.sdk.trace import TracerProvider

            provider = TracerProvider()
            if os.environ.get(ENV_TRACE_EXPORTER) == "cloud_trace":
                from opentelemetry.sdk.trace.export import BatchSpanProcessor

                provider.add_span_processor(BatchSpanProcessor(_deferred_cloud_trace()))
            if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
                # Any OTLP backend as well (a collector, Langfuse, LangSmith), configured by
                # OpenTelemetry's own OTEL_EXPORTER_OTLP_* variables.
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
                from opentelemetry.sdk.trace.export import BatchSpanProcessor

                provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            trace.set_tracer_provider(provider)
            _tracer = trace.get_tracer("crm-ai")
        return _tracer


def _deferred_cloud_trace() -> Any:
    """A span exporter that builds Cloud Trace's on its first export, on the batch processor's
    own thread: importing it (gRPC, the Trace client) takes about 260 ms, which would otherwise
    land on a cold instance's first request."""
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class Deferred(SpanExporter):
        def __init__(self) -> None:
            self._real: Any = None

        def export(self, spans: Any) -> SpanExportResult:
            if self._real is None:
                from google.auth.exceptions import DefaultCredentialsError
                from opentelemetry.exporter.cloud_trace import (  # type: ignore[import-not-found,unused-ignore]
                    CloudTraceSpanExporter,
                )

                try:
                    self._real = CloudTraceSpanExporter()  # type: ignore[no-untyped-call,unused-ignore]
                except DefaultCredentialsError as exc:
                    # Telemetry only: the request was served; the spans are dropped, said once.
                    logging.getLogger("tracing").warning("spans not exported: %s", exc)
                    self._real = _Dropped()
            result: SpanExportResult = self._real.export(spans)
            return result

        def shutdown(self) -> None:
            if self._real is not None:
                self._real.shutdown()

    class _Dropped:
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.FAILURE

        def shutdown(self) -> None:
            return None

    return Deferred()


def _incoming(carrier: Mapping[str, Any] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """``traceparent`` from a carrier, or one made from Google's ``X-Cloud-Trace-Context``
    (``TRACE/SPAN;o=1``, the span in decimal) that Cloud Run's front end adds."""
    pairs = carrier.items() if isinstance(carrier, Mapping) else carrier
    lowered = {str(k).lower(): v for k, v in pairs if isinstance(v, str)}
    if lowered.get(TRACEPARENT):
        return {TRACEPARENT: lowered[TRACEPARENT]}
    found = _CLOUD_HEADER.match(lowered.get("x-cloud-trace-context", "").strip())
    if found and 0 < int(found.group(2)) < 2**64:
        flags = "01" if found.group(3) != "0" else "00"
        return {TRACEPARENT: f"00-{found.group(1).lower()}-{int(found.group(2)):016x}-{flags}"}
    return {}


_KINDS = ("internal", "server", "client", "producer", "consumer")


@contextlib.contextmanager
def span(
    name: str,
    *,
    incoming: Mapping[str, Any] | Iterable[tuple[str, str]] | None = None,
    kind: str = "internal",
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[Any]:
    """A span named ``name``, current inside the block. ``incoming`` (headers or message
    attributes) continues the caller's trace when it carries one and starts a new trace when it
    does not; without it the span is a child of the current one. An exception is recorded on the
    span and raised again."""
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}")
    tracer = _get_tracer()
    context = None
    if incoming is not None:
        # An empty carrier extracts to an empty context: a new root, not the current span's child.
        context = TraceContextTextMapPropagator().extract(_incoming(incoming))
    with tracer.start_as_current_span(
        name,
        context=context,
        kind=getattr(trace.SpanKind, kind.upper()),
        attributes=dict(attributes or {}),
    ) as current:
        yield current


def carry(items: Iterator[T]) -> Generator[T, None, None]:
    """``items`` (a stream's generator), each step run in the context of this call: a response
    streamed after its request's span closed keeps that trace, span parent and log fields."""
    context = contextvars.copy_context()

    def run() -> Generator[T, None, None]:
        try:
            while True:
                try:
                    item = context.run(next, items)
                except StopIteration:
                    return
                yield item
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                context.run(close)  # a client gone mid-stream: its spans end in their context

    return run()


def carrier() -> dict[str, str]:
    """The current span as ``{"traceparent": ...}`` to attach to an outgoing message, task or
    request; ``{}`` outside a span."""
    if "opentelemetry.trace" not in sys.modules:
        return {}
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    out: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(out)
    return out


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) in hex of the current span, or None outside one."""
    if "opentelemetry.trace" not in sys.modules:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


def annotate(attributes: Mapping[str, Any]) -> None:
    """Set the attributes that are not None on the current span (nothing outside one)."""
    if "opentelemetry.trace" not in sys.modules:
        return
    from opentelemetry import trace

    trace.get_current_span().set_attributes({k: v for k, v in attributes.items() if v is not None})
