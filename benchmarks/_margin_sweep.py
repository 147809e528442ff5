"""What the margin sweeps share: episodes of every margin on the same seeded scenes, scored on the truth.

Each episode is scored on the CAD truth channel (``episodes.csv``'s ``collided``: a touch of ROBOTIS'
meshes at any physics substep), on the sphere bound's own contact (``bound_contact_steps > 0``), on
success (goal reached without any CAD contact) and on the CAD clearance (``min_clearance_mm``).
Rates come with Wilson 95% intervals. Used by ``safety_margin_sweep.py`` and ``planner_margin_sweep.py``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest

from agents.ik_policy.interface import Policy
from evaluation.runner import EpisodeWorker

SCENARIOS = ("benchmark", "cluttered", "narrow", "shelf")
BENCHMARK_SCENES = 10  #: ``benchmark`` has ten fixed scenes: it runs each once
MAX_STEPS = 100
HEADER = ("episodes", "CAD contact", "bound contact", "success", "clearance median mm")
NOTE = ("CAD = ROBOTIS' meshes (the truth), bound = the sphere bound; success = goal reached without any CAD "
        "contact; rates with Wilson 95% intervals")


class MarginWorker(EpisodeWorker):
    """An episode worker whose policies are built by ``make(name)`` (e.g. with a given margin)."""

    def __init__(self, make: Callable[[str], Policy]) -> None:
        super().__init__()
        self.make = make

    def policy(self, name: str) -> Policy:
        if name not in self._policies:
            self._policies[name] = self.make(name)
        return self._policies[name]


@dataclass(frozen=True)
class Outcomes:
    """Per-episode outcomes, one entry an episode."""

    cad_contact: np.ndarray  #: (N,) bool, a touch of the CAD
    bound_contact: np.ndarray  #: (N,) bool, a touch of the sphere bound
    success: np.ndarray  #: (N,) bool, goal reached without CAD contact
    clearance_mm: np.ndarray  #: (N,) CAD clearance, mm

    @classmethod
    def of_rows(cls, rows: Sequence[dict]) -> Outcomes:
        return cls(np.array([row["collided"] for row in rows], dtype=bool),
                   np.array([row["bound_contact_steps"] > 0 for row in rows], dtype=bool),
                   np.array([row["success"] for row in rows], dtype=bool),
                   np.array([row["min_clearance_mm"] for row in rows], dtype=float))

    @classmethod
    def pooled(cls, parts: Sequence[Outcomes]) -> Outcomes:
        return cls(*(np.concatenate([getattr(part, name) for part in parts])
                     for name in ("cad_contact", "bound_contact", "success", "clearance_mm")))

    def cells(self) -> tuple[str, ...]:
        """The Markdown cells of :data:`HEADER`."""
        return (str(len(self.success)), rate(self.cad_contact), rate(self.bound_contact), rate(self.success),
                f"{np.median(self.clearance_mm):.1f}")


def parse_margins_mm(text: str, option: str, parser: argparse.ArgumentParser) -> list[float]:
    """Margins (m) from ``text``, comma-separated distinct millimetres within [0, 100]; else ``parser.error``."""
    try:
        margins = [float(value) / 1e3 for value in text.split(",")]
    except ValueError:
        parser.error(f"{option} takes comma-separated numbers (mm), got {text!r}")
    if not all(0.0 <= margin <= 0.1 for margin in margins) or len(set(margins)) != len(margins):
        parser.error(f"{option} takes distinct margins within [0, 100] mm, got {text!r}")
    return margins


def wilson_interval(flags: np.ndarray) -> tuple[float, float]:
    """The Wilson 95% interval of the rate of ``flags`` (N,) bool."""
    interval = binomtest(int(np.sum(flags)), len(flags)).proportion_ci(0.95, method="wilson")
    return float(interval.low), float(interval.high)


def rate(flags: np.ndarray) -> str:
    """``flags``' rate and its Wilson interval, e.g. ``5.7% (2.4-13.7)``."""
    low, high = wilson_interval(flags)
    return f"{np.mean(flags):.1%} ({100 * low:.1f}-{100 * high:.1f})"


def table_row(*cells: object) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def run_margins(margins_m: Sequence[float], policies: Sequence[str], make: Callable[[float, str], Policy], *,
                seed: int, episodes: int, label: str = "policy") -> dict[tuple[str, float], dict[str, Outcomes]]:
    """Run every policy at every margin over the same seeded scenes of :data:`SCENARIOS`.

    ``make(margin_m, name)`` builds a policy; ``episodes`` per scenario (``benchmark``: its ten
    scenes). Prints a Markdown row per (policy, margin, scenario) as each finishes.

    Returns:
        (policy, margin_m) -> scenario -> outcomes.
    """
    print(table_row(label, "margin mm", "scenario", *HEADER))
    print(table_row(*["---"] * (3 + len(HEADER))))
    results: dict[tuple[str, float], dict[str, Outcomes]] = {}
    for margin in margins_m:
        worker = MarginWorker(lambda name, margin=margin: make(margin, name))
        try:
            for scenario in SCENARIOS:
                count = BENCHMARK_SCENES if scenario == "benchmark" else episodes
                for policy in policies:
                    rows = [worker.run(scenario, policy, seed, episode, MAX_STEPS).row for episode in range(count)]
                    outcomes = results.setdefault((policy, margin), {})[scenario] = Outcomes.of_rows(rows)
                    print(table_row(policy, f"{1e3 * margin:g}", scenario, *outcomes.cells()), flush=True)
        finally:
            worker.close()
    return results


def print_pooled(results: dict[tuple[str, float], dict[str, Outcomes]], label: str = "policy") -> None:
    """A Markdown table of each (policy, margin) pooled over the scenarios."""
    print()
    print(table_row(label, "margin mm", *HEADER))
    print(table_row(*["---"] * (2 + len(HEADER))))
    for (policy, margin), by_scenario in results.items():
        print(table_row(policy, f"{1e3 * margin:g}", *Outcomes.pooled(list(by_scenario.values())).cells()))
