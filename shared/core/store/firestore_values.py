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
from typing import TYPE_CHECKING, Any, NamedTuple

from shared.core.store.base import Vector

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


class _Classes(NamedTuple):
    """The SDK's message types: the raw protobuf classes, and the proto-plus ``Write``."""

    value: Any
    map: Any
    array: Any
    document: Any
    write: Any
    precondition: Any
    mask: Any
    transform: Any
    write_wrapper: Any


@functools.cache
def _classes() -> _Classes:
    from google.cloud.firestore_v1.types import common, document, write

    return _Classes(
        document.Value.pb(),
        document.MapValue.pb(),
        document.ArrayValue.pb(),
        document.Document.pb(),
        write.Write.pb(),
        common.Precondition.pb(),
        common.DocumentMask.pb(),
        write.DocumentTransform.FieldTransform.pb(),
        write.Write,
    )


def to_sdk(value: Any) -> Any:
    """``value`` with our vectors as the SDK's (what its own encoder takes)."""
    from google.cloud.firestore_v1.vector import Vector as FirestoreVector

    return _swap_vectors(value, Vector, FirestoreVector)


def from_sdk(value: Any) -> Any:
    """A document as the SDK decodes it, with its vectors as ours."""
    from google.cloud.firestore_v1.vector import Vector as FirestoreVector

    return _swap_vectors(value, FirestoreVector, Vector)


def _swap_vectors(value: Any, old: type[Any], new: Callable[[list[float]], Any]) -> Any:
    if isinstance(value, old):  # before lists: our Vector is one
        return new(list(value))
    if isinstance(value, dict):
        return {k: _swap_vectors(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_swap_vectors(v, old, new) for v in value]
    return value


def encode_value(value: Any) -> Any:
    """``value`` as a raw ``google.firestore.v1.Value`` message."""
    pb = _classes()
    value_pb = pb.value
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
        return value_pb(map_value=pb.map(fields=encode_fields(value)))
    if kind is list or kind is tuple:
        return value_pb(array_value=pb.array(values=[encode_value(v) for v in value]))
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

    return _helpers.encode_value(to_sdk(value))._pb


def set_write(document_path: str, data: dict[str, Any], exists: bool | None = None) -> Any:
    """The ``Write`` (proto-plus, around the raw message) replacing the document at
    ``document_path`` (its full resource name) with ``data``; ``exists=False`` makes it a create,
    as ``DocumentReference.create`` sends it."""
    pb = _classes()
    raw = pb.write(update=pb.document(name=document_path, fields=encode_fields(data)))
    if exists is not None:
        raw.current_document.CopyFrom(pb.precondition(exists=exists))
    return pb.write_wrapper.wrap(raw)


def increment_write(document_path: str, deltas: Mapping[tuple[str, ...], float]) -> Any:
    """The ``Write`` adding each delta to the field at its key path (a missing field counts
    from 0, a missing document is created), leaving the other fields as they are: what the
    SDK's ``set(..., merge=True)`` sends for a document of ``Increment`` sentinels."""
    from google.cloud.firestore_v1.field_path import FieldPath

    pb = _classes()
    transforms = [
        pb.transform(field_path=FieldPath(*keys).to_api_repr(), increment=encode_value(delta))
        for keys, delta in sorted(deltas.items())
    ]
    raw = pb.write(
        update=pb.document(name=document_path), update_mask=pb.mask(), update_transforms=transforms
    )
    return pb.write_wrapper.wrap(raw)


def add_set(batch: Any, ref: Any, data: dict[str, Any], *, exists: bool | None = None) -> None:
    """Add to ``batch`` (or a transaction) the write replacing ``ref`` with ``data`` (creating
    it with ``exists=False``): the message the SDK's ``set``/``create`` would add."""
    batch._add_write_pbs([set_write(ref._document_path, data, exists)])


def add_increment(batch: Any, ref: Any, deltas: Mapping[tuple[str, ...], float]) -> None:
    """Add to ``batch`` the write adding ``deltas`` to ``ref``'s fields (:func:`increment_write`)."""
    batch._add_write_pbs([increment_write(ref._document_path, deltas)])
