"""Security events: logged as structured WARNING entries and counted.

In the cloud a log-based metric counts entries carrying ``security_event`` and an alert policy
fires on it (terraform/modules/monitoring). In process, :data:`SECURITY_EVENTS` counts them by
kind so tests and the health endpoint can see them.
"""

from __future__ import annotations

import threading
from collections import Counter

from shared.core.log import get_logger

_log = get_logger("security")
_lock = threading.Lock()
SECURITY_EVENTS: Counter[str] = Counter()

CROSS_TENANT = "cross_tenant_access"


def record_security_event(kind: str, message: str, **fields: str | None) -> None:
    """Log and count one security event of ``kind`` (for example ``cross_tenant_access``)."""
    with _lock:
        SECURITY_EVENTS[kind] += 1
    _log.warning(
        message,
        extra={"fields": {"security_event": kind, **{k: v for k, v in fields.items() if v}}},
    )
