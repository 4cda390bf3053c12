"""The declarations Terraform and the local stack share: topics, subscriptions, queues, routes.

``terraform/topology.json`` and ``terraform/routes.json`` are read by Terraform
(``jsondecode(file(...))``) and here, so the emulators get exactly what the cloud gets.
"""

from __future__ import annotations

import ast
import contextlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.procs import REPO

TOPOLOGY = REPO / "terraform/topology.json"
ROUTES = REPO / "terraform/routes.json"
FUNCTIONS = REPO / "functions"


def load_topology() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(TOPOLOGY.read_text())
    return data


def load_routes() -> list[dict[str, str]]:
    routes: list[dict[str, str]] = json.loads(ROUTES.read_text())["routes"]
    return routes


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # folder under functions/
    entry_point: str  # the decorated function in main.py
    kind: str  # "http" or "cloud_event"

    @property
    def source(self) -> Path:
        return FUNCTIONS / self.name / "main.py"


def discover_functions() -> list[FunctionSpec]:
    """Every ``functions/<name>/main.py`` and its one decorated entry point."""
    specs = []
    for main in sorted(FUNCTIONS.glob("*/main.py")):
        tree = ast.parse(main.read_text())
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef):
                continue
            for dec in node.decorator_list:
                if (
                    isinstance(dec, ast.Attribute)
                    and isinstance(dec.value, ast.Name)
                    and dec.value.id == "functions_framework"
                    and dec.attr in ("http", "cloud_event")
                ):
                    specs.append(FunctionSpec(main.parent.name, node.name, dec.attr))
    return specs


def route_regex(path: str) -> re.Pattern[str]:
    from shared.web.http import template_regex

    return template_regex(path)


def apply_to_emulators(
    project: str, function_urls: dict[str, str], region: str = "us-central1"
) -> None:
    """Create topics, subscriptions (push to the local functions) and queues on the emulators.

    Expects ``PUBSUB_EMULATOR_HOST`` and ``CLOUD_TASKS_EMULATOR_HOST`` in the environment.
    """
    import os

    import grpc
    from google.api_core import exceptions as gexc
    from google.cloud import pubsub_v1, tasks_v2  # type: ignore[attr-defined]
    from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport
    from google.protobuf import duration_pb2

    topo = load_topology()
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    for topic in topo["topics"]:
        with contextlib.suppress(gexc.AlreadyExists):
            publisher.create_topic(name=publisher.topic_path(project, topic["name"]))
    for sub in topo["subscriptions"]:
        request: dict[str, Any] = {
            "name": subscriber.subscription_path(project, sub["name"]),
            "topic": publisher.topic_path(project, sub["topic"]),
            "ack_deadline_seconds": sub.get("ack_deadline_seconds", 10),
            "enable_message_ordering": sub.get("enable_message_ordering", False),
            "filter": sub.get("filter", ""),
        }
        # Without that function running (emulator-only test sessions) it stays a pull subscription.
        if sub.get("push_function") in function_urls:
            request["push_config"] = {"push_endpoint": function_urls[sub["push_function"]] + "/"}
        if "dead_letter_topic" in sub:
            request["dead_letter_policy"] = {
                "dead_letter_topic": publisher.topic_path(project, sub["dead_letter_topic"]),
                "max_delivery_attempts": sub["max_delivery_attempts"],
            }
        if "min_backoff_seconds" in sub:
            request["retry_policy"] = {
                "minimum_backoff": duration_pb2.Duration(seconds=sub["min_backoff_seconds"]),
                "maximum_backoff": duration_pb2.Duration(seconds=sub["max_backoff_seconds"]),
            }
        try:
            subscriber.create_subscription(request=request)
        except gexc.AlreadyExists:
            subscriber.delete_subscription(subscription=request["name"])
            subscriber.create_subscription(request=request)
    channel = grpc.insecure_channel(os.environ["CLOUD_TASKS_EMULATOR_HOST"])
    tasks = tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))
    parent = f"projects/{project}/locations/{region}"
    existing = {q.name for q in tasks.list_queues(parent=parent)}
    for queue in topo["queues"]:
        name = f"{parent}/queues/{queue['name']}"
        if name not in existing:
            tasks.create_queue(parent=parent, queue=tasks_v2.Queue(name=name))
    publisher.transport.close()
    subscriber.close()


BIGQUERY_TABLES = REPO / "terraform/bigquery_tables.json"


def create_bigquery_tables(project: str, dataset: str = "crm_ai") -> None:
    """The batch tables Terraform declares, on the BigQuery emulator (``BIGQUERY_EMULATOR_HOST``)."""
    import os

    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    host = os.environ.get("BIGQUERY_EMULATOR_HOST")
    if not host:
        return
    client = bigquery.Client(
        project=project,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options=ClientOptions(api_endpoint=f"http://{host}"),
    )
    client.create_dataset(dataset, exists_ok=True)
    for name, spec in json.loads(BIGQUERY_TABLES.read_text())["tables"].items():
        schema = [
            bigquery.SchemaField(f["name"], f["type"], mode=f["mode"]) for f in spec["schema"]
        ]
        client.create_table(
            bigquery.Table(f"{project}.{dataset}.{name}", schema=schema), exists_ok=True
        )
    client.close()  # type: ignore[no-untyped-call]
