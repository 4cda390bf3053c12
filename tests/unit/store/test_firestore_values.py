"""Documents encoded on the protobuf runtime (shared/core/store/firestore_values.py) give the
very ``Write`` messages the Firestore SDK's ``set`` and ``create`` build."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from google.api_core.datetime_helpers import DatetimeWithNanoseconds
from google.cloud.firestore_v1 import _helpers

from shared.core.store.base import Vector
from shared.core.store.firestore_values import encode_value, increment_write, set_write, to_sdk

PATH = "projects/p/databases/(default)/documents/tenants/t/runs/r1"
UTC = datetime.UTC
DOCUMENT: dict[str, Any] = {
    "status": "running",
    "unicode": "naïve, 東京",
    "none": None,
    "yes": True,
    "no": False,
    "count": 3,
    "big": 2**62,
    "negative": -7,
    "ratio": 0.25,
    "inf": float("inf"),
    "raw": b"\x00\xffbytes",
    "naive": datetime.datetime(2026, 12, 4, 10, 30, 1, 123456),
    "aware": datetime.datetime(2026, 12, 4, 10, 30, 1, 5, tzinfo=UTC),
    "offset": datetime.datetime(
        2026, 12, 4, 10, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=-5))
    ),
    "nanos": DatetimeWithNanoseconds(  # type: ignore[no-untyped-call]
        2026, 1, 2, 3, 4, 5, nanosecond=123456789, tzinfo=UTC
    ),
    "embedding": Vector([0.5, -1.0, 2.0]),
    "empty_map": {},
    "empty_list": [],
    "a.dotted key": {"with space": 1, "nested": {"deeper": [1, "two", None, {"x": []}]}},
    "steps": [
        {"node": "coordinator", "at": datetime.datetime(2026, 1, 1, tzinfo=UTC), "ms": 1.5},
        {"node": "lead_analysis", "agent": "lead_analysis", "tokens": (1, 2)},
    ],
}


def _sdk(data: dict[str, Any], create: bool = False) -> Any:
    build = _helpers.pbs_for_create if create else _helpers.pbs_for_set_no_merge
    (write,) = build(PATH, to_sdk(data))
    return write._pb


def test_a_set_is_the_write_the_sdk_builds() -> None:
    assert set_write(PATH, DOCUMENT)._pb == _sdk(DOCUMENT)


def test_a_create_carries_the_sdk_precondition() -> None:
    ours = set_write(PATH, DOCUMENT, exists=False)._pb
    assert ours == _sdk(DOCUMENT, create=True)
    assert ours.current_document.exists is False and ours.HasField("current_document")


@pytest.mark.parametrize(
    "value", [None, True, 0, -1, 1.0, "", b"", [], {}, [[]], {"k": {}}, (1, "x")]
)
def test_each_value_encodes_as_the_sdk_encodes_it(value: Any) -> None:
    assert encode_value(value) == _helpers.encode_value(value)._pb


def test_a_value_firestore_cannot_hold_is_refused_as_the_sdk_refuses_it() -> None:
    with pytest.raises(TypeError):
        encode_value(object())
    with pytest.raises((ValueError, OverflowError)):
        encode_value(2**64)


def test_an_increment_is_the_write_a_merge_of_increments_builds() -> None:
    from google.cloud import firestore

    deltas = {
        ("calls",): 1,
        ("by_model", "gpt-4o", "cost_usd"): 0.25,
        ("by_model", "gpt-4o", "input_tokens"): 300,
        ("weird.key", "1st"): -2,
    }
    nested: dict[str, Any] = {}
    for keys, delta in deltas.items():
        node = nested
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = firestore.Increment(delta)
    (sdk,) = _helpers.pbs_for_set_with_merge(PATH, nested, merge=True)
    assert increment_write(PATH, deltas)._pb == sdk._pb
