"""Offline evaluation of a template version over the fixed cases shipped beside it
(``cases/<template_id>.json``), so a prompt change is reviewed like a code change: token counts,
schema validity and cost per case, and the diff of text and figures against another version.

Runs against whatever client it is given: the provider simulator offline, real providers when
keys are set (``scripts/prompt-eval``).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.ai.llm.types import CallContext
from shared.ai.prompts.overrides import validate_overrides
from shared.ai.prompts.render import render
from shared.core.errors import AppError, NotFound

if TYPE_CHECKING:
    from shared.ai.llm.client import LLMClient
    from shared.ai.prompts.registry import PromptTemplate

CASES_DIR = Path(__file__).with_name("cases")


@dataclass
class CaseResult:
    """One evaluation case's outcome: which checks passed, and what it cost."""

    name: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    schema_valid: bool | None = None
    model: str = ""
    output: str = ""
    error: str | None = None


@dataclass
class EvalReport:
    """The results of a template version's evaluation cases."""

    template: str
    cases: list[CaseResult] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Pass rate, failed checks and cost, as the CLI and CI print them."""
        ok = [c for c in self.cases if c.error is None]
        checked = [c for c in ok if c.schema_valid is not None]
        n = len(ok) or 1
        return {
            "template": self.template,
            "cases": len(self.cases),
            "errors": len(self.cases) - len(ok),
            "avg_input_tokens": round(sum(c.input_tokens for c in ok) / n, 1),
            "avg_output_tokens": round(sum(c.output_tokens for c in ok) / n, 1),
            "total_cost_usd": round(sum(c.cost_usd for c in ok), 6),
            "schema_valid_rate": (
                round(sum(bool(c.schema_valid) for c in checked) / len(checked), 3)
                if checked
                else None
            ),
        }


def load_cases(template_id: str, directory: Path = CASES_DIR) -> list[dict[str, Any]]:
    """A template's evaluation cases from ``directory`` (``cases/<template_id>.json``)."""
    path = directory / f"{template_id}.json"
    if not path.exists():
        raise NotFound(f"no evaluation cases for {template_id} ({path.name})")
    cases: list[dict[str, Any]] = json.loads(path.read_text())["cases"]
    return cases


def case_variables(template: PromptTemplate, case: dict[str, Any]) -> dict[str, Any]:
    """The case's variables this version declares: one case set serves every version, and a
    later version may take inputs an earlier one did not (``reply_draft@v2``'s ``knowledge``)."""
    return {k: v for k, v in case["variables"].items() if k in template.variables}


def evaluate(
    client: LLMClient, template: PromptTemplate, cases: list[dict[str, Any]]
) -> EvalReport:
    """Run every case once (no cache) and collect its figures; a failing case is reported, not raised."""
    report = EvalReport(template.ref)
    for case in cases:
        result = CaseResult(case["name"])
        try:
            overrides = validate_overrides(template, case.get("overrides", {}), tenant_id="eval")
            rendered = render(template, case_variables(template, case), overrides)
            response = client.complete(
                rendered.request,
                CallContext(
                    tenant_id="eval",
                    feature="prompt_eval",
                    template_id=template.id,
                    template_version=str(template.version),
                    cache=False,
                ),
            )
        except AppError as exc:
            result.error = f"{exc.code}: {exc.message}"
        else:
            result.input_tokens = response.usage.input_tokens
            result.output_tokens = response.usage.output_tokens
            result.cost_usd = response.cost_usd
            result.latency_ms = response.latency_ms
            result.schema_valid = response.schema_valid
            result.model = response.model
            result.output = (
                json.dumps(response.structured)
                if response.structured is not None
                else response.text
            )
        report.cases.append(result)
    return report


def template_diff(old: PromptTemplate, new: PromptTemplate) -> str:
    """A unified diff of everything that shapes the request: text, tier, budget, schema."""

    def lines(t: PromptTemplate) -> list[str]:
        head = [f"tier: {t.tier}", f"max_tokens: {t.max_tokens}", f"temperature: {t.temperature}"]
        schema = json.dumps(t.output_schema, indent=2, sort_keys=True).splitlines()
        return [
            *head,
            "--- system",
            *t.system.split(". "),
            "--- user",
            *t.user.splitlines(),
            "--- output_schema",
            *schema,
        ]

    return "\n".join(
        difflib.unified_diff(lines(old), lines(new), old.ref, new.ref, lineterm="", n=1)
    )


def figures_diff(old: EvalReport, new: EvalReport) -> dict[str, Any]:
    """Per summary figure: old, new and the change."""
    a, b = old.summary(), new.summary()
    out: dict[str, Any] = {}
    for key in (
        "avg_input_tokens",
        "avg_output_tokens",
        "total_cost_usd",
        "schema_valid_rate",
        "errors",
    ):
        if a[key] is None or b[key] is None:
            out[key] = {"old": a[key], "new": b[key]}
        else:
            out[key] = {"old": a[key], "new": b[key], "change": round(b[key] - a[key], 6)}
    return out
