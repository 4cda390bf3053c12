"""Hash locks for what we deploy: one per distinct set of requirement files a function or Cloud
Run service names (``base+scoring``, ...), compiled for the runtime Terraform declares
(Python 3.12) into ``requirements/lock/deploy/<set>.txt``. ``scripts/package`` writes a unit's
lock as its bundle's ``requirements.txt``, so Cloud Build installs exactly what was locked, hash
by hash (a requirements file with hashes puts pip in ``--require-hashes`` mode).

``python -m devstack.deploy_locks`` prints ``<set> <input file>`` lines for ``scripts/lock``,
after writing each set's input file under ``.local/deploy-locks/``.
"""

from __future__ import annotations

from pathlib import Path

from devstack.procs import REPO

LOCKS = REPO / "requirements/lock/deploy"
INPUTS = REPO / ".local/deploy-locks"


def units() -> dict[str, Path]:
    """Every deployed unit's top-level requirements file, by unit name."""
    found = {p.parent.name: p for p in sorted((REPO / "functions").glob("*/requirements.txt"))}
    for path in sorted((REPO / "run_services").glob("*/requirements.txt")):
        found[f"run_services/{path.parent.name}"] = path
    return found


def included(path: Path) -> list[Path]:
    """The requirement files under ``requirements/`` that ``path`` includes (``-r``), in order."""
    out: list[Path] = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            target = (path.parent / line[3:].strip()).resolve()
            for sub in [target, *included(target)]:
                if sub not in out:
                    out.append(sub)
    return out


def lock_key(path: Path) -> str:
    """The name of the lock a unit installs from: its requirement sets, sorted and joined."""
    return "+".join(sorted(p.stem for p in included(path)))


def lock_for(path: Path) -> Path:
    """The compiled lock of the unit whose requirements file is ``path``."""
    return LOCKS / f"{lock_key(path)}.txt"


def main() -> None:
    INPUTS.mkdir(parents=True, exist_ok=True)
    for key in sorted({lock_key(p) for p in units().values()}):
        source = INPUTS / f"{key}.in"
        lines = [f"-r ../../requirements/{name}.txt" for name in key.split("+")]
        source.write_text("\n".join(lines) + "\n")
        print(key, source.relative_to(REPO))


if __name__ == "__main__":
    main()
