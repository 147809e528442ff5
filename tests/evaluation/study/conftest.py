"""The small study run once on the local backend, shared by the end-to-end and the backend tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.study.cli import main

DESIGN = Path(__file__).resolve().parents[3] / "studies" / "claims.toml"


@pytest.fixture(scope="session")
def small_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``--out`` of the shipped design's ``[small]`` configuration run in this process (local backend)."""
    out = tmp_path_factory.mktemp("study-local") / "study"
    assert main([str(DESIGN), "--small", "--out", str(out), "--no-progress"]) == 0
    return out
