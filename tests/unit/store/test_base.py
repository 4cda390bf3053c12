from __future__ import annotations

import pytest

from shared.core.errors import InvalidInput
from shared.core.store.base import check_segment


@pytest.mark.parametrize("bad", ["", "a/b", "..", ".", "__x__", "a\n", "a\x00", "x" * 257, "é"])
def test_unsafe_segments_are_refused(bad: str) -> None:
    # "a\n" passed while the check matched with `$` (issue 15, L9): it must match the whole value.
    with pytest.raises(InvalidInput) as refused:
        check_segment(bad, field="lead_id")
    assert refused.value.field == "lead_id"


def test_safe_segments_pass() -> None:
    assert check_segment("lead-1_a.b@c:d+e") == "lead-1_a.b@c:d+e"
