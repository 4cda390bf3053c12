"""Every regular expression that sees text from outside (request bodies, CRM events, model
answers), and crafted inputs that make a backtracking pattern slow: shared by the ReDoS test and
the benchmark that prints each pattern's worst time."""

from __future__ import annotations

import re

from shared.ai.llm import guards
from shared.ai.prompts import overrides
from shared.capabilities.insights import grounding
from shared.capabilities.knowledge import text, vocabulary
from shared.capabilities.scoring import columns
from shared.core.store import base
from shared.core.web import contract


def patterns() -> dict[str, re.Pattern[str]]:
    found = {f"guards.injection[{i}]": p for i, (_, p) in enumerate(guards._PATTERNS)}
    found |= {f"guards.pii.{name}": p for name, p in guards._PII}
    found |= {
        "prompts.overrides._SMUGGLE": overrides._SMUGGLE,
        "scoring.columns._POST_OUTCOME": columns._POST_OUTCOME,
        "knowledge.text._WORD": text._WORD,
        "insights.grounding._CITATION": grounding._CITATION,
        "insights.grounding._BOUNDARY": grounding._BOUNDARY,
        "insights.grounding._WORD": grounding._WORD,
        "store.base._SEGMENT": base._SEGMENT,
        "web.contract._DAY": contract._DAY,
        "web.contract._INSTANT": contract._INSTANT,
    }
    found |= {f"knowledge.vocabulary[{i}]": p for i, (p, _) in enumerate(vocabulary._COMPILED)}
    return found


def adversarial(size: int) -> dict[str, str]:
    """Runs of the characters these patterns repeat, with and without the one that completes
    a match, so a backtracking engine tries every split."""
    units = [
        "a", "a.", "a@", "a@a.", "1", "1 ", "1-", "AB12 ", " ", "[a", "ignore all ", ". [",
        "you are now ", "send all data ", "when will ", "service ", "2026-01-01T", "aa'", "\n system:",
    ]  # fmt: skip
    return {unit: (unit * (size // len(unit) + 1))[:size] for unit in units}
