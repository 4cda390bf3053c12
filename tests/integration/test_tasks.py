"""Named Cloud Tasks enqueued by our helper reach an HTTP target through the emulator."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TYPE_CHECKING, Any

from shared.core.config import QUEUE_WORKFLOWS_INTERACTIVE, load_settings
from shared.core.messaging.tasks import CloudTasksQueue

if TYPE_CHECKING:
    from devstack.stack import Stack


def test_a_named_task_is_delivered_with_cloud_tasks_headers(emulators: Stack) -> None:
    received: list[tuple[dict[str, str], Any]] = []
    done = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(({k.lower(): v for k, v in self.headers.items()}, json.loads(body)))
            self.send_response(200)
            self.end_headers()
            done.set()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        queue = CloudTasksQueue(load_settings(emulators.env()))
        url = f"http://127.0.0.1:{server.server_port}/run"
        assert queue.enqueue(
            QUEUE_WORKFLOWS_INTERACTIVE, url, {"run_id": "r1"}, name="run-r1-slice-1"
        )
        assert done.wait(20), "the emulator did not deliver the task"
        headers, body = received[0]
        assert body == {"run_id": "r1"}
        assert headers["x-cloudtasks-queuename"].endswith(QUEUE_WORKFLOWS_INTERACTIVE)
        assert headers["x-cloudtasks-taskname"] == "run-r1-slice-1"
    finally:
        server.shutdown()
        server.server_close()
