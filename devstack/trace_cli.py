"""``./scripts/trace TRACE_ID``: one request's hops in order, from the local stack's logs.

Every line a unit logs inside a span carries ``logging.googleapis.com/trace`` and ``spanId``
(shared/core/tracing.py, shared/core/log.py). This reads ``.local/logs/*.log`` (or ``--logs DIR``), keeps
the lines of one trace and prints them by time: when, which unit, which span, what happened. A
trace id is in every log line and in the ``traceparent`` a client sent (its second field).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from devstack.procs import REPO
from shared.core.log import SPAN_FIELD, TRACE_FIELD

_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_SHOWN = ("tenant_id", "route", "status", "event_type", "model", "outcome", "node", "run_id")


def hops(logs: Path, trace_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(time, unit, entry) of every line of ``trace_id`` under ``logs``, in time order."""
    suffix = f"/traces/{trace_id}"
    found = []
    for path in sorted(logs.glob("*.log")):
        with path.open(errors="replace") as lines:
            for line in lines:
                if trace_id not in line or not line.startswith("{"):
                    continue
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if str(entry.get(TRACE_FIELD, "")).endswith(suffix):
                    found.append((str(entry.get("time", "")), path.stem, entry))
    return sorted(found, key=lambda hop: hop[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trace_id", help="32 hex digits (the second field of a traceparent)")
    parser.add_argument("--logs", type=Path, default=REPO / ".local" / "logs")
    args = parser.parse_args(argv)
    trace_id = args.trace_id.strip().lower()
    if not _TRACE_ID.match(trace_id):
        print("a trace id is 32 hex digits", file=sys.stderr)
        return 2
    found = hops(args.logs, trace_id)
    if not found:
        print(f"no line of trace {trace_id} under {args.logs}", file=sys.stderr)
        return 1
    for when, unit, entry in found:
        extra = " ".join(f"{k}={entry[k]}" for k in _SHOWN if k in entry)
        span = entry.get(SPAN_FIELD, "")
        print(f"{when[11:23]}  {unit:<16} span {span}  {entry.get('message', '')}  {extra}")
    units = list(dict.fromkeys(unit for _, unit, _ in found))
    print(f"{len(found)} lines, {len(units)} units: {' -> '.join(units)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
