"""W3C trace context carried across hops (shared/core/tracing.py): continued from a header or a
message attribute, or from Google's X-Cloud-Trace-Context; started when there is none; passed on
by publishers and task queues."""

from __future__ import annotations

from collections.abc import Iterator

from shared.core import tracing
from shared.core.messaging.pubsub import MemoryPublisher

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE}-00f067aa0ba902b7-01"


def test_a_span_continues_the_callers_traceparent() -> None:
    with tracing.span("hop", incoming={"Traceparent": PARENT}, kind="server"):
        trace_id, span_id = tracing.current_ids()  # type: ignore[misc]
        out = tracing.carrier()["traceparent"]
    assert trace_id == TRACE and span_id != "00f067aa0ba902b7"
    assert out == f"00-{TRACE}-{span_id}-01"


def test_google_cloud_trace_header_is_understood() -> None:
    header = {"X-Cloud-Trace-Context": f"{TRACE}/12345;o=1"}
    with tracing.span("hop", incoming=header):
        assert tracing.current_ids()[0] == TRACE  # type: ignore[index]


def test_no_or_a_malformed_header_starts_a_new_trace_not_the_current_ones_child() -> None:
    with tracing.span("outer", incoming={"traceparent": PARENT}):
        for junk in ({}, {"traceparent": "00-zz-00-01"}, {"x-cloud-trace-context": "nope/1"}):
            with tracing.span("new", incoming=junk):
                trace_id = tracing.current_ids()[0]  # type: ignore[index]
            assert trace_id != TRACE and len(trace_id) == 32


def test_a_child_span_keeps_the_trace() -> None:
    with tracing.span("outer", incoming={"traceparent": PARENT}), tracing.span("inner"):
        assert tracing.current_ids()[0] == TRACE  # type: ignore[index]
    assert tracing.current_ids() is None
    assert tracing.carrier() == {}


def test_published_messages_carry_the_publishers_trace() -> None:
    publisher = MemoryPublisher()
    publisher.publish("t", {"a": 1}, attributes={"tenant_id": "acme"})
    with tracing.span("hop", incoming={"traceparent": PARENT}):
        publisher.publish("t", {"a": 2}, attributes={"tenant_id": "acme"})
    untraced, traced = publisher.on("t")
    assert untraced.attributes == {"tenant_id": "acme"}
    assert traced.attributes["tenant_id"] == "acme"
    assert traced.attributes["traceparent"].startswith(f"00-{TRACE}-")


def test_a_stream_keeps_the_trace_it_was_created_in() -> None:
    def stream() -> Iterator[str | None]:
        with tracing.span("inside the stream"):
            ids = tracing.current_ids()
            yield ids[0] if ids else None
        yield (tracing.current_ids() or (None,))[0]

    with tracing.span("request", incoming={"traceparent": PARENT}):
        carried = tracing.carry(stream())
    assert tracing.current_ids() is None  # the request's span has closed
    assert list(carried) == [TRACE, TRACE]
    assert tracing.current_ids() is None  # and nothing leaked into the consumer's context


def test_a_stream_dropped_midway_ends_its_spans_in_their_own_context() -> None:
    def stream() -> Iterator[int]:
        with tracing.span("inside"):
            yield 1
            yield 2

    with tracing.span("request", incoming={"traceparent": PARENT}):
        carried = tracing.carry(stream())
    assert next(carried) == 1
    carried.close()  # the client went away
    assert tracing.current_ids() is None
