"""Bad input and faults: each ends in a clear error, and nothing is lost.

The faults of DESIGN.md secs. 3 and 9 that are not tested here are tested beside the
code they concern: missing files, trees and branches, truncated and non-ROOT files,
wrong shapes, NaN hit energies and positions outside the geometry read from ROOT
(``test_io.py``); schema violations in memory (``test_data.py``); non-finite
features and empty samples (``test_dctr.py``); model files of another kind or of a
newer format (``test_dctr.py``, ``test_wgan.py``, ``test_regression.py``,
``test_refiner.py``); the CLI refusing an output that is one of its inputs
(``test_cli.py``). Here: bad hits and a corrupt basket late in a stream, empty
files and zero events, damaged and code-carrying model files of every model class,
writing into the file being read, a file-size limit hit mid-write, writers racing
for one path, and training interrupted from inside.
"""

from __future__ import annotations

import multiprocessing
import pickle
import signal
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import torch
import uproot
from click.testing import CliRunner, Result

from dctrgan import io, modelfile
from dctrgan.cli import main
from dctrgan.dctr import DCTR
from dctrgan.io import files
from dctrgan.refiner import Refiner
from dctrgan.regression import Regressor
from dctrgan.simulate import airshower, calorimeter
from dctrgan.training import threads
from dctrgan.wgan import WGAN

#: Tests that fork writer processes and set a file-size limit on them.
processes = pytest.mark.skipif(sys.platform != "linux", reason="forks processes (Linux)")

HIT_FIELDS = ("layer", "ix", "iy", "energy")
MODELS: tuple[type[Any], ...] = (DCTR, WGAN, Regressor, Refiner)


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with threads(1):
        yield


def names(folder: Path) -> list[str]:
    """Everything in ``folder``, hidden temporary files included."""
    return sorted(p.name for p in folder.iterdir())


def cli(*args: Any) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def showers() -> ak.Array:
    return calorimeter(300, variant="fast", seed=11)


@pytest.fixture(scope="module")
def dctr() -> DCTR:
    full, fast = calorimeter(200, seed=1), calorimeter(200, variant="fast", seed=2)
    return DCTR(epochs=2, batch_size=64, progress=False).fit(full, fast)


@pytest.fixture(scope="module")
def traces() -> tuple[ak.Array, ak.Array]:
    return airshower(40, "sim", seed=1), airshower(40, "data", seed=2)


def raw_file(path: Path, events: ak.Array, field: str, index: int, value: float) -> Path:
    """``events`` written with bare uproot in the dctrgan layout, hit ``index`` (flat)
    of ``field`` set to ``value``: a file dctrgan itself would refuse to write."""
    hits = events["hits"]
    flat = {f: ak.to_numpy(ak.flatten(hits[f])).copy() for f in HIT_FIELDS}
    flat[field][index] = value
    cells = ak.zip({f: ak.unflatten(flat[f], ak.num(hits)) for f in HIT_FIELDS})
    with uproot.recreate(path) as file:
        file.mktree("events", {"incident_energy": np.float32, "hits": cells.type.content})
        file["events"].extend(
            {"incident_energy": ak.to_numpy(events["incident_energy"]), "hits": cells}
        )
    return path


def weighted_stream(dctr: DCTR, source: Any, step_size: int = 100) -> Iterator[ak.Array]:
    """What ``dctrgan weight`` streams: each chunk of ``source`` with its DCTR weight."""
    return (dctr.attach(chunk) for chunk in io.iterate(source, step_size=step_size))


# ------------------------------------------------------------------ bad hits


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("energy", np.nan, r"field 'hits\.energy': 1 non-finite value"),
        ("energy", np.inf, r"field 'hits\.energy': 1 non-finite value"),
        ("energy", -2.5, r"field 'hits\.energy': 1 negative value"),
        ("ix", 30, r"field 'hits\.ix': 1 value\(s\) outside the geometry \[0, 30\), first 30"),
        (
            "layer",
            -1,
            r"field 'hits\.layer': 1 value\(s\) outside the geometry \[0, 30\), first -1",
        ),
    ],
)
def test_bad_hits_are_named_and_stop_a_stream_without_loss(
    tmp_path: Path, showers: ak.Array, dctr: DCTR, field: str, value: float, message: str
) -> None:
    """A bad hit in the last chunk of a file: the error names file, tree, field and
    branch; the weighted output being replaced stays as it was, with no leftovers."""
    last = int(ak.sum(ak.num(showers["hits"][:250])))  # a hit of event 250 (chunk 3 of 3)
    source = raw_file(tmp_path / "bad.root", showers, field, last, value)
    where = rf"bad\.root:events: {message}.*\(branch 'hits_{field}'\)"
    with pytest.raises(ValueError, match=where):
        io.read(source)
    output = tmp_path / "weighted.root"
    output.write_bytes(b"the previous output")
    chunks: list[int] = []

    def counted() -> Iterator[ak.Array]:
        for chunk in weighted_stream(dctr, source):
            chunks.append(len(chunk))
            yield chunk

    with pytest.raises(ValueError, match=where):
        io.write_chunks(output, counted(), overwrite=True)
    assert chunks == [100, 100]  # two chunks were weighted and written before the bad one
    assert output.read_bytes() == b"the previous output"
    assert names(tmp_path) == ["bad.root", "weighted.root"]
    # the same hit in memory: DCTR refuses it by name too
    flat = ak.to_numpy(ak.flatten(showers["hits", field])).copy()
    flat[last] = value
    bad = ak.with_field(showers, ak.unflatten(flat, ak.num(showers["hits"])), ("hits", field))
    with pytest.raises(ValueError, match=message):
        dctr.weight(bad)


# ------------------------------------------------------------------ empty files, zero events


def test_empty_files_are_refused_by_name(tmp_path: Path) -> None:
    empty = tmp_path / "empty.root"
    empty.write_bytes(b"")
    with pytest.raises(OSError, match=r"empty\.root: cannot be read; .*truncated or corrupt"):
        io.read(empty)
    with pytest.raises(OSError, match=r"empty\.root: cannot be read"):
        io.iterate(empty)  # at the call, before the first chunk
    no_tree = tmp_path / "no_tree.root"
    with uproot.recreate(no_tree):
        pass
    with pytest.raises(ValueError, match=r"no_tree\.root: no TTree or RNTuple in the file"):
        io.read(no_tree)
    model = tmp_path / "empty.pt"
    model.write_bytes(b"")
    for cls in MODELS:
        with pytest.raises(ValueError, match=r"empty\.pt' is not a dctrgan model file"):
            cls.load(model)


def test_zero_events_weight_to_zero_weights(tmp_path: Path, showers: ak.Array, dctr: DCTR) -> None:
    source = io.write(tmp_path / "zero.root", showers[:0])
    events = io.read(source)
    assert len(events) == 0
    assert [len(c) for c in io.iterate(source)] == [0]  # one typed empty chunk
    w = dctr.weight(events)
    assert len(w) == 0
    assert ak.to_numpy(w).dtype == np.float32
    assert ak.fields(dctr.attach(events)) == ["incident_energy", "hits", "weight", "dctr_weight"]
    # a friend tree of zero weights, streamed, reads back with the zero events
    friend = io.write_weights(
        tmp_path / "w.root", (dctr.weight(c) for c in io.iterate(source)), overwrite=False
    )
    assert len(io.read(source, friend=friend)) == 0
    with pytest.raises(ValueError, match="real: empty sample"):
        DCTR(epochs=1, progress=False).fit(events, showers)


# ------------------------------------------------------------------ corrupt ROOT


def test_corrupt_basket_mid_file_stops_the_stream_without_loss(
    tmp_path: Path, showers: ak.Array, dctr: DCTR
) -> None:
    """Damaged compressed data in the third basket: the file opens, and the stream
    stops at that basket with an error naming the file; the existing output stays."""
    good = io.write(tmp_path / "good.root", showers, step_size=100)
    with uproot.open(good) as file:
        branch = file["events"]["hits_energy"]
        seek = int(branch.member("fBasketSeek")[2])
        size = int(branch.member("fBasketBytes")[2])
    data = bytearray(good.read_bytes())
    data[seek + size // 2 : seek + size // 2 + 16] = bytes(16)
    source = tmp_path / "corrupt.root"
    source.write_bytes(bytes(data))
    with pytest.raises(OSError, match=r"corrupt\.root:events: cannot be read; .*corrupt"):
        io.read(source)
    output = tmp_path / "out.root"
    output.write_bytes(b"the previous output")
    with pytest.raises(OSError, match=r"corrupt\.root:events: cannot be read"):
        io.write_chunks(output, weighted_stream(dctr, source), overwrite=True)
    assert output.read_bytes() == b"the previous output"
    assert names(tmp_path) == ["corrupt.root", "good.root", "out.root"]


# ------------------------------------------------------------------ model files


def untrained(cls: type[Any], seed: int = 0) -> Any:
    """A tiny model of ``cls``."""
    if cls is DCTR:
        return DCTR(epochs=1, progress=False, seed=seed)
    if cls is WGAN:
        return WGAN((1,), steps=2, batch_size=8, device="cpu", progress=False, seed=seed)
    if cls is Regressor:
        return Regressor(epochs=1, width=4, batch_size=16, progress=False, seed=seed)
    return Refiner(
        steps=1, batch_size=10, n_critic=1, width=4, critic_width=4, progress=False, seed=seed
    )


def train(model: Any, traces: tuple[ak.Array, ak.Array], seed: int = 0) -> Any:
    """``model`` fitted on toys (DCTR, WGAN) or traces."""
    rng = np.random.default_rng(seed)
    if isinstance(model, DCTR):
        return model.fit(rng.normal(size=(200, 1)), rng.normal(0.5, 1.0, (200, 1)))
    if isinstance(model, WGAN):
        return model.fit(rng.normal(size=(50, 1)))
    if isinstance(model, Regressor):
        return model.fit(traces[0])
    return model.fit(*traces)


def fitted(cls: type[Any], traces: tuple[ak.Array, ak.Array], seed: int = 0) -> Any:
    return train(untrained(cls, seed), traces, seed)


def same(a: Any, b: Any) -> bool:
    """Equal payloads: the same keys, strings and numbers, and bit-identical tensors."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    return bool(a == b)


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_damaged_model_files_are_refused_or_unchanged(
    tmp_path: Path, traces: tuple[ak.Array, ak.Array], cls: type[Any]
) -> None:
    """Truncated anywhere: refused. One byte flipped anywhere: refused, or (where the
    byte is padding or archive metadata) the payload is bit-identical -- never a
    model with silently changed parameters."""
    path = tmp_path / "model.pt"
    fitted(cls, traces).save(path)
    raw = path.read_bytes()
    tag = f"dctrgan.{cls.__name__}"
    original = modelfile.read_model(path, cls.__name__, tag, 1)
    damaged = tmp_path / "damaged.pt"
    for cut in (1, 30, len(raw) // 3, len(raw) // 2, len(raw) - 100, len(raw) - 1):
        damaged.write_bytes(raw[:cut])
        with pytest.raises(ValueError, match=r"damaged\.pt' is not a dctrgan model file"):
            cls.load(damaged)
    refusals: list[str] = []
    for position in np.random.default_rng(3).choice(len(raw), 60, replace=False):
        flipped = bytearray(raw)
        flipped[position] ^= 0x5A
        damaged.write_bytes(bytes(flipped))
        try:
            cls.load(damaged, progress=False)
        except ValueError as err:
            refusals.append(str(err))
        else:
            payload = modelfile.read_model(damaged, cls.__name__, tag, 1)
            assert same(payload, original), f"byte {position}: loaded with other contents"
    assert all("damaged.pt' is not a dctrgan model file" in r for r in refusals), refusals
    # measured: 47 (WGAN: a 9 kB file, more of it archive metadata) to 59 of 60 refused
    assert len(refusals) >= 40


class _Touch:
    """Unpickling this creates ``marker``: code a model file must never run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[Path]]:
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_pickled_code_in_a_model_file_never_runs(tmp_path: Path, cls: type[Any]) -> None:
    marker = tmp_path / "code_ran"
    payload = {"format": f"dctrgan.{cls.__name__}", "version": 1, "x": _Touch(marker)}
    live = tmp_path / "live"
    pickle.loads(pickle.dumps({"x": _Touch(live)}))  # the payload is live: it runs if unpickled
    assert live.exists()
    files = {"pickle2.pt": pickle.dumps(payload, protocol=2), "pickle5.pt": pickle.dumps(payload)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    torch.save(payload, tmp_path / "zip.pt")
    torch.save(payload, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    for name in (*files, "zip.pt", "legacy.pt"):
        with pytest.raises(ValueError, match=rf"{name}' is not a dctrgan model file"):
            cls.load(tmp_path / name)
    assert not marker.exists()


# ------------------------------------------------------------------ output is an input


@pytest.mark.skipif(sys.platform == "win32", reason="replaces a file open for reading")
def test_streaming_into_its_own_input_replaces_it_only_when_complete(
    tmp_path: Path, showers: ak.Array, dctr: DCTR
) -> None:
    """``write_chunks`` cannot know its chunks come from the file it replaces (the CLI
    refuses that, see test_cli): the rename at the end keeps it correct, and a
    failure midway leaves the input whole."""
    path = io.write(tmp_path / "showers.root", showers)

    def failing() -> Iterator[ak.Array]:
        for i, chunk in enumerate(weighted_stream(dctr, path)):
            if i == 2:
                msg = "worker lost"
                raise RuntimeError(msg)
            yield chunk

    with pytest.raises(RuntimeError, match="worker lost"):
        io.write_chunks(path, failing(), overwrite=True)
    assert ak.array_equal(io.read(path), showers)
    io.write_chunks(path, weighted_stream(dctr, path), overwrite=True)
    expected = dctr.attach(showers)
    assert ak.array_equal(io.read(path), expected)
    assert names(tmp_path) == ["showers.root"]


# ------------------------------------------------------------------ processes


def forked(targets: Sequence[Callable[[], object]], timeout: float = 60.0) -> list[str | None]:
    """Run each target in its own forked process, all at once: what each raised
    (``"Type: message"``), or None."""
    context = multiprocessing.get_context("fork")
    pipes, processes = [], []

    def run(target: Callable[[], object], send: Any) -> None:
        try:
            target()
        except BaseException as err:  # noqa: BLE001 - reported to the parent
            send.send(f"{type(err).__name__}: {err}")
        else:
            send.send(None)

    with warnings.catch_warnings():
        # the children only do file I/O; the threads torch may hold are not needed there
        warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
        for target in targets:
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=run, args=(target, send))
            process.start()
            pipes.append(receive)
            processes.append(process)
    outcomes = [r.recv() if r.poll(timeout) else "timed out" for r in pipes]
    for process in processes:
        process.join(timeout)
        assert process.exitcode == 0
    return outcomes


def size_limited(limit: int, target: Callable[[], object]) -> Callable[[], object]:
    """``target`` under a file-size limit of ``limit`` bytes, with SIGXFSZ ignored so
    that a write past it fails with EFBIG instead of killing the process."""

    import resource  # POSIX only

    def run() -> object:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        return target()

    return run


@processes
@pytest.mark.parametrize("what", ["write", "write_chunks", "write_weights", "save"])
def test_a_write_past_the_file_size_limit_leaves_the_old_file(
    tmp_path: Path, showers: ak.Array, dctr: DCTR, what: str
) -> None:
    path = tmp_path / ("model.pt" if what == "save" else "out.root")
    path.write_bytes(b"the previous file")
    writers: dict[str, Callable[[], object]] = {
        "write": lambda: io.write(path, showers, overwrite=True, step_size=50),
        "write_chunks": lambda: io.write_chunks(
            path, (dctr.attach(showers[i : i + 100]) for i in range(0, 300, 100)), overwrite=True
        ),
        "write_weights": lambda: io.write_weights(
            path, iter(np.random.default_rng(1).uniform(size=(3, 40_000))), overwrite=True
        ),
        "save": lambda: dctr.save(path),
    }
    limit = 20_000 if what == "save" else 100_000  # the model file is ~70 kB, the others more
    (outcome,) = forked([size_limited(limit, writers[what])])
    assert outcome is not None
    assert outcome.startswith("OSError: [Errno 27] File too large"), outcome
    assert path.read_bytes() == b"the previous file"
    assert names(tmp_path) == [path.name]
    # without the limit the same write goes through
    assert forked([writers[what]]) == [None]
    assert path.read_bytes() != b"the previous file"


@processes
def test_concurrent_writers_leave_exactly_one_whole_file(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(4)
    samples = [calorimeter(150, variant="fast", seed=100 + k) for k in range(4)]
    path = tmp_path / "shared.root"

    def writer(k: int, overwrite: bool) -> Callable[[], object]:
        def run() -> object:
            barrier.wait(30)
            return io.write(path, samples[k], overwrite=overwrite, step_size=30)

        return run

    for _ in range(3):  # replacing: the last rename wins, whole
        assert forked([writer(k, True) for k in range(4)]) == [None] * 4
        back = io.read(path)
        assert sum(ak.array_equal(back, s) for s in samples) == 1
        assert names(tmp_path) == ["shared.root"]
    for _ in range(3):  # creating: exactly one writer succeeds, the others are refused
        path.unlink()
        outcomes = forked([writer(k, False) for k in range(4)])
        winners = [k for k, o in enumerate(outcomes) if o is None]
        assert len(winners) == 1, outcomes
        assert all(o is None or o.startswith("FileExistsError: ") for o in outcomes)
        assert ak.array_equal(io.read(path), samples[winners[0]])
        assert names(tmp_path) == ["shared.root"]


@processes
def test_concurrent_model_saves_leave_exactly_one_whole_model(
    tmp_path: Path, traces: tuple[ak.Array, ak.Array]
) -> None:
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(4)
    models = [fitted(WGAN, traces, seed=k) for k in range(4)]
    samples = [m.sample(16, seed=1) for m in models]
    path = tmp_path / "wgan.pt"

    def saver(k: int) -> Callable[[], object]:
        def run() -> object:
            barrier.wait(30)
            models[k].save(path)
            return None

        return run

    for _ in range(3):
        assert forked([saver(k) for k in range(4)]) == [None] * 4
        back = WGAN.load(path, progress=False).sample(16, seed=1)
        assert sum(np.array_equal(back, s) for s in samples) == 1
        assert names(tmp_path) == ["wgan.pt"]


def test_a_file_created_while_writing_is_never_replaced(
    tmp_path: Path, showers: ak.Array, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race of two creating writers, made deterministic: the other writer's file
    appears just before this one would be moved into place."""
    path = tmp_path / "new.root"
    real = files.file_mode

    def other_writer_finishes(target: Path) -> int:
        path.write_bytes(b"the other writer's file")
        return real(target)

    monkeypatch.setattr(files, "file_mode", other_writer_finishes)
    with pytest.raises(FileExistsError, match=r"new\.root: was created while writing"):
        io.write(path, showers)
    assert path.read_bytes() == b"the other writer's file"
    assert names(tmp_path) == ["new.root"]


# ------------------------------------------------------------------ interrupted training


@pytest.fixture
def interrupt_second_step(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A KeyboardInterrupt from inside training: at the second optimizer step."""
    calls: list[int] = []
    step = torch.optim.Adam.step

    def interrupted(self: torch.optim.Adam, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", interrupted)
    return calls


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_an_interrupted_fit_leaves_no_model_to_save(
    tmp_path: Path,
    traces: tuple[ak.Array, ak.Array],
    interrupt_second_step: list[int],
    cls: type[Any],
) -> None:
    model = untrained(cls)
    with pytest.raises(KeyboardInterrupt):
        train(model, traces)
    assert len(interrupt_second_step) == 2
    with pytest.raises((RuntimeError, ValueError), match="fit"):
        model.save(tmp_path / "model.pt")
    assert names(tmp_path) == []


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(5)
    np.savez(folder / "points.npz", x=rng.normal(size=(200, 2)))
    sim, data = airshower(40, "sim", seed=1), airshower(40, "data", seed=2)
    return {
        "full": io.write(folder / "full.root", calorimeter(150, seed=1)),
        "fast": io.write(folder / "fast.root", calorimeter(150, variant="fast", seed=2)),
        "points": folder / "points.npz",
        "sim": io.write(folder / "sim.root", sim),
        "data": io.write(folder / "data.root", data),
    }


@pytest.mark.parametrize("command", ["fit", "generate", "refine"])
def test_an_interrupted_cli_training_writes_nothing(
    tmp_path: Path, inputs: dict[str, Path], interrupt_second_step: list[int], command: str
) -> None:
    model = tmp_path / "model.pt"
    if command == "fit":
        args = ["fit", inputs["full"], inputs["fast"], "-o", model, "--epochs", "2"]
    elif command == "generate":
        args = ["generate", inputs["points"], "-o", tmp_path / "gen.npz", "--save-model", model]
        args += ["--steps", "5", "-n", "10"]
    else:
        args = ["refine", inputs["sim"], inputs["data"], "-o", tmp_path / "refined.root"]
        args += ["--save-model", model, "--steps", "3", "--batch-size", "10", "--width", "4"]
    result = cli(*args, "--no-progress")
    assert len(interrupt_second_step) == 2
    assert result.exit_code == 1
    assert "Aborted" in result.output
    assert names(tmp_path) == []


def test_interrupted_kfold_fit_leaves_no_model_to_save(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    real, fake = rng.normal(0, 1, (400, 2)), rng.normal(0.3, 1, (400, 2))
    dctr = DCTR(folds=3, epochs=2, progress=False)
    calls = {"n": 0}
    original = torch.optim.Adam.step

    def interrupt_in_fold_two(self: torch.optim.Adam, *args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] > 10:  # fold 1 (two epochs of 3 batches) done, fold 2 under way
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch.optim.Adam, "step", interrupt_in_fold_two)
        with pytest.raises(KeyboardInterrupt):
            dctr.fit(real, fake)
    with pytest.raises(RuntimeError, match="call fit"):
        dctr.save(tmp_path / "half.pt")
    assert not list(tmp_path.iterdir())


def test_weighting_a_zero_event_file_streams_a_typed_empty_output(tmp_path: Path) -> None:
    from dctrgan.simulate import calorimeter

    model = DCTR(epochs=1, progress=False).fit(
        calorimeter(200, seed=1), calorimeter(200, variant="fast", seed=2)
    )
    zero = tmp_path / "zero.root"
    io.write(zero, calorimeter(0, seed=3))
    chunks = list(io.iterate(f"{zero}:events"))
    assert [len(c) for c in chunks] == [0]
    out = io.write_chunks(tmp_path / "out.root", (model.attach(c) for c in chunks))
    again = io.read(f"{out}:events")
    assert len(again) == 0
    assert "weight" in ak.fields(again)
