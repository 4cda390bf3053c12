"""Benchmark: what the typed contract costs, against the code before it, on the same machine in the
same run.

1. Validation overhead per request: ``dispatch()`` end to end (token check, routing, body
   parsing and validation, the handler) with the domain call stubbed, so the difference between
   the two trees is the request checking: hand-written checks before, pydantic models after.
   Two routes: the smallest body (``POST /knowledge/search``) and the largest (a 1,000-lead
   ``POST /scoring/leads/batch``, ~150 KB). The body's parse alone is printed too.
2. Cold import of every function's ``main.py``, median of N fresh interpreters.

The earlier tree is checked out with ``git worktree`` (``--base``, default the commit before the
contract work) and measured by this same script in a subprocess.

    .venv/bin/python -m tests.bench.bench_contract [--base 71471dd] [--runs 2000] [--imports 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BASE = "71471dd"  # the last commit before the typed contract


def _batch_body(n: int = 1000) -> bytes:
    leads = [
        {
            "lead_id": f"lead-{i}",
            "fields": {
                "age": 30 + i % 40,
                "job": "admin.",
                "marital": "married",
                "education": "university.degree",
                "contact": "cellular",
                "month": "may",
                "campaign": 1 + i % 5,
                "pdays": 999,
                "previous": 0,
                "emp.var.rate": 1.1,
                "euribor3m": 4.857,
            },
        }
        for i in range(n)
    ]
    return json.dumps({"leads": leads}).encode()


def _first(*names: str) -> Any:
    """The first of ``names`` that imports (a module moved between the trees compared)."""
    import importlib

    for name in names[:-1]:
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError:
            continue
    return importlib.import_module(names[-1])


def _worker(runs: int) -> dict[str, Any]:
    """Runs inside the tree under test (its ``shared`` package is first on sys.path)."""
    import flask

    from devstack.tokens import ensure_keypair, mint_token

    # Module paths as each tree has them: shared/ was arranged in layers later (issue 20).
    knowledge_api = _first("shared.edge.http.knowledge", "shared.knowledge.api")
    scoring_api = _first("shared.edge.http.scoring", "shared.scoring.api")
    token_verifier = _first("shared.core.auth.tokens", "shared.auth.tokens").TokenVerifier
    not_found = _first("shared.core.errors", "shared.errors").NotFound
    memory_store = _first("shared.core.store", "shared.store").MemoryStore
    dispatch = _first("shared.core.web.http", "shared.web.http").dispatch

    class _Stub:
        def search(self, query: str, k: int = 5, **_: Any) -> list[Any]:
            return []

        def score_many(self, items: list[Any]) -> list[Any]:
            return [not_found("stub") for _ in items]

    knowledge_api._kb = lambda ctx: _Stub()
    scoring_api._scorer = lambda ctx: _Stub()
    private, public = ensure_keypair(Path(tempfile.mkdtemp()))
    verifier = token_verifier(
        issuer="crm-dev", audience="crm-ai", public_key_pem=public.read_text()
    )
    token = mint_token(private.read_text(), tenant_id="acme", roles=["admin"])
    app = flask.Flask("bench")
    store = memory_store()
    cases = {
        "smallest (POST /knowledge/search)": (
            "/api/v1/ai/knowledge/search",
            knowledge_api.ROUTES,
            json.dumps({"query": "where is my refund", "k": 5}).encode(),
        ),
        "largest (POST /scoring/leads/batch, 1,000 leads)": (
            "/api/v1/ai/scoring/leads/batch",
            scoring_api.ROUTES,
            _batch_body(),
        ),
    }
    out: dict[str, Any] = {}
    for name, (path, routes, body) in cases.items():
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        times = []
        n = runs if len(body) < 10_000 else max(runs // 20, 50)
        for i in range(n + 20):
            with app.test_request_context(path, method="POST", headers=headers, data=body):
                start = time.perf_counter()
                _, status, _ = dispatch(flask.request, routes, verifier=verifier, store=store)
                elapsed = time.perf_counter() - start
            assert status == 200, status
            if i >= 20:  # warm-up
                times.append(elapsed * 1e6)
        times.sort()
        out[name] = {
            "bytes": len(body),
            "median_us": statistics.median(times),
            "p95_us": times[int(len(times) * 0.95)],
        }
    return out


def _imports(tree: Path, runs: int) -> dict[str, float]:
    def cold(code: str) -> float:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", code],
                cwd=tree,
                check=True,
                env={**os.environ, "PYTHONPATH": str(tree)},
            )
            times.append((time.perf_counter() - start) * 1000)
        return statistics.median(times)

    base = cold("pass")
    out = {}
    for main in sorted((tree / "functions").glob("*/main.py")):
        code = (
            "import importlib.util\n"
            f"s = importlib.util.spec_from_file_location('main', '{main}')\n"
            "s.loader.exec_module(importlib.util.module_from_spec(s))"
        )
        out[main.parent.name] = cold(code) - base
    return out


def _measure(tree: Path, runs: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench.bench_contract", "--worker", "--runs", str(runs)],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", default=BASE)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--imports", type=int, default=7)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker(args.runs)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        base_tree = Path(tmp) / "base"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(base_tree), args.base],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        try:
            # The earlier tree has no copy of this script: run ours against its packages.
            (base_tree / "tests/bench/bench_contract.py").write_text(Path(__file__).read_text())
            before, after = _measure(base_tree, args.runs), _measure(REPO, args.runs)
            imports_before = _imports(base_tree, args.imports)
            imports_after = _imports(REPO, args.imports)
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(base_tree)], cwd=REPO, check=False
            )
    print(f"validation overhead: dispatch() with the domain stubbed ({args.base} -> this tree)")
    for name in after:
        b, a = before[name], after[name]
        print(
            f"  {name:48s} {a['bytes']:>7,} B  median {b['median_us']:8.0f} -> "
            f"{a['median_us']:8.0f} us   p95 {b['p95_us']:8.0f} -> {a['p95_us']:8.0f} us"
        )
    print(f"cold import of main.py, median of {args.imports} (interpreter start subtracted)")
    for name in imports_after:
        print(
            f"  {name:16s} {imports_before.get(name, float('nan')):6.0f} -> {imports_after[name]:6.0f} ms"
        )
    medians = [imports_after[n] - imports_before[n] for n in imports_after if n in imports_before]
    print(f"  median change over {len(medians)} functions: {statistics.median(medians):+.0f} ms")


if __name__ == "__main__":
    main()
