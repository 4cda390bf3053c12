"""No regular expression that sees outside text backtracks badly (finding L3 of issue 15: the PII
e-mail pattern took about 7 s on 100,000 crafted characters and grew with the square).

This asserts no time: a quadratic pattern on 200,000 characters takes minutes, and the timeout
turns that into a failure; `tests/bench/bench_redos.py` prints each pattern's worst time."""

from __future__ import annotations

import pytest

from shared.ai.llm import guards
from tests.redos import adversarial, patterns


@pytest.mark.timeout(30)
def test_every_pattern_is_linear_on_crafted_input() -> None:
    inputs = adversarial(200_000)
    for name, pattern in patterns().items():
        for text in inputs.values():
            for _ in pattern.finditer(text):
                pass
            assert name  # every pattern ran over every input


def test_the_email_pattern_still_finds_addresses() -> None:
    email = dict(guards._PII)["EMAIL"]
    found = [m.group() for m in email.finditer("to ada@example.com, x.y+z@sub.example.co.uk.")]
    assert found == ["ada@example.com", "x.y+z@sub.example.co.uk"]
