"""The retrieval evaluation's discipline (issue 18): 300+ questions over every subflow, two
thirds as customers write, split once into dev (tuning) and test (reported), stratified."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

QUESTIONS = Path(__file__).parents[2] / "bench" / "abcd_support_questions.json"


def test_the_support_questions_cover_every_subflow_in_both_splits() -> None:
    rows = json.loads(QUESTIONS.read_text())["questions"]
    assert len(rows) >= 300
    assert len({row["question"].lower() for row in rows}) == len(rows)
    subflows = {row["answer"] for row in rows}
    assert len(subflows) == 55
    styles = Counter(row["style"] for row in rows)
    assert styles["customer"] >= 2 * len(rows) / 3
    for split in ("dev", "test"):
        part = [row for row in rows if row["split"] == split]
        assert {row["answer"] for row in part} == subflows, split
        assert Counter(row["style"] for row in part)["customer"] == styles["customer"] / 2


def test_the_first_55_questions_are_a_separate_set() -> None:
    first = json.loads((QUESTIONS.parent / "abcd_questions.json").read_text())["questions"]
    support = {row["question"].lower() for row in json.loads(QUESTIONS.read_text())["questions"]}
    assert len(first) == 55
    assert not support & {question.lower() for question, _ in first}
