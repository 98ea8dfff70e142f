"""Training: the loops (``loop.py``: :func:`train` by epochs, :func:`train_steps` by
adversarial steps, :class:`Loader`, :func:`gradient_penalty`) and the chores every
estimator shares (``chores.py``: device, mixed precision, seeding, :func:`threads`,
:func:`rows`, :func:`require_fitted`, :func:`frozen`).
"""

from __future__ import annotations

from dctrgan.training.chores import (
    autocast,
    cpu_threads,
    frozen,
    require_fitted,
    resolve_device,
    resolve_mixed_precision,
    rows,
    seeded,
    threads,
    to_device,
)
from dctrgan.training.loop import (
    ClassifierLoss,
    Loader,
    Step,
    averaged,
    classifier_step,
    evaluate_classifier,
    gradient_penalty,
    predict,
    train,
    train_steps,
    weighted_loss,
)

__all__ = (
    "ClassifierLoss",
    "Loader",
    "Step",
    "autocast",
    "averaged",
    "classifier_step",
    "cpu_threads",
    "evaluate_classifier",
    "frozen",
    "gradient_penalty",
    "predict",
    "require_fitted",
    "resolve_device",
    "resolve_mixed_precision",
    "rows",
    "seeded",
    "threads",
    "to_device",
    "train",
    "train_steps",
    "weighted_loss",
)
