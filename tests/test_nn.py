from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy.testing import assert_allclose

from dctrgan.nn import (
    MLP,
    Conv3dClassifier,
    DeepSetsClassifier,
    MLPClassifier,
    Standardize,
    fit_hit_scaling,
    fit_standardize,
)


def assert_every_parameter_gets_a_gradient(model: torch.nn.Module, loss: torch.Tensor) -> None:
    model.zero_grad()
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_standardize_fresh_is_identity() -> None:
    x = torch.randn(5, 3)
    assert torch.equal(Standardize(3)(x), x)


def test_fit_standardize_scales_very_different_columns(rng: np.random.Generator) -> None:
    # cell counts ~800, a signed position and a heavy-tailed energy: no user preprocessing
    counts = rng.normal(800, 30, 20_000)
    position = rng.normal(0.3, 1.0, 20_000)
    energy = rng.lognormal(0.0, 1.0, 20_000)
    x = torch.tensor(np.column_stack([counts, position, energy]), dtype=torch.float32)
    module = fit_standardize(x)
    assert module.log_scale[1] == 0.0  # a column with negative values is never logged
    # non-negative columns are, on a scale of 1 % of their mean
    assert_allclose(
        module.log_scale[[0, 2]].numpy(), 0.01 * x[:, [0, 2]].double().mean(0), rtol=1e-4
    )
    y = module(x).double()
    assert_allclose(y.mean(0).numpy(), 0.0, atol=1e-4)
    assert_allclose(y.std(0).numpy(), 1.0, atol=1e-3)

    # the log transform shortens the tail: skewness ~1.5 instead of the lognormal's ~6
    def skew(v: torch.Tensor) -> float:
        return float(((v - v.mean()) ** 3).mean() / v.std() ** 3)

    assert skew(x[:, 2].double()) > 4.0
    assert abs(skew(y[:, 2])) < 2.0


def test_fit_standardize_weighted_and_constant_columns() -> None:
    x = torch.tensor([[0.0, 5.0], [2.0, 5.0]])
    module = fit_standardize(x, torch.tensor([3.0, 1.0]), log=False)
    assert_allclose(module.mean.numpy(), [0.5, 5.0])
    out = module(x)
    assert torch.isfinite(out).all()
    assert torch.equal(out[:, 1], torch.zeros(2))  # a constant column maps to 0, not inf


def test_fit_standardize_negative_column_is_never_logged() -> None:
    x = torch.tensor([[-1.0], [0.0], [0.0], [0.0], [50.0]])
    assert fit_standardize(x, log=True).log_scale.item() == 0.0


def test_mlp_shapes_and_layers() -> None:
    net = MLP(7, (16, 8), 3)
    assert net(torch.zeros(4, 7)).shape == (4, 3)
    linear = [m for m in net if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(7, 16), (16, 8), (8, 3)]
    leaky = MLP(2, (4,), 1, negative_slope=0.01)
    assert isinstance(leaky[1], torch.nn.LeakyReLU)
    assert leaky[1].negative_slope == 0.01


def test_mlp_classifier_is_the_paper_net_and_trains() -> None:
    model = MLPClassifier(33)
    widths = [m.out_features for m in model.net if isinstance(m, torch.nn.Linear)]
    assert widths == [128, 128, 1]  # DCTRGAN sec. III B: 2 x 128 ReLU, one output
    x = torch.randn(10, 33)
    logit = model(x)
    assert logit.shape == (10,)
    loss = F.binary_cross_entropy_with_logits(logit, torch.ones(10))
    assert_every_parameter_gets_a_gradient(model, loss)


def test_conv3d_classifier_paper_shape_and_gradients() -> None:
    model = Conv3dClassifier(width=4)
    convs = [m for m in model.features if isinstance(m, torch.nn.Conv3d)]
    assert [(c.stride, c.padding) for c in convs] == [
        ((2, 2, 2), (1, 1, 1)),
        ((2, 2, 2), (1, 1, 1)),
        ((1, 1, 1), (0, 0, 0)),
    ]
    # 30 -> 15 -> 8 -> 6: the paper's 128 x 6 x 6 x 6 at width 128
    first = model.head[0]
    assert isinstance(first, torch.nn.Linear)
    assert first.in_features == 4 * 6**3
    assert [m.out_features for m in model.head if isinstance(m, torch.nn.Linear)] == [
        64,
        256,
        256,
        1,
    ]
    x = torch.rand(3, 30, 30, 30) * (torch.rand(3, 30, 30, 30) < 0.05)
    logit = model(x)
    assert logit.shape == (3,)
    assert_every_parameter_gets_a_gradient(
        model, F.binary_cross_entropy_with_logits(logit, torch.tensor([1.0, 0.0, 1.0]))
    )


def test_conv3d_flips_only_in_training_mode() -> None:
    model = Conv3dClassifier(shape=(12, 12, 12), width=3, hidden=(8,))
    x = torch.rand(1, 12, 12, 12).repeat(64, 1, 1, 1)
    model.eval()
    eval_out = model(x)
    assert torch.equal(eval_out, model(x))
    flipped = torch.stack([model(x.flip(-2))[0], model(x.flip(-1))[0], model(x.flip(-2, -1))[0]])
    model.train()
    train_out = model(x)
    # each event is one of the four flips of x, and more than one of them occurs
    candidates = torch.cat([eval_out[:1], flipped])
    distance = (train_out[:, None] - candidates[None, :]).abs().min(1).values
    assert distance.max() < 1e-5
    assert len(torch.unique(train_out.round(decimals=5))) > 1
    # a shower symmetric under both flips gets the same output in both modes
    sym = x + x.flip(-2)
    sym = sym + sym.flip(-1)
    model.eval()
    ref = model(sym)
    model.train()
    assert_allclose(model(sym).detach().numpy(), ref.detach().numpy(), atol=1e-5)


def test_conv3d_rejects_too_small_shapes() -> None:
    with pytest.raises(ValueError, match="too small"):
        Conv3dClassifier(shape=(8, 8, 8), width=2)


def test_deepsets_is_permutation_and_padding_invariant() -> None:
    model = DeepSetsClassifier(shape=(10, 10, 10), hit_hidden=(8, 8), hidden=(16,)).eval()
    gen = torch.Generator().manual_seed(3)
    hits = torch.cat(
        [torch.randint(0, 10, (2, 20, 3), generator=gen).float(), torch.rand(2, 20, 1)], -1
    )
    mask = torch.ones(2, 20, dtype=torch.bool)
    mask[1, 15:] = False
    out = model(hits, mask)
    assert out.shape == (2,)
    perm = torch.randperm(15, generator=gen)
    shuffled = hits.clone()
    shuffled[1, :15] = hits[1, perm]
    assert_allclose(model(shuffled, mask).detach().numpy(), out.detach().numpy(), rtol=1e-5)
    # padding entries (mask False) do not matter, whatever they hold, nor does extra padding
    junk = hits.clone()
    junk[1, 15:] = 1e6
    padded_hits = torch.cat([hits, torch.zeros(2, 5, 4)], 1)
    padded_mask = torch.cat([mask, torch.zeros(2, 5, dtype=torch.bool)], 1)
    assert_allclose(model(junk, mask).detach().numpy(), out.detach().numpy(), rtol=1e-6)
    assert_allclose(
        model(padded_hits, padded_mask).detach().numpy(), out.detach().numpy(), rtol=1e-6
    )


def test_deepsets_gradients_and_scaling() -> None:
    model = DeepSetsClassifier(shape=(10, 10, 10), hit_hidden=(8, 8), hidden=(16,))
    counts = torch.tensor([3, 5])
    energy = torch.tensor([1.0, 2.0, 4.0, 1.0, 1.0, 1.0, 1.0, 8.0])
    fit_hit_scaling(model, counts, energy)
    assert model.count_scale.item() == pytest.approx(4.0)
    assert model.energy_scale.item() == pytest.approx(19.0 / 8)
    assert model.hit_mean.item() == pytest.approx(float(torch.log(energy).mean()), rel=1e-6)
    # event inputs log1p(count), log1p(total energy) standardized: (3, 7) and (5, 12)
    expected = np.log1p([[3.0, 7.0], [5.0, 12.0]]).mean(0)
    assert_allclose(model.event.mean.numpy(), expected, rtol=1e-6)
    hits = torch.cat([torch.randint(0, 10, (4, 6, 3)).float(), torch.rand(4, 6, 1) + 0.1], -1)
    mask = torch.rand(4, 6) < 0.8
    mask[:, 0] = True
    logit = model.train()(hits, mask)
    assert_every_parameter_gets_a_gradient(
        model, F.binary_cross_entropy_with_logits(logit, torch.tensor([1.0, 0.0, 1.0, 0.0]))
    )


def test_conv3d_scaling_is_the_mean_cell_energy() -> None:
    model = Conv3dClassifier(shape=(12, 12, 12), width=2)
    fit_hit_scaling(model, torch.tensor([2, 1]), torch.tensor([1.0, 2.0, 6.0]))
    assert model.energy_scale.item() == pytest.approx(3.0)


def test_scaling_buffers_are_in_the_state_dict() -> None:
    keys = set(DeepSetsClassifier().state_dict())
    assert {"hit_mean", "hit_std", "energy_scale", "count_scale", "event.mean"} <= keys
    assert {"standardize.mean", "standardize.std", "standardize.log_scale"} <= set(
        MLPClassifier(3).state_dict()
    )
    assert "energy_scale" in Conv3dClassifier(width=2).state_dict()
