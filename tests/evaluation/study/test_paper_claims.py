"""The paper-claims registry (issue #24): every quote stands on its line, every testable section of
the paper is cited, and a broken registry is refused in one line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evaluation.study.paper_claims import PAPER_CLAIMS_PATH, claims_table, load_paper_claims, main
from sim.errors import MAX_MESSAGE_CHARS, InvalidInputError

#: The summary's sections the issue names (Key Results, Mechanisms 2 and 3, Design tradeoffs,
#: Failure signatures, Next checks): every line of them must be cited by a claim.
SECTION_LINES = {"Key Results": [41, 42, 43, 44], "Mechanism 2": [52], "Mechanism 3": [55],
                 "Design tradeoffs": [71], "Failure signatures": [73], "Next checks": [93, 94, 95]}


def test_the_shipped_registry_quotes_the_paper_and_cites_every_testable_section():
    registry = load_paper_claims()
    lines = registry.paper.read_text(encoding="utf-8").splitlines()
    assert lines[39] == "## Key Results" and lines[91] == "## Next Checks"  # the sections are where the map says
    cited = registry.cited_lines()
    for section, numbers in SECTION_LINES.items():
        assert set(numbers) <= cited, (section, sorted(set(numbers) - cited))
    for claim in registry.claims:
        for line, quote in zip(claim.lines, claim.quotes, strict=True):
            assert quote in lines[line - 1]
    assert registry.primary.id == "balance-clearance"
    assert {claim.kind for claim in registry.claims} == {"primary", "secondary", "manipulation", "descriptive",
                                                         "untestable"}
    qz = next(claim for claim in registry.claims if claim.id == "qz-0.6")  # an ambiguous number: every reading
    assert {reading.name for reading in qz.readings} == {"share", "magnitude", "top-feature"}


def test_the_table_has_one_row_per_statement(capsys):
    registry = load_paper_claims()
    table = claims_table(registry)
    assert len(table.strip().splitlines()) == 2 + len(registry.claims)
    assert main([]) == 0
    assert "1 primary" in capsys.readouterr().out


def broken(tmp_path: Path, old: str, new: str) -> Path:
    text = PAPER_CLAIMS_PATH.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "claims.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


BROKEN = {
    "quote on another line": ('lines = [32, 42, 52]', 'lines = [33, 42, 52]', "does not stand on line 33"),
    "a misquote": ('"without compromising accuracy"', '"without any loss of accuracy"', "does not stand on line"),
    "two primaries": ('kind = "secondary"\nlines = [42]', 'kind = "primary"\nlines = [42]', "exactly one claim"),
    "unknown test": ('test = "network_slope_within"', 'test = "network_slope_inside"', "unknown claim"),
    "no margin": ("margin = 0.05\nmargin_why = \"one episode in twenty\"", 'margin_why = "one episode in twenty"',
                  "'margin' must be a positive number"),
    "a misspelled key": ('margin_why = "the bound', 'margin_wy = "the bound', "Did you mean 'margin_why'?"),
    "line beyond the paper": ('lines = [73]', 'lines = [730]', "outside the paper's"),
    "a repeated id": ('id = "pareto"', 'id = "compact-architecture"', "claim ids repeat"),
    "an untestable without why": ('why = "it describes what the authors did, not a property of the networks"',
                                  "", "'why' must be a non-empty string"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_registry_is_refused_in_one_line(tmp_path, case):
    old, new, message = BROKEN[case]
    with pytest.raises(InvalidInputError) as info:
        load_paper_claims(broken(tmp_path, old, new))
    text = str(info.value)
    assert message in text and "\n" not in text and len(text) <= MAX_MESSAGE_CHARS, text


def test_the_command_line_refuses_a_broken_registry_with_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main([str(broken(tmp_path, 'lines = [32, 42, 52]', 'lines = [33, 42, 52]'))])
    assert info.value.code == 2
    assert re.fullmatch(r"error: paper claims .*\n", capsys.readouterr().err)
