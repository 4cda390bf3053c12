"""Every shipped template has an evaluation case set, and every case renders for every version
(the offline evaluation and the benchmark run them all)."""

from __future__ import annotations

import pytest

from shared.ai.prompts.evaluate import case_variables, load_cases
from shared.ai.prompts.registry import default_registry
from shared.ai.prompts.service import prepare
from shared.core.store import MemoryStore
from shared.core.tenancy.scope import TenantStore

REGISTRY = default_registry()


@pytest.mark.parametrize("template_id", REGISTRY.ids())
def test_each_template_has_cases_that_render_for_every_version(template_id: str) -> None:
    cases = load_cases(template_id)
    assert len(cases) >= 2
    scope = TenantStore(MemoryStore(), "t1")
    for template in REGISTRY.versions(template_id):
        for case in cases:
            variables = case_variables(template, case)
            rendered = prepare(scope, template_id, variables, version=template.version)
            assert rendered.request.messages, (template.ref, case["name"])
