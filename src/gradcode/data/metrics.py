"""Evaluation metrics."""

from __future__ import annotations

import numpy as np


def auc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve: P(score of a random positive > that of a random negative).

    Ties count one half. Computed from average ranks (Mann-Whitney U) in O(m log m):
    AUC = (sum of the positives' ranks - n1 (n1 + 1) / 2) / (n1 n0). Labels must be in {0, 1}
    with both classes present; scores must be finite.
    """
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or s.shape != y.shape:
        raise ValueError(
            f"y_true and scores must be 1-D of the same length, got {y.shape} and {s.shape}"
        )
    positive = y == 1
    if not (positive | (y == 0)).all():
        raise ValueError("y_true must hold binary labels in {0, 1}")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite (no NaN or inf)")
    n1 = int(positive.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        raise ValueError(f"AUC needs both classes, got {n1} positives and {n0} negatives")
    from scipy.stats import rankdata  # scipy.stats costs 0.5 s to import: only when used

    ranks = rankdata(s)
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))
