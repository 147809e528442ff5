"""Registration that the history proves (issue #24): a study's design is committed on its own, with
no results, before any of its networks trains or any episode runs.

* :func:`registration_of` finds the commit that first added a design file (``git log
  --diff-filter=A``) and what else that commit carried: a registration commit holds the design (and
  prose) only, nothing a run writes (``results/``, checkpoints, CSVs, figures).
* :func:`write_study_start` records in ``<out>/study.json`` when a study run began, the design's
  SHA-256 and its registration; :func:`check_started_after_registration` is what the suite asserts
  of every committed study results folder: it began after its design's registration commit, from
  the registered bytes.

Git is read, never written. A design that is not committed has no registration: a run of it is
exploratory and says so.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sim.errors import InvalidInputError, OutputFolderError

ROOT = Path(__file__).resolve().parents[2]
#: Paths a registration commit may not touch: what runs write (results, checkpoints, tables, figures).
RESULT_PATTERNS: tuple[str, ...] = ("results/", "assets/study/", "docs/study/", ".csv", ".png", ".pt", ".rrd")
#: The file a study run writes first in its ``--out`` folder.
STUDY_START_FILE = "study.json"


@dataclass(frozen=True)
class Registration:
    """The commit that registered a design file."""

    design: str  #: the design's path in the repository
    commit: str  #: the commit's full hash
    committed_utc: str  #: its committer time, ISO 8601 UTC
    files: tuple[str, ...]  #: every path the commit changed
    design_sha256: str  #: the design's bytes as registered

    @property
    def carries_results(self) -> tuple[str, ...]:
        """The paths of the commit that a run writes (a registration should have none)."""
        return tuple(path for path in self.files if path != self.design
                     and any(pattern in path or path.endswith(pattern) for pattern in RESULT_PATTERNS))


def _git(repo: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=60,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise InvalidInputError(f"cannot read the git history of {str(repo)!r}: {error}") from None
    if done.returncode != 0:
        raise InvalidInputError(f"git {' '.join(args[:2])} failed in {str(repo)!r}: {done.stderr.strip()[:120]}")
    return done.stdout


def registration_of(design: str | Path, repo: str | Path = ROOT) -> Registration | None:
    """The commit that first added ``design`` (a path inside ``repo``), or None if it was never committed."""
    repo = Path(repo).resolve()
    path = Path(design)
    relative = (path.resolve().relative_to(repo) if path.is_absolute() else path).as_posix()
    log = _git(repo, "log", "--diff-filter=A", "--format=%H %ct", "--", relative).split()
    if not log:
        return None
    commit, seconds = log[-2], int(log[-1])  # the earliest add (git log lists newest first)
    files = tuple(line for line in _git(repo, "show", "--name-only", "--format=", commit).splitlines() if line)
    registered = subprocess.run(["git", "-C", str(repo), "show", f"{commit}:{relative}"], capture_output=True,
                                timeout=60, check=False).stdout
    committed = dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="seconds")
    return Registration(relative, commit, committed, files, hashlib.sha256(registered).hexdigest())


def write_study_start(out_dir: str | Path, design: str | Path, repo: str | Path = ROOT,
                      now: dt.datetime | None = None) -> dict[str, Any]:
    """Write ``<out_dir>/study.json`` (once: a resumed run keeps the first start) and return it:
    the start time (UTC), the design's path and SHA-256, and its registration (or None)."""
    out = Path(out_dir) / STUDY_START_FILE
    if out.is_symlink():
        raise OutputFolderError(f"{str(out)!r} is a symbolic link; the study writes only its own files")
    if out.exists():
        return json.loads(out.read_text(encoding="utf-8"))
    design = Path(design)
    registration = None
    try:
        registration = registration_of(design.resolve(), repo)
    except (InvalidInputError, ValueError):  # not inside the repository, or no git: unregistered
        registration = None
    record = {
        "started_utc": (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
        "design": str(design),
        "design_sha256": hashlib.sha256(design.read_bytes()).hexdigest(),
        "registration": asdict(registration) if registration else None,
    }
    text = json.dumps(record, indent=1) + "\n"
    temporary = out.with_name(out.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(out)
    return json.loads(text)


def check_started_after_registration(record: dict[str, Any]) -> list[str]:
    """What is wrong with a study start record (empty: nothing): unregistered design, a run that
    began before its registration commit, a design whose bytes differ from the registered ones, or
    a registration commit that carried results."""
    registration = record.get("registration")
    if not registration:
        return [f"design {record.get('design')!r} was not committed before the run (exploratory)"]
    problems = []
    started = dt.datetime.fromisoformat(record["started_utc"])
    committed = dt.datetime.fromisoformat(registration["committed_utc"])
    if started < committed:
        problems.append(f"the run began {record['started_utc']}, before its registration commit "
                        f"{registration['commit'][:10]} ({registration['committed_utc']})")
    if record.get("design_sha256") != registration.get("design_sha256"):
        problems.append("the run's design differs from the registered one (a deviation to list)")
    carried = Registration(**{**registration, "files": tuple(registration["files"])}).carries_results
    if carried:
        problems.append(f"the registration commit also carried results: {', '.join(carried[:3])}")
    return problems


__all__ = ["RESULT_PATTERNS", "STUDY_START_FILE", "Registration", "check_started_after_registration",
           "registration_of", "write_study_start"]
