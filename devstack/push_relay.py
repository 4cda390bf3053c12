"""Pub/Sub push delivery, relayed to the local functions (``POST /push/{subscription}`` on
devstack/identity.py), with the parts of Google's behaviour the emulator lacks.

The emulator pushes each message and takes the relay's status as the function's. Three things
differ from Pub/Sub and Cloud Run, measured on the emulator this project pins:

- **Retry policy.** With a subscription's ``retry_policy`` set, the emulator stops pushing a
  message after two or three failed attempts, and never delivers it again nor dead-letters it
  (20 messages, endpoint failing for 10 s, watched for 400 s: none redelivered). Without one it
  pushes again about every second and dead-letters after ``max_delivery_attempts``.
  ``devstack/topology.py`` therefore leaves the policy out locally and the relay keeps it: a
  failed attempt's answer is held for the policy's backoff (minimum x 2^(failures - 1), up to
  the maximum), within the push's ack deadline, before the emulator hears of it.
- **A crashed instance.** Cloud Run holds requests while it replaces a crashed instance; locally
  nothing listens on the port until the supervisor restarts the process. The relay holds the
  push and tries again until the ack deadline, rather than fail it at once.
- **Filters.** The emulator stores a subscription's ``filter`` but delivers every message; the
  relay acknowledges one its filter leaves out without relaying it, as Pub/Sub does
  (``devstack/pubsub_filter.py``). Push subscriptions whose filters exclude each other get one
  shared subscription on the emulator (``shared_pushes`` in ``devstack/topology.py``); the relay
  hands each of its messages to the member whose filter matches, under that member's ack
  deadline and retry policy.
- **Identity.** The push carries the push service account's OIDC token for the function's URL,
  as the subscription's ``oidc_token`` push config has Pub/Sub do.
"""

from __future__ import annotations

import asyncio
import collections
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from starlette.responses import JSONResponse, Response

from devstack.pubsub_filter import compile_filter

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request

FORWARDED_HEADERS = ("content-type", "user-agent", "x-goog-pubsub-message-id")
# How often a held push looks for the restarted instance.
RECONNECT_INTERVAL_S = 0.25
# The relay answers this long before the emulator's ack deadline would expire the push.
DEADLINE_MARGIN_S = 0.5
# Pub/Sub acknowledges a push with any of these (https://cloud.google.com/pubsub/docs/push).
SUCCESS = frozenset({102, 200, 201, 202, 204})


@dataclass(frozen=True)
class RetryPolicy:
    minimum_s: float
    maximum_s: float

    def backoff(self, failures: int) -> float:
        """The wait before the next attempt, after ``failures`` failed ones (>= 1)."""
        return float(min(self.minimum_s * 2 ** (failures - 1), self.maximum_s))

    @classmethod
    def of(cls, subscription: dict[str, Any]) -> RetryPolicy | None:
        if "min_backoff_seconds" not in subscription:
            return None
        return cls(
            float(subscription["min_backoff_seconds"]),
            float(subscription["max_backoff_seconds"]),
        )


class FailureCounts:
    """Failed attempts per message id, forgotten on success; the oldest go first past ``limit``."""

    def __init__(self, limit: int = 100_000) -> None:
        self._limit = limit
        self._counts: collections.OrderedDict[str, int] = collections.OrderedDict()

    def failed(self, message_id: str) -> int:
        count = self._counts.pop(message_id, 0) + 1
        self._counts[message_id] = count
        while len(self._counts) > self._limit:
            self._counts.popitem(last=False)
        return count

    def succeeded(self, message_id: str) -> None:
        self._counts.pop(message_id, None)


def push_endpoint(
    subscriptions: dict[str, dict[str, Any]],
    function_urls: dict[str, str],
    client: httpx.AsyncClient,
    token_for: Callable[[str], str],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Callable[[Request], Awaitable[Response]]:
    """The ``POST /push/{subscription}`` handler. ``token_for(audience)`` mints the push
    identity's ID token."""
    failures = FailureCounts()
    every = [m for sub in subscriptions.values() for m in _members(sub)]
    filters = {sub["name"]: compile_filter(sub.get("filter", "")) for sub in every}

    def receiver(sub: dict[str, Any], attributes: dict[str, str]) -> dict[str, Any] | None:
        """The subscription that takes the message: ``sub``, or the member of a shared one
        whose filter matches; None when its filter leaves the message out."""
        return next((m for m in _members(sub) if filters[m["name"]](attributes)), None)

    async def push(request: Request) -> Response:
        shared = subscriptions.get(request.path_params["subscription"])
        if shared is None or any(m["push_function"] not in function_urls for m in _members(shared)):
            return JSONResponse({"error": "no such push subscription"}, status_code=404)
        clock = asyncio.get_running_loop().time
        body = await request.body()
        message = _message(body)
        sub = receiver(shared, message.get("attributes") or {})
        if sub is None:
            return Response(status_code=204)  # acknowledged unseen, as Pub/Sub does
        deadline = clock() + float(sub.get("ack_deadline_seconds", 10)) - DEADLINE_MARGIN_S
        target = function_urls[sub["push_function"]]
        headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARDED_HEADERS}
        headers["Authorization"] = f"Bearer {token_for(target)}"
        status, content = await _deliver(
            client, target + sub.get("push_path", "/"), body, headers, deadline, sleep
        )
        message_id = str(message.get("messageId", ""))
        if status in SUCCESS:
            failures.succeeded(message_id)
            return Response(content, status_code=status)
        policy = RetryPolicy.of(sub)
        if policy is not None:
            failed = failures.failed(message_id) if message_id else 1
            wait = min(policy.backoff(failed), deadline - clock())
            if wait > 0:
                await sleep(wait)
        return Response(content, status_code=status)

    return push


def _members(sub: dict[str, Any]) -> list[dict[str, Any]]:
    """The subscriptions a push to ``sub`` serves: a shared one's members, or itself."""
    members: list[dict[str, Any]] = sub.get("members", [sub])
    return members


async def _deliver(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: dict[str, str],
    deadline: float,
    sleep: Callable[[float], Awaitable[None]],
) -> tuple[int, bytes]:
    """POST the push to ``url`` by ``deadline`` (the loop's clock): the function's status and
    body, or 503 when it failed or no instance came up in time."""
    clock = asyncio.get_running_loop().time
    while True:
        try:
            answer = await client.post(
                url,
                content=body,
                headers=headers,
                timeout=max(deadline - clock(), DEADLINE_MARGIN_S),
            )
        except httpx.ConnectError as exc:
            if deadline - clock() > RECONNECT_INTERVAL_S:
                await sleep(RECONNECT_INTERVAL_S)  # the instance is being replaced
                continue
            return 503, f"no instance of {url} came up: {exc}".encode()
        except httpx.HTTPError as exc:
            # Too slow, or the instance died with the push in hand: a failed delivery.
            return 503, f"push to {url} failed: {exc!r}".encode()
        return answer.status_code, answer.content


def _message(body: bytes) -> dict[str, Any]:
    """The ``message`` of a push body ({} when it is not one: the function judges it)."""
    try:
        message = json.loads(body).get("message")
    except (ValueError, AttributeError):
        return {}
    return message if isinstance(message, dict) else {}
