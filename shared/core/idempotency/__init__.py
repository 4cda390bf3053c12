"""At-most-once execution keyed on event ids, task names or Idempotency-Key headers."""

from shared.core.idempotency.store import IdempotencyStore, Replayed, Started, payload_hash

__all__ = ["IdempotencyStore", "Replayed", "Started", "payload_hash"]
