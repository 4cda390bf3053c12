from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING

import pytest

from shared.ai.prompts.registry import Registry, default_registry, parse_version
from shared.ai.prompts.render import declared_inputs
from shared.core.errors import ConfigError, InvalidInput, NotFound

if TYPE_CHECKING:
    from pathlib import Path


def test_every_shipped_template_loads_and_declares_exactly_what_its_text_uses() -> None:
    registry = default_registry()
    assert {"conversation_summary", "outreach_draft", "lead_score_explanation"} <= set(
        registry.ids()
    )
    for template_id in registry.ids():
        for template in registry.versions(template_id):
            assert declared_inputs(template) == set(template.variables), template.ref
            if template.output_schema is not None:
                assert template.output_schema["type"] == "object"


def test_latest_version_and_unknown_ones() -> None:
    registry = default_registry()
    assert registry.get("outreach_draft").version == 2
    assert registry.get("outreach_draft", 1).ref == "outreach_draft@v1"
    with pytest.raises(NotFound):
        registry.get("outreach_draft", 9)
    with pytest.raises(NotFound):
        registry.get("no_such_prompt")


def test_the_split_is_deterministic_and_close_to_the_declared_shares() -> None:
    registry = default_registry()
    picks = [registry.choose("outreach_draft", f"lead-{i}").version for i in range(4000)]
    again = [registry.choose("outreach_draft", f"lead-{i}").version for i in range(4000)]
    assert picks == again  # the same lead always gets the same version
    counts = Counter(picks)
    assert set(counts) == {1, 2}
    assert 0.45 < counts[1] / 4000 < 0.55  # rollout.json: 50 / 50
    assert registry.shares("outreach_draft") == {1: 50, 2: 50}
    # Without a split, the latest version takes everything.
    assert {registry.choose("lead_score_explanation", f"k{i}").version for i in range(50)} == {1}


def _write(directory: Path, name: str, **kw: object) -> None:
    base = {
        "id": "t",
        "version": 1,
        "description": "d",
        "tier": "fast",
        "max_tokens": 10,
        "system": "s",
        "user": "{x}",
        "variables": {"x": {"required": True}},
        "overridable": {},
    }
    (directory / name).write_text(json.dumps({**base, **kw}))


def test_a_bad_rollout_or_duplicate_version_fails_at_load(tmp_path: Path) -> None:
    _write(tmp_path, "t.v1.json")
    _write(tmp_path, "t.v2.json", version=2)
    (tmp_path / "rollout.json").write_text(json.dumps({"t": {"1": 70, "2": 20}}))
    with pytest.raises(ConfigError, match="summing to 100"):
        Registry.load(tmp_path)
    (tmp_path / "rollout.json").write_text(json.dumps({"t": {"1": 80, "2": 20}}))
    assert Registry.load(tmp_path).shares("t") == {1: 80, 2: 20}
    _write(tmp_path, "t.v1b.json")
    with pytest.raises(ConfigError, match="declared twice"):
        Registry.load(tmp_path)


def test_parse_version() -> None:
    assert parse_version("v2") == 2 and parse_version(3) == 3
    with pytest.raises(InvalidInput):
        parse_version("latest")
