"""The training loops of the package and their chores: batching, seeding, threads,
devices, progress, the not-fitted check.

Epoch-based trainers (DCTR, the regressor) run :func:`train`: it iterates a
:class:`Loader` epoch by epoch, calls a ``step`` function on each batch, records the
losses the step returns, shows a progress bar, and stops early on a validation metric
with the best state restored. A trainer only writes its ``step`` (one optimizer
update, returning ``{name: loss}``) and, where it has one, an ``evaluate``
(validation metrics)::

    step = classifier_step(model, torch.optim.Adam(model.parameters(), lr=1e-3))
    with seeded(0) as generator:
        loader = Loader((x, y, w), batch_size=128, shuffle=True, generator=generator)
        history = train(step, loader, epochs=50, evaluate=lambda: {...}, patience=5,
                        modules=[model])

Batches are tensors, tuples of tensors, or whatever a collate function builds from
an index array (padded hit clouds, voxels), so large samples are converted batch
by batch, never all at once.

Adversarial training (the WGAN, the refiner) counts generator updates, not epochs:
:func:`train_steps` runs a step a fixed number of times over a cycled :class:`Loader`
and keeps every loss; :func:`gradient_penalty` is the WGAN-GP term of the critic loss
and :func:`frozen` keeps the critic's parameters out of the generator update.

The chores every estimator shares live here once: :func:`threads` and
:func:`cpu_threads` (small networks train fastest on one CPU thread),
:func:`rows` (a float32 batch of rows of an array) and :func:`require_fitted`.
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
    Loader,
    Step,
    averaged,
    classifier_step,
    evaluate_classifier,
    gradient_penalty,
    predict,
    train,
    train_steps,
)

__all__ = (
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
)
