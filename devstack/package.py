"""``scripts/package``: one deployable folder per function under ``build/functions/``, and one
per Cloud Run service under ``build/run_services/`` (with its Dockerfile)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from devstack.deploy_locks import lock_for
from devstack.procs import REPO
from devstack.topology import discover_functions


def _bundle(source: Path, requirements: Path, target: Path) -> Path:
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    shutil.copy2(source, target / "main.py")
    # The unit's hash lock, compiled for the cloud's Python (scripts/lock): Cloud Build installs
    # exactly these files, and pip checks each one's sha256.
    lock = lock_for(requirements)
    if not lock.is_file():
        raise SystemExit(f"{lock.relative_to(REPO)} is missing: run scripts/lock")
    shutil.copy2(lock, target / "requirements.txt")
    shutil.copytree(
        REPO / "shared",
        target / "shared",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    return target


def package(out: Path) -> list[Path]:
    return [
        _bundle(spec.source, spec.source.parent / "requirements.txt", out / spec.name)
        for spec in discover_functions()
    ]


def package_services(out: Path) -> list[Path]:
    built = []
    for folder in sorted(p for p in (REPO / "run_services").iterdir() if (p / "main.py").is_file()):
        target = _bundle(folder / "main.py", folder / "requirements.txt", out / folder.name)
        shutil.copy2(folder / "Dockerfile", target / "Dockerfile")
        if folder.name == "realtime":
            # The console's pages and vendored assets (scripts/bootstrap copies them from npm).
            public = REPO / "console/public"
            if not (public / "vendor").is_dir():
                raise SystemExit("console/public/vendor is missing: run scripts/bootstrap first")
            shutil.copytree(public, target / "console/public", ignore=shutil.ignore_patterns(".*"))
        built.append(target)
    return built


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "build/functions"
    for target in package(out) + package_services(out.parent / "run_services"):
        print(f"packaged {target.relative_to(REPO) if target.is_relative_to(REPO) else target}")


if __name__ == "__main__":
    main()
