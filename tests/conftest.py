"""Shared fixtures: resources are owned by fixtures and closed by them."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from sim.world import World


@pytest.fixture
def world() -> Iterator[World]:
    """A fresh headless PyBullet world, closed after the test."""
    with World() as instance:
        yield instance


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)
