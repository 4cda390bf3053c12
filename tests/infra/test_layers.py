"""The layer contracts of shared/ (pyproject.toml ``[tool.importlinter]``) hold, with no ignored
imports: CI runs only ./scripts/test, so the contract is checked here as well as by
./scripts/check."""

from __future__ import annotations

import subprocess
import tomllib

from devstack.procs import REPO
from devstack.stack import VENV_BIN


def test_the_import_contracts_hold_and_have_no_exceptions() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    names = [c["name"] for c in config["contracts"]]
    assert names[0].startswith("shared/ is layered")
    assert not any("ignore_imports" in c for c in config["contracts"])
    out = subprocess.run(
        [str(VENV_BIN / "lint-imports"), "--no-cache"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:]
    assert f"Contracts: {len(names)} kept, 0 broken." in out.stdout
