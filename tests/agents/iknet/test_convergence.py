"""The convergence criterion of a training run (issue #24) on known learning curves, and on a real run."""

from __future__ import annotations

import math

import pytest

from agents.iknet.training import (
    CONVERGENCE_TOLERANCE,
    LEARNING_CURVE_COLUMNS,
    EpochRecord,
    TrainConfig,
    convergence,
    learning_curve_rows,
    train,
)


def curve(losses: list[float]) -> list[EpochRecord]:
    return [EpochRecord(epoch, loss * 1.1, loss, loss * 10, 1e-3, 0.1) for epoch, loss in enumerate(losses, start=1)]


def test_a_plateau_converges_and_a_falling_curve_does_not():
    plateau = curve([10.0 / epoch for epoch in range(1, 9)] + [1.251, 1.25, 1.2501, 1.2499, 1.25])  # 13 epochs
    falling = curve([10.0 * 0.9 ** epoch for epoch in range(20)])
    assert convergence(plateau).converged
    assert convergence(plateau).window_epochs == 3  # ceil(0.2 * 13)
    result = convergence(falling)
    assert not result.converged
    # the last 4 of 20 epochs bring 0.9**4 of the loss: 34% better, far above the 1% criterion
    assert result.relative_improvement == pytest.approx(1 - 0.9 ** 4)
    assert "NOT converged" in result.describe() and "converged" in convergence(plateau).describe()


def test_the_best_so_far_loss_is_read_so_a_noisy_last_epoch_neither_hides_nor_fakes_a_plateau():
    spike_at_end = curve([5.0, 4.0, 3.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 3.0])  # a bad last epoch: still a plateau
    assert convergence(spike_at_end).converged
    dip_at_end = curve([5.0, 4.0, 3.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.9])  # a new best in the window: 10% better
    assert not convergence(dip_at_end).converged
    boundary = curve([2.0] * 8 + [2.0 * (1 - CONVERGENCE_TOLERANCE)] * 2)  # exactly the tolerance: not below it
    assert not convergence(boundary).converged


def test_too_short_a_run_cannot_show_convergence():
    result = convergence(curve([3.0, 2.0, 1.0, 1.0]))
    assert not result.converged and math.isnan(result.relative_improvement)


def test_a_real_run_reports_its_curve_and_whether_it_converged():
    config = TrainConfig(model="improved", data_size=3000, epochs=6, batch_size=256, patience=6)
    result = train(config, progress=False)
    rows = learning_curve_rows(result.history)
    assert [row["epoch"] for row in rows] == list(range(1, 7))
    assert set(rows[0]) == set(LEARNING_CURVE_COLUMNS)
    assert all(math.isfinite(row["validation_loss"]) for row in rows)
    verdict = convergence(result.history)
    assert verdict.best_after == pytest.approx(min(row["validation_loss"] for row in rows))
    assert verdict.window_epochs == 2
