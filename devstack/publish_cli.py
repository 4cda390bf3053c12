"""``scripts/publish``: publish one CRM event (JSON on stdin or in a file) to the local stack.

echo '{"schema_version": "1", ...}' | ./scripts/publish
./scripts/publish event.json --topic crm-events
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from devstack.procs import REPO
from shared.core.config import TOPIC_CRM_EVENTS


def _running_stack() -> dict[str, str]:
    """The environment scripts/up wrote for the stack it is running, if any."""
    path = REPO / ".local/stack.env"
    if not path.exists():
        return {}
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("file", nargs="?", help="a JSON file (default: standard input)")
    parser.add_argument("--topic", default=TOPIC_CRM_EVENTS)
    running = _running_stack()
    parser.add_argument("--project", default=running.get("GOOGLE_CLOUD_PROJECT", "crm-ai-local"))
    parser.add_argument(
        "--emulator",
        default=running.get("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085"),
        help="Pub/Sub emulator host:port (default: the one scripts/up started)",
    )
    args = parser.parse_args()
    raw = open(args.file, "rb").read() if args.file else sys.stdin.buffer.read()  # noqa: SIM115
    os.environ["PUBSUB_EMULATOR_HOST"] = args.emulator
    from shared.core.messaging.pubsub import PubSubPublisher, ordering_key

    attributes: dict[str, str] = {}
    key = ""
    try:
        obj = json.loads(raw)
        if isinstance(obj, dict) and isinstance(obj.get("tenant_id"), str):
            attributes["tenant_id"] = obj["tenant_id"]
            key = ordering_key(obj["tenant_id"], str(obj.get("entity_id", "")))
    except json.JSONDecodeError:
        pass  # published as is: the function will dead-letter it with the reason
    message_id = PubSubPublisher(args.project).publish(
        args.topic, raw, ordering_key=key, attributes=attributes
    )
    print(f"published message {message_id} to {args.topic}")


if __name__ == "__main__":
    main()
