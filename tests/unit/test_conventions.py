"""Habits of the people who use the harness: lm-eval's CLI conventions and file shapes, a hub-ready export,
`harness ls`, `harness schema` and `--set`."""

import json
from pathlib import Path

import pytest

from harness import cli
from harness.catalog import json_schema, listing
from harness.errors import ConfigError, ConfigErrors
from harness.lmeval_format import results_document, write_lm_eval_output
from harness.methods import method_names
from harness.render.hub import push_hub_dataset, write_hub_dataset
from harness.scoring import score_runs
from harness.submissions import load_submissions, parse_overrides
from tests.unit.test_render import metrics, write_run

REPO = Path(__file__).resolve().parents[2]
SFT = REPO / "submissions" / "baselines" / "sft.yaml"
TALR = REPO / "submissions" / "baselines" / "talr.yaml"


# ------------------------------------------------------------------------------------------ CLI conventions


def test_global_options_work_after_the_subcommand_too(tmp_path):
    parser = cli.build_parser()
    after = parser.parse_args(["audit-grader", "math500", "--data-dir", str(tmp_path)])
    before = parser.parse_args(["--data-dir", str(tmp_path), "audit-grader", "math500"])
    neither = parser.parse_args(["audit-grader", "math500"])
    assert after.data_dir == before.data_dir == str(tmp_path)
    assert neither.data_dir is None


def test_audit_grader_takes_data_dir_after_the_task(capsys):
    data = REPO.parent / "shared" / "datasets"
    if not (data / "math500").is_dir():
        pytest.skip("the shared benchmark data is not beside the checkout")
    assert cli.main(["audit-grader", "math500", "--data-dir", str(data), "--max-rows", "1"]) == 0
    assert "math500" in capsys.readouterr().out


def test_ls_methods_lists_every_registered_method(capsys):
    assert cli.main(["ls", "methods", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [m["name"] for m in listed] == sorted(method_names())
    assert all(m["description"] for m in listed)
    assert cli.main(["ls", "methods"]) == 0
    assert "talr" in capsys.readouterr().out


@pytest.mark.parametrize("kind", ["tracks", "tasks", "suites", "studies"])
def test_ls_lists_every_kind_with_descriptions(kind):
    items = listing(kind)
    assert items and all(item["name"] for item in items)
    assert sum(bool(item["description"]) for item in items) >= len(items) / 2


def test_schema_carries_field_docs_and_checks_hyperparameters_per_method(capsys):
    assert cli.main(["schema", "submission"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "method" in schema["required"] and set(schema["properties"]["method"]["enum"]) == set(method_names())
    talr = next(b["then"] for b in schema["allOf"] if b["if"]["properties"]["method"]["const"] == "talr")
    floor = talr["properties"]["hyperparameters"]["properties"]["floor"]
    assert floor["description"] and floor["default"] == 0.01
    assert talr["properties"]["hyperparameters"]["additionalProperties"] is False
    jsonschema = pytest.importorskip("jsonschema")
    good = {"name": "x", "method": "talr", "hyperparameters": {"floor": 0.02, "learning_rate": [1e-4, 1e-3]}}
    jsonschema.validate(good, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**good, "hyperparameters": {"flor": 0.02}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**good, "hyperparameters": {"floor": "high"}}, schema)


@pytest.mark.parametrize("kind", ["track", "study"])
def test_schema_of_tracks_and_studies_documents_their_fields(kind):
    schema = json_schema(kind)
    assert schema["properties"]["name"]["type"] == "string"
    assert any(prop.get("description") for prop in schema["properties"].values())


def test_set_overrides_hyperparameters_and_gives_the_run_its_own_name():
    overrides = parse_overrides(["learning_rate=3e-4", "floor=0.02"])
    assert overrides == {"learning_rate": 3e-4, "floor": 0.02}
    (sub,) = load_submissions(TALR, overrides=overrides)
    assert sub.hyperparameters["learning_rate"] == 3e-4 and sub.hyperparameters["floor"] == 0.02
    assert sub.name.startswith("talr.set-") and "learning_rate=0.0003,floor=0.02" in sub.description
    (other,) = load_submissions(TALR, overrides={"floor": 0.03})
    assert other.name != sub.name  # a distinct --set is a distinct entry
    swept = load_submissions(SFT, overrides=parse_overrides(["learning_rate=[1e-4, 1e-3]"]))
    assert [s.hyperparameters["learning_rate"] for s in swept] == [1e-4, 1e-3]


def test_set_refuses_an_unknown_key_naming_it_and_the_allowed_fields():
    with pytest.raises(ConfigErrors) as err:
        load_submissions(SFT, overrides={"flor": 0.02})
    text = str(err.value)
    assert "--set" in text and "'flor'" in text and "learning_rate" in text and "warmup_steps" in text


def test_validate_takes_set_too(capsys):
    assert cli.main(["validate", str(TALR), "--set", "floor=0.05"]) == 0
    assert "talr[floor=0.05]" not in capsys.readouterr().err
    assert cli.main(["validate", str(TALR), "--set", "flor=0.05"]) == 2
    assert "no hyperparameter 'flor'" in capsys.readouterr().err


def test_set_refuses_a_wrong_type_naming_the_key():
    with pytest.raises(ConfigErrors) as err:
        load_submissions(TALR, overrides=parse_overrides(["floor=high"]))
    assert "--set: field 'floor': 'high'" in str(err.value) and "allowed fields: floor, " in str(err.value)
    with pytest.raises(ConfigErrors):
        load_submissions(SFT, overrides={"learning_rate": -1.0})
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_overrides(["learning_rate"])


# --------------------------------------------------------------------------------- lm-eval-shaped results


def _record() -> dict:
    rec = metrics("sft", 0.6)
    rec["tasks"]["arc"] = {"role": "general", "score": 55.0, "metric": "acc_norm", "n": 4, "item_scores": [1, 0, 1, 0],
                           "source": "lm-eval", "stderr": 2.5, "n_shot": 0, "task_version": 1.0,
                           "lm_eval_task": "arc_easy"}
    return rec


def test_lm_eval_shaped_results_read_like_lm_evals_own(tmp_path):
    from lm_eval.utils import get_latest_filename, get_results_filenames, get_sample_results_filenames, make_table

    rec = _record()
    run = write_run(tmp_path / "runs", rec)
    own = tmp_path / "lmeval-output" / "samples_arc.jsonl"  # as harness.lmeval keeps lm-eval's own records
    own.parent.mkdir()
    own.write_text(json.dumps({"doc_id": 0, "doc": {"q": "?"}, "filter": "none", "acc_norm": 1.0}) + "\n")
    write_lm_eval_output(run, rec, {"dom": [json.loads(l) for l in (run / "samples" / "dom.jsonl").open()]},
                         {"temperature": 0.0}, {"git_commit": "abcdef123"}, {"arc": [own]})
    files = [str(p) for p in sorted((run / "lm-eval").iterdir())]
    results = json.loads(Path(get_latest_filename(get_results_filenames(files))).read_text())
    assert results["results"]["dom"]["avg@1,none"] == pytest.approx(rec["tasks"]["dom"]["score"] / 100)
    assert 0 < results["results"]["dom"]["avg@1_stderr,none"] < 0.1
    assert results["results"]["arc"]["acc_norm,none"] == 0.55 and results["results"]["arc"]["acc_norm_stderr,none"] == 0.025
    assert results["n-samples"]["dom"] == {"original": 60, "effective": 60}
    assert results["versions"]["arc"] == 1.0 and results["configs"]["dom"]["task"] == "dom"
    table = make_table(results)  # lm-eval's own table printer
    assert "dom" in table and "acc_norm" in table and "0.550" in table
    samples = sorted(get_sample_results_filenames(files))
    assert [Path(s).name.split("_")[1] for s in samples] == ["arc", "dom"]
    dom = [json.loads(l) for l in Path(samples[1]).read_text().splitlines()]
    assert len(dom) == 30 and {"doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "filter", "metrics",
                               "doc_hash", "prompt_hash", "target_hash", "avg@1"} <= set(dom[0])
    assert dom[0]["avg@1"] == 0.0 and dom[1]["avg@1"] == 1.0 and dom[1]["resps"] == [["answer 1 </pre>"]]
    assert json.loads(Path(samples[0]).read_text()) == json.loads(own.read_text())  # lm-eval's own, unchanged


def test_tasks_that_did_not_run_are_left_out_of_the_lm_eval_results():
    rec = _record()
    rec["tasks"]["arc"]["status"] = "dropped"
    assert set(results_document(rec, {})["results"]) == {"dom", "gen"}


# --------------------------------------------------------------------------------------------- hub export


def test_export_loads_with_datasets_and_carries_a_card(tmp_path, capsys, monkeypatch):
    from datasets import load_dataset

    runs = tmp_path / "runs"
    write_run(runs, metrics("base", 0.3))
    write_run(runs, metrics("sft", 0.6))
    write_run(runs, metrics("=cmd|' /C calc'!A0", 0.5), dir_name="evil")
    monkeypatch.setattr(cli, "list_tracks", lambda: [])
    monkeypatch.setattr("harness.render.hub.score_runs", lambda records, versions: score_runs(records, {"t": "v1"}))
    out = tmp_path / "export"
    assert cli.main(["export", "--hf", str(out), "--runs-dir", str(runs)]) == 0
    board = load_dataset(str(out), split="train")
    assert sorted(board["submission"]) == ["'=cmd|' /C calc'!A0", "base", "sft"]
    assert set(board.column_names) >= {"track", "rank", "domain", "domain_low", "general_delta_high", "hyperparameters"}
    tasks = load_dataset(str(out), "tasks", split="train")
    assert set(tasks["task"]) == {"dom", "gen"} and len(tasks) == 6
    assert len(load_dataset(str(out), "runs", split="train")) == 3
    card = (out / "README.md").read_text()
    assert "S = domain delta + general delta" in card and "| t | v1 | 3 |" in card and "licence" in card


def test_push_without_a_token_says_so_after_writing_the_export(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)  # no token anywhere (env, cache, Colab)
    board = score_runs([metrics("base", 0.3)], {"t": "v1"})
    out = write_hub_dataset(board, tmp_path / "export")
    from harness.render.hub import HubPushError

    with pytest.raises(HubPushError, match="no Hugging Face token.*written.*HF_TOKEN"):
        push_hub_dataset(out, "org/name")
    assert (out / "leaderboard.parquet").is_file()


# ------------------------------------------------------------------------------------------------ the site


def test_hyperparameter_cells_show_what_differs_from_the_method_defaults_on_the_track():
    from harness.methods import config_class
    from harness.render import tables
    from harness.render.site import method_defaults, method_summary

    resolved = config_class("talr")(floor=0.02).model_dump()
    cell = tables._hyperparameters(resolved, method_defaults("no-such-track", "talr"))
    assert cell.display == "floor=0.02" and cell.value == dict(sorted(resolved.items()))
    assert "warmup_steps=10" in cell.more and "floor=0.02" in cell.more
    # on a track whose training.hyperparameters set the learning rate, that rate is the default there
    track_rate = method_defaults("tiny-parity", "sft")["learning_rate"]
    on_track = config_class("sft")(learning_rate=track_rate).model_dump()
    assert tables._hyperparameters(on_track, method_defaults("tiny-parity", "sft")).display == "defaults"
    assert tables._hyperparameters(resolved, None).display.count("=") == len(resolved)  # unknown method: all
    assert method_defaults("tiny-parity", "no-such-method") is None and method_summary("no-such-method") == ""
    assert "tau" in method_summary("talr")


# ------------------------------------------------------------------------------------------ terminal tables


def _render(table, width: int) -> str:
    from rich.console import Console

    console = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"))
    console.print(table)
    return console.export_text()


def test_the_results_table_reads_at_80_columns():
    names = ["sft-lr-small-with-a-long-name", "talr[learning_rate=0.0003,floor=0.02]", "base"]
    rows = [{"submission": n, "seed": 0, "status": "ok", "method": "base" if n == "base" else "sft", "point": None,
             "domain": 48.5 + 51.5 * (n != "base"), "general": 92.9, "wall_seconds": {"train": 22.4},
             "budget": {"used": {"gradient_tokens": 150000, "optimizer_steps": 120, "rollouts": 4096}}}
            for n in names]
    text = _render(cli.results_table("tiny-parity", rows), 80)
    lines = text.rstrip("\n").splitlines()
    assert max(map(len, lines)) <= 80
    assert all(line.rstrip()[-1] in "┓┃┩│┘" for line in lines[1:]), text  # no column cut at the right edge
    assert "…" not in text
    assert "(+51.5)" in text and "150,000 tok" in text and "4,096 rollouts" in text
    flat = "".join(line.split("│")[1].strip() for line in text.splitlines() if line.count("│") > 2)
    for name in names:
        assert name in flat  # whole, if folded over lines


def test_the_compare_table_reads_at_80_columns():
    from harness.compare import CompareResult, CompareRow, render_compare_table

    row = CompareRow(name="a-general-task-with-a-long-name", role="general", a=48.25, b=99.5, diff=51.25, low=40.1,
                     high=60.2, n_items=100)
    result = CompareResult(track="tiny-parity", a="base", b="sft-lr-small", seeds_a=(0,), seeds_b=(0,),
                           rows=(row,), warnings=(), n_boot=1000)
    text = _render(render_compare_table(result), 80)
    table_lines = [line for line in text.splitlines() if line[:1] in "┏┃┡│└"]
    assert max(map(len, text.splitlines())) <= 80 and "…" not in text
    assert all(line.rstrip()[-1] in "┓┃┩│┘" for line in table_lines), text
    assert "+51.2" in text and "[+40.1, +60.2]" in text


def test_push_without_network_fails_clearly_after_writing_the_export(tmp_path, monkeypatch):
    import huggingface_hub.constants

    from harness.render.hub import HubPushError

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    out = write_hub_dataset(score_runs([metrics("base", 0.3)], {"t": "v1"}), tmp_path / "export")
    with pytest.raises(HubPushError, match="failed.*local export is written"):
        push_hub_dataset(out, "org/name", token="hf_not_a_real_token")


def test_export_push_without_a_token_exits_1_with_the_fix(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    runs = tmp_path / "runs"
    write_run(runs, metrics("base", 0.3))
    monkeypatch.setattr(cli, "list_tracks", lambda: [])
    out = tmp_path / "export"
    assert cli.main(["export", "--hf", str(out), "--runs-dir", str(runs), "--push", "org/name"]) == 1
    assert "no Hugging Face token" in capsys.readouterr().err
    assert (out / "leaderboard.parquet").is_file() and (out / "README.md").is_file()
