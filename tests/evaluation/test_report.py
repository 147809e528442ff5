"""report.html opens with what the run found: its facts checked against summary.json and episodes.csv; one
heat map per network, a caption under every figure, links to Rerun recordings when the folder has them."""

from __future__ import annotations

import csv
import html
import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agents.iknet.checkpoint import load_model
from evaluation.config import DEFAULT_POLICIES, RunConfig
from evaluation.explain import plots
from evaluation.explain.balance import attribution_balance, global_importance
from evaluation.explain.shapley import explain, published_setup
from evaluation.explain.study import fresh_poses
from evaluation.findings import contact_rate_interval, most_accurate_policies, safest_policies
from evaluation.pipeline import run_pipeline
from evaluation.report import write_report

#: Files of the run copied into a test's own folder before it adds to it (the module's run stays as written).
RUN_FILES = ("episodes.csv", "steps.csv", "summary.json", "run.json")


@pytest.fixture(scope="module")
def default_run(tmp_path_factory) -> Path:
    """The default policies on the default scenario (run_sim.py's defaults), one short episode each: three
    of the four touch an obstacle in episode 0 of seed 0 (the findings then have contacts to place)."""
    out = tmp_path_factory.mktemp("report") / "run"
    run_pipeline(RunConfig(scenario="cluttered", policies=DEFAULT_POLICIES, episodes=1, seed=0, out_dir=out,
                           max_steps=40, progress=False))
    return out


def _copy(run: Path, folder: Path) -> Path:
    folder.mkdir()
    for name in RUN_FILES:
        shutil.copy(run / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def shap_run(default_run, tmp_path_factory) -> Path:
    """The run with a SHAP section of its one network (iknet:improved), from real attributions on a small
    published-style set, laid out as a study of an earlier version wrote it: an all-models heat map of one."""
    out = _copy(default_run, tmp_path_factory.mktemp("shap") / "run")
    explained, background = published_setup(fresh_poses(10_007, 200), seed=0)
    result = explain(load_model("improved"), explained[:6], background[:12], "exact")
    importance = global_importance(result.values)
    shap_dir = out / "shap"
    written = [plots.plot_importance_heatmap(importance, shap_dir / "heatmap_improved.png"),
               plots.plot_local_explanation(result.values[0], shap_dir / "local_improved.png",
                                            base_values=result.base_values, pose=explained[0]),
               plots.plot_importance_comparison({"improved": importance}, shap_dir / "heatmaps_all_models.png"),
               plots.plot_balance({"improved": attribution_balance(importance)}, shap_dir / "balance.png")]
    summary = json.loads((out / "summary.json").read_text())
    summary["shap"] = {"balance": {"improved": attribution_balance(importance).to_dict()},
                       "figures": [str(path.relative_to(out)) for path in written]}
    (out / "summary.json").write_text(json.dumps(summary))
    write_report(out)
    return out


def _page(out: Path) -> str:
    return (out / "report.html").read_text()


def _findings(page: str) -> list[str]:
    section = re.search(r'<section id="findings">(.*?)</section>', page, re.S)
    assert section, "no findings section"
    return re.findall(r"<li>(.*?)</li>", section.group(1), re.S)


def _sentence(items: list[str], start: str) -> str:
    found = [item for item in items if re.sub(r"<[^>]+>", "", item).startswith(start)]
    assert len(found) == 1, (start, items)
    return found[0]


def _bold(sentence: str) -> list[str]:
    return [html.unescape(name) for name in re.findall(r"<b>(.*?)</b>", sentence)]


def test_the_report_opens_with_its_findings(default_run):
    page = _page(default_run)
    headings = re.findall(r"<h2>(.*?)</h2>", page)
    assert headings[0] == "What this run shows" and headings[1] == "Summary"


def test_the_policy_named_safest_has_the_fewest_contacts_then_the_most_clearance(default_run):
    policies = json.loads((default_run / "summary.json").read_text())["policies"]
    assert len(policies) == 4
    fewest = min(p["collision_rate"] for p in policies.values())
    candidates = {name: p for name, p in policies.items() if p["collision_rate"] == fewest}
    most_clear = max(p["min_clearance_mm_median"] for p in candidates.values())
    expected = [name for name, p in candidates.items() if p["min_clearance_mm_median"] == most_clear]
    sentence = _sentence(_findings(_page(default_run)), "Safest" if len(expected) == 1 else "Tied safest")
    assert _bold(sentence) == expected
    assert f"{fewest:.0%} of" in sentence and f"{most_clear:.1f} mm" in sentence
    assert "rule: the lowest share of episodes with any CAD contact" in sentence


def test_the_policy_named_most_accurate_has_the_lowest_goal_error(default_run):
    policies = json.loads((default_run / "summary.json").read_text())["policies"]
    lowest = min(p["target_error_mm_median"] for p in policies.values())
    leaders = [name for name, p in policies.items() if p["target_error_mm_median"] == lowest]
    sentence = _sentence(_findings(_page(default_run)), "Most accurate" if len(leaders) == 1 else "Tied most")
    assert _bold(sentence)[0] in leaders and f"{lowest:.2f} mm" in sentence


def test_the_contact_episodes_named_are_those_of_episodes_csv(default_run):
    with open(default_run / "episodes.csv", newline="") as handle:
        collided = {(row["model"], int(row["episode"]), int(row["contact_steps"]))
                    for row in csv.DictReader(handle) if row["collided"] == "1"}
    items = _findings(_page(default_run))
    if not collided:
        _sentence(items, "No contact in any of the")
        return
    sentence = html.unescape(_sentence(items, "Contacts happened in"))
    assert f"in {len(collided)} of the 4 episodes" in sentence
    named = {(policy, int(episode), int(steps)) for policy, episode, steps in
             re.findall(r"([\w:+]+) episode (\d+): first contact at [\d.]+ s, (\d+) steps?", sentence)}
    assert named == collided
    _sentence(items, "At the")


def test_the_balance_figure_is_the_one_in_summary_json(shap_run, default_run):
    assert "Attribution balance" not in "".join(_findings(_page(default_run))), "no --shap, no balance"
    balance = json.loads((shap_run / "summary.json").read_text())["shap"]["balance"]
    sentence = _sentence(_findings(_page(shap_run)), "Attribution balance of network")
    assert _bold(sentence) == ["improved"]
    assert f"entropy {balance['improved']['entropy']['overall']:.2f}" in sentence
    assert f"Gini {balance['improved']['gini']['overall']:.2f}" in sentence


def test_one_network_draws_one_heat_map_and_every_figure_has_a_caption(shap_run):
    page = _page(shap_run)
    figures = re.findall(r"<figure[^>]*>(.*?)</figure>", page, re.S)
    images = [figure for figure in figures if "<img" in figure]
    assert len(images) == 3 + 3, "3 run plots and the SHAP figures but the all-models map of one network"
    assert len([figure for figure in images if 'alt="heatmap' in figure]) == 1
    assert len({re.search(r'src="([^"]+)"', figure).group(1) for figure in images}) == len(images), "a figure twice"
    for figure in images:
        caption = re.search(r"<figcaption>(.+?)</figcaption>", figure, re.S)
        assert caption and "Look for:" in caption.group(1), figure[:80]


def test_recordings_are_linked_with_the_command_that_opens_them(default_run, tmp_path):
    assert "rerun " not in _page(default_run), "no recordings/, no command"
    out = _copy(default_run, tmp_path / "run")
    (out / "recordings").mkdir()
    (out / "recordings" / "cluttered_s0_ep000.rrd").write_bytes(b"RRF2")  # only the links are tested
    page = write_report(out).read_text()
    name = "recordings/cluttered_s0_ep000.rrd"
    assert f'href="{name}"' in page and f"<code>rerun {name}</code>" in page
    findings = "".join(_findings(page))
    assert f"rerun {name}" in findings
    assert f'<a href="{name}">recording</a>' in findings, "the contact episode links its scene's recording"
    for reference in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert reference.startswith("data:") or (out / reference).exists(), reference


def test_rankings_break_ties_as_stated():
    policies = {
        "a": {"collision_rate": 0.2, "min_clearance_mm_median": 30.0, "target_error_mm_median": 1.0,
              "target_error_mm_p95": 5.0},
        "b": {"collision_rate": 0.1, "min_clearance_mm_median": 10.0, "target_error_mm_median": 1.0,
              "target_error_mm_p95": 4.0},
        "c": {"collision_rate": 0.1, "min_clearance_mm_median": 12.0, "target_error_mm_median": math.nan,
              "target_error_mm_p95": 1.0},
    }
    assert safest_policies(policies) == ["c"], "same contact rate: the larger clearance wins"
    assert most_accurate_policies(policies) == ["b"], "same median error: the lower p95 wins; NaN ranks last"
    policies["b"]["min_clearance_mm_median"] = 12.0
    assert safest_policies(policies) == ["b", "c"]
    assert safest_policies({}) == []


def test_contact_rate_interval_known_values():
    low, high = contact_rate_interval(0, 3)
    assert low == pytest.approx(0.0, abs=1e-12) and high == pytest.approx(0.5615, abs=1e-3)
    low, high = contact_rate_interval(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-3) and high == pytest.approx(0.7634, abs=1e-3)


def test_the_waterfall_is_drawn_near_its_size_in_the_report(shap_run):
    """The report shows figures at most 1,100 px wide: a wider PNG is shrunk, and its 10-pt labels with it."""
    with Image.open(shap_run / "shap" / "local_improved.png") as image:
        width, height = image.size
    assert width <= 1100 and height <= 900


def test_contact_steps_become_bars_over_their_stretch(tmp_path):
    from evaluation.explain.plots import _contact_spans, plot_attribution_trace

    times = np.arange(1, 21) * 0.05
    spans = _contact_spans(times, np.array([0.4, 0.45, 0.5, 0.7]))
    np.testing.assert_allclose(np.array(spans), [[0.35, 0.5], [0.65, 0.7]], atol=1e-12)
    assert _contact_spans(times, np.array([])) == []
    values = np.random.default_rng(1).normal(0.0, 0.2, (20, 7, 4))
    plain = plot_attribution_trace(values, tmp_path / "plain.png", times_s=times)
    marked = plot_attribution_trace(values, tmp_path / "marked.png", times_s=times, contact_times_s=[0.4, 0.45])
    with Image.open(plain) as first, Image.open(marked) as second:
        assert first.size == second.size
        difference = np.abs(np.asarray(first.convert("L"), float) - np.asarray(second.convert("L"), float))
    assert (difference > 100).sum() > 200, "the contact bar is drawn"


def test_a_sweep_names_the_safest_of_each_scenario_and_one_policy_no_ranking(tmp_path):
    from evaluation.findings import findings_html

    def entry(rate: float, clearance: float) -> dict[str, float]:
        return {"episodes": 4, "collision_rate": rate, "min_clearance_mm_median": clearance,
                "target_error_mm_median": 1.0, "target_error_mm_p95": 2.0, "success_rate": 1.0 - rate}

    summary = {"policies": {"a": entry(0.25, 9.0), "b": entry(0.25, 8.0)},
               "by_scenario": {"cluttered": {"a": entry(0.5, 5.0), "b": entry(0.0, 6.0)},
                               "narrow": {"a": entry(0.0, 13.0), "b": entry(0.5, 10.0)}}}
    items = re.findall(r"<li>(.*?)</li>", findings_html(tmp_path, summary), re.S)
    assert _bold(_sentence(items, "Safest:")) == ["a"]
    per_scenario = _sentence(items, "Safest in each scenario")
    assert "cluttered: <b>b</b>; narrow: <b>a</b>" in per_scenario
    one = re.findall(r"<li>(.*?)</li>", findings_html(tmp_path, {"policies": {"a": entry(0.0, 1.0)}}), re.S)
    assert not [item for item in one if "rule:" in item or "Least safe" in item]
