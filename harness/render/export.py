"""CSV, JSON and Markdown views of a Table, and a JSON view of the whole Leaderboard. Pure: strings out.

Cells hold untrusted text (submission names, descriptions), so each view escapes for its own
reader: CSV guards against spreadsheet formulas, Markdown against table breaks and raw HTML.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json

from harness.render.tables import Table
from harness.scoring import Leaderboard

# A spreadsheet runs a cell that starts with one of these as a formula ("CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (dict, list, tuple)):
        text = json.dumps(value, sort_keys=True)
    else:
        text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _has_ci(table: Table, column: int) -> bool:
    return any(row[column].ci is not None for row in table.rows)


def table_to_csv(table: Table) -> str:
    """One column per header cell, plus <key>_low and <key>_high after each column with intervals."""
    ci_columns = [_has_ci(table, i) for i in range(len(table.header))]
    names = []
    for head, has_ci in zip(table.header, ci_columns):
        names += [head.key, f"{head.key}_low", f"{head.key}_high"] if has_ci else [head.key]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in table.rows:
        line = []
        for cell, has_ci in zip(row, ci_columns):
            line.append(_csv_text(cell.value))
            if has_ci:
                line += [_csv_text(cell.ci[0]), _csv_text(cell.ci[1])] if cell.ci else ["", ""]
        writer.writerow(line)
    return out.getvalue()


def table_to_json(table: Table) -> str:
    """{"title", "columns", "rows"}: each row maps a column key to its value, and <key>_ci to [low, high]."""
    rows = []
    for row in table.rows:
        item = {}
        for head, cell in zip(table.header, row):
            item[head.key] = cell.value
            if cell.ci is not None:
                item[f"{head.key}_ci"] = list(cell.ci)
        rows.append(item)
    columns = [dataclasses.asdict(head) for head in table.header]
    return json.dumps({"title": table.title, "columns": columns, "rows": rows}, indent=2, ensure_ascii=False) + "\n"


def _markdown_text(text: str) -> str:
    """One table cell: no line breaks, no pipes, no raw HTML (renderers pass HTML through), no links.

    Breaking "](" is enough to stop an inline link and keeps "[48.2, 53.9]" readable.
    """
    text = " ".join(text.split())
    for raw, safe in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|"), ("](", "]\\(")):
        text = text.replace(raw, safe)
    return text


def table_to_markdown(table: Table) -> str:
    lines = [f"### {_markdown_text(table.title)}", ""]
    lines.append("| " + " | ".join(_markdown_text(h.label) for h in table.header) + " |")
    lines.append("|" + "|".join("---" for _ in table.header) + "|")
    for row in table.rows:
        lines.append("| " + " | ".join(_markdown_text(f"{cell.display} {cell.detail}".strip()) for cell in row) + " |")
    return "\n".join(lines) + "\n"


EXPORTS = {"csv": table_to_csv, "json": table_to_json, "md": table_to_markdown}
"""File extension -> view; the site writes one file per table and extension."""


def leaderboard_to_json(board: Leaderboard) -> str:
    """Every scored row with all its fields: the machine-readable leaderboard."""
    return json.dumps(dataclasses.asdict(board), indent=2, ensure_ascii=False) + "\n"
