"""Rerun recordings of an existing results folder: ``python -m evaluation.replay RESULTS_DIR``.

Writes ``RESULTS_DIR/recordings/<scenario>_s<seed>_ep<k>.rrd``, one per scene with every policy,
from the folder's logs (``steps.csv``, ``shap/traces.csv``): the same files ``run_sim.py --rerun``
writes at the end of a run (:func:`evaluation.rerun_recording.record_results`). Nothing is
simulated again; scenes are rebuilt from their seeds. Open one with ``rerun FILE.rrd``.

Example:
    python -m evaluation.replay results/cluttered-20260101-120000
    python -m evaluation.replay results/cluttered-20260101-120000 --episodes 0,3,5-7

Bad input (a missing folder, one without a run, an episode the run did not log, no rerun-sdk)
ends in one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evaluation.sweep import MAX_EPISODES


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line (no usage block): ``replay: error: ...``, exit status 2."""

    def error(self, message: str):  # type: ignore[no-untyped-def]
        from sim.errors import one_line

        self.exit(2, f"{self.prog}: error: {one_line(message)}\n")


def episode_numbers(text: str) -> tuple[int, ...]:
    """An argparse ``type``: ``"0,3,5-7"`` -> (0, 3, 5, 6, 7): episode numbers and inclusive ranges."""
    from sim.errors import show_value

    numbers: list[int] = []
    for part in text.split(","):
        bounds = part.strip().split("-")
        try:
            low, high = int(bounds[0]), int(bounds[-1])
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected episode numbers like 0,3,5-7, got {show_value(text)}") from None
        if len(bounds) > 2 or low < 0 or high < low or high >= MAX_EPISODES:
            raise argparse.ArgumentTypeError(f"expected episode numbers like 0,3,5-7 within [0, {MAX_EPISODES - 1}], "
                                             f"got {show_value(part.strip())}")
        numbers.extend(range(low, high + 1))
    return tuple(dict.fromkeys(numbers))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m evaluation.replay", description=__doc__.split("\n\n")[0],
                     formatter_class=argparse.RawDescriptionHelpFormatter,
                     epilog="exit status: 0 done; 2 bad input (one line naming it).")
    parser.add_argument("results_dir", type=Path, metavar="RESULTS_DIR", help="a results folder of run_sim.py")
    parser.add_argument("--episodes", type=episode_numbers, default=None, metavar="LIST",
                        help="record only these episode numbers, e.g. 0,3,5-7 (default: every logged episode)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                        help="show a progress bar (default: on)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from evaluation.results_io import locked_folder
    from evaluation.schema import RUN_FILE, STEPS_FILE
    from sim.errors import ProjectError, show_value

    folder: Path = args.results_dir
    if not folder.is_dir():
        parser.error(f"{show_value(str(folder), 150)} is not a folder; give a results folder of run_sim.py")
    if not (folder / RUN_FILE).is_file() or not (folder / STEPS_FILE).is_file():
        parser.error(f"{show_value(str(folder), 150)} holds no run of this project (no {RUN_FILE} and {STEPS_FILE})")
    try:
        from evaluation.rerun_recording import import_rerun, record_results

        import_rerun()
        with locked_folder(folder):  # not while a run writes the folder
            paths = record_results(folder, episodes=args.episodes, progress=args.progress)
    except ProjectError as error:
        parser.error(str(error))
    for path in paths:
        print(path)
    print(f"{len(paths)} recording{'s' if len(paths) != 1 else ''}; open one with: rerun {paths[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
