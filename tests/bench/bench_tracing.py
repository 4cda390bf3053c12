"""Benchmark: what tracing costs (issue 17). Each figure from fresh interpreters (median of N):
importing ``shared.core.tracing`` (OpenTelemetry not loaded), the first span (OpenTelemetry's API and
SDK imported, the provider built: a cold start's one-off cost), the same with the Cloud Trace
exporter loaded (as deployed), then the per-span cost in a warm process and the bytes a log line
gains inside a span.

    .venv/bin/python -m tests.bench.bench_tracing [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

_COLD = """
import sys, time
t0 = time.perf_counter()
from shared.core import tracing
t1 = time.perf_counter()
with tracing.span("first", incoming={}):
    pass
if sys.argv[1] == "exporter":  # deployed, this import runs on the export thread instead
    from opentelemetry.exporter.cloud_trace import CloudTraceSpanExporter
t2 = time.perf_counter()
print(f"{(t1 - t0) * 1000:.2f} {(t2 - t1) * 1000:.2f}")
"""


def _cold(runs: int, exporter: bool) -> tuple[float, float]:
    env = {**os.environ, "TRACE_EXPORTER": ""}
    imports, first = [], []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _COLD, "exporter" if exporter else "none"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout.split()
        imports.append(float(out[0]))
        first.append(float(out[1]))
    return statistics.median(imports), statistics.median(first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    plain_import, first_span = _cold(args.runs, exporter=False)
    _, first_span_exported = _cold(args.runs, exporter=True)

    import logging

    from shared.core import tracing
    from shared.core.log import CloudLoggingFormatter

    incoming = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    with tracing.span("warm", incoming=incoming):
        pass
    n = 20_000
    start = time.perf_counter()
    for _ in range(n):
        with tracing.span("s", incoming=incoming, kind="server"):
            pass
    per_span_us = (time.perf_counter() - start) / n * 1e6
    record = logging.LogRecord("bench", logging.INFO, __file__, 1, "llm call", None, None)
    record.fields = {"metric": "llm_call", "model": "gpt-4o-mini", "cost_usd": 0.0001}
    formatter = CloudLoggingFormatter()
    bare = len(formatter.format(record))
    with tracing.span("s", incoming=incoming):
        traced = len(formatter.format(record))
        header = tracing.carrier()
    print(
        f"import shared.core.tracing (no OpenTelemetry): {plain_import:.2f} ms (median of {args.runs})"
    )
    print(f"first span, OpenTelemetry API + SDK loaded: {first_span:.1f} ms")
    print(
        f"first span + the Cloud Trace exporter's import (deployed): {first_span_exported:.1f} ms"
    )
    print(f"a span in a warm process: {per_span_us:.1f} µs")
    print(f"a log line inside a span: +{traced - bare} bytes ({json.dumps(header)})")


if __name__ == "__main__":
    main()
