from __future__ import annotations

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _seed() -> None:
    """Seed numpy's legacy generator and torch so every test starts the same way."""
    np.random.seed(1234)  # noqa: NPY002 - code under test may use the global generator
    torch.manual_seed(1234)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20260101)
