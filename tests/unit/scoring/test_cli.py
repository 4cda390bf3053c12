"""The command line, run as people and pipelines run it: a separate process on CSV files."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from typing import TYPE_CHECKING

from devstack.demo_leads import make_leads
from devstack.procs import REPO

if TYPE_CHECKING:
    from pathlib import Path


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shared.capabilities.scoring", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )


def test_train_predict_evaluate(tmp_path: Path) -> None:
    data = make_leads(2500, seed=11)
    data.iloc[:2000].to_csv(tmp_path / "train.csv", sep=";", index=False)  # semicolons
    data.iloc[2000:].to_csv(tmp_path / "new.csv", index=False)  # commas, target still present
    trained = _cli(
        "train",
        "--csv",
        str(tmp_path / "train.csv"),
        "--target",
        "status",
        "--positive",
        "Converted",
        "--id",
        "lead_id",
        "--exclude",
        "notes",
        "--out",
        str(tmp_path / "model"),
    )
    assert trained.returncode == 0, trained.stderr
    assert (
        "left out call_duration" in trained.stdout
        and "left out notes: excluded by the caller" in trained.stdout
    )
    report = json.loads((tmp_path / "model/report.json").read_text())
    assert report["validation"]["auc"] > 0.6

    predicted = _cli(
        "predict",
        "--model",
        str(tmp_path / "model"),
        "--csv",
        str(tmp_path / "new.csv"),
        "--id",
        "lead_id",
        "--out",
        str(tmp_path / "scores.csv"),
    )
    assert predicted.returncode == 0, predicted.stderr
    with (tmp_path / "scores.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 500 and list(rows[0]) == ["id", "score", "probability", "confidence"]
    assert rows[0]["id"] == "lead-2000"
    assert all(0 <= int(r["score"]) <= 100 and 0 <= float(r["confidence"]) <= 1 for r in rows)

    evaluated = _cli(
        "evaluate",
        "--model",
        str(tmp_path / "model"),
        "--csv",
        str(tmp_path / "new.csv"),
        "--target",
        "status",
        "--positive",
        "Converted",
        "--out",
        str(tmp_path / "eval"),
    )
    assert evaluated.returncode == 0, evaluated.stderr
    result = json.loads((tmp_path / "eval/report.json").read_text())
    assert {"auc", "ece", "brier", "lift_by_decile"} <= set(result)
    for plot in ("roc.png", "calibration.png", "lift.png"):
        assert (tmp_path / "eval" / plot).read_bytes()[:4] == b"\x89PNG"


def test_bad_arguments_are_clear_errors(tmp_path: Path) -> None:
    make_leads(100).to_csv(tmp_path / "leads.csv", index=False)
    missing = _cli(
        "train",
        "--csv",
        str(tmp_path / "nope.csv"),
        "--target",
        "status",
        "--positive",
        "x",
        "--id",
        "lead_id",
        "--out",
        str(tmp_path / "m"),
    )
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    target = _cli(
        "train",
        "--csv",
        str(tmp_path / "leads.csv"),
        "--target",
        "outcome",
        "--positive",
        "x",
        "--id",
        "lead_id",
        "--out",
        str(tmp_path / "m"),
    )
    assert target.returncode == 2 and "'outcome' is not in the data" in target.stderr
