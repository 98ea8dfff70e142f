"""Event splits of :class:`dctrgan.DCTR`: folds, training / validation, tiling, class balance.

Events are numbered in one index space, the real events first: ``is_real[i]`` tells
the class of event ``i``.
"""

from __future__ import annotations

import numpy as np

__all__ = ("balance", "fold_labels", "split", "tile")


def fold_labels(n: int, folds: int, rng: np.random.Generator) -> np.ndarray:
    """A fold number in ``[0, folds)`` for each of ``n`` events, in random order, balanced."""
    return rng.permutation(n) % folds if folds > 1 else np.zeros(n, dtype=np.int64)


def split(
    pool: np.ndarray,
    is_real: np.ndarray,
    validation: float,
    folds: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation events of ``pool``, a fraction ``validation`` of each class
    held out (sorted index arrays).

    Raises:
        ValueError: if a class would be missing from the training or validation set.
    """
    train, val = [], []
    for label, what in ((True, "real"), (False, "fake")):
        events = rng.permutation(pool[is_real[pool] == label])
        n_val = round(validation * len(events))
        if len(events) - n_val < 1 or (validation > 0 and n_val < 1):
            msg = (
                f"{what}: {len(events)} event(s) in a training split (folds={folds}, "
                f"validation={validation}) leave one of the training or validation sets "
                "without this class; a DCTR classifier needs both classes in each"
            )
            raise ValueError(msg)
        val.append(events[:n_val])
        train.append(events[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def tile(index: np.ndarray, is_real: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``index`` with the smaller class repeated (and randomly topped up) to the larger's
    size (DCTRGAN sec. III B: the Geant4 set is tiled to the size of the GAN set)."""
    real, fake = index[is_real[index]], index[~is_real[index]]
    small, large = (real, fake) if len(real) < len(fake) else (fake, real)
    repeats, rest = divmod(len(large), len(small))
    extra = rng.choice(small, rest, replace=False)
    return np.concatenate([np.tile(small, repeats), extra, large])


def balance(weight: np.ndarray, index: np.ndarray, is_real: np.ndarray) -> None:
    """Scale ``weight`` in place so each class totals ``len(index) / 2`` over ``index``
    (repeated entries counted): the classes balanced and the mean weight 1, so
    :math:`h / (1 - h)` estimates ``p_real / p_fake`` whatever the sample sizes."""
    if len(index) == 0:
        return
    for label in (True, False):
        members = index[is_real[index] == label]
        total = weight[members].sum()
        if not total > 0:
            which = "real" if label else "fake"
            msg = (
                f"the {which} events of a training or validation split have a weight sum of "
                f"{total:.4g} <= 0 (signed input weights that cancel in a small split); "
                "use more events, fewer folds or a smaller validation fraction"
            )
            raise ValueError(msg)
        weight[np.unique(members)] *= 0.5 * len(index) / total
