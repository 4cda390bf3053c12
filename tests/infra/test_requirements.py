"""The hash locks in requirements/lock/ agree with the top-level pins they were compiled from
(scripts/lock), and pin every package by version and sha256 (scripts/bootstrap installs them
with --require-hashes)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from devstack.deploy_locks import lock_for, units

REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements"
LOCKED = ("dev", "tasks-emulator", "bq-emulator", "checkov")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;#\\]+)")


def _name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def top_level(path: Path) -> dict[str, str]:
    """Pins of a requirements file, following ``-r`` includes."""
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("-r "):
            pins |= top_level(path.parent / line[3:].strip())
        elif match := _PIN.match(line):
            pins[_name(match.group(1))] = match.group(2)
    return pins


def locked(path: Path) -> dict[str, tuple[str, int]]:
    """Each locked package's version and how many hashes it carries."""
    out: dict[str, tuple[str, int]] = {}
    current = ""
    for line in path.read_text().splitlines():
        if match := _PIN.match(line):
            current = _name(match.group(1))
            out[current] = (match.group(2), 0)
        elif line.strip().startswith("--hash=sha256:") and current:
            version, hashes = out[current]
            out[current] = (version, hashes + 1)
    return out


@pytest.mark.parametrize("name", LOCKED)
def test_the_lock_holds_every_top_level_pin_at_its_version(name: str) -> None:
    lock = locked(REQUIREMENTS / "lock" / f"{name}.txt")
    pins = top_level(REQUIREMENTS / f"{name}.txt")
    assert pins, name
    stale = {
        p: (v, lock.get(p, ("missing", 0))[0])
        for p, v in pins.items()
        if lock.get(p, ("",))[0] != v
    }
    assert not stale, f"requirements/lock/{name}.txt is stale, run scripts/lock: {stale}"


@pytest.mark.parametrize("name", LOCKED)
def test_every_locked_package_has_a_hash(name: str) -> None:
    lock = locked(REQUIREMENTS / "lock" / f"{name}.txt")
    assert len(lock) > 1
    assert [p for p, (_, hashes) in lock.items() if hashes == 0] == []


def test_a_stale_lock_is_noticed(tmp_path: Path) -> None:
    (tmp_path / "top.txt").write_text("-r more.txt\nhttpx==0.28.1  # a comment\n")
    (tmp_path / "more.txt").write_text("pyjwt[crypto]==2.15.1\n")
    (tmp_path / "lock.txt").write_text(
        "httpx==0.28.0 \\\n    --hash=sha256:ab\nPyJWT==2.15.1 \\\n    --hash=sha256:cd\n"
    )
    pins, lock = top_level(tmp_path / "top.txt"), locked(tmp_path / "lock.txt")
    assert pins == {"httpx": "0.28.1", "pyjwt": "2.15.1"}
    assert lock == {"httpx": ("0.28.0", 1), "pyjwt": ("2.15.1", 1)}


@pytest.mark.parametrize("unit", sorted(units()))
def test_each_deployed_unit_has_a_deploy_lock_with_its_pins_and_hashes(unit: str) -> None:
    source = units()[unit]
    lock_file = lock_for(source)
    assert lock_file.is_file(), f"{lock_file.name} is missing: run scripts/lock"
    lock = locked(lock_file)
    pins = top_level(source)
    assert pins, unit
    stale = {p: v for p, v in pins.items() if lock.get(p, ("",))[0] != v}
    assert not stale, f"{lock_file.name} is stale, run scripts/lock: {stale}"
    assert [p for p, (_, hashes) in lock.items() if hashes == 0] == []
    # Compiled for the cloud's runtime, which Terraform declares.
    runtime = (REQUIREMENTS.parent / "terraform/modules/cloud_function/variables.tf").read_text()
    assert 'default = "python312"' in runtime
    assert "with Python 3.12" in lock_file.read_text().splitlines()[1]
