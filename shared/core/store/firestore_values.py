"""Documents as Firestore ``Write`` messages, built on the protobuf runtime directly.

The SDK encodes a document value by value through proto-plus wrappers (``_helpers.encode_value``
builds a wrapper per value and converts it to the protobuf message underneath): measured with a
sampling profiler during a workflow burst, that was 23 % of the workflow runner's CPU, whose
run and checkpoint documents hold lists of steps and actions. Here the same messages are built
with the protobuf classes the wrappers hold (``Value.pb()``), which the upb runtime constructs in
C, and wrapped once per write. The encoding is the SDK's, value for value
(``tests/unit/store/test_firestore_values.py`` compares the two); a value of any other type (a
vector, a server sentinel) is left to the SDK.
"""

from __future__ import annotations

import datetime
import functools
from typing import TYPE_CHECKING, Any

from shared.core.store.base import Vector

if TYPE_CHECKING:
    from collections.abc import Mapping


@functools.cache
def _classes() -> tuple[Any, ...]:
    from google.cloud.firestore_v1.types import common, document, write

    return (
        document.Value.pb(),
        document.MapValue.pb(),
        document.ArrayValue.pb(),
        document.Document.pb(),
        write.Write.pb(),
        common.Precondition.pb(),
        write.Write,
        common.DocumentMask.pb(),
        write.DocumentTransform.FieldTransform.pb(),
    )


def encode_value(value: Any) -> Any:
    """``value`` as a raw ``google.firestore.v1.Value`` message."""
    value_pb, map_pb, array_pb = _classes()[:3]
    kind = type(value)
    if kind is str:
        return value_pb(string_value=value)
    if value is None:
        return value_pb(null_value=0)
    if kind is bool:
        return value_pb(boolean_value=value)
    if kind is int:
        return value_pb(integer_value=value)
    if kind is float:
        return value_pb(double_value=value)
    if kind is dict:
        return value_pb(map_value=map_pb(fields=encode_fields(value)))
    if kind is list or kind is tuple:
        return value_pb(array_value=array_pb(values=[encode_value(v) for v in value]))
    if kind is datetime.datetime:
        from google.cloud._helpers import _datetime_to_pb_timestamp

        return value_pb(timestamp_value=_datetime_to_pb_timestamp(value))  # type: ignore[no-untyped-call]
    if kind is bytes:
        return value_pb(bytes_value=value)
    return _sdk_value(value)


def encode_fields(data: dict[str, Any]) -> dict[str, Any]:
    """A document's (or map's) fields as raw ``Value`` messages by name."""
    return {key: encode_value(value) for key, value in data.items()}


def _sdk_value(value: Any) -> Any:
    from google.cloud.firestore_v1 import _helpers

    if isinstance(value, Vector):
        from google.cloud.firestore_v1.vector import Vector as FirestoreVector

        value = FirestoreVector(list(value))
    return _helpers.encode_value(value)._pb


def set_write(document_path: str, data: dict[str, Any], exists: bool | None = None) -> Any:
    """The ``Write`` (proto-plus, around the raw message) replacing the document at
    ``document_path`` (its full resource name) with ``data``; ``exists=False`` makes it a create,
    as ``DocumentReference.create`` sends it."""
    document_pb, write_pb, precondition_pb, write_type = _classes()[3:7]
    raw = write_pb(update=document_pb(name=document_path, fields=encode_fields(data)))
    if exists is not None:
        raw.current_document.CopyFrom(precondition_pb(exists=exists))
    return write_type.wrap(raw)


def increment_write(document_path: str, deltas: Mapping[tuple[str, ...], float]) -> Any:
    """The ``Write`` adding each delta to the field at its key path (a missing field counts
    from 0, a missing document is created), leaving the other fields as they are: what the
    SDK's ``set(..., merge=True)`` sends for a document of ``Increment`` sentinels."""
    from google.cloud.firestore_v1.field_path import FieldPath

    document_pb, write_pb, _, write_type, mask_pb, transform_pb = _classes()[3:]
    transforms = [
        transform_pb(field_path=FieldPath(*keys).to_api_repr(), increment=encode_value(delta))
        for keys, delta in sorted(deltas.items())
    ]
    raw = write_pb(
        update=document_pb(name=document_path), update_mask=mask_pb(), update_transforms=transforms
    )
    return write_type.wrap(raw)
