"""The report's opening section, "What this run shows": findings computed from the results folder.

Every sentence is built from ``summary.json`` (the per-policy rates and medians, the ``shap``
balance and study), ``steps.csv`` (where and when contacts happened) and the files present in the
folder (videos, Rerun recordings); none is written in advance. The ranking rules are stated in the
section itself:

- **safest**: the lowest share of episodes with any CAD contact (``collision_rate``); ties broken by
  the larger median minimum clearance (``min_clearance_mm_median``); a tie on both is reported as one.
- **most accurate**: the lowest median final goal position error (``target_error_mm_median``); ties
  broken by the lower 95th percentile (``target_error_mm_p95``).

A NaN figure ranks last.
"""

from __future__ import annotations

import csv
import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaluation.results_io import read_header
from evaluation.schema import RECORDINGS_DIR, STEPS_FILE, VIDEOS_DIR

#: Contact episodes named one by one before "and N more".
_LISTED_EPISODES = 6
#: The per-step clearances that say which surface was nearest at a contact step, with their names.
_SURFACES: tuple[tuple[str, str], ...] = (
    ("min_clearance_m", "an obstacle"), ("table_clearance_m", "the table"), ("self_clearance_m", "its own links"))


def _number(value: Any) -> float:
    """``value`` as a float, NaN when missing or not a number (it then ranks last)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _last_if_nan(value: float) -> float:
    return math.inf if math.isnan(value) else value


def _safety_key(entry: Mapping[str, Any]) -> tuple[float, float]:
    """Sorts safest first: the contact rate, then the larger median clearance; NaN last."""
    return (_last_if_nan(_number(entry.get("collision_rate"))),
            _last_if_nan(-_number(entry.get("min_clearance_mm_median"))))


def _accuracy_key(entry: Mapping[str, Any]) -> tuple[float, float]:
    """Sorts most accurate first: the median goal error, then its 95th percentile; NaN last."""
    return (_last_if_nan(_number(entry.get("target_error_mm_median"))),
            _last_if_nan(_number(entry.get("target_error_mm_p95"))))


def safest_policies(policies: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The policies that rank first on safety (several only when tied on both keys).

    Args:
        policies: ``summary.json["policies"]``: name -> its ``collision_rate`` (fraction of episodes
            with any CAD contact) and ``min_clearance_mm_median`` (mm).

    Returns:
        Names, in ``policies`` order; empty when ``policies`` is.
    """
    return _firsts(list(policies), lambda name: _safety_key(policies[name]))


def most_accurate_policies(policies: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The policies that rank first on goal accuracy (several only when tied on both keys).

    Args:
        policies: name -> its ``target_error_mm_median`` and ``target_error_mm_p95`` (mm).

    Returns:
        Names, in ``policies`` order; empty when ``policies`` is.
    """
    return _firsts(list(policies), lambda name: _accuracy_key(policies[name]))


def contact_rate_interval(contacts: int, episodes: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a contact rate of ``contacts`` in ``episodes`` (fractions)."""
    from scipy.stats import binomtest

    interval = binomtest(contacts, episodes).proportion_ci(confidence_level=0.95, method="wilson")
    return float(interval.low), float(interval.high)


def _firsts(names: list[str], key: Any) -> list[str]:
    if not names:
        return []
    best = min(key(name) for name in names)
    return [name for name in names if key(name) == best]


@dataclass
class ContactEpisode:
    """One episode with at least one CAD contact, as ``steps.csv`` logged it."""

    policy: str
    scenario: str
    seed: str
    episode: int
    first_contact_s: float  #: simulation time of its first contact step (s)
    contact_steps: int
    deepest_mm: float  #: the smallest CAD obstacle clearance at its contact steps (mm; negative: penetration)


@dataclass
class ContactPlaces:
    """Where the run's contacts happened: the episodes, and the nearest surface at each contact step."""

    episodes: list[ContactEpisode] = field(default_factory=list)
    #: surface name -> contact steps at which it was the arm's nearest (smallest CAD clearance)
    nearest_surface: dict[str, int] = field(default_factory=dict)
    logged: bool = True  #: False: ``steps.csv`` is missing or lacks the columns needed


def contact_places(out_dir: Path) -> ContactPlaces:
    """Read the contact steps of ``out_dir/steps.csv`` (streamed: only its contact rows are kept).

    A step counts as a contact when its ``collided`` flag is set (a CAD contact of the arm with an
    obstacle, the table or itself during that control step). The surface named for it is the one
    of the smallest CAD clearance logged at the step's end (obstacle, table, own links): the
    log holds no link or obstacle name, so this is the nearest surface, not a named contact pair.
    """
    path = Path(out_dir) / STEPS_FILE
    header = read_header(path)
    needed = ("model", "scenario", "seed", "episode", "time_s", "collided") + tuple(name for name, _ in _SURFACES)
    if header is None or any(column not in header for column in needed):
        return ContactPlaces(logged=False)
    places = ContactPlaces(nearest_surface={label: 0 for _, label in _SURFACES})
    by_key: dict[tuple[str, str, str, int], ContactEpisode] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row.get("collided") != "1":
                continue
            try:
                key = (row["model"], row["scenario"], row["seed"], int(row["episode"]))
            except (TypeError, ValueError):
                continue  # a torn last line of an interrupted run
            time_s, obstacle_mm = _number(row["time_s"]), 1000.0 * _number(row["min_clearance_m"])
            entry = by_key.get(key)
            if entry is None:
                entry = by_key[key] = ContactEpisode(*key, first_contact_s=time_s, contact_steps=0,
                                                     deepest_mm=math.inf)
            entry.contact_steps += 1
            entry.first_contact_s = min(entry.first_contact_s, time_s)
            if not math.isnan(obstacle_mm):
                entry.deepest_mm = min(entry.deepest_mm, obstacle_mm)
            clearances = [(_last_if_nan(_number(row[name])), label) for name, label in _SURFACES]
            places.nearest_surface[min(clearances)[1]] += 1
    places.episodes = list(by_key.values())
    return places


def recordings(out_dir: Path) -> list[str]:
    """The Rerun recordings in ``out_dir/recordings`` (``*.rrd``, also in sub-folders), relative paths."""
    folder = Path(out_dir) / RECORDINGS_DIR
    if not folder.is_dir():
        return []
    return sorted(str(path.relative_to(out_dir)) for path in folder.rglob("*.rrd") if path.is_file())


def _video_of(out_dir: Path, policy: str, episode: int) -> str | None:
    """The relative path of the episode's video if it was recorded (the name ``evaluation.video`` gives it)."""
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in policy)
    name = f"{VIDEOS_DIR}/{stem}_ep{episode}.mp4"
    return name if (Path(out_dir) / name).is_file() else None


def _recording_of(files: Sequence[str], scenario: str, seed: str, episode: int) -> str | None:
    """The recording of the episode's scene among ``files`` (the name :mod:`evaluation.rerun_recording` gives it)."""
    if not files:
        return None
    from evaluation.rerun_recording import SceneKey  # imports torch through the attributions: only when needed

    try:
        name = SceneKey(scenario, int(seed), episode).file_name()
    except ValueError:
        return None
    return next((path for path in files if Path(path).name == name), None)


def _percent(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.0%}"


def _mm(value: float, digits: int = 1) -> str:
    return "n/a" if math.isnan(value) else f"{value:.{digits}f} mm"


def _names(names: Sequence[str]) -> str:
    quoted = [f"<b>{html.escape(name)}</b>" for name in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _safety_sentences(policies: Mapping[str, Mapping[str, Any]]) -> list[str]:
    safest = safest_policies(policies)
    first = policies[safest[0]]
    rate, clearance = _number(first.get("collision_rate")), _number(first.get("min_clearance_mm_median"))
    label = "Safest" if len(safest) == 1 else "Tied safest"
    rule = (" (rule: the lowest share of episodes with any CAD contact; ties broken by the larger median "
            "clearance)")
    if len(policies) == 1:
        label, rule = "Safety of the run's one policy", ""
    episodes = _number(first.get("episodes"))
    interval = ""
    if math.isfinite(episodes) and episodes >= 1 and math.isfinite(rate):
        low, high = contact_rate_interval(round(rate * episodes), int(episodes))
        interval = f" (95% Wilson interval {low:.0%} to {high:.0%})"
    count = f" {int(episodes)}" if math.isfinite(episodes) else ""
    sentences = [f"{label}: {_names(safest)}, with a contact in {_percent(rate)} of "
                 f"{'its' if len(safest) == 1 else 'their'}{count} episodes{interval} and a median minimum "
                 f"clearance of {_mm(clearance)}{rule}."]
    others = [name for name in policies if name not in safest]
    if others:
        worst = max(others, key=lambda name: _safety_key(policies[name]))
        sentences.append(f"Least safe by the same rule: {_names([worst])} "
                         f"({_percent(_number(policies[worst].get('collision_rate')))} of episodes with contact, "
                         f"median clearance {_mm(_number(policies[worst].get('min_clearance_mm_median')))}).")
    return sentences


def _accuracy_sentences(policies: Mapping[str, Mapping[str, Any]], safest: list[str]) -> list[str]:
    accurate = most_accurate_policies(policies)
    first = policies[accurate[0]]
    label = "Most accurate" if len(accurate) == 1 else "Tied most accurate"
    same = " (also the safest)" if accurate == safest else ""
    rule = " (rule: the lowest median goal position error; ties broken by the lower 95th percentile)"
    if len(policies) == 1:
        label, same, rule = "Goal accuracy", "", ""
    sentences = [f"{label}: {_names(accurate)}{same}, median final goal error "
                 f"{_mm(_number(first.get('target_error_mm_median')), 2)}, 95th percentile "
                 f"{_mm(_number(first.get('target_error_mm_p95')), 2)}{rule}."]
    success = {name: _number(entry.get("success_rate")) for name, entry in policies.items()}
    finite = [value for value in success.values() if not math.isnan(value)]
    if finite and len(policies) > 1:
        best = max(finite)
        leaders = [name for name, value in success.items() if value == best]
        sentences.append(f"Highest success rate (goal reached without any contact): {_names(leaders)}, "
                         f"{_percent(best)}.")
    return sentences


def _contact_sentences(out_dir: Path, places: ContactPlaces, total_episodes: int, sweep: bool) -> list[str]:
    if not places.logged:
        return ["Where contacts happened is not known: steps.csv is missing or was written without the "
                "clearance columns."]
    if not places.episodes:
        return [f"No contact in any of the {total_episodes} episodes (CAD meshes of the arm against obstacles, the "
                "table and its own links)."]
    files = recordings(out_dir)
    items = []
    for entry in places.episodes[:_LISTED_EPISODES]:
        where = f"{entry.scenario} seed {entry.seed} " if sweep else ""
        text = (f"{html.escape(entry.policy)} {html.escape(where)}episode {entry.episode}: first contact at "
                f"{entry.first_contact_s:.2f} s, {entry.contact_steps} step{'s' if entry.contact_steps != 1 else ''}"
                f"{'' if math.isinf(entry.deepest_mm) else ', deepest obstacle clearance ' + _mm(entry.deepest_mm)}")
        links = [f'<a href="{html.escape(name)}">{label}</a>' for name, label in (
            (_video_of(out_dir, entry.policy, entry.episode), "video"),
            (_recording_of(files, entry.scenario, entry.seed, entry.episode), "recording")) if name]
        if links:
            text += f" ({', '.join(links)})"
        items.append(text)
    more = len(places.episodes) - _LISTED_EPISODES
    listed = "; ".join(items) + (f"; and {more} more" if more > 0 else "")
    steps = sum(places.nearest_surface.values())
    sources = []
    if any(_video_of(out_dir, entry.policy, entry.episode) for entry in places.episodes):
        sources.append("videos")
    if files:
        sources.append("recordings")
    seen = " or the ".join(sources)
    surfaces = ", ".join(f"{label} at {count}" for label, count in
                         sorted(places.nearest_surface.items(), key=lambda item: -item[1]) if count)
    return [f"Contacts happened in {len(places.episodes)} of the {total_episodes} episodes: {listed}.",
            f"At the {steps} contact step{'s' if steps != 1 else ''} the arm's nearest surface (smallest CAD "
            f"clearance at the step's end) was {surfaces}; steps.csv names no link or obstacle"
            + ("." if not seen else f", so the touching pair is seen in the {seen}.")]


def _balance_sentences(shap: Mapping[str, Any]) -> list[str]:
    sentences = []
    for model, balance in shap.get("balance", {}).items():
        entropy = _number(balance.get("entropy", {}).get("overall"))
        gini = _number(balance.get("gini", {}).get("overall"))
        position = _number(balance.get("position_share", {}).get("overall"))
        sentences.append(
            f"Attribution balance of network <b>{html.escape(model)}</b>: entropy {entropy:.2f} (1: the 7 pose "
            f"features move the joints equally), Gini {gini:.2f} (0: equal shares), position (x, y, z) share "
            f"{_percent(position)}, orientation {_percent(1.0 - position)}.")
    pooled = [row for row in shap.get("study", [])
              if row.get("group") == "pooled" and row.get("balance") == "entropy_overall"
              and row.get("safety") == "min_clearance_mm"]
    if pooled:
        row = pooled[0]
        rho, low, high = _number(row.get("rho")), _number(row.get("low")), _number(row.get("high"))
        if math.isnan(low) or math.isnan(high):
            verdict = "its bootstrap interval is undefined (too few or identical episodes)"
        elif low <= 0.0 <= high:
            verdict = f"its 95% interval [{low:.2f}, {high:.2f}] includes 0: no evidence of a link"
        else:
            verdict = f"its 95% interval [{low:.2f}, {high:.2f}] excludes 0"
        sentences.append(f"Across the {row.get('episodes')} IKNet episodes, the Spearman correlation of the "
                         f"attribution entropy with the minimum clearance is {rho:.2f}; {verdict}.")
    return sentences


def _look_closer(out_dir: Path, summary: Mapping[str, Any]) -> list[str]:
    sentences = []
    videos = summary.get("videos", {})
    comparison = [v for v in videos.get("comparison", []) if (Path(out_dir) / v).is_file()]
    per_episode = [v for v in videos.get("per_episode", []) if (Path(out_dir) / v).is_file()]
    if comparison or per_episode:
        links = ", ".join(f'<a href="{html.escape(v)}">{html.escape(Path(v).stem)}</a>' for v in comparison)
        text = f"Videos: {len(per_episode)} per episode, {len(comparison)} side by side"
        sentences.append(text + (f" ({links})." if links else "."))
    files = recordings(out_dir)
    if files:
        shown = ", ".join(f'<a href="{html.escape(name)}">{html.escape(name)}</a>' for name in files[:_LISTED_EPISODES])
        extra = len(files) - _LISTED_EPISODES
        more = f" and {extra} more (see Recordings below)" if extra > 0 else ""
        sentences.append(f"3D recordings to scrub through in Rerun: {shown}{more}; open one with "
                         f"<code>rerun {html.escape(files[0])}</code> from this folder.")
    return sentences


def findings_html(out_dir: Path, summary: Mapping[str, Any]) -> str:
    """The "What this run shows" section (an ``<h2>`` and a list), or ``""`` when the run has no policy.

    Args:
        out_dir: the results folder (its ``steps.csv``, ``videos/`` and ``recordings/`` are read).
        summary: its ``summary.json`` content.
    """
    policies = summary.get("policies", {})
    if not policies:
        return ""
    total = sum(int(count) for entry in policies.values() if math.isfinite(count := _number(entry.get("episodes"))))
    sentences = _safety_sentences(policies)
    sentences += _accuracy_sentences(policies, safest_policies(policies))
    by_scenario = summary.get("by_scenario", {})
    if len(by_scenario) > 1:
        parts = [f"{html.escape(scenario)}: {_names(safest_policies(table))}"
                 for scenario, table in by_scenario.items() if table]
        sentences.append(f"Safest in each scenario of the sweep, by the same rule: {'; '.join(parts)}.")
    sentences += _contact_sentences(out_dir, contact_places(out_dir), total, sweep=bool(by_scenario))
    if summary.get("shap"):
        sentences += _balance_sentences(summary["shap"])
    sentences += _look_closer(out_dir, summary)
    items = "".join(f"<li>{sentence}</li>" for sentence in sentences)
    return f'<section id="findings"><h2>What this run shows</h2><ul>{items}</ul></section>'
