"""The obstacle-aware planner and the safety layer earn their keep on fixed seeds."""

from __future__ import annotations

import pytest

from evaluation.runner import EpisodeWorker


@pytest.fixture(scope="module")
def worker():
    instance = EpisodeWorker()
    yield instance
    instance.close()


def outcomes(worker, scenario, policy, episodes):
    return [worker.run(scenario, policy, 0, episode, 150).row for episode in range(episodes)]


@pytest.mark.parametrize("scenario", ["cluttered", "benchmark"])
def test_obstacle_aware_planning_collides_less_than_the_straight_path(worker, scenario):
    aware = outcomes(worker, scenario, "analytic", 10)
    straight = outcomes(worker, scenario, "analytic+straight", 10)
    aware_collisions = sum(row["collided"] for row in aware)
    straight_collisions = sum(row["collided"] for row in straight)
    print(f"{scenario}: collisions aware {aware_collisions}/10, straight {straight_collisions}/10")
    assert straight_collisions >= 4, "scenes must block the straight path in most episodes"
    assert aware_collisions < straight_collisions


def test_analytic_with_safety_layer_is_collision_free_on_benchmark(worker):
    rows = outcomes(worker, "benchmark", "analytic+safe", 10)  # the ten fixed benchmark scenes
    assert sum(row["collided"] for row in rows) == 0
    assert sum(row["success"] for row in rows) >= 9
    assert all(row["min_clearance_mm"] > 0 for row in rows)
