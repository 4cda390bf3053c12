"""Evaluation plots: ROC curve, calibration (reliability) curve, lift by decile (PNG, matplotlib)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np


def plots(y: np.ndarray, p: np.ndarray, lift: list[dict[str, float]], out: Path) -> list[Path]:
    """The evaluation plots (ROC, calibration, lift) as PNG files in ``out``."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
    import numpy as np
    from sklearn.metrics import roc_curve

    out.mkdir(parents=True, exist_ok=True)
    written = []

    fpr, tpr, _ = roc_curve(y, p)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(fpr, tpr, label="model")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax.legend(loc="lower right")
    written.append(out / "roc.png")
    fig.savefig(written[-1], dpi=100, bbox_inches="tight")
    plt.close(fig)

    bins = np.linspace(0, 1, 11)
    index = np.minimum(np.digitize(p, bins) - 1, 9)
    mean_p = [float(p[index == b].mean()) for b in range(10) if (index == b).any()]
    rate = [float(y[index == b].mean()) for b in range(10) if (index == b).any()]
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    ax.plot(mean_p, rate, marker="o", label="model")
    ax.set(xlabel="predicted probability", ylabel="observed conversion rate", title="Calibration")
    ax.legend(loc="upper left")
    written.append(out / "calibration.png")
    fig.savefig(written[-1], dpi=100, bbox_inches="tight")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar([int(d["decile"]) for d in lift], [d["lift"] for d in lift])
    ax.axhline(1.0, color="grey", linestyle="--")
    ax.set(
        xlabel="decile (1 = highest scores)", ylabel="lift over base rate", title="Lift by decile"
    )
    written.append(out / "lift.png")
    fig.savefig(written[-1], dpi=100, bbox_inches="tight")
    plt.close(fig)
    return written
