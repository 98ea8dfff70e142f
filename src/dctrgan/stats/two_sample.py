"""An independent two-sample test: a classifier trained to tell the reference from the
(weighted) model sample, scored on events it never saw.

The weighting classifier's own closure AUC is blind to what it failed to learn; a
second classifier, trained afresh with the weights applied, is not. Its held-out ROC
AUC is 0.5 when the weighted model cannot be told from the reference, and its
binary cross-entropy gives a lower bound on the Jensen-Shannon divergence of the two
densities (``ln 2 - BCE``, as in the CaloChallenge evaluation).

The classifier is a small MLP written here in plain torch (``stats`` sits below the
training layers): inputs standardised, Adam, class-balanced weighted BCE, a fixed
number of epochs keeping the state of the best loss on a validation split. Stratified
k-fold: every event is scored once, by the classifier that did not train on it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from dctrgan.stats._adam import Adam
from dctrgan.stats._checks import FloatArray
from dctrgan.stats.weighted import effective_entries

__all__ = ("ClassifierTest", "classifier_test", "classifier_tests", "weighted_auc")

log = logging.getLogger(__name__)
LN2 = float(np.log(2.0))
#: Events scored at a time by the trained networks: the ``(k, block, d)`` input and the
#: activations stay a few MB however large the samples.
_EVALUATION_BLOCK = 4_096


@dataclasses.dataclass(frozen=True)
class ClassifierTest:
    r"""Result of :func:`classifier_test`.

    Attributes:
        auc: weighted ROC AUC of the held-out scores, the reference the positive class:
            0.5 for samples that cannot be told apart, 1 for disjoint ones.
        auc_interval: ``(low, high)`` central bootstrap interval of ``auc`` at
            ``level`` (percentile method, events resampled with their weights within
            each sample; the classifiers are held fixed, so under the null hypothesis
            the interval is complete and otherwise slightly narrow).
        jsd: ``ln 2 - BCE`` of the held-out predictions, nats (weighted BCE with the
            two samples at equal total weight). A lower bound on the Jensen-Shannon
            divergence, reached by the optimal classifier; at most ``ln 2``. Not clipped
            at 0: a negative value means the classifier did worse than a constant guess
            (noise), and keeps averages over repetitions unbiased.
        jsd_interval: bootstrap interval of ``jsd``, as for ``auc``.
        level: confidence level of the intervals.
        n_reference: events of the reference sample.
        n_model: events of the model sample.
        n_eff_model: effective events :math:`(\sum w)^2 / \sum w^2` of the weighted model
            sample.
        folds: number of folds (classifiers trained).
    """

    auc: float
    auc_interval: tuple[float, float]
    jsd: float
    jsd_interval: tuple[float, float]
    level: float
    n_reference: int
    n_model: int
    n_eff_model: float
    folds: int

    def __str__(self) -> str:
        lo, hi = self.auc_interval
        return (
            f"AUC {self.auc:.4f} [{lo:.4f}, {hi:.4f}] ({self.level:.0%}), "
            f"JSD {self.jsd:.2e} nats, n_eff(model) {self.n_eff_model:.0f} of {self.n_model}"
        )


def _matrix(x: Any, name: str, keys: Sequence[str] | None) -> tuple[FloatArray, list[str]]:
    """A sample as an ``(N, d)`` float64 array, and its feature names (of a mapping)."""
    who = "classifier_test"
    names: list[str] = []
    if isinstance(x, Mapping):
        names = [str(k) for k in x]
        if keys is not None and set(names) != set(keys):
            msg = f"{who}: {name!r} has the features {names}, the reference {list(keys)}"
            raise ValueError(msg)
        names = list(keys) if keys is not None else names
        columns = [_matrix(x[k], f"{name}[{k!r}]", None)[0] for k in names]
        if not columns or any(c.shape[1] != 1 for c in columns):
            msg = f"{who}: {name!r} must map names to (N,) values"
            raise ValueError(msg)
        if len({len(c) for c in columns}) > 1:
            msg = f"{who}: the features of {name!r} have different lengths"
            raise ValueError(msg)
        return np.concatenate(columns, axis=1), names
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or len(a) == 0:
        msg = f"{who}: {name!r} must be (N,) or (N, d) values, got shape {a.shape}"
        raise ValueError(msg)
    bad = ~np.isfinite(a)
    if bad.any():
        msg = f"{who}: {int(bad.sum())} non-finite value(s) in {name!r}"
        raise ValueError(msg)
    return a, names


def _weights(w: Any, n: int, name: str) -> FloatArray:
    """Event weights of a sample (ones if ``None``): finite, signed, positive sum."""
    if w is None:
        return np.ones(n)
    if isinstance(w, torch.Tensor):
        w = w.detach().cpu().numpy()
    a = np.asarray(w, dtype=np.float64)
    if a.shape != (n,):
        msg = f"classifier_test: {name!r} has shape {a.shape}, expected ({n},)"
        raise ValueError(msg)
    if not np.isfinite(a).all():
        msg = f"classifier_test: {int((~np.isfinite(a)).sum())} non-finite weight(s) in {name!r}"
        raise ValueError(msg)
    if not a.sum() > 0:
        msg = f"classifier_test: the weights {name!r} do not have a positive sum ({a.sum()!r})"
        raise ValueError(msg)
    return a


def weighted_auc(
    scores: Any, labels: Any, weights: Any = None, *, counts: Any = None
) -> FloatArray | float:
    """Weighted ROC AUC: the probability that a positive event scores above a negative one.

    ``sum_ij w_i v_j ([s_i > s_j] + [s_i = s_j] / 2) / (sum_i w_i sum_j v_j)`` over
    positive events ``i`` (weights ``w``) and negative events ``j`` (weights ``v``):
    the Mann-Whitney form, ties counted half, exact for signed weights (then not
    confined to [0, 1]). One sort, ``O(N log N)``.

    Args:
        scores: ``(N,)`` classifier outputs (any monotonic scale).
        labels: ``(N,)`` 1 for positive (reference) events, 0 for negative ones.
        weights: ``(N,)`` event weights (default 1).
        counts: optional ``(B, N)`` multiplicities of the events in ``B`` bootstrap
            resamplings; then one AUC per resampling.

    Returns:
        The AUC, or ``(B,)`` AUCs with ``counts``.

    Raises:
        ValueError: for mismatched shapes or a class without (positive total) weight.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    w = np.ones(len(s)) if weights is None else np.asarray(weights, dtype=np.float64)
    if s.ndim != 1 or y.shape != s.shape or w.shape != s.shape:
        msg = (
            f"weighted_auc: scores, labels and weights need one value per event, got "
            f"{s.shape}, {y.shape}, {w.shape}"
        )
        raise ValueError(msg)
    m = w[None, :] if counts is None else np.asarray(counts, dtype=np.float64) * w
    order = np.argsort(s, kind="stable")
    s, y, m = s[order], y[order], m[:, order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # groups of tied scores
    pos = np.add.reduceat(np.where(y, m, 0.0), starts, axis=1)
    neg = np.add.reduceat(np.where(y, 0.0, m), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg  # negative weight strictly below each group
    total = pos.sum(axis=1) * neg.sum(axis=1)
    if not (total > 0).all():
        msg = "weighted_auc: a class has no events (or no positive total weight)"
        raise ValueError(msg)
    auc = (pos * (below + 0.5 * neg)).sum(axis=1) / total
    return float(auc[0]) if counts is None else np.asarray(auc, dtype=np.float64)


def _jsd(logits: FloatArray, y: FloatArray, w: FloatArray, counts: FloatArray) -> FloatArray:
    """``ln 2 - BCE`` per row of the event weights ``counts * w`` (``counts``: ``(B, N)``
    multiplicities), classes at equal weight; no ``(B, N)`` array beside ``counts``."""
    log_p, log_q = -np.logaddexp(0, -logits), -np.logaddexp(0, logits)  # log sigmoid(+-logit)
    pos, neg = w * y, w * (1 - y)
    bce = -0.5 * (
        (counts @ (pos * log_p)) / (counts @ pos) + (counts @ (neg * log_q)) / (counts @ neg)
    )
    return np.asarray(LN2 - bce, dtype=np.float64)


def _init(d: int, hidden: Sequence[int], k: int, device: torch.device) -> list[torch.Tensor]:
    """Weights and biases of ``k`` MLPs stacked: ``(k, in, out)`` and ``(k, 1, out)``."""
    params = []
    for d_in, d_out in zip([d, *hidden], [*hidden, 1], strict=True):
        bound = d_in**-0.5  # torch.nn.Linear's initialisation
        for shape in ((k, d_in, d_out), (k, 1, d_out)):
            t = (torch.rand(shape, device=device) * 2 - 1) * bound
            params.append(t.requires_grad_())
    return params


def _forward(params: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Logits ``(k, B)`` of the ``k`` MLPs on their inputs ``(k, B, d)``."""
    for i in range(0, len(params), 2):
        x = torch.baddbmm(params[i + 1], x, params[i])
        if i + 2 < len(params):
            x = torch.relu(x)
    return x.squeeze(2)


def _train(
    x: torch.Tensor,
    y: torch.Tensor,
    w: torch.Tensor,
    train: list[torch.Tensor],
    *,
    hidden: Sequence[int],
    epochs: int,
    batch_size: int,
    lr: float,
    validation: float,
    generator: torch.Generator,
    copies: int = 1,
) -> list[torch.Tensor]:
    """One MLP per fold, trained together, with weighted BCE on the events ``train[f]``.

    ``x``: ``(N, d)`` inputs, ``y``: ``(N,)`` labels, ``w``: ``(copies * k, N)`` weights
    of each fold's training, ``copies`` sets of ``k`` rows (one per weighting).

    The ``copies * k`` networks are one batched network (``bmm``): a step updates all of
    them at the cost of about one. The copies start alike and see the same batches, so
    each set of ``k`` trains as it would alone. Each keeps the state of its best
    validation loss.
    """
    k, dev = len(train), x.device
    params = [
        torch.cat([p.detach()] * copies).requires_grad_() if copies > 1 else p
        for p in _init(x.shape[1], hidden, k, dev)
    ]
    opt = Adam(params, lr=lr)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    n_val = min(round(validation * len(t)) for t in train)
    shuffled = [t[torch.randperm(len(t), generator=generator).to(dev)] for t in train]
    val = torch.stack([t[:n_val] for t in shuffled] * copies)  # (copies * k, n_val)
    fit = [t[n_val:] for t in shuffled]
    size = min(len(t) for t in fit)  # equal sizes (stratified folds differ by a few events)
    best = torch.full((copies * k,), float("inf"), device=dev)
    rows = torch.arange(copies * k, device=dev)[:, None]
    kept = [p.detach().clone() for p in params]
    for _ in range(epochs):
        order = torch.stack(
            [t[torch.randperm(len(t), generator=generator)[:size].to(dev)] for t in fit] * copies
        )
        for batch in torch.split(order, batch_size, dim=1):
            # gathered with index_select and gather: the same values as x[batch] and
            # w[rows, batch], in about half the time
            flat = batch.reshape(-1)
            out = _forward(params, x.index_select(0, flat).view(*batch.shape, -1))
            target = y.index_select(0, flat).view(batch.shape)
            loss = (w.gather(1, batch) * bce(out, target, reduction="none")).mean(dim=1).sum()
            opt.step(torch.autograd.grad(loss, params))
        if n_val:
            with torch.no_grad():
                out = _forward(params, x[val])
                v = (w[rows, val] * bce(out, y[val], reduction="none")).mean(dim=1)
                better = v < best
                best = torch.where(better, v, best)
                for p, q in zip(params, kept, strict=True):
                    q[better] = p[better]
    return kept if n_val else [p.detach() for p in params]


def _folds(y: FloatArray, k: int, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """Fold of each event, each class spread evenly over the folds (stratified)."""
    fold = np.empty(len(y), dtype=np.int64)
    for label in (0, 1):
        idx = np.flatnonzero(y == label)
        fold[rng.permutation(idx)] = np.arange(len(idx)) % k
    return fold


def classifier_test(
    reference: Any,
    model: Any,
    model_weights: Any = None,
    reference_weights: Any = None,
    *,
    hidden: Sequence[int] = (64, 64),
    epochs: int = 20,
    batch_size: int = 256,
    lr: float = 1e-3,
    folds: int = 5,
    validation: float = 0.2,
    n_bootstrap: int = 200,
    level: float = 0.95,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> ClassifierTest:
    """Tell the (weighted) model sample from the reference with an independent classifier.

    ``folds`` classifiers are trained, each on all folds but one (stratified: each
    sample spread evenly), and score the fold they did not see, so every event gets
    one held-out score. Event weights enter both the training (weighted BCE, the two
    samples scaled to equal total weight) and the scores: the weighted AUC
    (:func:`weighted_auc`) and ``jsd = ln 2 - BCE`` of the held-out predictions. Run
    it before and after weighting: a good weighting brings the AUC from above 0.5 to
    an interval that covers 0.5, and ``jsd`` to about 0. :func:`classifier_tests` runs
    it for several weightings at about the cost of one.

    Signed weights are accepted (each sample's sum must be positive); the weighted
    BCE with negative weights is unbounded below for a network that isolates single
    events, which a small MLP trained for few epochs does not do.

    Args:
        reference: ``(N,)`` or ``(N, d)`` features of the reference (numpy or torch),
            or a mapping feature name -> ``(N,)`` values.
        model: the model sample, the same features (a mapping: the same names).
        model_weights: ``(M,)`` weights of the model events (say DCTR's), default 1.
        reference_weights: ``(N,)`` weights of the reference events, default 1.
        hidden: widths of the MLP's hidden layers (ReLU).
        epochs: passes over the training folds.
        batch_size: events per Adam step.
        lr: Adam learning rate.
        folds: number of folds, at least 2.
        validation: fraction of the training folds held out to choose the epoch
            (0: keep the last).
        n_bootstrap: bootstrap resamplings for the intervals.
        level: confidence level of the intervals (0.95: central 95 %).
        seed: seeds the folds, the networks, the batches and the bootstrap.
        device: torch device of the training.
        progress: log each fold at INFO level (logger ``dctrgan.stats.two_sample``).

    Returns:
        The :class:`ClassifierTest`.

    Raises:
        ValueError: for non-finite or mismatched inputs, invalid weights, fewer than two
            events per sample and fold, or settings out of range (naming them).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> ref, mod = rng.normal(0, 1, 2000), rng.normal(0.5, 1, 2000)
        >>> classifier_test(ref, mod, epochs=5).auc > 0.55
        True

    References:
        CaloChallenge evaluation (Krause et al., arXiv:2410.21611), the classifier
        metric; D. Lopez-Paz, M. Oquab, "Revisiting classifier two-sample tests",
        ICLR 2017.
    """
    (result,) = classifier_tests(
        reference,
        model,
        [model_weights],
        reference_weights,
        hidden=hidden,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        folds=folds,
        validation=validation,
        n_bootstrap=n_bootstrap,
        level=level,
        seed=seed,
        device=device,
        progress=progress,
    )
    return result


def classifier_tests(
    reference: Any,
    model: Any,
    model_weights: Sequence[Any],
    reference_weights: Any = None,
    *,
    hidden: Sequence[int] = (64, 64),
    epochs: int = 20,
    batch_size: int = 256,
    lr: float = 1e-3,
    folds: int = 5,
    validation: float = 0.2,
    n_bootstrap: int = 200,
    level: float = 0.95,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> list[ClassifierTest]:
    """:func:`classifier_test` of one model sample under several weightings, at once.

    The result for each weighting is the one :func:`classifier_test` gives with the same
    settings: the same folds, initial networks, batches and bootstrap resamplings (all
    come from ``seed``), the networks of every weighting trained side by side as one
    batched network, so two weightings (before and after DCTR) cost little more than one.

    Args:
        reference: ``(N,)`` or ``(N, d)`` features of the reference, or a mapping.
        model: the model sample, the same features.
        model_weights: one entry per test: ``(M,)`` weights of the model events, or
            None for 1.
        reference_weights: ``(N,)`` weights of the reference events, default 1.
        hidden: as :func:`classifier_test`, and every setting after it.
        epochs: passes over the training folds.
        batch_size: events per Adam step.
        lr: Adam learning rate.
        folds: number of folds, at least 2.
        validation: fraction of the training folds held out to choose the epoch.
        n_bootstrap: bootstrap resamplings for the intervals.
        level: confidence level of the intervals.
        seed: seeds the folds, the networks, the batches and the bootstrap.
        device: torch device of the training.
        progress: log the training at INFO level.

    Returns:
        One :class:`ClassifierTest` per entry of ``model_weights``, in order.

    Raises:
        ValueError: as :func:`classifier_test`, or for no entry in ``model_weights``.
    """
    x_ref, keys = _matrix(reference, "reference", None)
    x_mod, _ = _matrix(model, "model", keys if isinstance(reference, Mapping) else None)
    if isinstance(reference, Mapping) != isinstance(model, Mapping):
        msg = "classifier_test: give reference and model both as mappings or both as arrays"
        raise TypeError(msg)
    if x_ref.shape[1] != x_mod.shape[1]:
        msg = f"classifier_test: reference has {x_ref.shape[1]} features, model {x_mod.shape[1]}"
        raise ValueError(msg)
    if not len(model_weights):
        msg = "classifier_tests: model_weights holds no weighting (None for none)"
        raise ValueError(msg)
    w_ref = _weights(reference_weights, len(x_ref), "reference_weights")
    w_mods = [_weights(w, len(x_mod), "model_weights") for w in model_weights]
    _check_settings(folds, epochs, n_bootstrap, level, validation, min(len(x_ref), len(x_mod)))

    x = np.concatenate([x_ref, x_mod])
    y = np.r_[np.ones(len(x_ref)), np.zeros(len(x_mod))]
    # equal class weights
    ws = [np.r_[w_ref / w_ref.sum(), w_mod / w_mod.sum()] * len(x) / 2 for w_mod in w_mods]
    rng = np.random.default_rng(seed)
    fold = _folds(y, folds, rng)
    dev = torch.device(device)
    # standardised with all events: no labels enter, so nothing of the held-out folds leaks
    std = x.std(axis=0)
    x_t = torch.as_tensor(
        (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0), dtype=torch.float32, device=dev
    )
    train = [torch.as_tensor(np.flatnonzero(fold != f), device=dev) for f in range(folds)]
    copies = len(ws)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the networks' initialisation
        params = _train(
            x_t,
            torch.as_tensor(y, dtype=torch.float32, device=dev),
            torch.as_tensor(
                np.concatenate([_balanced(w, y, fold) for w in ws]),
                dtype=torch.float32,
                device=dev,
            ),
            train,
            hidden=hidden,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            validation=validation,
            generator=torch.Generator().manual_seed(seed),
            copies=copies,
        )
    with torch.no_grad():
        # (copies * k, N): each net, each event
        every = (
            torch.cat(
                [
                    _forward(params, part.expand(copies * folds, -1, -1))
                    for part in torch.split(x_t, _EVALUATION_BLOCK)
                ],
                dim=1,
            )
            .double()
            .cpu()
            .numpy()
        )
    if progress:
        log.info("classifier_test: %d classifiers trained on %d events", copies * folds, len(x))
    counts = _bootstrap_counts(y, fold, folds, n_bootstrap, rng)
    return [
        _scores(every[i * folds : (i + 1) * folds], y, w, fold, counts, level, w_mod, x_ref, x_mod)
        for i, (w, w_mod) in enumerate(zip(ws, w_mods, strict=True))
    ]


def _scores(
    every: FloatArray,
    y: FloatArray,
    w: FloatArray,
    fold: npt.NDArray[np.int64],
    counts: FloatArray,
    level: float,
    w_mod: FloatArray,
    x_ref: FloatArray,
    x_mod: FloatArray,
) -> ClassifierTest:
    """The test's numbers from the logits ``every`` ``(k, N)`` of the ``k`` classifiers."""
    folds = len(every)
    logits = every[fold, np.arange(len(y))]  # each event scored by the net that did not see it
    # AUC: the mean over folds of each classifier's AUC on its own held-out fold (pairs
    # across folds would compare two classifiers' offsets, not the samples)
    auc = np.mean(
        [float(weighted_auc(logits[fold == f], y[fold == f], w[fold == f])) for f in range(folds)]
    )
    aucs = np.mean(
        [
            np.asarray(
                weighted_auc(
                    logits[fold == f], y[fold == f], w[fold == f], counts=counts[:, fold == f]
                )
            )
            for f in range(folds)
        ],
        axis=0,
    )
    jsd = float(_jsd(logits, y, w, np.ones((1, len(y))))[0])
    jsds = _jsd(logits, y, w, counts)
    q = [(1 - level) / 2, (1 + level) / 2]
    a_lo, a_hi = (float(v) for v in np.quantile(aucs, q))
    j_lo, j_hi = (float(v) for v in np.quantile(jsds, q))
    return ClassifierTest(
        auc=float(auc),
        auc_interval=(a_lo, a_hi),
        jsd=jsd,
        jsd_interval=(j_lo, j_hi),
        level=float(level),
        n_reference=len(x_ref),
        n_model=len(x_mod),
        n_eff_model=float(effective_entries(w_mod)),
        folds=folds,
    )


def _balanced(w: FloatArray, y: FloatArray, fold: npt.NDArray[np.int64]) -> FloatArray:
    """``(k, N)`` weights for the training of each fold: both samples at equal total weight."""
    k = int(fold.max()) + 1
    out = np.empty((k, len(w)))
    for f in range(k):
        train = fold != f
        for label in (0, 1):
            cls = y == label
            out[f, cls] = w[cls] / w[cls & train].sum() * train.sum() / 2
    return out


def _bootstrap_counts(
    y: FloatArray, fold: npt.NDArray[np.int64], k: int, n: int, rng: np.random.Generator
) -> FloatArray:
    """``(n, N)`` multiplicities: the events of each sample in each fold resampled with
    replacement, at the number they have there."""
    counts = np.zeros((n, len(y)))
    for f in range(k):
        for label in (0, 1):
            idx = np.flatnonzero((y == label) & (fold == f))
            counts[:, idx] = rng.multinomial(len(idx), np.full(len(idx), 1 / len(idx)), size=n)
    return counts


def _check_settings(
    folds: int, epochs: int, n_bootstrap: int, level: float, validation: float, smallest: int
) -> None:
    """Raise a ``ValueError`` naming the first setting out of range."""

    def whole(v: object, least: int) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and bool(v >= least)

    checks = [
        ("folds", folds, whole(folds, 2)),
        ("epochs", epochs, whole(epochs, 1)),
        ("n_bootstrap", n_bootstrap, whole(n_bootstrap, 1)),
        ("level", level, 0 < level < 1),
        ("validation", validation, 0 <= validation < 1),
    ]
    for name, value, ok in checks:
        if not ok:
            msg = f"classifier_test: {name}={value!r} is out of range"
            raise ValueError(msg)
    if smallest < 2 * folds:
        msg = (
            f"classifier_test: the smaller sample has {smallest} events, fewer than two per "
            f"fold (folds={folds})"
        )
        raise ValueError(msg)
