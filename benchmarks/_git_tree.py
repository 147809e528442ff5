"""A git revision of this repository as a folder, for benchmarks that time an earlier tree next to
this one (its code imported through ``PYTHONPATH`` in child processes)."""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]


def export(ref: str, folder: Path) -> Path:
    """The tree of git ``ref`` extracted into ``folder``/tree."""
    archive = folder / "tree.tar"
    subprocess.run(["git", "-C", str(REPOSITORY), "archive", "--format=tar", "-o", str(archive), ref], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(folder / "tree", filter="data")
    return folder / "tree"
