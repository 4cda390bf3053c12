from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

from devstack.package import package, package_services
from devstack.topology import discover_functions

if TYPE_CHECKING:
    from pathlib import Path


def test_each_function_bundle_stands_alone(tmp_path: Path) -> None:
    built = package(tmp_path)
    assert {p.name for p in built} == {s.name for s in discover_functions()}
    for folder in built:
        assert (folder / "main.py").is_file()
        assert (folder / "shared/crm/ingest.py").is_file()
        reqs = (folder / "requirements.txt").read_text().splitlines()
        assert "functions-framework==3.10.2" in reqs
        assert not any(line.startswith("-r") for line in reqs)
        # The bundle imports with nothing but itself on the path (as in the cloud).
        result = subprocess.run(
            [sys.executable, "-E", "-s", "-c", "import main"],
            cwd=folder,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr


def test_the_realtime_service_bundle_stands_alone(tmp_path: Path) -> None:
    [folder] = package_services(tmp_path)
    assert folder.name == "realtime"
    assert (folder / "Dockerfile").is_file() and (folder / "shared/realtime/app.py").is_file()
    reqs = (folder / "requirements.txt").read_text().splitlines()
    assert "websockets==17.4" in reqs and "functions-framework==3.10.2" not in reqs
    result = subprocess.run(
        [sys.executable, "-E", "-s", "-c", "import main; print(type(main.app).__name__)"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and result.stdout.strip() == "Starlette", result.stderr
