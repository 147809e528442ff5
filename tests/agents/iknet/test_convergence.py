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


def test_a_converged_stop_waits_for_the_floor_learning_rate_and_the_criterion():
    """``stop="converged"`` ends a run only when the criterion holds with the learning rate at its floor
    (a plateau seen at the initial step size is not convergence), and records the verdict it stopped on."""
    from agents.iknet.training import at_floor, convergence_record, dropout_off_epoch

    config = TrainConfig(model="improved", data_size=3000, epochs=40, schedule="plateau", stop="converged",
                         dropout_epochs=2, min_epochs=6, patience=3, learning_rate=3e-3, min_learning_rate=1e-3)
    assert dropout_off_epoch(config) == 3  # a fixed phase: independent of --epochs
    assert dropout_off_epoch(TrainConfig(epochs=40, dropout_off_fraction=0.75)) == 11
    assert not at_floor(3e-3, config) and at_floor(1e-3, config)
    result = train(config, progress=False)
    history = result.history
    # it stopped on the criterion (about epoch 20 here), at the floor, after the minimum
    assert config.min_epochs <= len(history) < config.epochs
    assert at_floor(history[-1].learning_rate, config) and not at_floor(history[0].learning_rate, config)
    assert convergence(history).converged
    assert convergence_record(history)["converged"] is True
    # at every earlier epoch past the minimum, one of the two conditions failed (else it would have stopped)
    for end in range(config.min_epochs, len(history)):
        assert not (at_floor(history[end - 1].learning_rate, config) and convergence(history[:end]).converged)


def test_a_converged_stop_and_a_fixed_dropout_phase_are_checked():
    from sim.errors import InvalidInputError, UnknownNameError

    with pytest.raises(UnknownNameError, match="stop"):
        TrainConfig(stop="never").validate()
    with pytest.raises(InvalidInputError, match="dropout-epochs"):
        TrainConfig(epochs=10, dropout_epochs=11).validate()
    with pytest.raises(InvalidInputError, match="min-epochs"):
        TrainConfig(min_epochs=2).validate()
