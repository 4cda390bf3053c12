from __future__ import annotations

from shared.ai.llm.health import HealthBoard


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_circuit_opens_after_consecutive_failures_and_half_opens_after_cooldown() -> None:
    clock = Clock()
    board = HealthBoard(threshold=3, cooldown_s=10, clock=clock)
    for _ in range(2):
        board.failure("m")
    assert board.allow("m")
    board.failure("m")
    assert not board.allow("m") and board.is_open("m")
    clock.now = 11
    assert board.allow("m")  # one probe
    assert not board.allow("m")  # and only one
    board.failure("m")  # the probe failed: open again
    assert not board.allow("m")
    clock.now = 22
    assert board.allow("m")
    board.success("m", 120.0)
    assert board.allow("m") and not board.is_open("m")
    assert board.latency("m") == 120.0
