"""CSV, JSON and Markdown views of a Table, and a JSON view of the whole Leaderboard. Pure: strings out.

Cells hold untrusted text (submission names, descriptions), so each view escapes for its own
reader. Every text cell of every view goes through `neutralise` first: line breaks of every kind
become "\n", other control characters (NUL, tab, DEL, C1, bidirectional overrides) become visible
escapes such as "\x00", and no line of the text starts a spreadsheet formula. CSV then quotes
cells that hold a line break; Markdown also folds each cell onto one line and guards against table
breaks and raw HTML.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re

from harness.render.tables import Table
from harness.scoring import Leaderboard

# A spreadsheet runs a cell (or, for some readers, a line of a cell) that starts with one of these as a
# formula ("CSV injection"). Tab and carriage return cannot start a line after `neutralise` escapes them.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# Every line boundary str.splitlines knows: a bare "\r" starts a new row in some CSV readers.
_LINE_BREAK = re.compile(r"\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
# C0 (tab included, "\n" excluded: it is the one line break left), DEL, C1, and the bidirectional controls
# that can make a cell display other text than it holds.
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape_control(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def neutralise(text: str) -> str:
    """Untrusted text made safe for a spreadsheet or a table: every line break becomes "\\n", every other
    control character a visible escape ("\\x00", "\\x09", "\\u202e"), and a line that would start a
    formula gets a leading "'" (the spreadsheet convention for "this is text")."""
    text = _CONTROL.sub(_escape_control, _LINE_BREAK.sub("\n", text))
    return "\n".join("'" + line if line.startswith(_FORMULA_START) else line for line in text.split("\n"))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _csv_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True)  # starts with "{" or "["; json escapes control characters
    return neutralise(str(value))


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
    writer.writerow([neutralise(name) for name in names])
    for row in table.rows:
        line = []
        for cell, has_ci in zip(row, ci_columns):
            line.append(_csv_text(cell.value))
            if has_ci:
                line += [_csv_text(cell.ci[0]), _csv_text(cell.ci[1])] if cell.ci else ["", ""]
        writer.writerow(line)
    return out.getvalue()


def _neutralise_json(value: object) -> object:
    """Every string in a JSON-able value (dict keys included) through `neutralise`; numbers stay numbers."""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, dict):
        return {_neutralise_json(k): _neutralise_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_neutralise_json(v) for v in value]
    return value


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
    data = _neutralise_json({"title": table.title, "columns": columns, "rows": rows})
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def markdown_text(text: str, guard: bool = True) -> str:
    """One table cell: no line breaks, no control characters, no pipes, no raw HTML (renderers pass HTML
    through), no links, and (with guard, for text cells) no formula start.

    Breaking "](" is enough to stop an inline link and keeps "[48.2, 53.9]" readable. Numbers are not
    guarded: "+1.5 [+0.3, +2.0]" is how a delta reads.
    """
    text = _CONTROL.sub(_escape_control, " ".join(text.split()))  # split() knows every line break
    if guard:
        text = neutralise(text)
    for raw, safe in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|"), ("](", "]\\(")):
        text = text.replace(raw, safe)
    return text


def table_to_markdown(table: Table) -> str:
    lines = [f"### {markdown_text(table.title)}", ""]
    lines.append("| " + " | ".join(markdown_text(h.label) for h in table.header) + " |")
    lines.append("|" + "|".join("---" for _ in table.header) + "|")
    for row in table.rows:
        lines.append("| " + " | ".join(markdown_text(f"{cell.display} {cell.detail}".strip(),
                                                      guard=not _is_number(cell.value)) for cell in row) + " |")
    return "\n".join(lines) + "\n"


EXPORTS = {"csv": table_to_csv, "json": table_to_json, "md": table_to_markdown}
"""File extension -> view; the site writes one file per table and extension."""


def leaderboard_to_json(board: Leaderboard) -> str:
    """Every scored row with all its fields: the machine-readable leaderboard."""
    return json.dumps(dataclasses.asdict(board), indent=2, ensure_ascii=False) + "\n"
