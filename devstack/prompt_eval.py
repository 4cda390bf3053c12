"""``scripts/prompt-eval TEMPLATE [--version N] [--against M] [--json FILE] [--cases DIR]``: run a template
version over its shipped cases and print tokens, schema validity, cost, and the diff against
another version (by default the one before it).

Offline it starts the provider simulator itself; with OPENAI_API_KEY / ANTHROPIC_API_KEY /
GEMINI_API_KEY set (and no LLM_SIMULATOR_URL) the same cases go to the real providers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from devstack.procs import free_port, spawn, wait_until_ready
from shared.ai.llm.catalog import Catalog
from shared.ai.llm.client import LLMClient
from shared.ai.llm.factory import build_router
from shared.ai.prompts.evaluate import CASES_DIR, evaluate, figures_diff, load_cases, template_diff
from shared.ai.prompts.registry import default_registry
from shared.core.config import load_settings

if TYPE_CHECKING:
    from shared.ai.prompts.evaluate import EvalReport


def _print(report: EvalReport) -> None:
    print(f"\n{report.template}")
    print(f"  {'case':<22}{'in':>6}{'out':>6}{'schema':>8}{'cost $':>12}  model")
    for c in report.cases:
        if c.error:
            print(f"  {c.name:<22}  ERROR {c.error}")
            continue
        valid = "-" if c.schema_valid is None else ("ok" if c.schema_valid else "BAD")
        print(
            f"  {c.name:<22}{c.input_tokens:>6}{c.output_tokens:>6}{valid:>8}{c.cost_usd:>12.6f}  {c.model}"
        )
    s = report.summary()
    print(
        f"  mean tokens in {s['avg_input_tokens']}, out {s['avg_output_tokens']}; "
        f"schema-valid rate {s['schema_valid_rate']}; total ${s['total_cost_usd']:.6f}; errors {s['errors']}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("template_id")
    parser.add_argument("--version", type=int, help="version to evaluate (default: latest)")
    parser.add_argument(
        "--against", type=int, help="version to compare with (default: the previous one)"
    )
    parser.add_argument("--json", type=Path, help="also write the reports as JSON here")
    parser.add_argument(
        "--cases", type=Path, default=CASES_DIR, help="folder of <template_id>.json case files"
    )
    args = parser.parse_args(argv)

    registry = default_registry()
    template = registry.get(args.template_id, args.version)
    previous = None
    if args.against is not None:
        previous = registry.get(args.template_id, args.against)
    elif template.version > 1:
        older = [t for t in registry.versions(args.template_id) if t.version < template.version]
        previous = older[-1] if older else None
    cases = load_cases(args.template_id, args.cases)

    env = dict(os.environ)
    env.setdefault("GOOGLE_CLOUD_PROJECT", "prompt-eval")
    env.setdefault("AUTH_JWKS_URL", "http://127.0.0.1:9/unused")  # not used: no HTTP here
    has_keys = any(env.get(k) for k in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"))
    sim = None
    if not has_keys and not env.get("LLM_SIMULATOR_URL"):
        port = free_port()
        sim = spawn(
            "simulator",
            [sys.executable, "-m", "devstack.simulator", f"--port={port}"],
            port,
            Path(tempfile.mkdtemp(prefix="prompt-eval-")),
        )
        wait_until_ready(sim, http_path="/health")
        env["LLM_SIMULATOR_URL"] = sim.url
    try:
        client = LLMClient(build_router(load_settings(env), Catalog.load()))
        where = "real providers" if has_keys else f"simulator {env['LLM_SIMULATOR_URL']}"
        print(f"evaluating {template.ref} on {len(cases)} cases against {where}")
        report = evaluate(client, template, cases)
        _print(report)
        out: dict[str, object] = {
            "current": report.summary(),
            "cases": [c.__dict__ for c in report.cases],
        }
        if previous is not None:
            before = evaluate(client, previous, cases)
            _print(before)
            print(f"\nchange {previous.ref} -> {template.ref}:")
            figures = figures_diff(before, report)
            for key, row in figures.items():
                print(
                    f"  {key:<20} {row['old']} -> {row['new']}"
                    + (f" ({row['change']:+})" if "change" in row else "")
                )
            print("\ntemplate diff:")
            print(template_diff(previous, template) or "  (no change)")
            out.update(previous=before.summary(), change=figures)
        if args.json:
            args.json.write_text(json.dumps(out, indent=2, default=str))
        client.router.close()
        return 1 if report.summary()["errors"] else 0
    finally:
        if sim is not None:
            sim.stop()


if __name__ == "__main__":
    raise SystemExit(main())
