"""The paper's words: every testable statement, quoted by line, with the one test that answers it.

``studies/paper_claims.toml`` is the registry (issue #24): for each statement of the paper's summary
(``docs/paper/2512.23312-summary.txt``, vendored byte for byte) it holds the quoted words and their
line numbers, our reading of the statement, and the test: outcome, unit, estimand, test, direction
and an equivalence margin in the estimand's own unit with its reason. Ambiguous numbers carry every
reading the text allows (``readings``). Statements no measurement can answer are listed as
``untestable`` with the reason, so nothing the paper says is silently dropped.

:func:`load_paper_claims` reads and checks the registry: each quote must stand verbatim on its
line, ids are unique, exactly one claim is primary, tests are ones the study knows, every test has
a direction and a positive margin. :func:`claims_table` renders the registry as the Markdown table
claims.md opens with.

Run ``python -m evaluation.study.paper_claims`` to print that table (and check the registry).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.errors import InvalidInputError, UnknownNameError

ROOT = Path(__file__).resolve().parents[2]
#: The registry shipped with the repository.
PAPER_CLAIMS_PATH = ROOT / "studies" / "paper_claims.toml"
#: The kinds of statement (see the registry's header).
KINDS: tuple[str, ...] = ("primary", "secondary", "manipulation", "descriptive", "untestable")
#: The tests a claim may name (evaluation.study.inference and the study's tables).
TESTS: tuple[str, ...] = ("network_slope", "network_slope_within", "network_slope_adjusted", "network_contrast",
                          "network_mean", "network_equivalence", "compare_variants", "readings", "table", "pareto")
#: Kinds whose claims are tested (direction and margin required).
TESTED_KINDS: tuple[str, ...] = ("primary", "secondary", "manipulation")
#: The largest registry read (bytes).
MAX_REGISTRY_BYTES = 256_000
_FIELDS = {"id", "kind", "lines", "quotes", "statement", "outcome", "unit", "estimand", "test", "direction",
           "margin", "margin_why", "readings", "why"}
_READING_FIELDS = {"name", "outcome", "unit", "value"}


@dataclass(frozen=True)
class Reading:
    """One way to read an ambiguous number of the paper (e.g. "units" as mm or cm)."""

    name: str
    outcome: str
    unit: str
    value: float


@dataclass(frozen=True)
class PaperClaim:
    """One statement of the paper and the test that answers it."""

    id: str
    kind: str
    lines: tuple[int, ...]
    quotes: tuple[str, ...]
    statement: str
    outcome: str = ""
    unit: str = ""
    estimand: str = ""
    test: str = ""
    direction: int | None = None  #: +1 / -1: the claimed sign; 0: an equivalence claim (within +-margin)
    margin: float | None = None
    margin_why: str = ""
    readings: tuple[Reading, ...] = ()
    why: str = ""  #: why an untestable statement is untestable


@dataclass(frozen=True)
class PaperClaims:
    """The registry: the paper's file and its claims in registry order."""

    paper: Path
    arxiv: str
    claims: tuple[PaperClaim, ...]

    def by_kind(self, kind: str) -> tuple[PaperClaim, ...]:
        return tuple(claim for claim in self.claims if claim.kind == kind)

    @property
    def primary(self) -> PaperClaim:
        return self.by_kind("primary")[0]

    def cited_lines(self) -> set[int]:
        return {line for claim in self.claims for line in claim.lines}


def _fail(where: str, problem: str) -> InvalidInputError:
    return InvalidInputError(f"paper claims {where}: {problem}")


def _text(raw: dict[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise _fail(where, f"'{key}' must be a non-empty string")
    return value


def _claim(raw: Any, index: int, paper_lines: list[str]) -> PaperClaim:
    where = f"claim {index + 1}"
    if not isinstance(raw, dict):
        raise _fail(where, "must be a table")
    unknown = set(raw) - _FIELDS
    if unknown:
        raise UnknownNameError(f"{where} key", sorted(unknown)[0], sorted(_FIELDS))
    claim_id = _text(raw, "id", where)
    where = f"claim {claim_id!r}"
    kind = _text(raw, "kind", where)
    if kind not in KINDS:
        raise UnknownNameError(f"{where} kind", kind, KINDS)
    lines, quotes = raw.get("lines"), raw.get("quotes")
    if (not isinstance(lines, list) or not lines or not all(type(line) is int for line in lines)
            or not isinstance(quotes, list) or len(quotes) != len(lines)
            or not all(isinstance(quote, str) and quote.strip() for quote in quotes)):
        raise _fail(where, "'lines' (integers) and 'quotes' (strings) must be non-empty lists of equal length")
    for line, quote in zip(lines, quotes, strict=True):
        if not 1 <= line <= len(paper_lines):
            raise _fail(where, f"line {line} is outside the paper's 1..{len(paper_lines)}")
        if quote not in paper_lines[line - 1]:
            raise _fail(where, f"the quote {quote[:60]!r} does not stand on line {line}")
    statement = _text(raw, "statement", where)
    fields: dict[str, Any] = {}
    if kind == "untestable":
        fields["why"] = _text(raw, "why", where)
    else:
        for key in ("outcome", "unit", "estimand"):
            fields[key] = _text(raw, key, where)
        test = _text(raw, "test", where)
        if test not in TESTS:
            raise UnknownNameError(f"{where} test", test, TESTS)
        fields["test"] = test
    if kind in TESTED_KINDS:
        direction, margin = raw.get("direction"), raw.get("margin")
        if type(direction) is not int or direction not in (-1, 0, 1):
            raise _fail(where, "'direction' must be 1, -1 or 0 (equivalence)")
        if isinstance(margin, bool) or not isinstance(margin, int | float) or not (math.isfinite(margin)
                                                                                  and margin > 0):
            raise _fail(where, "'margin' must be a positive number in the estimand's unit")
        fields.update(direction=direction, margin=float(margin), margin_why=_text(raw, "margin_why", where))
    readings = []
    for number, reading in enumerate(raw.get("readings", []) if isinstance(raw.get("readings", []), list) else [0]):
        if not isinstance(reading, dict) or set(reading) != _READING_FIELDS:
            raise _fail(where, f"reading {number + 1} must have exactly {sorted(_READING_FIELDS)}")
        value = reading["value"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise _fail(where, f"reading {number + 1}'s value must be a finite number")
        readings.append(Reading(_text(reading, "name", where), _text(reading, "outcome", where),
                                _text(reading, "unit", where), float(value)))
    if fields.get("test") in ("readings", "network_equivalence") and not readings:
        raise _fail(where, f"test {fields['test']!r} needs 'readings'")
    return PaperClaim(claim_id, kind, tuple(lines), tuple(quotes), statement, readings=tuple(readings), **fields)


def load_paper_claims(path: str | Path = PAPER_CLAIMS_PATH) -> PaperClaims:
    """Read and check the registry at ``path`` (see the module doc).

    Raises:
        InvalidInputError: the file is unreadable, not TOML, or a claim breaks a rule (one line).
    """
    path = Path(path)
    try:
        if not path.is_file() or path.stat().st_size > MAX_REGISTRY_BYTES:
            raise _fail(str(path), f"must be a regular file of at most {MAX_REGISTRY_BYTES} bytes")
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise _fail(str(path), f"cannot be read as UTF-8 TOML ({error})") from None
    paper = data.get("paper")
    if not isinstance(paper, dict) or not isinstance(paper.get("file"), str):
        raise _fail(str(path), "needs a [paper] table with 'file'")
    paper_path = ROOT / paper["file"]
    try:
        paper_lines = paper_path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise _fail(str(path), f"cannot read the paper {str(paper_path)!r} ({error})") from None
    raw_claims = data.get("claims")
    if not isinstance(raw_claims, list) or not raw_claims:
        raise _fail(str(path), "needs [[claims]]")
    claims = tuple(_claim(raw, index, paper_lines) for index, raw in enumerate(raw_claims))
    ids = [claim.id for claim in claims]
    if len(set(ids)) != len(ids):
        raise _fail(str(path), f"claim ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
    if len([claim for claim in claims if claim.kind == "primary"]) != 1:
        raise _fail(str(path), "exactly one claim must be primary (the gate)")
    return PaperClaims(paper_path, str(paper.get("arxiv", "")), claims)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def claims_table(registry: PaperClaims) -> str:
    """The registry as a Markdown table: one row per statement, its line(s) and words, our test."""
    rows = ["| id | kind | line | the paper's words | outcome (unit) | test | direction | margin |",
            "|---|---|---|---|---|---|---|---|"]
    signs = {1: "larger", -1: "smaller", 0: "within +-margin", None: ""}
    for claim in registry.claims:
        words = " / ".join(f'"{quote}"' for quote in claim.quotes)
        lines = ", ".join(str(line) for line in claim.lines)
        outcome = f"{claim.outcome} ({claim.unit})" if claim.outcome else f"untestable: {claim.why}"
        margin = f"{claim.margin:g} ({claim.margin_why})" if claim.margin is not None else ""
        rows.append(f"| {claim.id} | {claim.kind} | {lines} | {_cell(words)} | {_cell(outcome)} | {claim.test} | "
                    f"{signs[claim.direction]} | {_cell(margin)} |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m evaluation.study.paper_claims",
                                     description="Check the paper-claims registry and print it as a table.")
    parser.add_argument("registry", nargs="?", default=str(PAPER_CLAIMS_PATH), help="the registry TOML "
                        "(default: studies/paper_claims.toml)")
    args = parser.parse_args(argv)
    try:
        registry = load_paper_claims(args.registry)
    except InvalidInputError as error:
        parser.exit(2, f"error: {error}\n")
    print(claims_table(registry), end="")
    counts = {kind: len(registry.by_kind(kind)) for kind in KINDS}
    print(f"\n{len(registry.claims)} statements: " + ", ".join(f"{count} {kind}" for kind, count in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["KINDS", "PAPER_CLAIMS_PATH", "TESTS", "PaperClaim", "PaperClaims", "Reading", "claims_table",
           "load_paper_claims", "main"]
