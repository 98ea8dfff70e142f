from __future__ import annotations

from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot
from click.testing import CliRunner, Result

import dctrgan
from dctrgan import io
from dctrgan.cli import main
from dctrgan.cli._common import cli_wording
from dctrgan.dctr import DCTR
from dctrgan.refiner import Refiner
from dctrgan.wgan import WGAN

COMMANDS = ("demo", "simulate", "fit", "weight", "report", "generate", "refine")
FIT = ["--epochs", "2", "--seed", "3", "--no-progress"]


def run(*args: Any) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def ok(*args: Any) -> Result:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def assert_error(result: Result, *fragments: str) -> None:
    """Exit code 1 and exactly one line on stderr, naming every fragment; no traceback."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dctrgan: error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.output


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small full and fast showers (the fast ones with an initial weight), a fitted model."""
    folder = tmp_path_factory.mktemp("data")
    full = dctrgan.simulate.calorimeter(200, seed=1, progress=False)
    fast = dctrgan.simulate.calorimeter(200, variant="fast", seed=2, progress=False)
    fast = ak.with_field(fast, np.linspace(0.5, 1.5, 200, dtype=np.float32), "weight")
    out = {
        "full": io.write(folder / "full.root", full),
        "fast": io.write(folder / "fast.root", fast),
    }
    model = DCTR(epochs=2, seed=3, progress=False).fit(io.read(out["full"]), io.read(out["fast"]))
    model.save(folder / "model.pt")
    return out | {"model": folder / "model.pt"}


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("traces")
    sim = dctrgan.simulate.airshower(60, "sim", seed=1, progress=False)
    data = dctrgan.simulate.airshower(60, "data", seed=2, progress=False)
    return {"sim": io.write(folder / "sim.root", sim), "data": io.write(folder / "data.root", data)}


# ------------------------------------------------------------------ every command


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_an_example(command: str) -> None:
    result = ok(command, "--help")
    assert "Example" in result.output
    assert f"dctrgan {command}" in result.output


def test_group_help_lists_every_command() -> None:
    result = ok("--help")
    for command in COMMANDS:
        assert command in result.output


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "missing.root"
    assert_error(run("fit", missing, missing, "-o", tmp_path / "m.pt"), "missing.root")
    result = run("--debug", "fit", missing, missing, "-o", tmp_path / "m.pt")
    assert result.exit_code != 0
    assert isinstance(result.exception, FileNotFoundError)


# ------------------------------------------------------------------ simulate


def test_simulate_writes_a_readable_file(tmp_path: Path) -> None:
    out = tmp_path / "fast.root"
    args = ["simulate", "calorimeter", "-n", "20", "--variant", "fast", "--seed", "3", "-o", out]
    assert "wrote 20 calorimeter events" in ok(*args).output
    events = dctrgan.read(f"{out}:events", kind="showers")
    expected = dctrgan.simulate.calorimeter(20, variant="fast", seed=3)
    assert ak.array_equal(events.hits, expected.hits)


def test_simulate_airshower(tmp_path: Path) -> None:
    out = tmp_path / "data.root"
    ok("simulate", "airshower", "-n", "5", "--seed", "1", "-o", out)
    assert len(dctrgan.read(out, kind="traces")) == 5


@pytest.mark.parametrize("toy", ["bimodal_1d", "circle_2d", "grid_2d"])
def test_simulate_gaussians(tmp_path: Path, toy: str) -> None:
    out = tmp_path / "truth.npz"
    ok("simulate", "gaussians", "--toy", toy, "-n", "50", "--seed", "4", "-o", out)
    with np.load(out) as file:
        assert file.files == ["x"]
        np.testing.assert_array_equal(file["x"], getattr(dctrgan.simulate, toy).sample(50, seed=4))


def test_existing_output_is_one_clear_line_and_untouched(tmp_path: Path) -> None:
    out = tmp_path / "keep.root"
    out.write_bytes(b"precious")
    result = run("simulate", "airshower", "-n", "2", "-o", out)
    assert_error(result, str(out), "--overwrite")
    assert out.read_bytes() == b"precious"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["airshower", "--variant", "fast", "-o", "x.root"],
            "airshower variant must be data or sim",
        ),
        (["gaussians", "-o", "x.root"], "gaussians events are written to a .npz file"),
        (["calorimeter", "-o", "x.npz"], "calorimeter events are written to a ROOT file"),
    ],
)
def test_simulate_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    result = run("simulate", *args[:-1], tmp_path / args[-1])
    assert result.exit_code == 2
    assert message in result.output
    assert names(tmp_path) == []


# ------------------------------------------------------------------ fit


def test_fit_equals_the_api(tmp_path: Path, files: dict[str, Path]) -> None:
    out = tmp_path / "dctr.pt"
    result = ok("fit", f"{files['full']}:events", files["fast"], "-o", out, *FIT)
    assert "fitted DCTR (mlp on 33 features, 1 fold) on 200 real and 200 fake" in result.output
    assert f"wrote {out}" in result.output
    fast = io.read(files["fast"])
    expected = DCTR(epochs=2, seed=3, progress=False).fit(io.read(files["full"]), fast)
    np.testing.assert_array_equal(DCTR.load(out).weight(fast), expected.weight(fast))


def test_fit_knobs_reach_the_model(tmp_path: Path, files: dict[str, Path]) -> None:
    out = tmp_path / "dctr.pt"
    args = ["--features", "total_energy,active_cells", "--hidden", "8,4", "--folds", "2"]
    args += ["--clip", "3", "--events", "120", "--lr", "0.01", "--batch-size", "64"]
    ok("fit", files["full"], files["fast"], "-o", out, *args, *FIT)
    dctr = DCTR.load(out)
    config = dctr.config
    assert tuple(config["hidden"]) == (8, 4)
    knobs = {"folds": 2, "clip": 3.0, "lr": 0.01, "batch_size": 64}
    assert {k: config[k] for k in knobs} == knobs
    assert dctr.feature_names == ["total_energy", "active_cells"]
    assert ak.max(DCTR.load(out).weight(io.read(files["fast"]))) <= 3.0
    ok("fit", files["full"], files["fast"], "-o", out, "--clip", "none", "--overwrite", *FIT)
    assert DCTR.load(out).config["clip"] is None
    more = ["--clip", "sqrt_n", "--calibrate", "temperature", "--replicas", "2", "--overwrite"]
    ok("fit", files["full"], files["fast"], "-o", out, *more, *FIT)
    dctr = DCTR.load(out)
    assert (dctr.config["clip"], dctr.config["calibrate"]) == ("sqrt_n", "temperature")
    # sqrt of the Kish n_eff of the FAKE input weights, linspace(0.5, 1.5, 200)
    weights = np.linspace(0.5, 1.5, 200, dtype=np.float32).astype(np.float64)
    assert dctr.clip == pytest.approx(dctrgan.stats.effective_entries(weights) ** 0.5)
    assert len(dctr.replica_temperatures) == 2
    result = run("fit", files["full"], files["fast"], "-o", out, "--clip", "sqrt", "--overwrite")
    assert result.exit_code == 2
    assert "expected a positive number, auto, sqrt_n or none, got 'sqrt'" in result.output


def test_fit_on_points(tmp_path: Path, rng: np.random.Generator) -> None:
    real, fake = tmp_path / "real.npz", tmp_path / "fake.npz"
    np.savez(real, x=rng.normal(0.0, 1.0, (400, 2)))
    np.savez(fake, x=rng.normal(0.5, 1.0, (400, 2)))
    result = ok("fit", real, fake, "-o", tmp_path / "m.pt", *FIT)
    assert "mlp on 2 columns" in result.output


def test_fit_refuses_to_overwrite(tmp_path: Path, files: dict[str, Path]) -> None:
    out = tmp_path / "dctr.pt"
    out.write_bytes(b"old model")
    assert_error(run("fit", files["full"], files["fast"], "-o", out, *FIT), "exists", "--overwrite")
    assert out.read_bytes() == b"old model"
    assert_error(
        run("fit", files["full"], files["fast"], "-o", files["fast"], "--overwrite", *FIT),
        "is also an input",
    )
    assert_error(run("fit", files["full"], files["fast"], "-o", tmp_path / "no" / "m.pt"), "folder")


@pytest.mark.parametrize("error", [KeyboardInterrupt, FloatingPointError])
def test_failed_fit_writes_no_model(
    tmp_path: Path, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, error: type
) -> None:
    def fail(*_args: Any, **_kwargs: Any) -> DCTR:
        msg = "training diverged"
        raise error(msg)

    monkeypatch.setattr(DCTR, "fit", fail)
    result = run("fit", files["full"], files["fast"], "-o", tmp_path / "m.pt", *FIT)
    if error is KeyboardInterrupt:
        assert result.exit_code == 1
        assert "Aborted" in result.output
    else:
        assert_error(result, "training diverged")
    assert names(tmp_path) == []


@pytest.mark.parametrize(
    ("real", "fake", "message"),
    [
        ("{tmp}/missing.root", "{fast}", "missing.root"),
        ("{full}:nope", "{fast}", "nope"),
        ("{full}", "{fast}", "feature"),
    ],
)
def test_fit_input_errors(
    tmp_path: Path, files: dict[str, Path], real: str, fake: str, message: str
) -> None:
    where = {"tmp": tmp_path, "full": files["full"], "fast": files["fast"]}
    args = [real.format(**where), fake.format(**where), "-o", tmp_path / "m.pt", *FIT]
    if message == "feature":
        args += ["--features", "no_such_observable"]
    assert_error(run("fit", *args), message)
    assert names(tmp_path) == []


# ------------------------------------------------------------------ weight


def test_weight_streams_and_equals_the_api(tmp_path: Path, files: dict[str, Path]) -> None:
    out = tmp_path / "weighted.root"
    result = ok("weight", files["model"], files["fast"], "-o", out, "--step-size", "70")
    assert "weighted 200 events of" in result.output
    assert "n_eff/N" in result.output
    assert "weighting" in result.stderr  # the progress bar
    fast = io.read(files["fast"])
    weighted = io.read(out)
    expected = DCTR.load(files["model"]).attach(fast)  # multiplied into the initial weight
    np.testing.assert_array_equal(ak.to_numpy(weighted["weight"]), ak.to_numpy(expected["weight"]))
    assert ak.array_equal(weighted[["incident_energy", "hits"]], fast[["incident_energy", "hits"]])
    # the same as weighting everything at once, whatever the compression
    every = tmp_path / "all.root"
    ok(
        "weight",
        files["model"],
        files["fast"],
        "-o",
        every,
        "--step-size",
        "1000",
        "--compression",
        "lz4:2",
    )
    assert ak.array_equal(io.read(every), weighted)
    with uproot.open(out) as default, uproot.open(every) as lz4:
        assert (default.file.compression.name, default.file.compression.level) == ("ZSTD", 1)
        assert (lz4.file.compression.name, lz4.file.compression.level) == ("LZ4", 2)
    result = run(
        "weight", files["model"], files["fast"], "-o", tmp_path / "x.root", "--compression", "gz"
    )
    assert result.exit_code == 1
    assert "compression 'gz': unknown algorithm 'gz'" in result.output
    assert not (tmp_path / "x.root").exists()


def test_weight_friend_and_field(tmp_path: Path, files: dict[str, Path]) -> None:
    friend = tmp_path / "w.root"
    args = ["--friend", "--step-size", "64", "--no-progress", "--tree", "dctr"]
    result = ok("weight", files["model"], f"{files['fast']}:events", "-o", friend, *args)
    assert "tree 'dctr', branch 'weight'" in result.output
    fast = io.read(files["fast"])
    w = DCTR.load(files["model"]).weight(fast)
    back = io.read(files["fast"], friend=f"{friend}:dctr")
    expected = (ak.to_numpy(fast["weight"]) * ak.to_numpy(w).astype(np.float32)).astype(np.float32)
    np.testing.assert_array_equal(ak.to_numpy(back["weight"]), expected)
    out = tmp_path / "f.root"
    ok("weight", files["model"], files["fast"], "-o", out, "--field", "w_dctr", "--no-progress")
    events = io.read(out)
    np.testing.assert_array_equal(ak.to_numpy(events["w_dctr"]), ak.to_numpy(w).astype(np.float32))
    np.testing.assert_array_equal(ak.to_numpy(events["weight"]), ak.to_numpy(fast["weight"]))
    result = run("weight", files["model"], files["fast"], "-o", out, "--friend", "--field", "x")
    assert result.exit_code == 2


def test_weight_points(tmp_path: Path, rng: np.random.Generator) -> None:
    real, fake = rng.normal(0.0, 1.0, (300, 1)), rng.normal(0.3, 1.0, (300, 1))
    model = tmp_path / "m.pt"
    DCTR(epochs=2, progress=False).fit(real, fake).save(model)
    np.savez(tmp_path / "fake.npz", x=fake, weight=np.full(300, 2.0))
    ok("weight", model, tmp_path / "fake.npz", "-o", tmp_path / "out.npz")
    with np.load(tmp_path / "out.npz") as file:
        np.testing.assert_array_equal(file["x"], fake)
        assert file["weight"].dtype == np.float32
        np.testing.assert_allclose(file["weight"], 2 * DCTR.load(model).weight(fake), rtol=1e-6)
    assert run("weight", model, tmp_path / "fake.npz", "-o", tmp_path / "o.root").exit_code == 2


def test_weight_refuses_its_input_and_existing_output(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    before = files["fast"].read_bytes()
    for spec in (files["fast"], f"{files['fast']}:events"):
        result = run("weight", files["model"], spec, "-o", files["fast"], "--overwrite")
        assert_error(result, "is also an input")
    assert files["fast"].read_bytes() == before
    out = tmp_path / "out.root"
    out.write_bytes(b"keep")
    assert_error(run("weight", files["model"], files["fast"], "-o", out), "exists")
    assert out.read_bytes() == b"keep"


@pytest.mark.parametrize(
    ("model", "spec", "message"),
    [
        ("{tmp}/none.pt", "{fast}", "none.pt"),
        ("{fast}", "{fast}", "fast.root"),  # not a model file
        ("{model}", "{tmp}/none.root", "none.root"),
        ("{model}", "{fast}:wrong", "wrong"),
    ],
)
def test_weight_input_errors(
    tmp_path: Path, files: dict[str, Path], model: str, spec: str, message: str
) -> None:
    where = {"tmp": tmp_path, "fast": files["fast"], "model": files["model"]}
    args = [model.format(**where), spec.format(**where), "-o", tmp_path / "out.root"]
    assert_error(run("weight", *args, "--no-progress"), message)
    assert names(tmp_path) == []


def test_weight_failing_midway_leaves_nothing(
    tmp_path: Path, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = DCTR.attach
    calls: list[int] = []

    def fail_second(self: DCTR, events: Any, field: str = "weight") -> Any:
        calls.append(len(events))
        if len(calls) == 2:
            msg = "classifier exploded"
            raise ValueError(msg)
        return real(self, events, field)

    monkeypatch.setattr(DCTR, "attach", fail_second)
    out = tmp_path / "out.root"
    out.write_bytes(b"old")
    args = ["-o", out, "--step-size", "50", "--overwrite", "--no-progress"]
    assert_error(run("weight", files["model"], files["fast"], *args), "classifier exploded")
    assert calls == [50, 50]
    assert out.read_bytes() == b"old"
    assert names(tmp_path) == ["out.root"]


# ------------------------------------------------------------------ report


def test_report_from_weight_branch_and_friend(tmp_path: Path, files: dict[str, Path]) -> None:
    weighted, friend = tmp_path / "weighted.root", tmp_path / "friend.root"
    ok("weight", files["model"], files["fast"], "-o", weighted, "--no-progress")
    ok("weight", files["model"], files["fast"], "-o", friend, "--friend", "--no-progress")
    args = ["--figures", "total_energy", "--labels", "Full,Fast,Fast + DCTR"]
    result = ok("report", files["full"], weighted, "-o", tmp_path / "a", *args)
    assert "compared 151 observables of 200 reference and 200 weighted showers" in result.output
    assert names(tmp_path / "a") == ["report.csv", "report.md", "total_energy.png"]
    args = ["--friend", friend, "--figures", "none"]
    ok("report", files["full"], files["fast"], "-o", tmp_path / "b", *args)
    assert names(tmp_path / "b") == ["report.csv", "report.md"]
    table_a = (tmp_path / "a" / "report.csv").read_text().splitlines()
    table_b = (tmp_path / "b" / "report.csv").read_text().splitlines()
    assert len(table_a) == len(table_b) == 152
    # the friend's weights multiply the initial ones in float32, the branch's in float64
    numbers = [np.array([r.split(",")[3:] for r in t[1:]], dtype=float) for t in (table_a, table_b)]
    np.testing.assert_allclose(*numbers, rtol=1e-6)
    events = io.read(weighted)
    expected = dctrgan.report.compare(io.read(files["full"]), events)
    assert table_a[1:] == expected.to_csv().splitlines()[1:]


def test_report_errors(tmp_path: Path, files: dict[str, Path]) -> None:
    out = tmp_path / "r"

    def report(reference: Path, weighted: Path, *args: str) -> Result:
        return run("report", reference, weighted, "-o", out, "--no-progress", *args)

    assert_error(report(files["full"], files["fast"], "--field", "w"), "no weight field 'w'")
    assert_error(report(files["full"], tmp_path / "gone.root"), "gone.root: no such file")
    result = report(files["full"], files["fast"], "--observables", "max(")
    assert result.exit_code == 2
    assert "--observables" in result.output
    assert report(files["full"], files["fast"], "--figures", "nope").exit_code == 2
    assert report(files["full"], files["fast"], "--labels", "a,b").exit_code == 2
    assert not out.exists()
    assert report(files["full"], files["fast"], "--figures", "none").exit_code == 0
    assert_error(report(files["full"], files["fast"], "--figures", "none"), "--overwrite")
    assert report(files["full"], files["fast"], "--figures", "none", "--overwrite").exit_code == 0


def test_report_with_replicas_and_the_classifier_test(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    """A DCTR with replicas, attached: the report quotes the spread over the replicas
    (weight / dctr_weight * dctr_replicas[:, i]), and the summary the test's AUCs."""
    full, fast = io.read(files["full"]), io.read(files["fast"])
    dctr = DCTR(epochs=2, seed=3, progress=False, replicas=2).fit(full, fast)
    events = dctr.attach(fast)
    assert str(ak.type(events.dctr_replicas)) == "200 * 2 * float32"
    weighted = io.write(tmp_path / "weighted.root", events)
    args = ["--figures", "total_energy", "--no-progress"]
    result = ok("report", files["full"], weighted, "-o", tmp_path / "r", *args)
    back = io.read(weighted)
    before = ak.to_numpy(back.weight).astype(float) / ak.to_numpy(back.dctr_weight)
    replicas = before[:, None] * ak.to_numpy(back.dctr_replicas)
    expected = dctrgan.report.compare(full, back, replicas=replicas)
    assert expected.n_replicas == 2
    text = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    assert "standard deviation over the 2 replicas" in text
    assert f"n_eff = {expected.neff_model:.0f} ± {expected.neff_model_spread:.0f}" in text
    e = expected["total_energy"]
    assert f"| {e.s2_weighted:.2e} ± {e.s2_weighted_spread:.2e} |" in text
    table = (tmp_path / "r" / "report.csv").read_text(encoding="utf-8")
    assert table.splitlines()[1:] == expected.to_csv().splitlines()[1:]
    assert "## Independent classifier test" in text
    assert f"n_eff/N of the weighted sample: {expected.neff_fraction:.2f} ± " in result.output
    assert "classifier test, unweighted: AUC 0." in result.output
    assert "classifier test, weighted:   AUC 0." in result.output
    assert (tmp_path / "r" / "total_energy.png").is_file()
    # attached to another field: the replicas are the DCTR factors there
    apart = io.write(tmp_path / "apart.root", dctr.attach(fast, field="dctr"))
    args = ["--figures", "none", "--no-test", "--no-progress"]
    result = ok("report", files["full"], apart, "-o", tmp_path / "d", "--field", "dctr", *args)
    assert "classifier test" not in result.output
    table = (tmp_path / "d" / "report.csv").read_text(encoding="utf-8")
    again = io.read(apart)
    expected = dctrgan.report.compare(full, again, again.dctr, replicas=again.dctr_replicas)
    assert table.splitlines()[1:] == expected.to_csv().splitlines()[1:]
    # ... and the weight field holds no DCTR factor: the replicas are left out, with a note
    result = ok("report", files["full"], apart, "-o", tmp_path / "w", *args)
    assert "dctr_replicas left out" in result.stderr
    assert "±" not in (tmp_path / "w" / "report.md").read_text(encoding="utf-8")


# ------------------------------------------------------------------ generate


def test_generate_points_train_save_load(tmp_path: Path) -> None:
    truth, gan, model = tmp_path / "truth.npz", tmp_path / "gan.npz", tmp_path / "wgan.pt"
    ok("simulate", "gaussians", "--toy", "circle_2d", "-n", "300", "--seed", "1", "-o", truth)
    args = ["--steps", "3", "--loss", "bce", "-n", "40", "--seed", "5", "--no-progress"]
    result = ok("generate", truth, "-o", gan, "--save-model", model, *args)
    assert "WGAN (2,): trained on 300 events" in result.output
    wgan = WGAN.load(model)
    assert wgan.config["loss"] == "bce"
    with np.load(gan) as file:
        assert file.files == ["x"]
        np.testing.assert_array_equal(file["x"], wgan.sample(40, seed=5))
    again = tmp_path / "again.npz"
    ok("generate", "--model", model, "-n", "40", "--seed", "5", "-o", again)
    with np.load(again) as a, np.load(gan) as b:
        np.testing.assert_array_equal(a["x"], b["x"])


def test_generate_patterns_with_energy(tmp_path: Path, traces: dict[str, Path]) -> None:
    model, out = tmp_path / "wgan.pt", tmp_path / "p.npz"
    args = ["--steps", "2", "--batch-size", "8", "--width", "4", "--no-progress"]
    ok(
        "generate",
        traces["data"],
        "-n",
        "6",
        "-o",
        tmp_path / "a.npz",
        "--save-model",
        model,
        *args,
    )
    ok("generate", "--model", model, "-n", "6", "--energy", "10", "-o", out, "--seed", "2")
    wgan = WGAN.load(model)
    assert wgan.shape == (9, 9)
    with np.load(out) as file:
        assert sorted(file.files) == ["energy", "reconstructed_energy", "x"]
        np.testing.assert_array_equal(file["energy"], np.full(6, 10.0))
        np.testing.assert_array_equal(file["x"], wgan.sample(6, condition=10.0, seed=2))
        np.testing.assert_allclose(file["reconstructed_energy"], wgan.reconstruct(file["x"]))


def test_generate_showers_to_root(tmp_path: Path, files: dict[str, Path]) -> None:
    out = tmp_path / "gen.root"
    args = ["--steps", "1", "--batch-size", "2", "--width", "2", "--events", "8", "--no-progress"]
    ok("generate", files["full"], "-n", "3", "-o", out, "--energy", "50", *args)
    showers = io.read(out)
    assert len(showers) == 3
    np.testing.assert_array_equal(ak.to_numpy(showers["incident_energy"]), np.full(3, 50.0))


def test_generate_showers_with_the_shower_gan(tmp_path: Path, files: dict[str, Path]) -> None:
    out, model, again = tmp_path / "gen.root", tmp_path / "showers.pt", tmp_path / "again.root"
    args = ["--generator", "showers", "--steps", "2", "--events", "40", "--no-progress"]
    result = ok("generate", files["full"], "-n", "4", "-o", out, "--save-model", model, *args)
    assert "ShowerGAN (30, 30, 30): trained on 40 events" in result.output
    ok("generate", "--model", model, "-n", "4", "-o", again, "--no-progress")
    first, second = io.read(out), io.read(again)
    assert len(first) == len(second) == 4
    # the same seed (the default) and model: the same showers
    np.testing.assert_array_equal(
        ak.to_numpy(ak.flatten(first["hits"]["energy"])),
        ak.to_numpy(ak.flatten(second["hits"]["energy"])),
    )
    result = run("generate", files["full"], "-o", tmp_path / "x.root", *args, "--width", "2")
    assert result.exit_code == 2
    assert "--width applies to --generator wgan" in result.output
    points = tmp_path / "points.npz"
    np.savez(points, x=np.zeros((10, 2)))
    result = run("generate", points, "-o", tmp_path / "x.npz", "--generator", "showers")
    assert result.exit_code == 2
    assert "--generator showers is for calorimeter showers" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "again.root",
        "gen.root",
        "points.npz",
        "showers.pt",
    ]


def test_generate_errors(tmp_path: Path, files: dict[str, Path], traces: dict[str, Path]) -> None:
    assert "give INPUT to train on, or --model" in run("generate", "-o", tmp_path / "x.npz").output
    result = run("generate", traces["data"], "--model", files["model"], "-o", tmp_path / "x.npz")
    assert "not both" in result.output
    result = run("generate", traces["data"], "-o", tmp_path / "x.root")
    assert result.exit_code == 2
    assert "written to a .npz file" in result.output
    assert_error(run("generate", "--model", files["model"], "-o", tmp_path / "x.npz"), "not a")
    assert names(tmp_path) == []


# ------------------------------------------------------------------ refine


def test_refine_train_save_load(tmp_path: Path, traces: dict[str, Path]) -> None:
    model, out, again = tmp_path / "refiner.pt", tmp_path / "refined.root", tmp_path / "again.root"
    args = ["--steps", "2", "--batch-size", "10", "--width", "4", "--no-progress"]
    result = ok("refine", traces["sim"], traces["data"], "-o", out, "--save-model", model, *args)
    assert f"wrote 60 refined events of {traces['sim']}" in result.output
    sim = io.read(traces["sim"])
    expected = Refiner.load(model).refine(sim)
    refined = io.read(out)
    assert ak.array_equal(refined, expected)
    assert not ak.array_equal(refined["signal"], sim["signal"])
    ok("refine", traces["sim"], "--model", model, "-o", again, "--step-size", "25", "--no-progress")
    assert ak.array_equal(io.read(again), refined)


def test_refine_errors(tmp_path: Path, files: dict[str, Path], traces: dict[str, Path]) -> None:
    assert run("refine", traces["sim"], "-o", tmp_path / "x.root").exit_code == 2
    args = ["--model", files["model"], "-o", tmp_path / "x.root"]
    assert_error(run("refine", traces["sim"], *args), "not a")
    result = run(
        "refine", traces["sim"], "--model", files["model"], "-o", traces["sim"], "--overwrite"
    )
    assert_error(result, "is also an input")
    assert names(tmp_path) == []


def test_report_on_traces(tmp_path: Path, traces: dict[str, Path]) -> None:
    """Traces are compared on their trace observables (energy stands in for weights)."""
    out = tmp_path / "r"
    args = ["--field", "energy", "--no-progress"]
    result = ok("report", traces["data"], traces["sim"], "-o", out, *args)
    table = dctrgan.features.trace_observables(io.read(traces["data"]))
    assert f"compared {len(table)} observables of 60 reference and 60 weighted events" in (
        result.output
    )
    expected = ["early_fraction.png", "report.csv", "report.md", "rise_time.png"]
    assert names(out) == sorted([*expected, "total_signal.png"])
    rows = list((out / "report.csv").read_text().splitlines())
    observables = [r.split(",")[0] for r in rows[1:]]
    assert observables == list(table)


def test_report_progress_bar_has_a_total(tmp_path: Path, files: dict[str, Path]) -> None:
    args = ["--figures", "total_energy,active_cells", "--progress"]
    result = ok("report", files["full"], files["fast"], "-o", tmp_path / "r", *args)
    # 2 files read, 151 observables compared, 2 classifier tests, 2 figures drawn, the table
    assert "report: 100%" in result.stderr
    assert "158/158" in result.stderr
    assert "100%" not in result.stdout  # the bar is on stderr only
    quiet = ok("report", files["full"], files["fast"], "-o", tmp_path / "q", "--no-progress")
    assert quiet.stderr == ""


def test_weight_bar_counts_events_of_the_file(tmp_path: Path, files: dict[str, Path]) -> None:
    out = tmp_path / "w.root"
    result = ok("weight", files["model"], files["fast"], "-o", out, "--step-size", "70")
    assert "weighting: 100%" in result.stderr
    assert "200/200" in result.stderr
    weights = io.read(out)["weight"]
    assert ak.to_numpy(weights).dtype == np.float32


# ------------------------------------------------------------------ messages


def test_missing_inputs_are_one_line_naming_the_file(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    gone = tmp_path / "gone.root"
    out = ["-o", tmp_path / "out.root", "--no-progress"]
    assert_error(run("fit", files["full"], f"{gone}:events", *out[:2]), f"{gone}: no such file")
    assert_error(run("weight", files["model"], gone, *out), f"{gone}: no such file")
    assert_error(run("weight", tmp_path / "m.pt", files["fast"], *out), "m.pt: no such file")
    pattern = tmp_path / "none_*.root"
    assert_error(run("fit", pattern, files["fast"], *out[:2]), "no file matches")
    assert names(tmp_path) == []


@pytest.mark.parametrize(
    "args",
    [
        ["simulate", "calorimeter", "-n", "5"],
        ["simulate", "airshower", "-n", "5"],
        ["weight", "{model}", "{fast}"],
        ["refine", "{sim}", "{data}"],
        ["generate", "{full}", "--steps", "1"],
    ],
)
def test_root_outputs_need_a_root_name(
    tmp_path: Path,
    files: dict[str, Path],
    traces: dict[str, Path],
    args: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def never(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError

    monkeypatch.setattr(dctrgan.simulate, "calorimeter", never)
    monkeypatch.setattr(dctrgan.simulate, "airshower", never)
    where = {k: str(v) for k, v in {**files, **traces}.items()}
    result = run(*[a.format(**where) for a in args], "-o", tmp_path / "out.txt")
    assert result.exit_code == 2, result.output
    assert "--output" in result.output
    assert ".root" in result.output
    assert names(tmp_path) == []


def test_bad_option_values_name_the_option(tmp_path: Path, files: dict[str, Path]) -> None:
    out = ["-o", tmp_path / "out.root"]
    result = run("weight", files["model"], files["fast"], *out, "--step-size", "lots")
    assert result.exit_code == 2
    assert "--step-size" in result.output
    result = run("fit", files["full"], files["fast"], *out, "--features", "max(hits.energy")
    assert result.exit_code == 2
    assert "--features" in result.output
    assert "first(Jet.pt)" in result.output  # the accepted forms
    result = run("fit", files["full"], files["fast"], *out, "--model", "cnn3d", "--features", "a")
    assert result.exit_code == 2
    assert "--features applies to --model mlp" in result.output
    assert names(tmp_path) == []


@pytest.mark.parametrize(
    ("api", "cli"),
    [
        ("out.root: exists; pass overwrite=True to replace it", "pass --overwrite to"),
        ("step_size must be a number of events, got 'x'", "--step-size must be"),
        ("pass fill_none= (a number) to DCTR", "pass --fill-none (a number)"),
        ("features='high_level' needs showers", "--features 'high_level' needs"),
        ("f.root: 2 TTrees; name one with tree= or as 'file.root:tree'", "name one as 'file"),
    ],
)
def test_api_wording_becomes_cli_wording(api: str, cli: str) -> None:
    text = cli_wording(api)
    assert cli in text
    for argument in ("overwrite=True", "step_size", "fill_none=", "features=", "tree="):
        assert argument not in text


def test_api_errors_reach_the_cli_in_its_words(
    tmp_path: Path, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> None:
        msg = f"{tmp_path}/x.root: exists; pass overwrite=True to replace it"
        raise FileExistsError(msg)

    monkeypatch.setattr(io, "write_chunks", refuse)
    out = tmp_path / "x.root"
    result = run("weight", files["model"], files["fast"], "-o", out, "--no-progress")
    assert_error(result, "pass --overwrite to replace it")
    assert "overwrite=True" not in result.stderr


def test_report_test_on_too_few_events_says_no_test(tmp_path: Path) -> None:
    full = io.write(tmp_path / "f.root", dctrgan.simulate.calorimeter(6, seed=1, progress=False))
    fast = dctrgan.simulate.calorimeter(6, variant="fast", seed=2, progress=False)
    fast = io.write(tmp_path / "w.root", ak.with_field(fast, np.ones(6, np.float32), "weight"))
    args = ["--figures", "none", "--no-progress"]
    result = run("report", full, fast, "-o", tmp_path / "r", *args)
    assert result.exit_code == 2, result.output
    assert "fewer than two per fold" in result.output
    assert "pass --no-test to compare without the classifier test" in result.output
    assert not (tmp_path / "r").exists()
    ok("report", full, fast, "-o", tmp_path / "r", *args, "--no-test")


def test_fit_weight_report_with_replicas_on_the_command_line(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    """fit --replicas, weight (dctr_replicas written, streamed), report quoting the spread."""
    model, out = tmp_path / "m.pt", tmp_path / "w.root"
    ok("fit", files["full"], files["fast"], "-o", model, "--replicas", "2", *FIT)
    ok("weight", model, files["fast"], "-o", out, "--step-size", "70", "--no-progress")
    weighted = io.read(out)
    nominal, replicas = DCTR.load(model).weight(io.read(files["fast"]), replicas=True)
    np.testing.assert_array_equal(ak.to_numpy(weighted.dctr_replicas), ak.to_numpy(replicas))
    np.testing.assert_array_equal(ak.to_numpy(weighted.dctr_weight), ak.to_numpy(nominal))
    args = ["--figures", "none", "--no-test", "--no-progress"]
    result = ok("report", files["full"], out, "-o", tmp_path / "r", *args)
    assert "over 2 replicas" in result.output
    assert "standard deviation over the 2 replicas" in (tmp_path / "r" / "report.md").read_text()
