"""The comparison figures of many observables, saved at once (``dctrgan report --figures all``).

:func:`save_comparisons` saves the figure of :func:`dctrgan.plot.comparison` of every
observable as ``<folder>/<name>.png``; a :class:`ComparisonWriter` does the same in the
background, in worker processes, while the caller computes something else (the report's
numbers). Each process draws one figure and redraws it for the next observable, which
saves about half of the cost of a new figure (its tick marks and layout). The files have
the pixels of ``comparison(...).savefig(path, dpi=dpi)``, compressed at zlib's fastest
level (a third faster to write, about 14 % larger); with ``compress_level=None`` they
are those files, byte for byte.

Worker processes are started from a fork server (or spawned where there is none), never
forked from the caller, whose torch thread pools a fork would copy half-initialized; they
draw with matplotlib's settings of the caller (its run-time changes are passed on).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import multiprocessing
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import awkward as ak
import numpy as np

from dctrgan.plot._canvas import ComparisonCanvas, bin_comparison
from dctrgan.plot._style import HINT, require, vector

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Self

__all__ = ("ComparisonWriter", "save_comparisons")

#: Figures per task of a worker process (small: the last tasks end close together).
_CHUNK = 5
#: Figures that make a worker process worth its start (about a second of CPU).
_PER_WORKER = 20
#: Most worker processes of ``workers="auto"``.
_MAX_WORKERS = 4
#: Settings that belong to the process, not to the figures.
_PROCESS_RC = ("backend", "backend_fallback", "interactive")


@dataclasses.dataclass(frozen=True)
class _Common:
    """What the figures of one :meth:`ComparisonWriter.submit` share."""

    weights: np.ndarray
    reference_weights: np.ndarray | None
    replicas: np.ndarray | None
    bins: int | np.ndarray
    labels: tuple[str, ...]
    ratio_range: tuple[float, float]
    folder: str
    dpi: float
    compress_level: int | None
    rc: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class _Task:
    """The figures of some observables: what a worker process needs to save them."""

    names: tuple[str, ...]
    reference: tuple[np.ndarray, ...]
    model: tuple[np.ndarray, ...]
    units: tuple[str, ...]
    common: _Common


def _save(task: _Task, canvases: dict[tuple[int, ...], ComparisonCanvas]) -> int:
    """Save the task's figures, redrawing the canvas of their layout if there is one."""
    import matplotlib as mpl

    common = task.common
    with mpl.rc_context(common.rc):  # type: ignore[arg-type]
        for name, x_ref, x_model, unit in zip(
            task.names, task.reference, task.model, task.units, strict=True
        ):
            edges, binned = bin_comparison(
                x_ref,
                x_model,
                common.weights,
                reference_weights=common.reference_weights,
                bins=common.bins,
                observable=name,
                replicas=common.replicas,
            )
            args = (edges, binned, common.labels, name, unit, common.ratio_range)
            layout = ComparisonCanvas.layout_of(binned)
            canvas = canvases.get(layout)
            if canvas is None:
                canvas = canvases[layout] = ComparisonCanvas(*args)
            else:
                canvas.redraw(*args)
            path = Path(common.folder) / f"{name}.png"
            if common.compress_level is None:
                canvas.figure.savefig(path, dpi=common.dpi)
            else:
                png = {"compress_level": common.compress_level}
                canvas.figure.savefig(path, dpi=common.dpi, pil_kwargs=png)
    return len(task.names)


#: The canvases of a worker process, one per layout.
_WORKER_CANVASES: dict[tuple[int, ...], ComparisonCanvas] = {}


def _save_in_worker(task: _Task) -> int:
    return _save(task, _WORKER_CANVASES)


def _available_cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _context() -> multiprocessing.context.BaseContext:
    """A fork server that has imported the plotting modules, else spawn."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # effective until the server starts: then every worker is forked with these imported.
    # Not the main module (a script's is imported by each worker, guarded by its
    # ``if __name__ == "__main__":``): the server would run an unguarded one itself.
    context.set_forkserver_preload(
        ["dctrgan.plot.batch", "matplotlib.backends.backend_agg", "mplhep"]
    )
    if multiprocessing.parent_process() is None:
        from multiprocessing import forkserver

        # started now, without waiting: its imports run meanwhile. Not in a process that
        # multiprocessing started, which may be running an unguarded main module: there
        # the pool's start raises multiprocessing's error on a missing __main__ guard.
        forkserver.ensure_running()
    return context


def _installed() -> None:
    """Raise :func:`require`'s error if matplotlib or mplhep is missing, without importing
    them (the workers do: about 0.4 s that this process need not spend)."""
    for name in ("matplotlib", "mplhep"):
        if importlib.util.find_spec(name) is None:
            msg = f"{HINT} (No module named {name!r})"
            raise ModuleNotFoundError(msg, name=name)


def _changed_rc() -> dict[str, Any]:
    """matplotlib's settings that differ from those a new process reads (its matplotlibrc)."""
    mpl = sys.modules.get("matplotlib")
    if mpl is None:  # not imported: nothing changed
        return {}
    return {
        k: v
        for k, v in mpl.rcParams.items()
        if k not in _PROCESS_RC and mpl.rcParamsOrig.get(k) != v
    }


class ComparisonWriter:
    """Saves the comparison figures of many observables as PNG files, in the background.

    :meth:`submit` hands the observables to worker processes (with ``workers=1``, or too
    few figures to make workers pay, the figures are drawn in :meth:`wait`);
    :meth:`wait` waits for the figures and moves them into ``folder``. They are drawn
    into a temporary folder first, so ``folder`` gets them all or, on an error, none
    (and is not created). Use it as a context manager: leaving it ends the workers.

    Args:
        folder: the folder of the figures (created in :meth:`wait` if needed).
        workers: worker processes: a number (1: none, the figures are drawn in this
            process), or ``"auto"`` (one per available CPU, at most 4, one per 20
            figures; none in a daemonic process). The fork server that starts them is
            started here already when they may be wanted, so that its imports (about
            two seconds) overlap the caller's work. A script that uses workers needs
            multiprocessing's ``if __name__ == "__main__":`` guard around its work.
        dpi: resolution of the PNG files.
        compress_level: zlib level of the PNG files, 0-9 (1: the fastest); the pixels are
            the same at every level. None: Pillow's default (6), which ``savefig`` uses.

    Example:
        >>> with ComparisonWriter("report", workers="auto") as writer:  # doctest: +SKIP
        ...     writer.submit(full_observables, fast_observables, w)
        ...     table = dctrgan.report.compare(full_observables, fast_observables, w)
        ...     writer.wait()
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        workers: int | Literal["auto"] = 1,
        dpi: float = 100,
        compress_level: int | None = 1,
    ) -> None:
        if workers != "auto" and int(workers) < 1:
            msg = f"ComparisonWriter: workers must be 'auto' or at least 1, got {workers!r}"
            raise ValueError(msg)
        self.folder = Path(folder)
        self.dpi = dpi
        self.compress_level = compress_level
        if workers == "auto":  # a daemonic process (a pool's worker) may not start any
            daemon = multiprocessing.current_process().daemon
            self._most = 1 if daemon else min(_available_cpus(), _MAX_WORKERS)
        else:
            self._most = workers
        self._auto = workers == "auto"
        self._context: multiprocessing.context.BaseContext | None = None
        if self._most > 1:
            _installed()
            self._context = _context()
        else:
            require()
        self._staging = Path(tempfile.mkdtemp(prefix="dctrgan-figures-"))
        self._pool: ProcessPoolExecutor | None = None
        self._jobs: list[Future[int]] = []
        self._pending: list[_Task] = []
        self._names: list[str] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close(wait=kind is None)

    def close(self, *, wait: bool = False) -> None:
        """End the workers and remove the temporary folder (and the figures not moved into
        ``folder``). Without ``wait``, figures not yet begun are dropped; those being
        drawn are finished (at most a task of 5 figures per worker, about half a second)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=not wait)
            self._pool = None
        shutil.rmtree(self._staging, ignore_errors=True)

    def submit(
        self,
        reference: Mapping[str, Any],
        model: Mapping[str, Any],
        weights: Any,
        *,
        names: Sequence[str] | None = None,
        reference_weights: Any = None,
        bins: int | np.ndarray = 30,
        units: Mapping[str, str] | None = None,
        labels: Sequence[str] = ("Reference", "Model", "Model, weighted"),
        ratio_range: tuple[float, float] = (0.5, 1.5),
        replicas: Any = None,
    ) -> None:
        """Start on the figures of ``names``: :func:`dctrgan.plot.comparison` of each.

        Args:
            reference: ``name -> (N1,)`` values of the observables in the reference sample.
            model: ``name -> (N2,)`` values in the model sample.
            weights: ``(N2,)`` non-negative weights of the model events.
            names: the observables to draw (default: all of ``reference``); figure
                ``<name>.png`` each.
            reference_weights: ``(N1,)`` weights of the reference events (default: 1).
            bins: number of bins (edges from :func:`dctrgan.report.edges`) or the edges.
            units: ``name -> unit`` for the x labels (default: none).
            labels: legend labels of the reference, the model and the weighted model.
            ratio_range: y range of the ratio panels.
            replicas: ``(N2, k)`` weights of the model events under ``k >= 2`` replicas
                of the weighting, or None.

        Raises:
            ValueError: for an observable missing from a sample, a name twice, or not
                three labels. Errors of the figures themselves (non-finite values,
                invalid weights) are raised by :meth:`wait`.
        """
        names = list(reference) if names is None else list(names)
        missing = [n for n in names if n not in reference or n not in model]
        if missing:
            msg = f"submit: observable(s) {missing} missing from the reference or the model"
            raise ValueError(msg)
        twice = sorted({n for n in [*self._names, *names] if [*self._names, *names].count(n) > 1})
        if twice:
            msg = f"submit: figure(s) {twice} submitted twice"
            raise ValueError(msg)
        if len(labels) != 3:
            msg = f"labels: expected three (reference, model, weighted model), got {len(labels)}"
            raise ValueError(msg)
        common = _Common(
            weights=vector(weights, "weights", finite=False),
            reference_weights=(
                None
                if reference_weights is None
                else vector(reference_weights, "reference weights", finite=False)
            ),
            replicas=None if replicas is None else np.asarray(_numpy(replicas)),
            bins=bins,
            labels=tuple(labels),
            ratio_range=ratio_range,
            folder=str(self._staging),
            dpi=self.dpi,
            compress_level=self.compress_level,
            rc=_changed_rc(),
        )
        tasks = [
            _Task(
                names=tuple(chunk),
                reference=tuple(np.asarray(_numpy(reference[n])) for n in chunk),
                model=tuple(np.asarray(_numpy(model[n])) for n in chunk),
                units=tuple((units or {}).get(n, "") for n in chunk),
                common=common,
            )
            for chunk in _chunks(names, self._most)
        ]
        self._names += names
        workers = self.workers(len(self._names))
        if workers <= 1:
            self._pending += tasks
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(workers, mp_context=self._context)
            tasks, self._pending = self._pending + tasks, []
        self._jobs += [self._pool.submit(_save_in_worker, task) for task in tasks]

    def workers(self, figures: int) -> int:
        """The worker processes that ``figures`` figures get (1: none, drawn in :meth:`wait`)."""
        if not self._auto:
            return self._most
        return max(1, min(self._most, figures // _PER_WORKER))

    def wait(self, progress: Callable[[int], object] | None = None) -> list[Path]:
        """Wait for the figures, then move them into the folder.

        Args:
            progress: called with the number of figures each time some are done (a
                caller's ``tqdm(...).update``).

        Returns:
            The paths of the figures, in the order they were submitted.

        Raises:
            ValueError: as :func:`dctrgan.plot.comparison`, for the first figure that fails.
        """
        canvases: dict[tuple[int, ...], ComparisonCanvas] = {}
        for task in self._pending:
            done = _save(task, canvases)
            if progress is not None:
                progress(done)
        self._pending = []
        for job in self._jobs:
            done = job.result()
            if progress is not None:
                progress(done)
        self._jobs = []
        self.folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for name in self._names:
            path = self.folder / f"{name}.png"
            shutil.move(self._staging / f"{name}.png", path)
            paths.append(path)
        self._names = []
        return paths


def _numpy(values: Any) -> Any:
    return ak.to_numpy(values) if isinstance(values, ak.Array) else values


def _chunks(names: list[str], workers: int) -> Iterator[list[str]]:
    """``names`` in tasks of at most ``_CHUNK``, and at least one per worker."""
    n = max(math.ceil(len(names) / _CHUNK), min(workers, len(names)), 1)
    size = math.ceil(len(names) / n) if names else 0
    for i in range(0, len(names), max(size, 1)):
        yield names[i : i + size]


def save_comparisons(
    folder: str | os.PathLike[str],
    reference: Mapping[str, Any],
    model: Mapping[str, Any],
    weights: Any,
    *,
    names: Sequence[str] | None = None,
    reference_weights: Any = None,
    bins: int | np.ndarray = 30,
    units: Mapping[str, str] | None = None,
    labels: Sequence[str] = ("Reference", "Model", "Model, weighted"),
    ratio_range: tuple[float, float] = (0.5, 1.5),
    replicas: Any = None,
    workers: int | Literal["auto"] = 1,
    dpi: float = 100,
    compress_level: int | None = 1,
    progress: Callable[[int], object] | None = None,
) -> list[Path]:
    """Save the comparison figure of every observable as ``<folder>/<name>.png``.

    The figure of each is :func:`dctrgan.plot.comparison`'s, with the pixels of
    ``savefig(path, dpi=dpi)``: reference, model and weighted model, with :math:`⟨S^2⟩` and
    ``r`` in the legend and a ratio panel. One figure is redrawn per process, in this
    process or in ``workers`` processes (:class:`ComparisonWriter`): about 0.1 s a figure
    per CPU against 0.2 s for new figures.

    Args:
        folder: the folder of the figures (created if needed).
        reference: ``name -> (N1,)`` values of the observables in the reference sample.
        model: ``name -> (N2,)`` values in the model sample.
        weights: ``(N2,)`` non-negative weights of the model events.
        names: the observables to draw (default: all of ``reference``).
        reference_weights: ``(N1,)`` weights of the reference events (default: 1).
        bins: number of bins (edges from :func:`dctrgan.report.edges`) or the edges.
        units: ``name -> unit`` for the x labels (default: none).
        labels: legend labels of the reference, the model and the weighted model.
        ratio_range: y range of the ratio panels.
        replicas: ``(N2, k)`` weights of the model events under ``k >= 2`` replicas of
            the weighting, or None.
        workers: worker processes (1: none), or ``"auto"`` (see :class:`ComparisonWriter`).
        dpi: resolution of the PNG files.
        compress_level: zlib level of the PNG files (1: the fastest; None: ``savefig``'s).
        progress: called with the number of figures each time some are done.

    Returns:
        The paths of the figures, in the order of ``names``.

    Raises:
        ModuleNotFoundError: without matplotlib or mplhep (install ``dctrgan[plot]``).
        ValueError: as :func:`dctrgan.plot.comparison`, or for an observable missing
            from a sample.

    Example:
        >>> full, fast = dctrgan.features.observables(g4), dctrgan.features.observables(gan)
        >>> save_comparisons("figures", full, fast, w)  # doctest: +SKIP
    """
    with ComparisonWriter(
        folder, workers=workers, dpi=dpi, compress_level=compress_level
    ) as writer:
        writer.submit(
            reference,
            model,
            weights,
            names=names,
            reference_weights=reference_weights,
            bins=bins,
            units=units,
            labels=labels,
            ratio_range=ratio_range,
            replicas=replicas,
        )
        return writer.wait(progress)
