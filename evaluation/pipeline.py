"""The whole job behind ``run_sim.py``: episodes, summary, optional SHAP, videos and Rerun recordings, report."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from evaluation.config import RunConfig
from evaluation.report import write_report
from evaluation.runner import run
from evaluation.schema import read_episodes
from evaluation.summary import format_table, summarise_rows, table_legend, write_summary


def run_pipeline(config: RunConfig) -> Path:
    """Run the episodes of ``config``, then summarise, explain and record as it asks, and report.

    Prints the summary table (with its legend) when done; a sweep's summary has one table per
    scenario (``summary.json``'s ``by_scenario``) besides the pooled one.

    Returns:
        Path of ``report.html``.
    """
    if config.rerun:  # a missing rerun-sdk is said before the episodes run, not after
        from evaluation.rerun_recording import import_rerun

        import_rerun()
    run(config, rerun=False)  # recorded below, after the attributions the recordings show
    if config.sweep is not None:
        _record(config)
        return _finish_sweep(config)
    write_summary(config.out_dir)
    if config.shap:
        from evaluation.explain.study import run_shap_study

        write_summary(config.out_dir, {"shap": run_shap_study(config)})
    if config.video:
        from evaluation.video import record_run_videos

        write_summary(config.out_dir, {"videos": record_run_videos(config)})
    _record(config)
    print()
    print(format_table(summarise_rows(read_episodes(config.out_dir))))
    print(table_legend())
    return write_report(config.out_dir)


def _finish_sweep(config: RunConfig) -> Path:
    """Summary (pooled per policy, and per scenario), the tables, and the report of a sweep's folder."""
    rows = read_episodes(config.out_dir)
    scenarios = list(dict.fromkeys(row["scenario"] for row in rows))
    by_scenario = {scenario: summarise_rows([row for row in rows if row["scenario"] == scenario])
                   for scenario in scenarios}
    write_summary(config.out_dir, {"by_scenario": {
        scenario: {item.policy: asdict(item) for item in items} for scenario, items in by_scenario.items()}})
    for scenario, items in by_scenario.items():
        print(f"\nscenario {scenario}")
        print(format_table(items))
    print(table_legend())
    return write_report(config.out_dir)


def _record(config: RunConfig) -> None:
    """With ``config.rerun``: the Rerun recordings of every scene (``recordings/``), listed in the summary."""
    if config.rerun:
        from evaluation.rerun_recording import record_results

        paths = record_results(config.out_dir, progress=config.progress)
        write_summary(config.out_dir, {"recordings": [str(path.relative_to(config.out_dir)) for path in paths]})
