"""Results files: whole rows, torn-line repair, atomic filtering, metric definitions."""

from __future__ import annotations

import numpy as np

from evaluation.metrics import rms_jerk
from evaluation.results_io import append_rows, filter_csv, read_rows, repair_csv


def test_rows_append_with_one_header(tmp_path):
    path = tmp_path / "episodes.csv"
    append_rows(path, ["a", "b"], [{"a": 1, "b": 0.5}])
    append_rows(path, ["a", "b"], [{"a": 2, "b": True}, {"a": 3, "b": "x,y"}])
    assert read_rows(path) == [{"a": "1", "b": "0.5"}, {"a": "2", "b": "1"}, {"a": "3", "b": "x,y"}]


def test_a_torn_last_line_is_dropped(tmp_path):
    path = tmp_path / "episodes.csv"
    append_rows(path, ["a", "b"], [{"a": 1, "b": 2}])
    with open(path, "a") as handle:
        handle.write("7,")  # a writer killed mid-row
    repair_csv(path)
    assert path.read_text() == "a,b\n1,2\n"
    assert read_rows(path) == [{"a": "1", "b": "2"}]


def test_filter_keeps_only_accepted_rows(tmp_path):
    path = tmp_path / "steps.csv"
    append_rows(path, ["episode"], [{"episode": i} for i in range(5)])
    dropped = filter_csv(path, lambda row: int(row["episode"]) < 3)
    assert dropped == 2
    assert [row["episode"] for row in read_rows(path)] == ["0", "1", "2"]
    assert not path.with_suffix(".csv.tmp").exists()


def test_rms_jerk_of_a_cubic_is_its_constant_third_derivative():
    dt = 0.05
    t = np.arange(20) * dt
    joints = np.stack([2.0 * t**3, -t**3, 0 * t, 0.5 * t**2], -1)  # third derivatives 12, -6, 0, 0
    assert abs(rms_jerk(joints, dt) - np.sqrt((144 + 36) / 4)) < 1e-6
    assert rms_jerk(joints[:3], dt) == 0.0


def test_repair_tail_drops_malformed_last_rows_and_refuses_a_damaged_middle(tmp_path):
    import pytest

    from evaluation.results_io import repair_tail
    from sim.errors import OutputFolderError

    path = tmp_path / "episodes.csv"
    whole = b"a,b\n1,2\n3,4\n"
    for tail, dropped in ((b"", 0), (b"5,\x006\n", 1), (b"5\n", 1), (b"5,6,7\n7\n", 2), (b"\xff,1\n5,6", 2)):
        path.write_bytes(whole + tail)
        assert repair_tail(path) == dropped, tail
        assert path.read_bytes() == whole, tail
    path.write_bytes(b"a,b\n1,2\n3\n5,6\n")
    with pytest.raises(OutputFolderError, match="row 3 is malformed but row 4"):
        repair_tail(path)
    assert path.read_bytes() == b"a,b\n1,2\n3\n5,6\n"


def test_nothing_is_appended_through_a_symbolic_link(tmp_path):
    import pytest

    from sim.errors import OutputFolderError

    user_file = tmp_path / "mine.csv"
    user_file.write_text("a,b\n1,2\n")
    (tmp_path / "episodes.csv").symlink_to(user_file)
    with pytest.raises(OutputFolderError, match="symbolic link"):
        append_rows(tmp_path / "episodes.csv", ["a", "b"], [{"a": 3, "b": 4}])
    assert user_file.read_text() == "a,b\n1,2\n"
