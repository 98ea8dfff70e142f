"""The main job, end to end: DCTR-HL reweighting of the fast calorimeter simulation.

:func:`demo` (the ``dctrgan demo`` command) runs the whole chain on the embedded
reference simulators:

1. simulate ``events`` full and ``events`` fast showers of 50 GeV photons, write them
   to ROOT (``full.root``, ``fast.root``, tree ``events``) as they come and read them
   back, a few thousand showers at a time, keeping only their observables
   (:func:`dctrgan.features.observables`);
2. fit DCTR on the 33 high-level features (DCTRGAN's DCTR-HL) on the first part of
   both samples (the training split), with ``replicas`` bootstrap replicas of the
   classifier beside it (the uncertainty of the weights);
3. weight the whole fast sample and write the model (``dctr_hl.pt``,
   :meth:`dctrgan.DCTR.load` reads it), the weights alone as a friend tree of
   ``fast.root`` (``fast_weights.root``, tree ``weights``) and the fast sample with a
   ``weight`` branch (``fast_weighted.root``, streamed as ``dctrgan weight`` does);
4. compare every observable of :func:`dctrgan.features.observables` -- the 33
   classifier inputs and the 118 held-out ones -- on the test split, which the
   classifier never saw: :math:`⟨S^2⟩` before and after weighting, their ratio and ``r``
   (``report.md``, ``report.csv``, :mod:`dctrgan.report`), each weighted figure
   with its spread over the replicas; an independent classifier test on all of them
   (AUC before and after weighting, :func:`dctrgan.stats.classifier_test`); and
   DCTRGAN Fig. 3 style figures of the three composite observables
   (``active_cells.png``, ``total_energy.png``, ``longitudinal_centroid.png``,
   :mod:`dctrgan.plot`), the replicas' spread as a band.

The full sample's chain of step 1 and the ntuple of step 3 are made by a second
process while the main one makes the fast sample and then compares: the demo uses two
cores, and no sample is ever whole in memory (the showers of 50,000 + 50,000 events
are about 1.3 GB as awkward arrays, their observables 120 MB).

Everything is written to a hidden staging folder beside ``output`` and moved into
place only at the end: an interrupted run leaves no half-written file in ``output``.

References:
    DCTRGAN (Diefenbacher et al.), sec. III B and Figs. 3-8.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, final

import awkward as ak
import numpy as np
from tqdm.auto import tqdm

from dctrgan import features, io, plot, report, simulate
from dctrgan.dctr import DCTR, attach_weights
from dctrgan.simulate.calorimeter import Variant

__all__ = ("DemoResult", "demo")

log = logging.getLogger(__name__)

#: The composite observables drawn as figures (DCTRGAN Fig. 3).
FIGURES: tuple[str, ...] = ("active_cells", "total_energy", "longitudinal_centroid")
#: Photon energy of the demo samples, GeV (as in the paper).
ENERGY = 50.0
#: Smallest training and test split, events per sample.
_MIN_SPLIT = 10
#: Showers simulated, written and read back at a time.
_CHUNK = 2_000
#: How often the main process looks at the helper's progress while waiting [s].
_POLL_S = 0.2
_LABELS = ("Full simulation", "Fast simulation", "Fast simulation + DCTR-HL")
#: What each output file holds, for the summary (in this order).
_FILES: tuple[tuple[str, str], ...] = (
    ("full.root", 'full simulation (tree "events")'),
    ("fast.root", 'fast simulation (tree "events")'),
    ("fast_weighted.root", 'fast simulation with the DCTR "weight" branch'),
    ("fast_weights.root", 'the weights alone: friend tree "weights" of fast.root'),
    ("dctr_hl.pt", "the fitted DCTR-HL model (dctrgan.DCTR.load)"),
    ("report.md", "S^2 and r of every observable (also report.csv)"),
    ("report.csv", ""),
    *((f"{name}.png", "") for name in FIGURES),
)


@dataclasses.dataclass(frozen=True)
class DemoResult:
    """What :func:`demo` made.

    Attributes:
        output: the folder holding every file.
        files: the files by name (``"full.root"``, ``"report.md"``, ...), paths in ``output``.
        comparison: the observable-by-observable comparison on the test split.
        n_events: showers simulated per sample (full and fast).
        n_train: showers per sample in the training split (the first ``n_train``
            entries of both files).
        n_test: showers per sample in the test split (the remaining entries).
        seconds: wall time of the run.
        replicas: replicas of the classifier (0: none, no bands).
    """

    output: Path
    files: Mapping[str, Path]
    comparison: report.Comparison
    n_events: int
    n_train: int
    n_test: int
    seconds: float
    replicas: int = 0

    def summary(self) -> str:
        """A few lines: the report's :meth:`~dctrgan.report.Comparison.summary` (median
        :math:`⟨S^2⟩` before and after, ``r``, ``n_eff/N``, the classifier test), the files."""
        lines = [
            (
                f"dctrgan demo: DCTR-HL on {self.n_events} full and {self.n_events} fast showers "
                f"of {ENERGY:g} GeV photons, trained on {self.n_train} + {self.n_train}, "
                f"compared on the {self.n_test} + {self.n_test} test showers it never saw"
            ),
            self.comparison.summary(),
            f"  wall time: {self.seconds:.0f} s",
            f"files in {self.output}:",
        ]
        for name, what in _FILES:
            if what:
                lines.append(f"  {name:<20}{what}")
        lines.append(f"  {'*.png':<20}Fig. 3 style comparisons: {', '.join(FIGURES)}")
        return "\n".join(lines)


class _Steps:
    """Numbered step messages with the elapsed time: logged, and on stderr with ``progress``."""

    def __init__(self, total: int, show: bool) -> None:
        self.total, self.show, self.done = total, show, 0
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def __call__(self, message: str) -> None:
        self.done += 1
        text = f"[{self.done}/{self.total} {self.elapsed:5.0f} s] {message}"
        log.info("%s", text)
        if self.show:
            tqdm.write(text, file=sys.stderr)


def _check_output(output: Path, overwrite: bool) -> None:
    if output.exists() and not output.is_dir():
        msg = f"{output}: exists and is not a folder"
        raise FileExistsError(msg)
    if output.is_dir() and not overwrite and any(output.iterdir()):
        msg = (
            f"{output}: exists and is not empty; pass overwrite=True to replace the demo's "
            "files in it"
        )
        raise FileExistsError(msg)


@contextlib.contextmanager
def _staging(output: Path, overwrite: bool) -> Iterator[Path]:
    """A hidden folder beside ``output`` whose files are moved into ``output`` on success.

    If ``output`` does not exist the folder is renamed to it (atomic); otherwise each
    file replaces its namesake (atomic per file) and other files in ``output`` stay.
    On failure the staging folder and everything in it are removed.
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent))
    umask = os.umask(0o077)  # read the umask (0o077 is the safe value meanwhile)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp makes 0o700; the output gets a normal folder's mode
    try:
        yield staging
        _check_output(output, overwrite)  # again: something may have appeared meanwhile
        if not output.exists():
            staging.rename(output)
        else:
            for item in sorted(staging.iterdir()):
                item.replace(output / item.name)
            staging.rmdir()
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@final
class _Helper:
    """A second process for the work that does not need the main one: one sample's
    chain, then the weighted ntuple, while the main process does the rest.

    Spawned (not forked: the main process has torch's thread pools), it runs one
    ``(function, args)`` at a time, sent over a pipe, and sends the result or the error
    back; it counts the showers it has done in a shared integer that the main
    process's progress bar adds to its own. A helper that dies (killed, out of memory)
    is an error in the main process, not a wait without end; on an error in either
    process the helper is killed before the staging folder is removed.
    """

    def __enter__(self) -> _Helper:
        context = multiprocessing.get_context("spawn")
        self.done = context.Value("q", 0)
        self.pipe, child = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(child, self.done), name="dctrgan-demo-helper", daemon=True
        )
        self.process.start()
        child.close()
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None and self.process.is_alive():
            self.pipe.send(None)  # stop
            self.process.join()
        else:
            self.process.kill()
            self.process.join()
        self.pipe.close()

    def submit(self, function: Callable[..., Any], *args: Any) -> None:
        """Start ``function(*args)`` in the helper; :meth:`wait` gives its result."""
        self.pipe.send((function, args))

    def tick(self, bar: tqdm[Any]) -> Callable[[int], None]:
        """Count ``k`` more showers of the main process; show them plus the helper's."""
        own = 0

        def update(k: int) -> None:
            nonlocal own
            own += k
            bar.n = own + int(self.done.value)
            bar.refresh()

        return update

    def wait(self, tick: Callable[[int], None] | None = None) -> Any:
        """The result of the function submitted last (its error raised here), updating
        ``tick`` meanwhile."""
        while not wait([self.pipe, self.process.sentinel], timeout=_POLL_S):
            if tick is not None:
                tick(0)
        try:
            ok, value, trace = self.pipe.recv()
        except EOFError:  # its end of the pipe closed: it is gone
            self.process.join(_POLL_S)
            msg = f"the demo's second process died (exit code {self.process.exitcode})"
            raise RuntimeError(msg) from None
        if not ok:
            raise value from RuntimeError(f"in the demo's second process:\n{trace}")
        if tick is not None:
            tick(0)
        return value


#: In the helper process: its count of showers done, shared with the main process.
_helper_done: Any = None


def _serve(pipe: Connection, done: Any) -> None:
    """The helper's loop: run each ``(function, args)`` received, send back
    ``(True, result, "")`` or ``(False, error, traceback)``; stop at ``None``."""
    global _helper_done  # noqa: PLW0603 - the counter of this process, for _count
    _helper_done = done
    while (task := pipe.recv()) is not None:
        function, args = task
        try:
            reply = (True, function(*args), "")
        except Exception as err:  # noqa: BLE001 - sent to the main process and raised there
            reply = (False, err, traceback.format_exc())
        try:
            pipe.send(reply)
        except Exception as err:  # noqa: BLE001 - an error that does not pickle
            pipe.send((False, RuntimeError(repr(err)), reply[2]))


def _count(k: int) -> None:
    with _helper_done.get_lock():
        _helper_done.value += k


def _sample(
    variant: Variant,
    n: int,
    seed: np.random.SeedSequence,
    folder: Path,
    tick: Callable[[int], None] = _count,
) -> dict[str, np.ndarray]:
    """Simulate ``n`` showers into ``<variant>.root``, read it back: its observables.

    ``_CHUNK`` showers at a time: simulated, written while the next are simulated,
    then read back and reduced to the 151 observables of
    :func:`dctrgan.features.observables`, so a few chunks are in memory at a time.
    """
    rng = np.random.default_rng(seed)
    path = folder / f"{variant}.root"

    def chunks() -> Iterator[ak.Array]:
        for start in range(0, n, _CHUNK):
            showers = simulate.calorimeter(
                min(_CHUNK, n - start), ENERGY, variant=variant, seed=rng
            )
            tick(len(showers))
            yield showers

    io.write_chunks(path, chunks())
    parts = []
    for chunk in io.iterate(f"{path}:events", kind="showers", step_size=_CHUNK):
        parts.append(features.observables(chunk))
        tick(len(chunk))
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def _write_weighted(folder: Path, weights: np.ndarray, factors: np.ndarray | None) -> None:
    """``fast_weighted.root``: ``fast.root`` streamed back with the weights (and the
    replicas' ``factors``) attached as :meth:`dctrgan.DCTR.attach` attaches them."""
    chunks = io.iterate(f"{folder / 'fast.root'}:events", kind="showers", step_size=_CHUNK)

    def weighted() -> Iterator[ak.Array]:
        start = 0
        for chunk in chunks:
            stop = start + len(chunk)
            part = None if factors is None else factors[start:stop]
            yield attach_weights(chunk, weights[start:stop], part)
            start = stop

    io.write_chunks(folder / "fast_weighted.root", weighted())


def _high_level(observables: Mapping[str, np.ndarray], start: int, stop: int) -> np.ndarray:
    """The ``(N, 33)`` float32 matrix of DCTR-HL's features, entries ``start:stop``: the
    columns :func:`dctrgan.features.high_level` gives for these showers."""
    columns = [observables[name][start:stop] for name in features.HIGH_LEVEL_NAMES]
    return np.stack(columns, axis=1).astype(np.float32)


def demo(
    output: str | os.PathLike[str] = "dctrgan-demo",
    events: int = 50_000,
    *,
    seed: int = 0,
    test_fraction: float = 0.5,
    replicas: int = 5,
    test: bool = True,
    overwrite: bool = False,
    progress: bool = True,
) -> DemoResult:
    """Simulate, write, read, fit DCTR-HL, weight, write and report, into one folder.

    See :mod:`dctrgan.demo` for the steps, the files and the second process.

    Args:
        output: the folder to create (or, with ``overwrite``, to write into).
        events: showers per sample (full and fast).
        seed: seed of the simulations and the training; the same seed gives the
            same samples and, on CPU, the same weights.
        test_fraction: fraction of each sample kept out of training for the report
            (the last entries of the files).
        replicas: bootstrap replicas of the classifier (``DCTR(replicas=)``): the
            spread of the report's weighted figures and the bands of the plots; 0 for
            none (a faster run).
        test: run the independent classifier test of the report
            (:func:`dctrgan.stats.classifier_test`, before and after weighting).
        overwrite: write into an existing non-empty folder, replacing the demo's
            files there (other files stay).
        progress: show progress bars and step messages (on stderr).

    Returns:
        A :class:`DemoResult`; its :meth:`~DemoResult.summary` is what the command prints.

    Raises:
        FileExistsError: if ``output`` is a file, or a non-empty folder without ``overwrite``.
        ModuleNotFoundError: without matplotlib and mplhep (``pip install "dctrgan[plot]"``).
        ValueError: for too few events for a training and a test split.

    Example:
        >>> result = demo("demo-out", events=2000, progress=False)  # doctest: +SKIP
        >>> print(result.summary())  # doctest: +SKIP
    """
    n_test = round(events * test_fraction)
    n_train = events - n_test
    if not 0 < test_fraction < 1 or min(n_train, n_test) < _MIN_SPLIT:
        msg = (
            f"events={events}, test_fraction={test_fraction}: need at least {_MIN_SPLIT} "
            f"showers per sample in both the training and the test split "
            f"(got {n_train} and {n_test})"
        )
        raise ValueError(msg)
    out = Path(output).resolve()
    _check_output(out, overwrite)
    plot.require()  # fail now, not after the simulation, if the plot extra is missing
    steps = _Steps(4, progress)
    full_seed, fast_seed = np.random.SeedSequence(seed).spawn(2)
    with _staging(out, overwrite) as folder, _Helper() as helper:
        steps(
            f"simulating {events} full showers (in a second process) and {events} fast "
            "showers, writing full.root and fast.root and reading them back"
        )
        helper.submit(_sample, "full", events, full_seed, folder)
        with tqdm(
            total=4 * events,
            disable=not progress,
            unit=" showers",
            desc="simulate, write, read back",
        ) as bar:
            tick = helper.tick(bar)
            fast_obs = _sample("fast", events, fast_seed, folder, tick)
            full_obs = helper.wait(tick)
        steps(f"fitting DCTR-HL on entries 0-{n_train - 1} of both samples")
        dctr = DCTR(features="high_level", seed=seed, progress=progress, replicas=replicas)
        dctr.fit(_high_level(full_obs, 0, n_train), _high_level(fast_obs, 0, n_train))
        steps(
            "weighting the fast sample; writing dctr_hl.pt, fast_weights.root and "
            "fast_weighted.root (in the second process)"
        )
        fast_hl = _high_level(fast_obs, 0, events)
        weights, factors = (
            dctr.weight(fast_hl, replicas=True) if replicas else (dctr.weight(fast_hl), None)
        )
        helper.submit(_write_weighted, folder, weights, factors)
        dctr.save(folder / "dctr_hl.pt")
        io.write_weights(folder / "fast_weights.root", weights)
        steps(f"comparing every observable on the test split (entries {n_train}-{events - 1})")
        full_obs = {name: values[n_train:] for name, values in full_obs.items()}
        fast_obs = {name: values[n_train:] for name, values in fast_obs.items()}
        test_weights = np.asarray(weights, dtype=np.float64)[n_train:]
        spread = None if factors is None else np.asarray(factors, dtype=np.float64)[n_train:]
        comparison = report.compare(
            full_obs,
            fast_obs,
            test_weights,
            replicas=spread,
            test=test,
            evaluation=(
                f"the test split, entries {n_train}-{events - 1} of full.root and fast.root "
                f"({n_test} showers each), which the classifier never saw: it was fit on "
                f"entries 0-{n_train - 1} (part of them held out for early stopping and "
                "calibration). The weights of those training entries in "
                "fast_weighted.root are in-sample."
            ),
        )
        for name in FIGURES:
            fig = plot.comparison(
                full_obs[name],
                fast_obs[name],
                test_weights,
                replicas=spread,
                observable=name,
                unit=features.observable_unit(name),
                labels=_LABELS,
            )
            fig.savefig(folder / f"{name}.png", dpi=100)
        comparison.write(
            folder / "report",
            title=f"dctrgan demo: DCTR-HL reweighting of {ENERGY:g} GeV fast calorimeter showers",
            figures=[f"{name}.png" for name in FIGURES],
        )
        helper.wait()
    seconds = steps.elapsed
    log.info("demo: done in %.1f s, files in %s", seconds, out)
    files = {name: out / name for name, _ in _FILES}
    return DemoResult(
        output=out,
        files=files,
        comparison=comparison,
        n_events=events,
        n_train=n_train,
        n_test=n_test,
        seconds=seconds,
        replicas=replicas,
    )
