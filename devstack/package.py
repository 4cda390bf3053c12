"""``scripts/package``: one deployable folder per function under ``build/functions/``."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from devstack.procs import REPO
from devstack.topology import discover_functions


def flatten_requirements(path: Path, seen: set[Path] | None = None) -> list[str]:
    """The requirement lines of ``path`` with every ``-r other.txt`` expanded in place."""
    seen = seen or set()
    path = path.resolve()
    if path in seen:
        return []
    seen.add(path)
    lines: list[str] = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            lines += flatten_requirements(path.parent / line[3:].strip(), seen)
        elif line not in lines:
            lines.append(line)
    return lines


def package(out: Path) -> list[Path]:
    built = []
    for spec in discover_functions():
        target = out / spec.name
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        shutil.copy2(spec.source, target / "main.py")
        reqs = flatten_requirements(spec.source.parent / "requirements.txt")
        (target / "requirements.txt").write_text("\n".join(reqs) + "\n")
        shutil.copytree(
            REPO / "shared",
            target / "shared",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        built.append(target)
    return built


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "build/functions"
    for target in package(out):
        print(f"packaged {target.relative_to(REPO) if target.is_relative_to(REPO) else target}")


if __name__ == "__main__":
    main()
