"""Every YAML file the harness reads goes through one reader that accepts plain UTF-8 data only,
and each refusal names the file and the line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness import yaml_loader
from harness.cli import main
from harness.config import load_task_config, load_track
from harness.errors import ConfigError
from harness.study import load_study
from harness.submissions import load_submission
from harness.suites import load_suite, read_local_template
from harness.yaml_loader import MAX_BYTES, MAX_DEPTH, read_yaml

REPO = Path(__file__).resolve().parents[2]
SUB = "name: x\nmethod: sft\ndescription: plain\nhyperparameters: {learning_rate: 1.0e-3}\n"


def _refused(path: Path, *phrases: str, line: int | None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        read_yaml(path)
    err = info.value
    assert err.path == str(path) and err.line == line, (err.path, err.line, str(err))
    for phrase in phrases:
        assert phrase in err.message, err.message
    assert str(err).startswith(f"{path}:{line}: " if line else f"{path}: ")
    return err


def test_plain_utf8_reads_and_a_utf8_bom_is_ignored(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_bytes(SUB.replace("plain", "café ✓").encode("utf-8"))
    assert read_yaml(p)["description"] == "café ✓"
    p.write_bytes(b"\xef\xbb\xbf" + SUB.encode())
    assert read_yaml(p)["name"] == "x"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_with_a_byte_order_mark_are_refused(tmp_path, encoding):
    p = tmp_path / "s.yaml"
    p.write_bytes((SUB.encode(encoding) if encoding != "utf-16-be" else b"\xfe\xff" + SUB.encode(encoding)))
    _refused(p, encoding.split("-")[0].upper().replace("UTF", "UTF-"), "save it as UTF-8", line=1)


def test_utf16_without_a_byte_order_mark_is_refused(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_bytes(SUB.encode("utf-16-le"))
    _refused(p, "NUL bytes", "UTF-8", line=1)


def test_latin1_is_refused_with_its_line_and_column(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_bytes(SUB.replace("plain", "café").encode("latin-1"))
    _refused(p, "not UTF-8", "byte 0xe9 at column 17", "Latin-1", "save the file as UTF-8", line=3)


@pytest.mark.parametrize("text,line,phrase", [
    ("name: x\nmethod: sft\nname: y\n", 3, "duplicate key 'name' (first at line 1)"),
    ("name: x\nhyperparameters:\n  learning_rate: 1\n  warmup_steps: 2\n  learning_rate: 3\n", 5,
     "duplicate key 'learning_rate' (first at line 3)"),
    ("name: x\nhyperparameters: {a: 1, a: 2}\n", 2, "duplicate key 'a'"),
    ("name: x\nsteps: &n 3\nmax_steps: *n\n", 2, "anchor '&n' is not allowed"),
    ("base: {a: 1}\nother:\n  <<: {b: 2}\n", 3, "merge key '<<' is not allowed"),
    ("name: !!python/object/apply:os.system ['touch MARKER']\n", 1, "tag '!!python/object/apply:os.system' is not allowed"),
    ("name: x\nblob: !!binary aGVsbG8=\n", 2, "tag '!!binary' is not allowed"),
    ("name: x\nwhen: !!timestamp 2024-01-01\n", 2, "tag '!!timestamp' is not allowed"),
    ("name: !custom x\n", 1, "tag '!custom' is not allowed"),
    ("name: x\nmethod: [sft\n", 3, "not valid YAML"),
    ("name: x\n---\nname: y\n", 2, "expected a single document"),
    ("- a\n- b\n", 1, "expected a mapping of fields at the top level"),
])
def test_non_plain_yaml_is_refused_with_the_line(tmp_path, monkeypatch, text, line, phrase):
    monkeypatch.chdir(tmp_path)
    p = tmp_path / "s.yaml"
    p.write_text(text)
    _refused(p, phrase, line=line)
    assert not (tmp_path / "MARKER").exists()


def test_an_alias_is_refused_even_without_an_anchor_error_first(tmp_path):
    from harness.yaml_loader import parse_yaml

    with pytest.raises(ConfigError, match="alias"):
        parse_yaml("a: *missing\n", tmp_path / "s.yaml")


def test_standard_tags_are_plain_data(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: !!str 123\nn: !!int '4'\nitems: !!seq [1, 2]\n")
    assert read_yaml(p) == {"name": "123", "n": 4, "items": [1, 2]}


def test_nesting_depth_is_bounded(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n")
    read_yaml(p)  # MAX_DEPTH levels including the top mapping
    p.write_text("a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n")
    _refused(p, f"nested deeper than {MAX_DEPTH} levels", line=1)
    p.write_text("a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, MAX_DEPTH + 2)) + "  " * (MAX_DEPTH + 2) + "v\n")
    _refused(p, "nested deeper", line=MAX_DEPTH)  # the line of the key whose value is too deep


def test_file_size_is_bounded(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(SUB + "#" * (MAX_BYTES - len(SUB)))
    read_yaml(p)
    p.write_text(SUB + "#" * (MAX_BYTES - len(SUB) + 1))
    _refused(p, f"limited to {MAX_BYTES:,}", line=None)


def test_a_missing_file_is_named(tmp_path):
    _refused(tmp_path / "nope.yaml", "file not found", line=None)


# -------------------------------------------------------- every kind of file goes through the reader

DUP = "\nname: again\n"


def test_submissions_use_the_reader(tmp_path, capsys):
    p = tmp_path / "sub.yaml"
    p.write_text(SUB + DUP)
    with pytest.raises(ConfigError, match="duplicate key 'name'"):
        load_submission(p)
    assert main(["validate", str(p)]) == 2
    err = capsys.readouterr().err.replace("\n", " ")
    assert f"{p.name}:6:" in err and "duplicate key 'name'" in err and "Traceback" not in err


def test_tracks_use_the_reader(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_bytes((REPO / "tests/fixtures/micro-track.yaml").read_text().replace("micro", "micrö", 1).encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8") as info:
        load_track(p)
    assert info.value.line is not None


def test_task_files_use_the_reader(tmp_path, monkeypatch):
    shutil.copytree(REPO / "tasks", tmp_path / "tasks")
    monkeypatch.setenv("HARNESS_TASKS_DIR", str(tmp_path / "tasks"))
    task = tmp_path / "tasks" / "parity.yaml"
    task.write_text(task.read_text() + "params: {n_bits: 4}\n")
    with pytest.raises(ConfigError, match="duplicate key 'params'") as info:
        load_task_config("parity")
    assert info.value.path == str(task) and info.value.line is not None


def test_studies_use_the_reader(tmp_path):
    p = tmp_path / "study.yaml"
    p.write_text("name: s\ntrack: tiny-parity\nsubmissions:\n  - &one {name: a, method: sft}\n  - *one\n")
    with pytest.raises(ConfigError, match="anchor '&one'") as info:
        load_study(p)
    assert info.value.line == 4


def test_suites_and_local_template_headers_use_the_reader(tmp_path, monkeypatch):
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: s\ntasks: !!python/name:os.system\n")
    with pytest.raises(ConfigError, match="tag '!!python/name:os.system'") as info:
        load_suite(str(suite))
    assert info.value.line == 2
    shutil.copytree(REPO / "tasks", tmp_path / "tasks")
    monkeypatch.setenv("HARNESS_TASKS_DIR", str(tmp_path / "tasks"))
    template = tmp_path / "tasks" / "lmeval" / "bbh.yaml"
    head, sep, body = template.read_text().partition("\n---\n")
    template.write_text(head + "\nrequires: []" + sep + body)
    with pytest.raises(ConfigError, match="duplicate key 'requires' \\(first at line 4\\)") as info:
        read_local_template("bbh")
    assert info.value.line == 13


def test_every_shipped_yaml_file_reads():
    files = [*(REPO / "tasks").glob("*.yaml"), *(REPO / "tasks/tracks").glob("*.yaml"), *(REPO / "tasks/suites").glob("*.yaml"),
             *(REPO / "submissions").rglob("*.yaml"), REPO / "tests/fixtures/micro-track.yaml"]
    assert len(files) > 30
    for path in files:
        assert isinstance(read_yaml(path), dict), path
    for path in (REPO / "tasks/lmeval").glob("*.yaml"):
        read_local_template(path.stem)
    assert yaml_loader.MAX_BYTES > max(p.stat().st_size for p in files) * 10


# ------------------------------------------------------------ field errors carry the line of the field

def test_field_errors_name_the_line_of_the_field(tmp_path, capsys):
    p = tmp_path / "sub.yaml"
    p.write_text("name: x\nmethod: sft\nhyperparameters:\n  learning_rate: fast\n  lr: 0.1\nseeds: [1]\n")
    assert main(["validate", str(p)]) == 2
    err = capsys.readouterr().err.replace("\n", " ")
    assert f"{p.name}:6: field 'seeds'" in err  # track-fixed fields are reported first, alone
    p.write_text("name: x\nmethod: sft\nhyperparameters:\n  learning_rate: fast\n  lr: 0.1\n")
    assert main(["validate", str(p)]) == 2
    err = capsys.readouterr().err.replace("\n", " ")
    assert f"{p.name}:4: field 'hyperparameters.learning_rate'" in err
    assert f"{p.name}:5: field 'hyperparameters.lr'" in err


def test_track_field_errors_name_the_line(tmp_path):
    text = (REPO / "tests/fixtures/micro-track.yaml").read_text()
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "n_test: 24" in row)
    p = tmp_path / "t.yaml"
    p.write_text(text.replace("n_test: 24", "n_test: many"))
    with pytest.raises(ConfigError, match="eval.n_test") as info:
        load_track(p)
    assert info.value.line == line
