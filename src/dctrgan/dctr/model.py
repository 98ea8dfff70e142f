"""DCTR: per-event weights that make a fast or generative simulation match a reference.

A classifier ``h`` is trained to tell ``real`` events (label 1; the reference, e.g.
Geant4) from ``fake`` ones (label 0; the fast simulation or GAN) with the binary
cross entropy, the two classes balanced to equal total weight; then
``w(x) = h(x) / (1 - h(x))`` estimates ``p_real(x) / p_fake(x)`` and weighting
the fake events by ``w`` reproduces the real distribution (DCTRGAN sec. II C)::

    dctr = DCTR()                        # high-level features, the paper's MLP
    weights = dctr.fit(real, fake).weight(events)
    events = dctr.attach(events)         # multiplies into events.weight, keeps events.dctr_weight

References:
    DCTRGAN: S. Diefenbacher, E. Eren, G. Kasieczka, A. Korol, B. Nachman,
    D. Shih, "DCTRGAN: Improving the Precision of Generative Models with
    Reweighting", JINST 15 (2020) P11004, secs. II C and III B.
    A. Andreassen, B. Nachman, "Neural networks for full phase-space
    reweighting and parameter tuning", Phys. Rev. D 101 (2020) 091901 (DCTR).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, overload

import awkward as ak
import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from dctrgan.data import Events, Geometry, is_dask
from dctrgan.dctr._attach import attached, check_records
from dctrgan.dctr._coffea import add_to_weights
from dctrgan.dctr._diagnostics import diagnostics
from dctrgan.dctr._export import Exports
from dctrgan.dctr._features import FeatureSpec
from dctrgan.dctr._fit import Run, clip_value, fit_folds, fold_log_weight, load_folds, resolved
from dctrgan.dctr._inputs import (
    Container,
    as_container,
    check_functions,
    container_of,
    given_features,
    prediction_inputs,
    saved_features,
    touch_weight_inputs,
    training_sample,
    weight_meta,
)
from dctrgan.dctr._replicas import (
    Replicas,
    fit_replicas,
    load_replicas,
    replica_log_weight,
    replica_meta,
    replica_weights,
    require_replicas,
)
from dctrgan.dctr.calibration import weights_from_log
from dctrgan.dctr.config import DEFAULTS, Config, check_arguments
from dctrgan.modelfile import CONTENT_ERRORS, damaged, load_model, save_model
from dctrgan.training import require_fitted, resolve_device, resolve_mixed_precision

__all__ = ("DCTR",)


class DCTR(Exports):
    r"""Deep neural network classifier reweighting (DCTR) of a fake sample to a real one.

    A classifier :math:`h(x)` trained to separate real events (label 1) from fake ones
    (label 0) approaches :math:`h = p_\text{real} / (p_\text{real} + p_\text{fake})`, so each
    fake event gets the weight

    .. math:: w(x) = \frac{h(x)}{1 - h(x)} \approx \frac{p_\text{real}(x)}{p_\text{fake}(x)}

    (DCTRGAN sec. II C), computed as :math:`w = \exp(z/T)` from the logit :math:`z`.

    Args:
        features: what the classifier sees (``model="mlp"``): ``"auto"`` (the 33
            high-level features for showers, the
            :data:`~dctrgan.features.HIGH_LEVEL_TRACE_NAMES` for air-shower traces,
            the columns of arrays, the fields of awkward records with one number per
            event but ``weight`` and ``dctr_weight``), ``"high_level"`` (showers,
            traces), a list of names (record fields, dotted through nested records:
            ``"MET.pt"``; or observables of :func:`dctrgan.features.observables` for
            showers and :func:`dctrgan.features.trace_observables` for traces), a
            mapping ``{name: f}`` with ``f(events)`` one number per event (awkward,
            numpy, ``None`` where missing: ``{"ht": lambda ev: ak.sum(ev.Jet.pt,
            axis=1)}``), or a callable ``f(events) -> (N, d) array | {name: array}``.
            Functions are not saved: :meth:`load` takes them again. The low-level
            models read the hits and take only ``"auto"``.
        model: ``"mlp"`` (the paper's high-level net), ``"cnn3d"`` (the paper's
            low-level net on voxels) or ``"deepsets"`` (a set network on the hits).
        hidden: hidden widths of the (event-level) fully connected net. Default:
            ``(128, 128)``; ``(64, 256, 256)`` for ``"cnn3d"`` (the paper's).
        epochs: maximum epochs. Default: 50 (``"mlp"``), 1 (``"cnn3d"``, the
            paper's: longer training learns generator artifacts), 8 (``"deepsets"``).
        batch_size: events per training batch (paper: 128).
        lr: Adam learning rate (paper: 1e-3).
        validation: fraction of the training events held out for early stopping and
            calibration (0 disables both).
        calibrate: ``"temperature"``: fit :math:`T` of :math:`w = \exp(z / T)` on the
            validation events (Guo et al. 2017); ``"closure"``: that ``T``, made up
            to 1000 times softer where the weighted validation events then match the
            real ones better (:func:`~dctrgan.dctr.calibration.closure_factor`: where
            the samples barely overlap, weights not worse than none); ``None``: 1;
            ``"auto"``: ``"temperature"`` for ``"cnn3d"`` (the paper's), else ``"closure"``.
        clip: largest weight (larger ones are set to it, counted and logged): a
            number, ``"sqrt_n"`` (:math:`\sqrt{N}`, :math:`N` the fake events of the fit:
            truncated importance sampling, :func:`~dctrgan.dctr.calibration.truncation`)
            or ``None``; ``"auto"``: 5 for ``"cnn3d"`` (the paper's), else ``"sqrt_n"``.
        folds: ``k > 1`` trains ``k`` classifiers on ``k - 1`` folds each: the weights
            of the fake training events are out-of-fold (:meth:`training_weights`),
            those of new events the geometric mean over the folds.
        device: ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda:0"``, ...
        seed: seed of the splits, initialization, shuffling and augmentation; on CPU
            the same seed gives bit-identical weights.
        progress: show progress bars.
        width: channels of the ``"cnn3d"`` convolutions (paper: 128; default 128 on
            CUDA, 8 on CPU) or width of the ``"deepsets"`` per-hit net (default 32).
        patience: epochs without a lower validation loss before stopping.
        balance: how the classes get equal total weight: ``"weights"`` (scale the
            sample weights), ``"tile"`` (repeat the smaller sample to the larger
            one's size, then scale; the paper's ``"cnn3d"`` choice), ``"auto"``
            (``"tile"`` for ``"cnn3d"``, else ``"weights"``).
        normalize: scale the weights so that their mean over the validation fake
            events is 1, as it must be for the true ratio (DCTRGAN eq. 10): a
            reweighting keeps the normalization of the fake sample. Needs validation.
        ema: decay per step of an exponential moving average of the parameters, which
            is what is validated and kept (``None``: the last ones); with the MLP it
            leaves about 40 % less separation power after weighting. ``"auto"``:
            0.999 for ``"mlp"``, ``None`` for the low-level models.
        mixed_precision: train in bfloat16 mixed precision
            (:func:`dctrgan.training.autocast`); ``"auto"``: for ``"cnn3d"`` on a
            CUDA device with bfloat16, off on a CPU. Weights are always computed in
            float32.
        fill_none: the value of features that are missing (``None``) in an event, such
            as the leading jet's ``pt`` of an event without jets
            (``ak.firsts(ev.Jet.pt)``); ``None``: missing values are an error naming
            the feature. Saved with the model.
        replicas: train this many replicas beside the nominal classifier (which stays as
            without them); their spread is the uncertainty of the weights (:meth:`weight`
            with ``replicas=True``, :meth:`attach`, :meth:`add_to`). MLPs train as one
            batched network (k = 10 cost 4-7 fits); not with ``folds > 1``.
        replica_method: ``"bootstrap"``: Poisson(1) counts on the events of both
            samples and a seed per replica (the statistical uncertainty of the
            training samples and of the training); ``"ensemble"``: the seed only.

    Attributes:
        history: ``{"train_loss": [...], "val_loss": [...]}`` per epoch (with
            ``folds > 1`` the folds one after the other, and ``"fold"``).
        temperatures: the fitted temperature of each fold.
        clip: the largest weight, a number (``"sqrt_n"`` resolved by :meth:`fit`) or ``None``.
        offsets: the log-weight offset of each fold (``normalize``; 0 without).
        feature_names: names of the classifier inputs, where known.
        heldout_fold: with ``folds > 1``, the fold each fake training event was held
            out of, ``(N_fake,)``; ``None`` otherwise.

    Example:
        >>> from dctrgan.simulate import calorimeter
        >>> full, fast = calorimeter(20_000, seed=1), calorimeter(20_000, variant="fast", seed=2)
        >>> dctr = DCTR(progress=False).fit(full, fast)
        >>> w = dctr.weight(fast)                      # awkward in, awkward out
    """

    def __init__(
        self,
        features: FeatureSpec = "auto",
        model: Literal["mlp", "cnn3d", "deepsets"] = "mlp",
        *,
        hidden: tuple[int, ...] | None = None,
        epochs: int | None = None,
        batch_size: int = 128,
        lr: float = 1e-3,
        validation: float = 0.2,
        calibrate: Literal["auto", "temperature", "closure"] | None = "auto",
        clip: float | Literal["auto", "sqrt_n"] | None = "auto",
        folds: int = 1,
        device: str | torch.device = "auto",
        seed: int = 0,
        progress: bool = True,
        width: int | None = None,
        patience: int | None = 5,
        balance: Literal["auto", "weights", "tile"] = "auto",
        normalize: bool = True,
        ema: float | Literal["auto"] | None = "auto",
        mixed_precision: bool | Literal["auto"] = "auto",
        fill_none: float | None = None,
        replicas: int = 0,
        replica_method: Literal["bootstrap", "ensemble"] = "bootstrap",
    ) -> None:
        check_arguments(model, features)
        self.device = resolve_device(device)
        self.mixed_precision = resolve_mixed_precision(
            mixed_precision, self.device, pays=model == "cnn3d"
        )
        defaults = DEFAULTS[model]
        if width is None:
            width = 128 if model == "cnn3d" and self.device.type == "cuda" else defaults.width
        self._config = Config(
            features=saved_features(features),
            model=model,
            hidden=tuple(int(h) for h in hidden) if hidden is not None else defaults.hidden,
            width=width,
            epochs=epochs if epochs is not None else defaults.epochs,
            batch_size=batch_size,
            lr=lr,
            validation=validation,
            calibrate=defaults.calibrate if calibrate == "auto" else calibrate,
            clip=defaults.clip if clip == "auto" else clip,
            folds=folds,
            seed=seed,
            patience=patience,
            balance=defaults.balance if balance == "auto" else balance,
            normalize=normalize,
            ema=defaults.ema if ema == "auto" else ema,
            fill_none=None if fill_none is None else float(fill_none),
            replicas=replicas,
            replica_method=replica_method,
        )
        self._features: FeatureSpec = features
        self.progress = progress
        self.history: dict[str, list[float]] = {}
        self.temperatures: list[float] = []
        self.offsets: list[float] = []
        self.clip: float | None = None
        self.feature_names: list[str] | None = None
        self._models: list[nn.Module] = []
        self._n_features = 0
        self._geometry: Geometry | None = None
        self._oof_log_weight: np.ndarray | None = None
        self._fake_kind: Container = "numpy"
        self._seen: list[np.ndarray] = []
        self.heldout_fold: np.ndarray | None = None
        self._replicas: Replicas | None = None

    def __repr__(self) -> str:
        c = self._config
        state = "fitted" if self._models else "not fitted"
        return f"DCTR(model={c.model!r}, features={c.features!r}, folds={c.folds}, {state})"

    @property
    def replica_temperatures(self) -> list[float]:
        """The temperature of each replica (empty without replicas)."""
        return [] if self._replicas is None else list(self._replicas.temperatures)

    @property
    def config(self) -> dict[str, Any]:
        """The hyperparameters (as saved with the model)."""
        return self._config.to_dict()

    def fit(
        self,
        real: Events,
        fake: Events,
        real_weight: npt.ArrayLike | None = None,
        fake_weight: npt.ArrayLike | None = None,
    ) -> DCTR:
        """Train the classifier(s) on ``real`` (label 1) against ``fake`` (label 0).

        Args:
            real: reference events: awkward showers, traces or records, a ``(N, d)``
                numpy array or torch tensor. Dask-awkward records are computed to
                their feature columns alone (feature names, ``"auto"`` on flat
                records, or a ``{name: callable}`` mapping); for other dask inputs fit
                on ``events.compute()`` or a subsample ``events[:n].compute()``.
            fake: events to reweight, the same kind.
            real_weight: ``(N_real,)`` positive initial weights (default: the events'
                ``weight`` field if present, else 1).
            fake_weight: the same for ``fake``. The learned weight multiplies these:
                ``fake_weight * w`` reproduces ``real_weight``-weighted ``real``.
                Events that went through :meth:`attach` carry a ``dctr_weight``
                field and a ``weight`` that includes it: pass the weights to fit on
                (``events.weight / events.dctr_weight``: the input weights).

        Returns:
            ``self``, fitted.

        Raises:
            ValueError: for empty samples, non-finite or missing features (naming the
                feature and the first event), features that differ between the
                samples, non-positive or non-finite weights, events with a
                ``dctr_weight`` field and no weights given, or too few events of a
                class for the validation split and folds.
            TypeError: for dask-awkward events whose features are not computed here.
        """
        c = self._config
        sample = training_sample(
            real, fake, real_weight, fake_weight, c.model, self._features, c.fill_none
        )
        c = resolved(c, sample)
        self.feature_names, self._n_features = sample.feature_names, sample.n_features
        self._geometry = sample.geometry
        # the previous fit is gone, also if this one fails or is interrupted
        self._models, self.temperatures, self.offsets = [], [], []
        self.history, self._seen, self._replicas = {}, [], None
        run = self._run
        done = fit_folds(c, sample, run)
        self._replicas = fit_replicas(c, sample, done.splits[0], run) if c.replicas else None
        self._models, self.temperatures, self.offsets = done.models, done.temperatures, done.offsets
        self.clip = clip_value(c)
        self.history, self._seen = done.history, done.seen
        self.heldout_fold, self._oof_log_weight = done.heldout_fold, done.oof_log_weight
        self._fake_kind = container_of(fake)
        return self

    def log_weight(self, events: Events, fold: int | None = None) -> np.ndarray:
        """Unclipped log-weights ``logit / T`` of ``events``, ``(N,)`` float64.

        With ``folds > 1`` the log-weights of the fold classifiers are averaged, a
        geometric mean of the weights: each classifier's error is roughly symmetric
        in the logit, and the mean treats ``w`` and ``1 / w`` alike, while a linear
        mean of the weights would be pulled up by the spread between the folds.

        Args:
            events: events of the kind the model was fitted on.
            fold: only this fold's classifier (``0 <= fold < folds``).

        Raises:
            ValueError: as :meth:`weight`, or for a fold out of range.
        """
        require_fitted(self._models, "DCTR", "log_weight")
        k = len(self._models)
        if fold is not None and not 0 <= fold < k:
            msg = f"log_weight: fold must be in [0, {k}), got {fold}"
            raise ValueError(msg)
        return self._log_weight(*self._inputs(events), fold)

    def _log_weight(self, inputs: Any, n: int, fold: int | None = None) -> np.ndarray:
        calibration = list(zip(self.temperatures, self.offsets, strict=True))
        kind = self._config.model
        return fold_log_weight(self._models, calibration, inputs, n, kind, self._run, fold)

    @property
    def _run(self) -> Run:
        c = self._config
        return Run(self.device, self.mixed_precision, self.progress, f"DCTR {c.model}", c.seed)

    def _inputs(self, events: Events) -> tuple[Any, int]:
        c = self._config
        return prediction_inputs(
            events,
            c.model,
            self._features,
            self.feature_names,
            self._n_features,
            self._geometry,
            c.fill_none,
        )

    @overload
    def weight(self, events: np.ndarray, replicas: Literal[False] = ...) -> np.ndarray: ...
    @overload
    def weight(self, events: torch.Tensor, replicas: Literal[False] = ...) -> torch.Tensor: ...
    @overload  # awkward (and dask-awkward: awkward is untyped, so ak.Array takes any type)
    def weight(self, events: ak.Array, replicas: Literal[False] = ...) -> ak.Array: ...
    @overload
    def weight(self, events: Events, replicas: Literal[True]) -> tuple[Any, Any]: ...

    def weight(self, events: Events, replicas: bool = False) -> Any:
        """Per-event weights ``w = exp(logit / T) ~ p_real / p_fake`` of ``events``.

        Args:
            events: events of the kind the model was fitted on. Showers may also come
                as records of the branches :func:`dctrgan.write` writes, such as coffea
                NanoEvents read with ``BaseSchema`` (eager, virtual or dask mode),
                converted on the fly (default geometry, or the one a low-level model
                was fitted on).
            replicas: also the weights of the replicas (a model fitted with
                ``replicas=k``).

        Returns:
            ``(N,)`` float32 weights in the container given: numpy array for numpy
            input, awkward array for awkward input, torch tensor (same device) for a
            tensor. Never NaN or inf; at most ``clip``. For a dask-awkward array a
            lazy dask-awkward array of weights, computed partition by partition;
            column optimization reads only the fields the weights need (the
            features' fields, or a shower's ``incident_energy`` and ``hits``).
            With ``replicas=True`` a pair ``(nominal, R)``: these weights, and ``R``
            ``(N, k)`` float32 (awkward: ``N * k * float32``), the replicas' weights
            (clipped alike; dask: both lazy, from one pass over each partition).

        Raises:
            RuntimeError: before ``fit``.
            ValueError: for non-finite features, or features that do not match the
                fitted ones (names, count, geometry); ``replicas=True`` for a model
                without replicas.
        """
        require_fitted(self._models, "DCTR", "weight")
        k = len(require_replicas(self._replicas, "weight").temperatures) if replicas else 0
        if is_dask(events):
            import dask_awkward as dak

            out = dak.map_partitions(  # type: ignore[attr-defined]
                self._weight, events, k, meta=replica_meta(k) if k else weight_meta(), label="dctr"
            )
            return (out["nominal"], out["replicas"]) if k else out
        return self._weight(events, k, pair=True)

    def _weight(self, events: Events, k: int, pair: bool = False) -> Any:
        """The weights of eager events (or a typetracer's: dask-awkward's column
        optimization, which touches what they read): ``k = 0`` alone, else with the
        replicas' as a pair or (``pair=False``: a dask-awkward partition) as records."""
        c = self._config
        if ak.backend(events) == "typetracer" if isinstance(events, ak.Array) else False:
            touch_weight_inputs(events, c.model, self._features, self.feature_names)
            both = replica_meta(k) if k else weight_meta()
            return (both.nominal, both.replicas) if k and pair else both
        inputs, n = self._inputs(events)
        log_w = self._log_weight(inputs, n)
        if self._replicas is None or not k:
            return as_container(weights_from_log(log_w, self.clip)[0], container_of(events), events)
        log_r = replica_log_weight(self._replicas, inputs, n, c.model, self._run)
        kind = container_of(events) if pair else None
        return replica_weights(log_w, log_r, self.clip, kind, events)

    def training_weights(self) -> Any:
        """Out-of-fold weights of the fake events given to :meth:`fit` (``folds > 1``).

        Event ``i`` gets its weight from the classifier that did not see it in
        training, so the weights of the training sample carry no overfitting.

        Returns:
            ``(N_fake,)`` float32 weights, in the container ``fake`` came in.

        Raises:
            RuntimeError: before ``fit``.
            ValueError: with ``folds=1`` (use :meth:`weight`), or for a loaded model
                (the out-of-fold weights are not saved).
        """
        require_fitted(self._models, "DCTR", "training_weights")
        if self._oof_log_weight is None:
            msg = (
                "DCTR.training_weights: out-of-fold weights exist after fit() with folds > 1 "
                "(they are not saved); with folds=1 use weight(fake)"
            )
            raise ValueError(msg)
        w, _ = weights_from_log(self._oof_log_weight, self.clip)
        return as_container(w, self._fake_kind)

    def attach(self, events: ak.Array, field: str = "weight") -> ak.Array:
        """``events`` with the DCTR weight in ``field``, multiplied into an existing one.

        With ``field="weight"`` (the field :meth:`fit` reads as input weights) the
        DCTR factor alone is kept beside it in ``dctr_weight`` (multiplied into an
        existing one: the total DCTR factor), so ``weight / dctr_weight`` gives the
        input weights back and :meth:`fit` on these events does not silently fit on
        weights that already hold the reweighting (it asks which weights to use).

        A model with replicas adds their DCTR factors as ``dctr_replicas``, ``N * k *
        float32`` (multiplied into an existing one, of the same ``k``, or into an
        existing ``dctr_weight`` with ``field="weight"``): they are not multiplied by
        the input weights, so replica ``i``'s full weight is
        ``weight / dctr_weight * dctr_replicas[:, i]``.

        The products are computed in float64 from the float32 weights of
        :meth:`weight` and stored as float32 (the schema's ``weight`` type). A
        dask-awkward array gets the fields lazily.

        Raises:
            TypeError: if ``events`` is not an awkward (or dask-awkward) array of records.
        """
        check_records(events, field)
        w, r = self.weight(events, replicas=True) if self._replicas else (self.weight(events), None)
        return attached(events, field, w, r)

    def add_to(
        self,
        weights: Any,
        events: Events,
        name: str = "dctr",
        variations: Literal["auto", "replicas", "envelope"] | None = "auto",
    ) -> Any:
        r"""Add the weights of ``events`` to a coffea ``Weights``: the nominal as ``name``.

        ``variations="replicas"``: replica ``i`` as the variation ``f"{name}_replica{i}Up"``
        (``weights.weight(f"{name}_replica{i}Up")``: the event weight with replica ``i``
        for the nominal; coffea's ``Down`` of it is the mirror
        :math:`w_\text{nominal}^2 / w_\text{replica}`).
        ``"envelope"``: ``f"{name}Up"`` and ``f"{name}Down"``, the nominal times
        :math:`\exp(\pm s)`, :math:`s` the standard deviation of the replicas' log-weights per
        event (``Down`` stays positive). ``None``: the nominal alone; ``"auto"``:
        ``"replicas"`` for a model with replicas, else ``None``.

        Args:
            weights: a :class:`coffea.analysis_tools.Weights`: ``Weights(len(events))``,
                or ``Weights(None)`` for dask-awkward events (lazy weights).
            events: events, as for :meth:`weight`.
            name: the weight's name (coffea's rule: not ending in ``Up`` or ``Down``).
            variations: ``"auto"``, ``"replicas"``, ``"envelope"`` or ``None``.

        Returns:
            ``weights``.

        Raises:
            ValueError: for another ``variations``, or variations of a model without
                replicas (the envelope needs two); coffea's for a name it refuses.
            ImportError: without coffea.
        """
        require_fitted(self._models, "DCTR", "add_to")
        k = len(self._replicas.temperatures) if self._replicas is not None else 0
        return add_to_weights(weights, events, self.weight, k, name, variations)

    def diagnostics(
        self,
        real: Events,
        fake: Events,
        *,
        real_weight: npt.ArrayLike | None = None,
        fake_weight: npt.ArrayLike | None = None,
    ) -> dict[str, float]:
        """How well the weights close, on samples not used in training.

        Returns:
            ``auc``: of this classifier on real vs fake (0.5: no separation);
            ``closure_auc``: of a fresh small classifier (high-level features for
            the low-level models) trained on half of ``real`` vs half of the
            weighted ``fake`` and evaluated on the other halves -- near 0.5 when
            the weights are good; ``neff_fraction``: effective entries of the
            weighted fake over its size; ``neff_bound``: the most ``n_eff / N`` that an
            exact reweighting could keep, as the histograms of the features and of the
            log-weight tell (:func:`dctrgan.stats.neff_bound`; NaN with negative input
            weights); ``max_weight``, ``mean_weight``;
            ``clipped_fraction``: fraction of fake weights clipped.
        """
        require_fitted(self._models, "DCTR", "diagnostics")
        c, features = self._config, self._features
        return diagnostics(self, c, features, real, fake, real_weight, fake_weight, self._inputs)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model (:func:`dctrgan.modelfile.save_model`): the config (JSON), the
        state dicts, and the temperatures, offsets, feature names, geometry and history.

        Written to a temporary file in the same folder and renamed, so an
        interrupted save never leaves a half-written model at ``path``.
        """
        fitted, states, extra = self._saved("save")
        save_model(path, "DCTR", self._config, fitted, states, **extra)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        features: Callable[[Any], Any] | Mapping[str, Callable[[Any], Any]] | None = None,
        device: str | torch.device = "auto",
        progress: bool = True,
    ) -> DCTR:
        """Read a model written by :meth:`save` (:func:`dctrgan.modelfile.load_model`).

        Loaded with ``torch.load(weights_only=True)``: tensors and plain containers
        only, so a file holding any other Python object is refused without running it.

        Args:
            path: the model file.
            features: the feature function, for a model fitted with a callable
                ``features=``, or the ``{name: function}`` mapping with the fitted
                feature names, for a model fitted with one (functions are not saved;
                the names and ``fill_none`` are).
            device: where to run the model.
            progress: show progress bars.

        Raises:
            FileNotFoundError: if ``path`` does not exist.
            ValueError: for a file that is not a dctrgan DCTR model, a damaged one, one
                written by a newer dctrgan (format version), or a missing ``features``
                callable or mapping, or a mapping whose names differ from the fitted ones.
        """
        path = Path(path)
        file = load_model(path, "DCTR", Config)
        config, fitted = file.config, file.fitted
        check_functions(path, config.features, features, fitted.get("feature_names"))
        spec = features if features is not None else given_features(config.features)
        self = cls(spec, config.model, device=device, progress=progress)  # type: ignore[arg-type]
        self._config = config
        try:
            self.feature_names = fitted["feature_names"]
            self._n_features = int(fitted["n_features"])
            geometry = fitted["geometry"]
            self._geometry = None if geometry is None else Geometry.from_dict(geometry)
            self.temperatures = [float(t) for t in fitted["temperatures"]]
            self.offsets = [float(b) for b in fitted["offsets"]]
            # files written before clip rules hold the clip in the config alone
            clip = fitted.get("clip", config.clip)
            self.clip = None if clip is None else float(clip)
            self.history = file.history
            shape = (self._n_features, self._geometry, self.device)
            self._models = load_folds(config, file.state, *shape)
            self._replicas = load_replicas(config, file.extra.get("replicas"), fitted, *shape)
        except CONTENT_ERRORS as err:
            raise damaged(path, "DCTR", err) from err
        n_models, n_temperatures = len(self._models), len(self.temperatures)
        if not n_models or not n_models == n_temperatures == len(self.offsets):
            problem = ValueError(f"{n_models} networks, {n_temperatures} temperatures")
            raise damaged(path, "DCTR", problem)
        return self
