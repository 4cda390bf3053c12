"""scripts/prompt-eval's module against the simulator: figures per case and the diff to the
previous version."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from devstack import prompt_eval

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def test_evaluation_prints_figures_and_the_diff_to_the_previous_version(
    simulator_url: str,
    sim: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LLM_SIMULATOR_URL", simulator_url)
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    out = tmp_path / "eval.json"
    assert prompt_eval.main(["outreach_draft", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "outreach_draft@v2" in printed and "outreach_draft@v1" in printed
    assert "-max_tokens: 700" in printed and "+max_tokens: 450" in printed
    report = json.loads(out.read_text())
    assert report["current"]["cases"] == 6 and report["current"]["errors"] == 0
    assert report["current"]["schema_valid_rate"] == 1.0
    assert (
        report["change"]["avg_output_tokens"]["new"] < report["change"]["avg_output_tokens"]["old"]
    )
    assert all(c["input_tokens"] > 0 for c in report["cases"])


def test_a_case_that_breaks_a_template_fails_the_command(
    simulator_url: str,
    sim: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LLM_SIMULATOR_URL", simulator_url)
    (tmp_path / "outreach_draft.json").write_text(
        json.dumps({"cases": [{"name": "missing_lead", "variables": {}}]})
    )
    assert prompt_eval.main(["outreach_draft", "--version", "1", "--cases", str(tmp_path)]) == 1
