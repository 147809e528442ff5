"""Learning-curve tables and figures from checkpoint entries (agents.iknet.curves)."""

from __future__ import annotations

import json

from agents.iknet.curves import CURVE_COLUMNS, curves_frame, main, write_curves
from agents.iknet.training import EpochRecord, convergence_record, learning_curve_entry


def entry(losses: list[float]) -> dict:
    history = [EpochRecord(e, loss, loss, 10 * loss, 1e-3, 0.5) for e, loss in enumerate(losses, start=1)]
    return {"learning_curve": learning_curve_entry(history), "convergence": convergence_record(history)}


def test_curves_table_has_one_row_per_network_epoch_and_its_verdict(tmp_path):
    entries = {"improved-s0": entry([3.0, 2.0, 1.0, 1.0, 1.0, 1.0]), "original-s0": entry([3.0, 2.0, 1.5, 1.2, 1.0]),
               "old": {"epochs_run": 3}}
    frame = curves_frame(entries)
    assert tuple(frame.columns) == CURVE_COLUMNS
    assert frame.groupby("network").size().to_dict() == {"improved-s0": 6, "original-s0": 5}
    assert frame.set_index("network")["converged"].groupby(level=0).first().to_dict() == {
        "improved-s0": True, "original-s0": False}
    table, figure = write_curves(entries, tmp_path / "a")
    again_table, again_figure = write_curves(entries, tmp_path / "b")
    assert table.read_bytes() == again_table.read_bytes()
    assert figure.read_bytes() == again_figure.read_bytes()  # no timestamp in the PNG


def test_command_line_reads_a_manifest_and_refuses_a_missing_one(tmp_path, capsys):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"models": {"improved": entry([2.0, 1.0, 1.0, 1.0, 1.0]), "legacy": {}}}))
    assert main([str(manifest), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "learning_curves.png").stat().st_size > 1000
    assert "legacy" in capsys.readouterr().err
    assert main([str(tmp_path / "nope.json"), "--out", str(tmp_path / "out")]) == 2
    assert "no manifest file" in capsys.readouterr().err
