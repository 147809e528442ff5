"""run_sim.py --shap --video on the shipped checkpoints: heat maps, balance, traces, study, videos, report."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agents import MODEL_NAMES
from evaluation.explain.study import bootstrap_spearman, spearman

ROOT = Path(__file__).resolve().parents[3]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def shap_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("shap") / "run"
    result = subprocess.run(
        [sys.executable, str(ROOT / "run_sim.py"), "--scenario", "cluttered", "--models",
         "iknet:improved,iknet:focused+safe,analytic", "--episodes", "3", "--out", str(out), "--shap", "--video",
         "--video-episodes", "1", "--workers", "2", "--camera", "side", "--no-progress"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out


#: The networks of the run's IKNet policies: --shap explains these and no other shipped model.
EXPLAINED = ("improved", "focused")


def test_heatmaps_for_every_network_of_the_run_are_written_and_not_empty(shap_run):
    for name in EXPLAINED:
        image = np.asarray(Image.open(shap_run / "shap" / f"heatmap_{name}.png").convert("RGB")).astype(float)
        assert image.std() > 20, f"{name} heat map is blank"
    assert (shap_run / "shap" / "heatmaps_all_models.png").stat().st_size > 10_000
    written = sorted(path.name for path in (shap_run / "shap").glob("heatmap_*.png"))
    assert written == sorted(f"heatmap_{name}.png" for name in EXPLAINED), "only the networks asked for"
    assert set(EXPLAINED) < set(MODEL_NAMES)


def test_balance_figures_are_in_the_summary(shap_run):
    shap = json.loads((shap_run / "summary.json").read_text())["shap"]
    assert set(shap["balance"]) == set(EXPLAINED)
    for balance in shap["balance"].values():
        assert 0.0 <= balance["entropy"]["overall"] <= 1.0
        assert 0.0 <= balance["gini"]["overall"] <= 1.0
        assert balance["position_share"]["overall"] + balance["orientation_share"]["overall"] == pytest.approx(1.0)
    groups = {row["group"] for row in shap["study"]}
    assert {"pooled", "iknet:improved", "iknet:focused+safe"} <= groups


def test_traces_line_up_with_the_steps_of_their_episode(shap_run):
    steps = read_csv(shap_run / "steps.csv")
    traces = read_csv(shap_run / "shap" / "traces.csv")
    for policy in ("iknet:improved", "iknet:focused+safe"):
        for episode in "012":
            logged = [r["step"] for r in steps if r["model"] == policy and r["episode"] == episode]
            traced = [r["step"] for r in traces if r["model"] == policy and r["episode"] == episode]
            assert logged and traced == logged
    assert not [r for r in traces if r["model"] == "analytic"], "only IKNet policies are explained"
    values = np.array([[float(v) for k, v in r.items() if k.startswith("phi_")] for r in traces])
    assert values.shape[1] == 28 and np.isfinite(values).all() and np.abs(values).max() > 1e-3


def test_videos_and_report_reference_only_existing_files(shap_run):
    summary = json.loads((shap_run / "summary.json").read_text())
    videos = summary["videos"]
    assert len(videos["per_episode"]) == 3 and len(videos["comparison"]) == 1
    for path in videos["per_episode"] + videos["comparison"]:
        assert (shap_run / path).stat().st_size > 1000
    report = (shap_run / "report.html").read_text()
    assert "Shapley attributions" in report and "<video" in report
    for reference in re.findall(r'(?:src|href)="([^"]+)"', report):
        assert reference.startswith("data:") or (shap_run / reference).exists(), reference


def test_spearman_known_answers():
    a = np.arange(10.0)
    assert spearman(a, a**3) == pytest.approx(1.0)
    assert spearman(a, -a) == pytest.approx(-1.0)
    assert np.isnan(spearman(a, np.ones(10)))
    rho, low, high = bootstrap_spearman(a, a + np.random.default_rng(0).normal(0, 3, 10), np.random.default_rng(1))
    assert low <= rho <= high
