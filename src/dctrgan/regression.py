"""Energy reconstruction from air-shower traces, and its bias and resolution.

:class:`Regressor` is an AixNet-like network (the energy reconstruction of
Erdmann et al., secs. 3 and 5) trained to predict the primary energy from the
``(N, 9, 9, 80)`` station traces; :func:`bias_resolution` scores its predictions.
It judges a refinement as in Fig. 6 of the paper: train on simulation and test on
data, train on refined simulation and test on data, train and test on data::

    reg = Regressor().fit(sim_train)
    score = bias_resolution(reg.predict(data_test), data_test.energy, bins=[1, 10, 100])

The network (:class:`dctrgan.nn.traces.AixNet`): per-station 1D convolutions
along time, then 3 x 3 convolutions over the station grid, then dense layers. Its
inputs are ``log1p`` of the signal per bin and of the total per station (near the
shower core a station holds up to 1e7 VEM), scaled inside the network; its target
is ``log(E / EeV)`` standardized, with the scaling kept in the network's buffers.
The loss is the mean squared error on that target, so ``exp`` of the prediction is
a (log-)median estimate of the energy. Adam with early stopping on the validation
loss, the learning rate cut by 0.3 when that loss stalls for 2 epochs.

Trained with the defaults on 15 000 ``"data"`` events of
:func:`dctrgan.simulate.airshower` (12 000 for training, 3 000 for validation;
about 100 s on one CPU core), it reconstructs held-out ``"data"`` events with a
relative resolution of 9 % (8 % above 30 EeV, 27 % at 1-3 EeV) and a bias below 1 %.

References:
    M. Erdmann, L. Geiger, J. Glombitza, D. Schmidt, "Generating and refining particle
    detector simulations using the Wasserstein distance in adversarial networks",
    Comput. Softw. Big Sci. 2 (2018) 4, secs. 3, 5 and Fig. 6.
    M. Erdmann, J. Glombitza, D. Walz, Astropart. Phys. 97 (2018) 46 (AixNet).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from typing import Any

import awkward as ak
import numpy as np
import torch
import torch.nn.functional as F

from dctrgan.data import Events
from dctrgan.features.traces import signal_array
from dctrgan.modelfile import (
    CONTENT_ERRORS,
    ModelConfig,
    cpu_state,
    damaged,
    load_model,
    save_model,
)
from dctrgan.nn.traces import AixNet
from dctrgan.training import (
    Loader,
    Step,
    cpu_threads,
    predict,
    require_fitted,
    resolve_device,
    rows,
    seeded,
    threads,
    train,
)

__all__ = ("BiasResolution", "Regressor", "bias_resolution")

log = logging.getLogger(__name__)

#: Events per batch at prediction time.
_PREDICT_BATCH = 256
#: The learning rate is multiplied by this factor after this many epochs without a better
#: validation loss, down to a floor of this fraction of ``lr`` (early stopping waits longer,
#: so the lower rate gets its chance).
_LR_FACTOR = 0.3
_LR_PATIENCE = 2
_LR_FLOOR = 0.01
#: Training events used to set the input scaling.
_SCALING_EVENTS = 2000


@dataclasses.dataclass(frozen=True)
class Config(ModelConfig):
    """The hyperparameters of a :class:`Regressor`, as saved (see there).

    Raises:
        ValueError: naming the first invalid field.
    """

    width: int
    epochs: int
    batch_size: int
    lr: float
    validation: float
    patience: int | None
    seed: int

    def __post_init__(self) -> None:
        checks = (
            ("width", self.width >= 1, ">= 1"),
            ("epochs", self.epochs >= 1, ">= 1"),
            ("batch_size", self.batch_size >= 1, ">= 1"),
            ("lr", math.isfinite(self.lr) and self.lr > 0, "positive"),
            ("validation", 0 <= self.validation < 1, "in [0, 1)"),
            ("patience", self.patience is None or self.patience >= 1, "None or >= 1"),
        )
        self.check("Regressor", checks)


@dataclasses.dataclass(frozen=True)
class BiasResolution:
    """Relative bias and resolution of an energy reconstruction (see :func:`bias_resolution`).

    Attributes:
        bias: mean of ``(pred - true) / true`` over all events.
        resolution: standard deviation of ``(pred - true) / true`` over all events.
        count: number of events.
        edges: ``(B + 1,)`` bin edges in true energy, or ``None`` without bins.
        bin_bias: ``(B,)`` bias per bin (NaN for an empty bin).
        bin_resolution: ``(B,)`` resolution per bin (NaN for an empty bin).
        bin_count: ``(B,)`` events per bin.
    """

    bias: float
    resolution: float
    count: int
    edges: np.ndarray | None = None
    bin_bias: np.ndarray | None = None
    bin_resolution: np.ndarray | None = None
    bin_count: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (arrays as lists, NaN as ``None``)."""

        def plain(value: Any) -> Any:
            if isinstance(value, np.ndarray):
                return [
                    None if isinstance(v, float) and math.isnan(v) else v for v in value.tolist()
                ]
            return value

        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _vector(name: str, values: Any) -> np.ndarray:
    array = np.asarray(ak.to_numpy(values) if isinstance(values, ak.Array) else values)
    if array.ndim != 1 or array.dtype.kind not in "iuf":
        msg = (
            f"bias_resolution: {name} must be a 1D array of numbers, "
            f"got {array.dtype} {array.shape}"
        )
        raise ValueError(msg)
    return array.astype(np.float64)


def bias_resolution(pred: Any, true: Any, bins: Any = None) -> BiasResolution:
    """Mean relative bias and relative resolution of reconstructed energies.

    With ``r = (pred - true) / true`` per event, the bias is ``mean(r)`` and the
    resolution ``std(r)`` (the population standard deviation, ``ddof=0``). With
    ``bins``, both are also computed in bins of the *true* energy (events outside
    the edges count only overall; the last bin includes its upper edge, as in
    ``numpy.histogram``).

    Args:
        pred: ``(N,)`` reconstructed energies.
        true: ``(N,)`` true energies, positive, in the same unit.
        bins: optional increasing bin edges ``(B + 1,)`` in the unit of ``true``.

    Returns:
        A :class:`BiasResolution`.

    Raises:
        ValueError: for shapes that differ, no events, non-finite values, a
            non-positive true energy, or edges that do not increase.

    Example:
        >>> score = bias_resolution([1.1, 0.9, 2.2], [1.0, 1.0, 2.0])
        >>> round(score.bias, 6), round(score.resolution, 6)
        (0.033333, 0.094281)
    """
    p, t = _vector("pred", pred), _vector("true", true)
    if p.shape != t.shape:
        msg = f"bias_resolution: pred {p.shape} and true {t.shape} differ in shape"
        raise ValueError(msg)
    if len(t) == 0:
        msg = "bias_resolution: no events"
        raise ValueError(msg)
    for name, array in (("pred", p), ("true", t)):
        if not np.isfinite(array).all():
            bad = np.count_nonzero(~np.isfinite(array))
            msg = f"bias_resolution: {name} has {bad} non-finite value(s)"
            raise ValueError(msg)
    if (t <= 0).any():
        msg = f"bias_resolution: true must be positive, got minimum {t.min()}"
        raise ValueError(msg)
    r = (p - t) / t
    if bins is None:
        return BiasResolution(float(r.mean()), float(r.std()), len(r))
    edges = np.asarray(bins, dtype=np.float64)
    if edges.ndim != 1 or len(edges) < 2 or not (np.diff(edges) > 0).all():
        msg = f"bias_resolution: bins must be at least two increasing edges, got {bins!r}"
        raise ValueError(msg)
    index = np.searchsorted(edges, t, side="right") - 1
    index[t == edges[-1]] = len(edges) - 2
    inside = (index >= 0) & (index < len(edges) - 1)
    count = np.bincount(index[inside], minlength=len(edges) - 1)
    total = np.bincount(index[inside], weights=r[inside], minlength=len(edges) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        deviation = r[inside] - mean[index[inside]]
        variance = np.bincount(index[inside], weights=deviation**2, minlength=len(edges) - 1)
        resolution = np.sqrt(variance / count)
    return BiasResolution(
        float(r.mean()), float(r.std()), len(r), edges, mean, resolution, count.astype(np.int64)
    )


def _inputs(
    events: Events, y: Any, what: str, labels: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """The ``(N, n_x, n_y, n_t)`` signal and, with ``labels``, the ``(N,)`` energies ``y``
    (default: the ``energy`` field of awkward traces; ``None`` if there is none)."""
    signal = signal_array(events, what)
    if not labels:
        return signal, None
    if y is None and isinstance(events, ak.Array) and "energy" in ak.fields(events):
        y = events["energy"]
    if y is None:
        return signal, None
    energy = np.asarray(ak.to_numpy(y) if isinstance(y, ak.Array) else y, dtype=np.float64)
    if energy.shape != (len(signal),):
        msg = f"{what}: y must have shape ({len(signal)},) like the traces, got {energy.shape}"
        raise ValueError(msg)
    if not (np.isfinite(energy).all() and (energy > 0).all()):
        bad = np.count_nonzero(~(np.isfinite(energy) & (energy > 0)))
        msg = f"{what}: y must be finite, positive energies in EeV; {bad} are not"
        raise ValueError(msg)
    return signal, energy


class Regressor:
    """AixNet-like energy regressor on air-shower traces.

    Args:
        epochs: maximum training epochs (early stopping on the validation loss).
        batch_size: events per training batch.
        lr: Adam learning rate.
        validation: fraction of the events held out for early stopping (0: train on
            all events for ``epochs`` epochs, no early stopping).
        patience: epochs without a better validation loss before stopping
            (``None``: never stop early, keep the best epoch).
        width: network width: channels along time and station features; the grid
            convolutions have ``2 width`` channels, the dense layer ``4 width``.
        device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``, ...
        seed: seed of the weight initialization, the split and the shuffling.
        progress: show progress bars.

    Attributes:
        history: ``{"train_loss": [...], "val_loss": [...]}`` per epoch (mean squared
            error of the standardized ``log E``).

    Example:
        >>> from dctrgan.simulate import airshower
        >>> reg = Regressor(epochs=2, progress=False).fit(airshower(500, seed=1))
        >>> reg.predict(airshower(10, seed=2)).shape
        (10,)
    """

    def __init__(
        self,
        *,
        epochs: int = 30,
        batch_size: int = 64,
        lr: float = 1e-3,
        validation: float = 0.2,
        patience: int | None = 8,
        width: int = 16,
        device: str | torch.device = "auto",
        seed: int = 0,
        progress: bool = True,
    ) -> None:
        self._config = Config(width, epochs, batch_size, lr, validation, patience, seed)
        self.device = resolve_device(device)
        self.progress = progress
        self.history: dict[str, list[float]] = {}
        self._model: AixNet | None = None

    def __repr__(self) -> str:
        c = self._config
        state = "fitted" if self._model is not None else "not fitted"
        return f"Regressor(width={c.width}, epochs={c.epochs}, lr={c.lr}, {state})"

    @property
    def config(self) -> dict[str, Any]:
        """The hyperparameters."""
        return dataclasses.asdict(self._config)

    @property
    def model(self) -> AixNet:
        """The trained network."""
        return require_fitted(self._model, "Regressor", "model")

    def fit(self, events: Events, y: Any = None, *, epochs: int | None = None) -> Regressor:
        """Train on traces and their primary energies.

        Args:
            events: traces in the package schema, or a ``(N, n_x, n_y, n_t)`` signal
                array in VEM per bin.
            y: ``(N,)`` true energies in EeV; default ``events.energy`` (needed for arrays).
            epochs: maximum epochs for this fit (default: the constructor's).

        Returns:
            ``self``.

        Raises:
            ValueError: for missing or bad energies, bad traces, or too few events
                for the validation split.
        """
        signal, energy = _inputs(events, y, "Regressor.fit")
        if energy is None:
            msg = (
                "Regressor.fit: y is needed (true energies in EeV) for traces without an "
                "'energy' field"
            )
            raise ValueError(msg)
        c = self._config
        n = len(signal)
        n_val = round(c.validation * n)
        if n - n_val < 1 or (c.validation > 0 and n_val < 1):
            msg = (
                f"Regressor.fit: {n} event(s) leave no training or validation events "
                f"(validation={c.validation})"
            )
            raise ValueError(msg)
        rng = np.random.default_rng(c.seed)
        order = rng.permutation(n)
        val_index, train_index = np.sort(order[:n_val]), np.sort(order[n_val:])
        target = np.log(energy)
        target_mean = float(target[train_index].mean())
        target_std = float(target[train_index].std()) or 1.0
        y_std = torch.from_numpy(((target - target_mean) / target_std).astype(np.float32))

        def batch(i: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
            return rows(signal, i), y_std[torch.from_numpy(i)]

        # one intra-op thread on CPU: the batches are small, and with two threads on a busy
        # two-core machine a training step took 10-50 times longer (OpenMP waits)
        with seeded(c.seed, self.device) as generator, threads(cpu_threads(self.device)):
            n_x, n_y, n_t = signal.shape[1:]
            model = AixNet((n_x, n_y, n_t), c.width)
            _set_input_scales(
                model,
                signal[rng.choice(train_index, min(n - n_val, _SCALING_EVENTS), replace=False)],
            )
            model.target_mean.fill_(target_mean)
            model.target_std.fill_(target_std)
            model.to(self.device)
            optimizer = torch.optim.Adam(model.parameters(), lr=c.lr)
            loader = Loader(
                batch,
                index=train_index,
                batch_size=c.batch_size,
                shuffle=True,
                generator=generator,
                device=self.device,
            )
            evaluate = None
            if n_val:
                val_inputs = Loader(
                    lambda i: rows(signal, i),
                    index=val_index,
                    batch_size=_PREDICT_BATCH,
                    device=self.device,
                )
                val_target = y_std[torch.from_numpy(val_index)]

                scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                    optimizer, factor=_LR_FACTOR, patience=_LR_PATIENCE, min_lr=c.lr * _LR_FLOOR
                )

                def evaluate() -> dict[str, float]:
                    loss = float(F.mse_loss(predict(model, val_inputs), val_target))
                    scheduler.step(loss)
                    return {"val_loss": loss, "lr": optimizer.param_groups[0]["lr"]}

            self.history = train(
                _step(model, optimizer),
                loader,
                epochs=epochs if epochs is not None else c.epochs,
                evaluate=evaluate,
                patience=c.patience,
                modules=[model],
                progress=self.progress,
                desc="Regressor",
            )
        self._model = model.eval()
        if "val_loss" in self.history:
            log.info(
                "Regressor: %d epochs, best validation loss %.4g",
                len(self.history["val_loss"]),
                min(self.history["val_loss"]),
            )
        return self

    def predict(self, events: Events) -> np.ndarray:
        """Reconstructed primary energies.

        Args:
            events: traces, or a ``(N, n_x, n_y, n_t)`` signal array, shaped like the
                training traces.

        Returns:
            ``(N,)`` float64 energies in EeV.

        Raises:
            RuntimeError: if the regressor is not fitted.
            ValueError: for traces of another shape than the training traces, or bad values.
        """
        model = require_fitted(self._model, "Regressor", "predict")
        signal, _ = _inputs(events, None, "Regressor.predict", labels=False)
        if signal.shape[1:] != model.shape:
            msg = (
                f"Regressor.predict: traces of shape {signal.shape[1:]}, "
                f"but the regressor was trained on {model.shape}"
            )
            raise ValueError(msg)
        loader = Loader(
            lambda i: rows(signal, i),
            size=len(signal),
            batch_size=_PREDICT_BATCH,
            device=self.device,
        )
        with threads(cpu_threads(self.device)):
            z = predict(model, loader).to(torch.float64).numpy()
        return np.asarray(np.exp(z * float(model.target_std) + float(model.target_mean)))

    # ------------------------------------------------------------------ files

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model (state dict with its scalings, config, history) with
        :func:`dctrgan.modelfile.save_model`: an interrupted save leaves no half file."""
        model = require_fitted(self._model, "Regressor", "save")
        fitted = {"shape": list(model.shape), "history": self.history}
        save_model(path, "Regressor", self._config, fitted, cpu_state(model))

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        device: str | torch.device = "auto",
        progress: bool = True,
    ) -> Regressor:
        """Read a regressor written by :meth:`save` with :func:`dctrgan.modelfile.load_model`
        (``weights_only=True``: a file holding code is refused without running it).

        Raises:
            FileNotFoundError: if ``path`` does not exist.
            ValueError: for a file that is not a dctrgan regressor, a damaged one, or
                one written by a newer dctrgan.
        """
        file = load_model(path, "Regressor", Config)
        config, fitted = file.config, file.fitted
        self = cls(device=device, progress=progress)
        try:
            self._config = config
            self.history = file.history
            n_x, n_y, n_t = (int(s) for s in fitted["shape"])
            model = AixNet((n_x, n_y, n_t), config.width)
            model.load_state_dict(file.state)
        except CONTENT_ERRORS as err:
            raise damaged(path, "Regressor", err) from err
        self._model = model.to(self.device).eval()
        return self


def _set_input_scales(model: AixNet, signal: np.ndarray) -> None:
    """Set the input scalings of ``model``: one over the root mean square of ``log1p`` of the
    bins and of the totals of the stations with signal."""
    flat = np.maximum(signal.reshape(-1, signal.shape[-1]).astype(np.float64), 0.0)
    total = flat.sum(axis=1)
    hit = total > 0
    if not hit.any():
        msg = "Regressor.fit: no station has signal in the training traces"
        raise ValueError(msg)
    model.trace_scale.fill_(1.0 / max(math.sqrt(float(np.mean(np.log1p(flat[hit]) ** 2))), 1e-6))
    model.total_scale.fill_(1.0 / math.sqrt(float(np.mean(np.log1p(total[hit]) ** 2))))


def _step(model: AixNet, optimizer: torch.optim.Optimizer) -> Step:
    """One Adam update on the mean squared error of the standardized ``log E``."""

    def step(batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:
        signal, target = batch
        if not model.training:
            model.train()
        loss = F.mse_loss(model(signal), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        return {"train_loss": float(loss.detach())}

    return step
