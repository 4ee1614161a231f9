"""Classification metrics and temperature scaling, on numpy arrays (no torch needed to report)."""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support


def classification_report(probs: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...]) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1 and ECE for softmax outputs `probs` (N x C)."""
    predictions = probs.argmax(axis=1)
    class_ids = list(range(len(class_names)))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predictions, labels=class_ids, zero_division=0
    )
    return {
        "n": int(len(labels)),
        "accuracy": float((predictions == labels).mean()),
        "macro_f1": float(f1.mean()),
        # every class counts the same: a model that never predicts contempt loses 1/8 of it
        "macro_recall": float(recall.mean()),
        "ece": expected_calibration_error(probs, labels),
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                   "support": int(support[i])}
            for i, name in enumerate(class_names)
        },
        "confusion_matrix": confusion_matrix(labels, predictions, labels=class_ids).tolist(),
    }


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Top-1 ECE with equal-width confidence bins (Guo et al. 2017)."""
    return binned_calibration_gap(probs.max(axis=1), (probs.argmax(axis=1) == labels).astype(np.float64), bins)


def binned_calibration_gap(confidence: np.ndarray, hit: np.ndarray, bins: int = 15) -> float:
    """The mean over equal-width confidence bins (weighted by their share of faces) of |mean hit - mean confidence|,
    where `hit` is 1/0 for right/wrong (ECE) or the share of taggers who agree (against the votes)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    gap = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > low) & (confidence <= high)
        if in_bin.any():
            gap += in_bin.mean() * abs(hit[in_bin].mean() - confidence[in_bin].mean())
    return float(gap)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits.astype(np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of `labels` (Guo et al. 2017); fit it on val only."""
    rows = np.arange(len(labels))

    def nll(log_t: float) -> float:
        return float(-np.log(softmax(logits, float(np.exp(log_t)))[rows, labels] + 1e-12).mean())

    result = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))


def macro_recall(predictions: np.ndarray, labels: np.ndarray, num_classes: int) -> float:
    """Mean over the classes of the share of each class's faces predicted as that class (a class without faces
    counts as 0, so it cannot be ignored silently)."""
    hits = np.bincount(labels[predictions == labels], minlength=num_classes)
    support = np.bincount(labels, minlength=num_classes)
    return float((hits / np.maximum(support, 1)).mean())


def balanced_score(predictions: np.ndarray, labels: np.ndarray, num_classes: int) -> float:
    """What val selects on for FER+: the mean of accuracy and macro recall (both count as much)."""
    return 0.5 * (float((predictions == labels).mean()) + macro_recall(predictions, labels, num_classes))


def crowd_agreement(probs: np.ndarray, votes: np.ndarray) -> float:
    """The mean probability the model gives to a random tagger's vote: sum_c p(c) * votes(c) / sum(votes)."""
    share = votes / np.maximum(votes.sum(axis=1, keepdims=True), 1e-12)
    return float((probs * share).sum(axis=1).mean())


def vote_calibration_error(probs: np.ndarray, votes: np.ndarray, bins: int = 15) -> float:
    """ECE against the crowd: in each confidence bin, the mean confidence against the mean share of the votes that
    went to the predicted class (a confidence of 0.8 should mean 80% of taggers agree)."""
    share = votes / np.maximum(votes.sum(axis=1, keepdims=True), 1e-12)
    return binned_calibration_gap(probs.max(axis=1), share[np.arange(len(probs)), probs.argmax(axis=1)], bins)


ADJUSTMENT_ACCURACY_COST = 0.005  # the most val accuracy the rare-class adjustment may cost (as --precision auto's 0.5 pt)


def choose_logit_adjustment(logits: np.ndarray, labels: np.ndarray, log_prior: np.ndarray,
                            strengths: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(16))) -> tuple[float, dict]:
    """Post-hoc logit adjustment (Menon et al. 2021): logits - tau * log(prior) lifts the rare classes. Returns the
    tau with the highest macro recall on these (val) faces among those that cost at most ADJUSTMENT_ACCURACY_COST of
    accuracy against no adjustment, and every tau's accuracy and macro recall. (The best mean of the two alone
    chose adjustments that cost 4 points of accuracy for 9 of macro recall: a DJ that misreads the common
    expressions is no better.)"""
    tried = {}
    for tau in strengths:
        predictions = (logits - tau * log_prior).argmax(axis=1)
        tried[tau] = {"accuracy": float((predictions == labels).mean()),
                      "macro_recall": macro_recall(predictions, labels, logits.shape[1]),
                      "score": balanced_score(predictions, labels, logits.shape[1])}
    floor = tried[0.0]["accuracy"] - ADJUSTMENT_ACCURACY_COST if 0.0 in tried else 0.0
    allowed = [tau for tau in tried if tried[tau]["accuracy"] >= floor] or [min(tried)]
    best = max(allowed, key=lambda tau: (tried[tau]["macro_recall"], tried[tau]["accuracy"], -tau))
    return best, tried
