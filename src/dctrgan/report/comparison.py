""":func:`compare`, which compares a weighted model sample with a reference observable
by observable (:math:`⟨S^2⟩` and ``r`` without and with the weights, their spread over
replicas of the weighting, and an independent classifier test), and its result
:class:`Comparison`: the table of the numbers with its
Markdown and files."""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import awkward as ak
import numpy as np
import torch
from tqdm.auto import tqdm

from dctrgan import features, stats, training
from dctrgan.report import markdown
from dctrgan.report.binning import edges
from dctrgan.report.table import Entry, Table

__all__ = (
    "TEST_OPTIONS",
    "Comparison",
    "compare",
    "compare_observable",
    "observable_unit",
)

#: Settings of :func:`dctrgan.stats.classifier_test` in :func:`compare`, which
#: ``test_options`` override: its own but 10 epochs rather than 20 (the best epoch on the
#: validation events came before the 10th for showers). Both tests of 20,000 full against
#: 20,000 fast showers (151 observables), trained side by side
#: (:func:`dctrgan.stats.classifier_tests`), take about 5 s (on one CPU thread, as every
#: small network of the package trains).
TEST_OPTIONS: Mapping[str, Any] = MappingProxyType({"epochs": 10})
_TRACE_UNITS = {"total_signal": "VEM", "max_station_signal": "VEM", "rise_time": "ns"}


@dataclasses.dataclass(frozen=True)
class Comparison(Table):
    """Observable-by-observable comparison of a weighted model sample with a reference.

    Its numbers (from the table it extends): ``floor_unweighted`` and
    ``floor_weighted`` (:func:`statistical_floor` without and with the weights),
    ``neff_fraction`` (``n_eff / N`` of the weighted model), ``groups``,
    ``comparison[observable]`` (its :class:`Entry`),
    :meth:`median` of a column and
    :meth:`to_csv`.

    Attributes:
        entries: one :class:`Entry` per observable, in order.
        bins: number of bins of every histogram.
        n_reference: events in the reference sample.
        n_model: events in the model sample.
        neff_reference: effective entries :math:`(Σ w)^2 / Σ w^2` of the reference.
        neff_model: effective entries of the weighted model sample.
        evaluation: which events were compared (e.g. "held-out test split"), for the header.
        n_replicas: replicas of the weighting behind the entries' spreads (0: none).
        neff_model_spread: standard deviation (``ddof=1``) of ``neff_model`` over the
            replicas (NaN without).
        test_unweighted: the independent classifier test
            (:func:`dctrgan.stats.classifier_test`) of the model without the weights,
            on all compared observables; None if not run.
        test_weighted: the same with the weights.
    """

    def to_markdown(self, title: str = "Reweighting report", figures: Sequence[str] = ()) -> str:
        """The table as Markdown: header with sample sizes and floors, medians, the
        classifier test if run, every observable (``dctrgan.report.markdown.render``).

        Args:
            title: the first heading.
            figures: paths of figures (relative to the Markdown file) to show after the medians.
        """
        return markdown.render(self, title, figures)

    def write(
        self,
        path: str | os.PathLike[str],
        *,
        title: str = "Reweighting report",
        figures: Sequence[str] = (),
    ) -> tuple[Path, Path]:
        """Write the table as ``<path>.md`` and ``<path>.csv`` (a suffix of ``path`` is replaced).

        Args:
            path: the file name without suffix, e.g. ``"out/report"``.
            title: the first heading of the Markdown file.
            figures: figure paths relative to the folder of ``path``, linked from the Markdown.

        Returns:
            The Markdown and the CSV path.
        """
        base = Path(path)
        text, table = base.with_suffix(".md"), base.with_suffix(".csv")
        text.write_text(self.to_markdown(title, figures), encoding="utf-8")
        table.write_text(self.to_csv(), encoding="utf-8")
        return text, table


def _weights(weights: Any, n: int, what: str) -> np.ndarray | None:
    if weights is None:
        return None
    w = np.asarray(ak.to_numpy(weights) if isinstance(weights, ak.Array) else weights)
    w = w.astype(np.float64)
    if w.shape != (n,):
        msg = f"{what}: expected ({n},) weights, one per event, got shape {w.shape}"
        raise ValueError(msg)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        msg = (
            f"{what}: {int(bad.sum())} weights are negative or not finite "
            f"(first at event {first}: {w[first]})"
        )
        raise ValueError(msg)
    if w.sum() <= 0:
        msg = f"{what}: the weights sum to zero"
        raise ValueError(msg)
    return w


def _replicas(replicas: Any, n: int) -> np.ndarray | None:
    """The replicas' weights as ``(n, k)`` float64, each column checked as weights."""
    if replicas is None:
        return None
    r = np.asarray(ak.to_numpy(replicas) if isinstance(replicas, ak.Array) else replicas)
    if r.ndim != 2 or r.shape[0] != n or r.shape[1] < 2:
        msg = (
            f"compare: replicas: expected ({n}, k) weights with k >= 2, one row per model "
            f"event and one column per replica, got shape {r.shape}"
        )
        raise ValueError(msg)
    r = r.astype(np.float64)
    for i in range(r.shape[1]):
        _weights(r[:, i], n, f"compare: replicas[:, {i}]")
    return r


def _scores(
    x_ref: np.ndarray,
    w_ref: np.ndarray | None,
    x_model: np.ndarray,
    weightings: Sequence[np.ndarray | None],
    bin_edges: np.ndarray,
) -> list[tuple[float, float]]:
    """:math:`⟨S^2⟩` and ``r`` against the reference of the model under each of ``weightings``
    (weights, or None for none); the reference histogrammed once."""
    h_ref, _ = np.histogram(x_ref, bins=bin_edges, weights=w_ref)
    out = []
    for w_model in weightings:
        h_model, _ = np.histogram(x_model, bins=bin_edges, weights=w_model)
        r = stats.uncertainty_ratio(x_model, w_model, x_ref, w_ref)
        out.append((_separation(h_ref, h_model), r))
    return out


def _values(values: Any, observable: str, what: str) -> np.ndarray:
    """An observable's values as a flat float64 array, checked to be finite."""
    x = np.asarray(values, dtype=np.float64).ravel()
    bad = ~np.isfinite(x)
    if bad.any():
        msg = f"observable {observable!r}: {int(bad.sum())} non-finite values in the {what}"
        raise ValueError(msg)
    return x


def compare_observable(
    reference: Any,
    model: Any,
    weights: Any,
    *,
    reference_weights: Any = None,
    bins: int | np.ndarray = 30,
    observable: str = "",
    unit: str = "",
    group: str = "",
) -> Entry:
    """Compare one observable of a weighted model sample with the reference.

    Args:
        reference: ``(N1,)`` values of the observable in the reference sample.
        model: ``(N2,)`` values in the model sample.
        weights: ``(N2,)`` non-negative weights of the model events.
        reference_weights: ``(N1,)`` weights of the reference events (default: 1).
        bins: number of bins (edges from :func:`edges`) or the edges themselves.
        observable: the name to store in the entry.
        unit: the unit to store.
        group: the group to store.

    Returns:
        The :class:`Entry` with :math:`⟨S^2⟩` and ``r`` without and with the weights.

    Raises:
        ValueError: for non-finite values or invalid weights.
    """
    x_ref = _values(reference, observable, "reference")
    x_model = _values(model, observable, "model")
    w_model = _weights(weights, len(x_model), f"observable {observable!r}, model weights")
    w_ref = _weights(reference_weights, len(x_ref), f"observable {observable!r}, reference")
    if np.ndim(bins) == 0:
        bin_edges = edges(x_ref, x_model, int(bins))
    else:
        bin_edges = np.asarray(bins, dtype=np.float64)
    (s2_unweighted, r_unweighted), (s2_weighted, r_weighted) = _scores(
        x_ref, w_ref, x_model, [None, w_model], bin_edges
    )
    return Entry(
        observable=observable,
        unit=unit,
        group=group,
        s2_unweighted=s2_unweighted,
        s2_weighted=s2_weighted,
        r_unweighted=r_unweighted,
        r_weighted=r_weighted,
    )


def _separation(h1: np.ndarray, h2: np.ndarray) -> float:
    """:math:`⟨S^2⟩`, or NaN where a histogram has no entries in the range."""
    if h1.sum() <= 0 or h2.sum() <= 0:
        return math.nan
    return stats.separation_power(h1, h2)


def _spread(values: Sequence[float]) -> float:
    """Standard deviation over the replicas (``ddof=1``); NaN if a replica has none."""
    return float(np.std(np.asarray(values, dtype=np.float64), ddof=1))


def _observables(sample: Any, what: str) -> Mapping[str, Any]:
    if isinstance(sample, Mapping):
        return sample
    if isinstance(sample, ak.Array) and "hits" in ak.fields(sample):
        return features.observables(sample)
    if isinstance(sample, ak.Array) and "signal" in ak.fields(sample):
        return features.trace_observables(sample)
    msg = (
        f"{what}: expected showers, traces or a mapping name -> (N,) values, "
        f"got {type(sample).__name__}"
    )
    raise TypeError(msg)


def _event_weights(sample: Any, given: Any) -> Any:
    """``given``, else the ``weight`` field of awkward events, else None."""
    if given is not None:
        return given
    if isinstance(sample, ak.Array) and "weight" in ak.fields(sample):
        return sample["weight"]
    return None


def observable_unit(name: str) -> str:
    """The unit the report gives an observable: that of a calorimeter observable
    (:func:`dctrgan.features.observable_unit`), of a trace observable (``VEM``, ``ns``),
    else ``""``."""
    try:
        return features.observable_unit(name)
    except KeyError:
        return _TRACE_UNITS.get(name, "")


def compare(
    reference: Any,
    model: Any,
    weights: Any = None,
    *,
    reference_weights: Any = None,
    names: Sequence[str] | None = None,
    inputs: Collection[str] = features.HIGH_LEVEL_NAMES,
    bins: int = 30,
    evaluation: str = "",
    progress: bool | Callable[[int], object] = False,
    replicas: Any = None,
    test: bool = False,
    test_options: Mapping[str, Any] | None = None,
) -> Comparison:
    """Compare every observable of a weighted model sample with a reference sample.

    With ``replicas``, :math:`⟨S^2⟩` and ``r`` of the weighted model are computed for
    every replica of the weighting as for the nominal weights (on the same bins),
    and their standard deviation over the replicas is kept as the entries'
    ``s2_weighted_spread`` and ``r_weighted_spread``: the reweighting uncertainty of
    the numbers. With ``test``, an independent classifier
    (:func:`dctrgan.stats.classifier_test`) is trained to tell the model from the
    reference on all compared observables, without and with the weights.

    Args:
        reference: reference showers or traces (awkward, package schema) or a mapping
            ``name -> (N1,) values``.
        model: model showers, traces or a mapping ``name -> (N2,) values``.
        weights: ``(N2,)`` non-negative weights of the model events; by default the
            ``weight`` field of ``model``.
        reference_weights: ``(N1,)`` weights of the reference events; by default its
            ``weight`` field if it has one, else 1.
        names: the observables to compare, in order (default: all of ``reference``).
        inputs: names of the classifier's inputs: their group is ``"input"``, the
            others' ``"held-out"`` (default: the 33 high-level features of DCTR-HL).
        bins: bins per histogram.
        evaluation: which events these are, for the report header (say whether the
            weights were trained on them).
        progress: a progress bar over the observables (and tests) on stderr, or a
            function called with 1 after each observable and each classifier test (a
            caller's ``tqdm(...).update``).
        replicas: ``(N2, k)`` full weights of the model events under each of ``k >= 2``
            replicas of the weighting (the role of ``weights``, one column per
            replica; for a :class:`dctrgan.DCTR` fitted with ``replicas=k``, the input
            weights times the factors of ``weight(..., replicas=True)``).
        test: run :func:`dctrgan.stats.classifier_test` on the matrix of the compared
            observables (columns in ``names`` order), reference against the model,
            once without and once with ``weights`` (``reference_weights`` both times).
        test_options: settings of :func:`dctrgan.stats.classifier_test` (``epochs``,
            ``folds``, ``seed``, ...), over ``TEST_OPTIONS``.

    Returns:
        The :class:`Comparison`.

    Raises:
        TypeError: for samples that are neither showers, traces nor mappings, or an
            unknown test option.
        ValueError: for missing weights, an observable missing from a sample, values
            that are not one finite number per event, invalid weights or replicas
            (naming ``replicas``), or test options out of range.
    """
    ref_obs, model_obs = _observables(reference, "reference"), _observables(model, "model")
    weights = _event_weights(model, weights)
    if weights is None:
        msg = "compare: no weights; pass weights= or model events with a 'weight' field"
        raise ValueError(msg)
    reference_weights = _event_weights(reference, reference_weights)
    names = list(ref_obs) if names is None else list(names)
    if not names:
        msg = "compare: no observables to compare"
        raise ValueError(msg)
    missing = [n for n in names if n not in ref_obs or n not in model_obs]
    if missing:
        msg = f"compare: observable(s) {missing} missing from the reference or the model"
        raise ValueError(msg)
    n_ref = len(np.asarray(ref_obs[names[0]]))
    n_model = len(np.asarray(model_obs[names[0]]))
    for name in names:
        for sample, n, what in ((ref_obs, n_ref, "reference"), (model_obs, n_model, "model")):
            shape = np.shape(sample[name])
            if shape != (n,):
                msg = f"compare: observable {name!r} of the {what} has shape {shape}, not ({n},)"
                raise ValueError(msg)
    w_model = _weights(weights, n_model, "compare: model weights")
    w_ref = _weights(reference_weights, n_ref, "compare: reference weights")
    r_model = _replicas(replicas, n_model)
    inputs, entries = set(inputs), []
    total = len(names) + 2 * bool(test)
    with tqdm(total=total, desc="comparing", disable=progress is not True, file=sys.stderr) as bar:

        def tick() -> None:
            bar.update()
            if callable(progress):
                progress(1)

        for name in names:
            # each replica as the nominal weights, on their bins
            x_ref = _values(ref_obs[name], name, "reference")
            x_model = _values(model_obs[name], name, "model")
            replica_weights = () if r_model is None else tuple(r_model.T)
            (s2_unweighted, r_unweighted), (s2_weighted, r_weighted), *spread = _scores(
                x_ref,
                w_ref,
                x_model,
                [None, w_model, *replica_weights],
                edges(x_ref, x_model, bins),
            )
            entry = Entry(
                observable=name,
                unit=observable_unit(name),
                group="input" if name in inputs else "held-out",
                s2_unweighted=s2_unweighted,
                s2_weighted=s2_weighted,
                r_unweighted=r_unweighted,
                r_weighted=r_weighted,
            )
            if spread:
                entry = dataclasses.replace(
                    entry,
                    s2_weighted_spread=_spread([s2 for s2, _ in spread]),
                    r_weighted_spread=_spread([r for _, r in spread]),
                )
            entries.append(entry)
            tick()
        tests: tuple[stats.ClassifierTest | None, ...] = (None, None)
        if test:
            tests = _tests(ref_obs, model_obs, names, w_ref, w_model, test_options, tick)
    return Comparison(
        entries=tuple(entries),
        bins=bins,
        n_reference=n_ref,
        n_model=n_model,
        neff_reference=float(n_ref) if w_ref is None else stats.effective_entries(w_ref),
        neff_model=stats.effective_entries(w_model),
        evaluation=evaluation,
        n_replicas=0 if r_model is None else r_model.shape[1],
        neff_model_spread=(
            math.nan
            if r_model is None
            else _spread([stats.effective_entries(w) for w in r_model.T])
        ),
        test_unweighted=tests[0],
        test_weighted=tests[1],
    )


def _tests(
    ref_obs: Mapping[str, Any],
    model_obs: Mapping[str, Any],
    names: Sequence[str],
    w_ref: np.ndarray | None,
    w_model: np.ndarray | None,
    options: Mapping[str, Any] | None,
    tick: Callable[[], None],
) -> tuple[stats.ClassifierTest, stats.ClassifierTest]:
    """The classifier test of the model against the reference, without and with the weights."""
    x_ref = np.column_stack([np.asarray(ref_obs[n], dtype=np.float64) for n in names])
    x_model = np.column_stack([np.asarray(model_obs[n], dtype=np.float64) for n in names])
    settings = {**TEST_OPTIONS, **(options or {})}
    device = torch.device(settings.get("device", "cpu"))
    with training.threads(training.cpu_threads(device)):  # a small MLP: one CPU thread
        # both at once: the same folds, networks and batches, trained side by side
        unweighted, weighted = stats.classifier_tests(
            x_ref, x_model, [None, w_model], w_ref, **settings
        )
    tick()
    tick()
    return unweighted, weighted
