"""The whole job behind ``run_sim.py``: episodes, summary, optional SHAP and videos, report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evaluation.report import write_report
from evaluation.runner import RunConfig, run
from evaluation.summary import format_table, summarise_rows, write_summary
from evaluation.results_io import read_rows
from evaluation.runner import EPISODES_FILE


def run_pipeline(cli: Any) -> Path:
    """Run the episodes of ``cli`` (a ``run_sim.CliConfig``), then summarise and report.

    Returns:
        Path of ``report.html``.
    """
    config = RunConfig(
        scenario=cli.scenario, policies=tuple(cli.models), episodes=cli.episodes, seed=cli.seed,
        out_dir=Path(cli.out), workers=cli.workers, max_steps=cli.max_steps,
    )
    run(config, resume=cli.resume, progress=cli.progress)
    write_summary(config.out_dir)
    if cli.shap:
        from evaluation.explain.study import run_shap_study

        write_summary(config.out_dir, {"shap": run_shap_study(config, progress=cli.progress)})
    if cli.video:
        from evaluation.video import VideoSettings, record_run_videos

        settings = VideoSettings(camera=cli.camera, renderer=cli.renderer, attributions=cli.shap)
        write_summary(config.out_dir, {"videos": record_run_videos(config, episodes=cli.video_episodes,
                                                                   progress=cli.progress, settings=settings)})
    print()
    print(format_table(summarise_rows(read_rows(config.out_dir / EPISODES_FILE))))
    return write_report(config.out_dir)
