"""Command line for people and pipelines (run from the project's .venv):

    python -m shared.capabilities.scoring train --csv FILE --target COLUMN --positive VALUE --id COLUMN \\
        [--exclude COLUMN]... --out DIR
    python -m shared.capabilities.scoring predict --model DIR --csv FILE --id COLUMN --out FILE
    python -m shared.capabilities.scoring evaluate --model DIR --csv FILE --target COLUMN --positive VALUE --out DIR

Files may be comma- or semicolon-separated; the target column is ignored at predict time.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

from shared.core.errors import InvalidInput


def read_table(path: str) -> Any:
    """A CSV as a frame of strings-or-numbers; the separator (``,`` or ``;``) is sniffed."""
    import pandas as pd

    file = Path(path)
    if not file.is_file():
        raise InvalidInput(f"{path} does not exist", field="csv")
    with file.open(newline="") as handle:
        head = handle.read(64_000)
    try:
        sep = csv.Sniffer().sniff(head, delimiters=",;").delimiter
    except csv.Error:
        sep = ";" if head.count(";") > head.count(",") else ","
    return pd.read_csv(file, sep=sep, low_memory=False)


def _train(args: argparse.Namespace) -> None:
    from shared.capabilities.scoring.training import train

    frame = read_table(args.csv)
    start = time.perf_counter()
    model = train(
        frame,
        target=args.target,
        positive=args.positive,
        id_column=args.id,
        exclude=args.exclude or [],
    )
    model.report["training_seconds"] = round(time.perf_counter() - start, 2)
    model.save(Path(args.out))
    validation = model.report.get("validation", {})
    print(f"model {model.version} ({model.kind}) written to {args.out}")
    print(
        f"  labelled rows {model.report['labelled_rows']}, positives {model.report['positives']}; "
        f"validation AUC {validation.get('auc', float('nan')):.3f}, ECE {validation.get('ece', float('nan')):.3f}; "
        f"{model.report['training_seconds']} s"
    )
    for item in model.report["excluded"]:
        print(f"  left out {item['field']}: {item['reason']}")
    if model.report["insufficient_history"]:
        print("  insufficient history: this is a prior model with capped confidence")


def _predict(args: argparse.Namespace) -> None:
    from shared.capabilities.scoring.model import LeadModel

    model = LeadModel.load(Path(args.model))
    frame = read_table(args.csv)
    if args.id not in frame.columns:
        raise InvalidInput(f"id column {args.id!r} is not in {args.csv}", field="id")
    rows = model.score(frame, top=0)
    with Path(args.out).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "score", "probability", "confidence"])
        for lead_id, row in zip(frame[args.id], rows, strict=True):
            writer.writerow(
                [lead_id, row["score"], f"{row['probability']:.6f}", f"{row['confidence']:.3f}"]
            )
    print(f"scored {len(rows)} leads into {args.out}")


def _evaluate(args: argparse.Namespace) -> None:
    from shared.capabilities.scoring.metrics import summary
    from shared.capabilities.scoring.model import LeadModel
    from shared.capabilities.scoring.report import plots
    from shared.capabilities.scoring.training import labels

    model = LeadModel.load(Path(args.model))
    frame, y = labels(read_table(args.csv), args.target, args.positive)
    p = model.predict_proba(frame)
    report = {"model_version": model.version, "model_kind": model.kind, **summary(y, p)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report["plots"] = [str(path.name) for path in plots(y, p, report["lift_by_decile"], out)]
    (out / "report.json").write_text(json.dumps(report, indent=2))
    print(
        f"AUC {report['auc']:.3f}  ECE {report['ece']:.3f}  Brier {report['brier']:.3f}  "
        f"top-decile lift {report['lift_by_decile'][0]['lift']:.2f}  -> {out / 'report.json'}"
    )


def main(argv: list[str] | None = None) -> int:
    """The offline scoring CLI: train, predict and evaluate on a CSV file, without Firestore."""
    parser = argparse.ArgumentParser(
        prog="python -m shared.capabilities.scoring",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser("train", help="train a model from labelled leads")
    p_train.add_argument("--csv", required=True)
    p_train.add_argument("--target", required=True)
    p_train.add_argument("--positive", required=True)
    p_train.add_argument("--id", required=True)
    p_train.add_argument("--exclude", action="append")
    p_train.add_argument("--out", required=True)
    p_predict = sub.add_parser("predict", help="score leads with a trained model")
    p_predict.add_argument("--model", required=True)
    p_predict.add_argument("--csv", required=True)
    p_predict.add_argument("--id", required=True)
    p_predict.add_argument("--out", required=True)
    p_eval = sub.add_parser("evaluate", help="measure a model on labelled leads")
    for name in ("--model", "--csv", "--target", "--positive", "--out"):
        p_eval.add_argument(name, required=True)
    args = parser.parse_args(argv)
    try:
        {"train": _train, "predict": _predict, "evaluate": _evaluate}[args.command](args)
    except InvalidInput as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
