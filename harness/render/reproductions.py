"""The Reproductions table: every paper the harness re-runs, its claims as rules, and what the runs say. Pure.

Rows come from harness.claims.StudyClaims (the cli decides each study's claims from a runs directory);
papers 000-004 each get at least one row, so a paper without a study with claims is listed as such. A
claim whose entries have no valid runs shows "not run" and the command that runs its study, never a verdict.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.claims import CLAIM_RULE, NOT_RUN, ClaimResult, StudyClaims
from harness.render.export import markdown_text
from harness.render.tables import Cell, HeaderCell, Table, fmt

PAPERS = {
    "000": "Rethinking \"RL Generalizes, SFT Memorizes\": The Role of SFT Data",
    "001": "Transformers with RL or SFT Provably Learn Sparse Boolean Functions, But Differently",
    "002": "How Reinforcement Learning After Next-Token Prediction Facilitates Learning",
    "003": "On the Generalization of SFT: A Reinforcement Learning Perspective with Reward Rectification (DFT)",
    "004": "SFT Doesn't Always Hurt General Capabilities: Revisiting Domain-Specific Fine-Tuning in LLMs",
}
"""The papers in shared/seeds, by number: the page lists every one of them."""

HEADER = (
    HeaderCell("paper", "paper", "the paper's number in shared/seeds and its title"),
    HeaderCell("claim", "claim", "the claim in one sentence; below it the paper's own number"),
    HeaderCell("study", "study", "the study file that tests it, and its track"),
    HeaderCell("rule", "rule", "the quantity and the side of the number the paper claims it is on"),
    HeaderCell("measured", "measured", "the quantity with its 95% paired-bootstrap interval; below it each "
               "entry's score"),
    HeaderCell("verdict", "verdict", "reproduced / contradicted / inconclusive by the rule; 'not run' without runs"),
    HeaderCell("protocol", "protocol differences", "how the study differs from the paper (scale, model, data)"),
)


def _seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds / 60:.0f} min of runs" if seconds >= 60 else f"{seconds:.0f} s of runs"


def _number(value: float, ratio: bool) -> str:
    return f"{value:.3f}" if ratio else fmt(value, signed=True)


def _measured(result: ClaimResult, study: StudyClaims) -> Cell:
    if result.verdict == NOT_RUN:
        why = "; ".join(result.notes)
        return Cell(None, NOT_RUN, detail=f"{why}. Run: {study.command}")
    entries = "; ".join(f"{e.entry} {fmt(e.score.value)} [{fmt(e.score.low)}, {fmt(e.score.high)}] "
                        f"(seeds {', '.join(map(str, e.seeds))})" for e in result.entries)
    if result.estimate is None:  # an undefined ratio
        return Cell(None, "undefined", detail="; ".join([*result.notes, entries]))
    est, ratio = result.estimate, result.claim.quantity.kind == "ratio"
    detail = f"[{_number(est.low, ratio)}, {_number(est.high, ratio)}]; {entries}"
    if result.notes:
        detail += "; " + "; ".join(result.notes)
    return Cell(est.value, _number(est.value, ratio), detail=detail, ci=(est.low, est.high))


def _claim_row(result: ClaimResult, study: StudyClaims) -> tuple[Cell, ...]:
    claim = result.claim
    run_note = f"{study.n_runs} runs, {_seconds(study.run_seconds)}" if study.n_runs else "no runs yet"
    return (
        Cell(claim.paper, claim.paper, detail=PAPERS.get(claim.paper, "")),
        Cell(claim.statement, claim.statement, detail=f"Paper: {claim.paper_result}"),
        Cell(study.study, study.study, detail=f"track {study.track}, seeds {', '.join(map(str, study.seeds))}; "
                                              f"{run_note}; {study.command}"),
        Cell(f"{result.quantity} {claim.claimed}", f"{result.quantity} {claim.claimed}", detail=claim.id),
        _measured(result, study),
        Cell(result.verdict, result.verdict),
        Cell(claim.protocol, claim.protocol),
    )


def _no_claims_row(paper: str) -> tuple[Cell, ...]:
    return (
        Cell(paper, paper, detail=PAPERS[paper]),
        Cell(None, "no claims yet", detail="no study in submissions/studies/ states a claim of this paper"),
        Cell(None, ""), Cell(None, ""), Cell(None, ""), Cell(None, "no study"), Cell(None, ""),
    )


def reproductions_table(studies: Sequence[StudyClaims]) -> Table:
    """One row per claim, papers in number order (claims in study-file order within a paper), plus one row for each
    paper of PAPERS that no study claims anything for."""
    rows: list[tuple[tuple[str, int], tuple[Cell, ...], str]] = []
    for position, (result, study) in enumerate((r, s) for s in studies for r in s.results):
        rows.append(((result.claim.paper, position), _claim_row(result, study), result.verdict))
    claimed = {r.claim.paper for s in studies for r in s.results}
    rows += [((paper, -1), _no_claims_row(paper), "no study") for paper in PAPERS if paper not in claimed]
    rows.sort(key=lambda item: item[0])
    kinds = tuple("invalid" if verdict in (NOT_RUN, "no study") else "" for _, _, verdict in rows)
    return Table("reproductions", "Reproductions: the papers' claims, decided by the runs", HEADER,
                 tuple(cells for _, cells, _ in rows), kinds)


def _cell(text: str) -> str:
    return markdown_text(text)


def _measured_text(result: ClaimResult) -> str:
    if result.estimate is None:
        return result.verdict if result.verdict == NOT_RUN else "undefined"
    est, ratio = result.estimate, result.claim.quantity.kind == "ratio"
    return f"{_number(est.value, ratio)} [{_number(est.low, ratio)}, {_number(est.high, ratio)}]"


def reproductions_markdown(studies: Sequence[StudyClaims]) -> str:
    """The page as a Markdown document (docs/reproductions.md): the rule, a summary table (one row per claim, every
    paper listed), then each claim in full: the paper's number, the protocol differences and every entry's score."""
    lines = ["# Reproductions", "",
             "Generated by `harness reproductions --markdown docs/reproductions.md` from the runs of every study in "
             "`submissions/studies/` that states claims; do not edit by hand. The site has the same table "
             "(`reproductions.html`, exported as CSV, JSON and Markdown).", "", CLAIM_RULE, "",
             "| paper | claim | study (track) | rule | measured [95% CI] | verdict |", "|---|---|---|---|---|---|"]
    claimed = {r.claim.paper for s in studies for r in s.results}
    rows = [(r.claim.paper, i, r, s) for i, (r, s) in enumerate((r, s) for s in studies for r in s.results)]
    rows += [(paper, -1, None, None) for paper in PAPERS if paper not in claimed]
    for paper, _, result, study in sorted(rows, key=lambda row: row[:2]):
        if result is None:
            lines.append(f"| {paper} | no claims yet | | | | no study |")
            continue
        lines.append(f"| {paper} | [{result.claim.id}](#{study.study}-{result.claim.id}) | {_cell(study.study)} "
                     f"({_cell(study.track)}) | {_cell(result.quantity + ' ' + result.claim.claimed)} | "
                     f"{markdown_text(_measured_text(result), guard=False)} | {result.verdict} |")
    for paper, title in PAPERS.items():
        mine = [(r, s) for s in studies for r in s.results if r.claim.paper == paper]
        lines += ["", f"## {paper}: {_cell(title)}", ""]
        if not mine:
            lines.append("No study in `submissions/studies/` states a claim of this paper yet.")
        for result, study in mine:
            claim = result.claim
            lines += [f'<a id="{study.study}-{claim.id}"></a>', f"**{_cell(claim.statement)}** "
                      f"(`{claim.id}`, study `{study.study}`, track `{study.track}`)", "",
                      f"- Paper: {_cell(claim.paper_result)}",
                      f"- Protocol differences: {_cell(claim.protocol)}",
                      f"- Rule: `{result.quantity} {claim.claimed}`: " + (
                          f"**{result.verdict}**" if result.estimate is None
                          else f"measured {markdown_text(_measured_text(result), guard=False)}, **{result.verdict}**")]
            for e in result.entries:
                lines.append(f"  - {_cell(e.entry)}: {claim.quantity.metric} {fmt(e.score.value)} "
                             f"[{fmt(e.score.low)}, {fmt(e.score.high)}], seeds {', '.join(map(str, e.seeds))}")
            lines += [f"  - note: {_cell(n)}" for n in result.notes]
            ran = f"{study.n_runs} valid runs, {_seconds(study.run_seconds)}" if study.n_runs else "no runs yet"
            lines += [f"- Study: {ran}; run it with `{study.command}`", ""]
    return "\n".join(lines).rstrip("\n") + "\n"
