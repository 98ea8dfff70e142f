from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dctrgan.training import (
    Loader,
    averaged,
    classifier_step,
    evaluate_classifier,
    predict,
    resolve_device,
    seeded,
    threads,
    to_device,
    train,
)


def test_resolve_device() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ValueError, match="not a torch device"):
        resolve_device("gpu please")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no GPU"):
            resolve_device("cuda")


def test_seeded_is_reproducible_and_restores_the_global_state() -> None:
    torch.manual_seed(5)
    expected_after = torch.rand(3)
    torch.manual_seed(5)
    with seeded(42) as generator:
        a = torch.rand(4)
        g1 = torch.randperm(10, generator=generator)
    with seeded(42) as generator:
        b = torch.rand(4)
        g2 = torch.randperm(10, generator=generator)
    assert torch.equal(a, b)
    assert torch.equal(g1, g2)
    # the caller's stream continues as if the blocks had not been there
    assert torch.equal(torch.rand(3), expected_after)


def test_loader_over_tensors_covers_each_event_once_per_epoch() -> None:
    x = torch.arange(10.0)
    y = 2 * x
    loader = Loader((x, y), batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0))
    assert len(loader) == 3
    epochs = [torch.cat([b[0] for b in loader]) for _ in range(2)]
    for seen in epochs:
        assert sorted(seen.tolist()) == list(range(10))
    assert not torch.equal(epochs[0], epochs[1])  # a new order each epoch
    for bx, by in loader:
        assert torch.equal(by, 2 * bx)
    assert len(Loader((x,), batch_size=4, drop_last=True)) == 2
    assert [len(b[0]) for b in Loader((x,), batch_size=4, drop_last=True)] == [4, 4]


def test_loader_with_collate_and_repeated_index() -> None:
    calls: list[np.ndarray] = []

    def collate(index: np.ndarray) -> torch.Tensor:
        calls.append(index)
        return torch.from_numpy(index * 10)

    loader = Loader(collate, index=np.array([0, 0, 1, 2]), batch_size=3)
    batches = list(loader)
    assert [b.tolist() for b in batches] == [[0, 0, 10], [20]]
    assert all(c.dtype == np.int64 for c in calls)
    assert len(Loader(collate, size=7, batch_size=2)) == 4


def test_loader_errors() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        Loader((torch.zeros(3),), batch_size=0)
    with pytest.raises(ValueError, match="different lengths"):
        Loader((torch.zeros(3), torch.zeros(4)), batch_size=2)
    with pytest.raises(ValueError, match="size= or index="):
        Loader(lambda i: i, batch_size=2)


def test_to_device_moves_nested_batches() -> None:
    batch = ((torch.zeros(2), torch.ones(1)), [torch.zeros(3)], {"a": torch.zeros(1)}, 5)
    moved = to_device(batch, torch.device("cpu"))
    assert isinstance(moved[0], tuple)
    assert isinstance(moved[1], list)
    assert moved[2]["a"].device.type == "cpu"
    assert moved[3] == 5


def test_train_records_per_epoch_means_of_step_losses() -> None:
    values = iter([1.0, 3.0, 5.0, 7.0, 2.0, 2.0])

    def step(_batch: object) -> dict[str, float]:
        return {"critic": next(values), "const": 1.0}

    loader = Loader((torch.zeros(4),), batch_size=2)
    history = train(step, loader, epochs=3, progress=False)
    assert history == {"critic": [2.0, 6.0, 2.0], "const": [1.0, 1.0, 1.0]}


def test_train_early_stopping_restores_the_best_state() -> None:
    module = torch.nn.Linear(1, 1)
    with torch.no_grad():
        module.weight.fill_(0.0)
    val = iter([3.0, 1.0, 2.0, 2.5, 0.5, 9.0])

    def step(_batch: object) -> dict[str, float]:
        with torch.no_grad():
            module.weight += 1.0  # epoch e leaves weight = e
        return {"train_loss": 0.0}

    loader = Loader((torch.zeros(1),), batch_size=1)
    history = train(
        step,
        loader,
        epochs=6,
        evaluate=lambda: {"val_loss": next(val)},
        patience=2,
        modules=[module],
        progress=False,
    )
    # best at epoch 2; epochs 3 and 4 do not improve: stop after 4, weight back to 2
    assert history["val_loss"] == [3.0, 1.0, 2.0, 2.5]
    assert module.weight.item() == 2.0


def test_train_without_patience_runs_all_epochs_and_keeps_the_best() -> None:
    module = torch.nn.Linear(1, 1)
    with torch.no_grad():
        module.weight.fill_(0.0)
    val = iter([3.0, 1.0, 2.0, 2.5])

    def step(_batch: object) -> dict[str, float]:
        with torch.no_grad():
            module.weight += 1.0
        return {"train_loss": 0.0}

    history = train(
        step,
        Loader((torch.zeros(1),), batch_size=1),
        epochs=4,
        evaluate=lambda: {"val_loss": next(val)},
        modules=[module],
        progress=False,
    )
    assert len(history["val_loss"]) == 4
    assert module.weight.item() == 2.0


def test_train_errors() -> None:
    loader = Loader((torch.zeros(2),), batch_size=1)
    with pytest.raises(ValueError, match="epochs"):
        train(lambda _: {"x": 0.0}, loader, epochs=0)
    with pytest.raises(FloatingPointError, match="diverged"):
        train(lambda _: {"loss": math.nan}, loader, epochs=1, progress=False)
    with pytest.raises(ValueError, match="monitor"):
        train(
            lambda _: {"loss": 0.0},
            loader,
            epochs=1,
            evaluate=lambda: {"other": 1.0},
            progress=False,
        )


def test_train_with_progress_bar_emits_no_warning() -> None:
    history = train(
        lambda _: {"loss": 1.0}, Loader((torch.zeros(3),), batch_size=2), epochs=2, progress=True
    )
    assert history["loss"] == [1.0, 1.0]


def test_classifier_step_learns_a_logistic_problem() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 1, generator=gen)
    y = (torch.rand(2000, generator=gen) < torch.sigmoid(3 * x[:, 0])).float()
    w = torch.ones(2000)
    with seeded(0) as generator:
        model = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.Flatten(0))
        step = classifier_step(model, torch.optim.Adam(model.parameters(), lr=0.05))
        loader = Loader((x, y, w), batch_size=100, shuffle=True, generator=generator)
        history = train(step, loader, epochs=15, progress=False)
    assert history["train_loss"][-1] < history["train_loss"][0]
    first = model[0]
    assert isinstance(first, torch.nn.Linear)
    assert first.weight.item() == pytest.approx(3.0, abs=0.4)  # the true slope
    assert first.bias.item() == pytest.approx(0.0, abs=0.2)
    loss, logits = evaluate_classifier(model, Loader((x, y, w), batch_size=512))
    assert logits.shape == (2000,)
    assert loss == pytest.approx(history["train_loss"][-1], abs=0.02)
    assert torch.allclose(predict(model, Loader((x,), batch_size=300)), logits)
    assert model.training  # predict and evaluate_classifier restore the mode


def test_weighted_loss_equals_duplicated_events() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.Flatten(0))
    x = torch.tensor([[0.5], [-1.0]])
    y = torch.tensor([1.0, 0.0])
    weighted, _ = evaluate_classifier(model, [(x, y, torch.tensor([2.0, 1.0]))])
    duplicated, _ = evaluate_classifier(model, [(x[[0, 0, 1]], y[[0, 0, 1]], torch.ones(3))])
    assert weighted == pytest.approx(duplicated, rel=1e-6)


def test_early_stop_ends_the_progress_bar_complete(capsys: pytest.CaptureFixture[str]) -> None:
    val = iter([1.0, 2.0, 3.0, 4.0])
    train(
        lambda _: {"loss": 1.0},
        Loader((torch.zeros(2),), batch_size=1),
        epochs=10,
        evaluate=lambda: {"val_loss": next(val)},
        patience=2,
        progress=True,
        desc="stopping",
    )
    # 3 epochs of 2 batches ran out of 20 planned: the bar ends at 6/6, 100 %
    last = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert "100%" in last
    assert "6/6" in last


def test_threads_sets_and_restores_the_torch_thread_count() -> None:
    before = torch.get_num_threads()
    with threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with threads(None):
        assert torch.get_num_threads() == before
    message = "inside"
    with pytest.raises(RuntimeError, match=message), threads(1):
        raise RuntimeError(message)
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="at least 1"), threads(0):
        pass


def test_averaged_is_an_exponential_moving_average_with_warm_up() -> None:
    model = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)

    def step(_batch: object) -> dict[str, float]:
        with torch.no_grad():
            model.weight += 1.0  # the parameter after update n is n
        return {"loss": 0.0}

    wrapped, average = averaged(step, model, decay=0.5)
    assert average is not model
    expected = 0.0
    for n in range(6):
        wrapped(None)
        d = min(0.5, (1 + n) / (10 + n))
        expected = d * expected + (1 - d) * (n + 1)
        assert average.weight.item() == pytest.approx(expected)
    assert model.weight.item() == 6.0  # the trained model itself is untouched
    assert not average.weight.requires_grad
    with pytest.raises(ValueError, match="decay"):
        averaged(step, model, decay=1.0)


def test_train_steps_the_scheduler_with_the_monitored_metric() -> None:
    seen: list[float] = []

    class Recorder:
        def step(self, metrics: float) -> None:
            seen.append(metrics)

    val = iter([3.0, 2.0, 1.0])
    train(
        lambda _: {"loss": 0.0},
        Loader((torch.zeros(1),), batch_size=1),
        epochs=3,
        evaluate=lambda: {"val_loss": next(val)},
        scheduler=Recorder(),
        progress=False,
    )
    assert seen == [3.0, 2.0, 1.0]


# ------------------------------------------------------------------ progress


@pytest.fixture
def postfixes(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, str]]:
    """The postfix of every ``set_postfix`` call of the training loops' bars."""
    from dctrgan.training import loop

    seen: list[dict[str, str]] = []

    def spy(_bar: object, ordered_dict: dict[str, str] | None = None, **_: object) -> None:
        seen.append(dict(ordered_dict or {}))

    monkeypatch.setattr(loop.tqdm, "set_postfix", spy)
    return seen


def test_train_steps_shows_the_loss_of_every_step(postfixes: list[dict[str, str]]) -> None:
    from dctrgan.training import train_steps

    losses = iter([0.5, 0.25, 0.125, 0.0625])
    history = train_steps(lambda _: {"loss": next(losses)}, [0], steps=4, progress=True)
    assert history == {"loss": [0.5, 0.25, 0.125, 0.0625]}
    assert postfixes == [{"loss": "0.5"}, {"loss": "0.25"}, {"loss": "0.125"}, {"loss": "0.0625"}]


def test_train_steps_reads_tensor_losses_in_groups(
    postfixes: list[dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dctrgan.training import loop, train_steps

    def step(batch: int) -> dict[str, torch.Tensor]:
        return {"loss": torch.tensor(float(batch)), "other": torch.tensor(2.0 * batch)}

    monkeypatch.setattr(loop, "LOSS_AGE", 1e9)  # never old enough: one read, at the end
    history = train_steps(step, [1, 2, 3], steps=5, progress=True)
    assert history == {"loss": [1.0, 2.0, 3.0, 1.0, 2.0], "other": [2.0, 4.0, 6.0, 2.0, 4.0]}
    assert postfixes == [{"loss": "2", "other": "4"}]
    monkeypatch.setattr(loop, "LOSS_AGE", 0.0)  # always old: read every step
    postfixes.clear()
    train_steps(step, [1, 2, 3], steps=3, progress=True)
    assert [p["loss"] for p in postfixes] == ["1", "2", "3"]
    monkeypatch.setattr(loop, "LOSS_AGE", 1e9)
    with pytest.raises(FloatingPointError, match="loss is nan at step 2"):
        train_steps(lambda b: {"loss": torch.tensor(b)}, [1.0, math.nan, 2.0], steps=3)


def test_predict_bar_counts_events(capsys: pytest.CaptureFixture[str]) -> None:
    model = torch.nn.Linear(2, 1)
    batches = [torch.zeros(4, 2), torch.zeros(4, 2), torch.zeros(2, 2)]
    out = predict(model, batches, progress=True, total=10, desc="weighting")
    assert out.shape == (10, 1)
    err = capsys.readouterr().err
    assert "weighting: 100%" in err
    assert "10/10" in err
    predict(model, batches)
    assert capsys.readouterr().err == ""
