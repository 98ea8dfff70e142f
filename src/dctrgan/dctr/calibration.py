"""Calibration of DCTR weights: the temperature, the normalization offset, clipping.

A fitted classifier gives a logit ``z`` per event; its weight is
``w = exp(z / T + b)``. The temperature ``T`` (:func:`fit_temperature`) calibrates
the classifier on held-out events, the offset ``b`` (:func:`fit_offset`) makes the
weights of the fake sample average 1, and :func:`weights_from_log` turns the
log-weights into weights, clipped and without overflow. :func:`neff_fraction` tells
how many effective entries such weights leave.
"""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np

from dctrgan.stats import effective_entries

__all__ = (
    "MAX_LOG_WEIGHT",
    "fit_offset",
    "fit_temperature",
    "neff_fraction",
    "weights_from_log",
)

log = logging.getLogger(__name__)

#: Largest log-weight whose exp is a finite float32 (with a margin): weights are float32.
MAX_LOG_WEIGHT = math.log(np.finfo(np.float32).max) - 1.0


def fit_temperature(logit: np.ndarray, target: np.ndarray, weight: np.ndarray) -> float:
    """The temperature ``T`` minimizing the weighted BCE of ``sigmoid(logit / T)``.

    Golden-section search on ``log T`` in ``[1/20, 20]`` (the loss is convex in
    ``1/T``; deterministic, no optimizer state).

    References:
        C. Guo et al., "On calibration of modern neural networks", ICML 2017.
    """
    z = np.asarray(logit, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)

    def loss(log_t: float) -> float:
        s = z / math.exp(log_t)
        # BCE with logits: y * log(1 + e^-s) + (1 - y) * log(1 + e^s), overflow-free
        return float(np.sum(w * (y * np.logaddexp(0.0, -s) + (1 - y) * np.logaddexp(0.0, s))))

    lo, hi = math.log(1 / 20), math.log(20)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = loss(a), loss(b)
    for _ in range(60):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = loss(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = loss(b)
    return math.exp(0.5 * (lo + hi))


def fit_offset(logit: np.ndarray, temperature: float, weight: np.ndarray) -> float:
    """The log-weight offset ``b`` that makes the weighted mean of ``exp(logit / T + b)``
    over fake events 1 (DCTRGAN eq. 10), computed in log space.

    Args:
        logit: ``(M,)`` logits of held-out fake events.
        temperature: the fitted ``T``.
        weight: ``(M,)`` their positive sample weights.
    """
    log_w0 = np.log(np.asarray(weight, dtype=np.float64))
    return _logsumexp(log_w0) - _logsumexp(np.asarray(logit, np.float64) / temperature + log_w0)


def _logsumexp(x: np.ndarray) -> float:
    """``log(sum(exp(x)))`` without overflow."""
    top = float(np.max(x))
    return top + math.log(float(np.sum(np.exp(x - top))))


def weights_from_log(log_w: np.ndarray, clip: float | None) -> tuple[np.ndarray, int]:
    """Weights ``exp(log_w)`` clipped at ``clip``, and how many were clipped.

    ``exp(logit / T)``, not ``h / (1 - h)``: in float32 the sigmoid rounds to exactly 1
    once the logit passes ~17 (a division by zero) and to 0 below ~-88 (0/0), while
    ``exp`` of a float64 log-weight is exact. Weights are float32, finite up to
    ``exp(88)``: beyond that a weight is set to ``exp(87.7)``, with a warning.
    """
    clipped = 0
    if clip is not None:
        over = log_w > math.log(clip)
        clipped = int(over.sum())
        log_w = np.where(over, math.log(clip), log_w)
        if clipped:
            log.info(
                "DCTR: clipped %d of %d weights (%.3g%%) at %g",
                clipped,
                len(log_w),
                100 * clipped / len(log_w),
                clip,
            )
    huge = log_w > MAX_LOG_WEIGHT
    if huge.any():
        warnings.warn(
            f"DCTR: {int(huge.sum())} weight(s) would overflow float32 (first at event "
            f"{int(np.flatnonzero(huge)[0])}); set to {math.exp(MAX_LOG_WEIGHT):.3g}: "
            "the samples barely overlap there, consider clip=",
            RuntimeWarning,
            stacklevel=3,
        )
        log_w = np.minimum(log_w, MAX_LOG_WEIGHT)
    return np.exp(log_w), clipped


def neff_fraction(log_w: np.ndarray, weight: np.ndarray, clip: float | None) -> float:
    """``n_eff / N`` of the weights ``weight * exp(log_w)`` (clipped at ``clip``), which
    is unchanged by a common factor: computed without overflow for any ``log_w``."""
    if len(log_w) == 0:
        return 1.0
    if clip is not None:
        log_w = np.minimum(log_w, math.log(clip))
    return effective_entries(weight * np.exp(log_w - log_w.max())) / len(log_w)
