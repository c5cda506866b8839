"""Folder and file names from untrusted names: injective, and provably inside their root.

Submission, track, study and point names are user text (docs/runs.md). Every path the harness builds
from one goes through `path_component` (one folder or file name) or `path_under` (root plus names), so:

- No component can leave its root: it is never empty, ".", "..", hidden (a leading "."), and never holds
  a path separator, because every character outside [A-Za-z0-9_=.-] is escaped (and a leading or
  trailing "." too).
- Two different names never share a component (injective). The escape is percent-style over the UTF-8
  bytes: "a/b" -> "a%2Fb", "a_b" -> "a_b", "a%2Fb" -> "a%252Fb". Decoding the escapes gives the name back,
  so equal components mean equal names. Only ASCII letters, digits and "_=.-" are kept verbatim, so a
  file system that folds Unicode normalisation cannot merge two components either (the escape's hex
  digits are upper case and a kept "%" cannot occur, so even case folding only merges names that differ
  in the case of ASCII letters; the runner refuses a folder that holds another entry's record).
- Names whose escaped form would exceed MAX_COMPONENT characters keep a readable prefix and end in
  "<escape><escape>" plus the SHA-256 of the name: no short form contains a doubled escape, so long
  forms never meet short ones, and two long forms meet only on a SHA-256 collision.

Names that are already plain (every baseline, track and point label in this repository) map to
themselves, so existing run folders and caches keep their paths.
"""

from __future__ import annotations

import hashlib
import string
from pathlib import Path

KEEP = frozenset(string.ascii_letters + string.digits + "_=.-")
"""Characters kept verbatim (a "." only inside the name). Both escape characters are outside it."""

MAX_COMPONENT = 160
"""Characters of an escaped name before it is shortened: file systems allow 255 bytes per component,
and the run folder adds "@" and the escaped point label."""


def path_component(name: str, escape: str = "%") -> str:
    """One folder or file name for an untrusted name; see the module docstring for the guarantees.

    escape is "%" for run folders and caches, "~" for the site (a "%" in an href would be decoded by
    the browser).
    """
    if escape not in ("%", "~"):
        raise ValueError(f"escape must be '%' or '~', not {escape!r}")
    if not isinstance(name, str) or not name:
        raise ValueError(f"a name used in a path must be non-empty text, got {name!r}")
    last = len(name) - 1
    out = []
    for i, char in enumerate(name):
        if char in KEEP and not (char == "." and i in (0, last)):
            out.append(char)
        else:
            out.extend(f"{escape}{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
    encoded = "".join(out)
    if len(encoded) <= MAX_COMPONENT:
        return encoded
    cut = encoded[:48]
    if escape in cut[-2:]:  # do not split an escape
        cut = cut[: cut.rindex(escape)]
    return f"{cut}{escape}{escape}{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()}"


def path_under(root: Path | str, *names: str, escape: str = "%") -> Path:
    """root / component(name) / ...: a path that stays under root whatever the names hold."""
    root = Path(root)
    path = root.joinpath(*(path_component(name, escape) for name in names))
    parts = path.parts[len(root.parts):]
    if len(parts) != len(names) or any(p in ("", ".", "..") or "/" in p or "\\" in p for p in parts):
        raise AssertionError(f"{path} would leave {root}")  # unreachable: path_component guarantees it
    return path
