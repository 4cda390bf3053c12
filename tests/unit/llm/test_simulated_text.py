"""The provider simulator writes plausible text composed from the prompt (issue 16): the
record's facts and the excerpts it was given, cited by id; never contact details, never an id it
was not given; the same prompt, the same text; always valid against the template's schema."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from devstack.procs import REPO
from devstack.simulator.brain import Conversation, answer

TEMPLATES = REPO / "shared/ai/prompts/templates"
LEAD = {
    "lead_id": "lead-1001",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "company": "Analytical Engines Ltd",
    "title": "CTO",
    "source": "webinar",
    "email": "ada@example.com",
    "phone": "+44 20 7946 0000",
}
HISTORY = (
    "[int-3] 2026-11-02 email: The price went up and support is slow; we may cancel.\n"
    "[kb-1] 2026-10-01 knowledge: Premium includes a named support engineer."
)


def _answer(template: str, prompt: str) -> dict[str, Any]:
    schema = json.loads((TEMPLATES / f"{template}.json").read_text())["output_schema"]
    value = answer(Conversation(turns=[("user", prompt)], schema=schema)).structured
    assert value is not None
    jsonschema.validate(value, schema)
    return value


def test_an_outreach_draft_reads_like_one_and_uses_only_the_record() -> None:
    prompt = (
        f"Lead record (JSON):\n{json.dumps(LEAD)}\n\nGoal: the December webinar\nChannel: email"
    )
    draft = _answer("outreach_draft.v2", prompt)
    text = json.dumps(draft)
    assert draft["body"].startswith("Hi Ada,") and "Analytical Engines Ltd" in draft["subject"]
    assert "December webinar" in draft["call_to_action"]
    assert "@" not in text and "7946" not in text  # contact details are never repeated
    assert " for lead record" not in text  # the old placeholder wording
    assert _answer("outreach_draft.v2", prompt) == draft  # deterministic


@pytest.mark.parametrize("template", ["customer_insight.v1", "lead_analysis.v1"])
def test_texts_built_on_excerpts_cite_only_the_ids_given(template: str) -> None:
    customer = {"first_name": "Grace", "last_name": "Hopper", "company": "Compiler Co"}
    prompt = (
        f"Insight type: churn_risk\n\nCustomer record (JSON):\n{json.dumps(customer)}\n\n"
        f"History excerpts (id, date, channel, text):\n{HISTORY}\n"
    )
    value = _answer(template, prompt)
    text = json.dumps(value)
    cited = set(re.findall(r"\[([A-Za-z0-9_.:\-]+)\]", text))
    assert cited and cited <= {"int-3", "kb-1"}
    assert "support is slow" in text or "named support engineer" in text


def test_every_template_gets_schema_valid_composed_text() -> None:
    prompt = f"CRM record (JSON):\n{json.dumps(LEAD)}\n\nModel score: 72\n{HISTORY}"
    structured = [
        p
        for p in sorted(Path(TEMPLATES).glob("*.v*.json"))
        if json.loads(p.read_text()).get("output_schema")
    ]
    assert len(structured) >= 8
    for path in structured:
        _answer(path.stem, prompt)
