from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

from devstack.package import package, package_services
from devstack.topology import discover_functions
from tests.infra.test_requirements import locked

if TYPE_CHECKING:
    from pathlib import Path


def _run_in(folder: Path, code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with nothing but the bundle on the path (as in the cloud)."""
    return subprocess.run(
        [sys.executable, "-E", "-s", "-c", code],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )


def test_each_function_bundle_stands_alone(tmp_path: Path) -> None:
    built = package(tmp_path)
    assert {p.name for p in built} == {s.name for s in discover_functions()}
    for folder in built:
        assert (folder / "main.py").is_file()
        assert (folder / "shared/capabilities/crm/ingest.py").is_file()
        reqs = locked(folder / "requirements.txt")
        assert reqs["functions-framework"][0] == "3.10.2"
        assert all(hashes for _, hashes in reqs.values())  # pip installs it with hashes checked
        result = _run_in(folder, "import main")
        assert result.returncode == 0, result.stderr


def test_the_realtime_service_bundle_stands_alone(tmp_path: Path) -> None:
    [folder] = package_services(tmp_path)
    assert folder.name == "realtime"
    assert (folder / "Dockerfile").is_file() and (
        folder / "shared/capabilities/realtime/app.py"
    ).is_file()
    reqs = locked(folder / "requirements.txt")
    assert reqs["websockets"][0] == "17.4" and "functions-framework" not in reqs
    result = _run_in(folder, "import main; print(type(main.app).__name__)")
    assert result.returncode == 0 and result.stdout.strip() == "Starlette", result.stderr
