"""The malformed-input corpus of issue #17: files a careless or hostile user could hand to `harness validate`.

Each case is (id, which file is bad, its content, the field the refusal must name). `field` None means the
file cannot be read as plain YAML at all, and the refusal names the file and the line instead. Families:
unreadable files, YAML that lies, names, numbers that are not numbers, strings that should be choices,
references to things that are not there, track files, study files, track-fixed and unknown fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MICRO_TRACK = (FIXTURES / "micro-track.yaml").read_text()


@dataclass(frozen=True)
class Case:
    id: str
    family: str
    content: str | bytes
    field: str | None
    kind: str = "submission"
    """submission: the file validated; track: a track file given with --track; study: a study file (harness study)."""


def sub(body: str, name: str = "ok-name", method: str = "sft") -> str:
    return f"name: {name}\nmethod: {method}\n{body}"


def hp(method: str, **fields: str) -> str:
    lines = "".join(f"  {k}: {v}\n" for k, v in fields.items())
    return sub(f"hyperparameters:\n{lines}", method=method)


def track(old: str, new: str) -> str:
    assert old in MICRO_TRACK, old
    return MICRO_TRACK.replace(old, new, 1)


def study(body: str, name: str = "st") -> str:
    return f"name: {name}\ntrack: {FIXTURES / 'micro-track.yaml'}\n{body}"


NAMES = {
    "climb": '"../../x"', "nested": '"a/b/c"', "absolute": '"/etc/passwd"', "dotdot": '".."', "dot": '"."',
    "spaces": '"   "', "newline": '"a\\nb"', "nul": '"a\\0b"', "ansi": '"\\e[31mred"', "rtl": '"sft\\u202Eevil"',
    "zero-width": '"s\\u200Bft"', "cjk-200": '"' + "\u540d" * 200 + '"', "empty": '""', "leading-dash": '"-x"',
    "leading-dot": '".hidden"', "inner-space": '"a b"', "too-long": "x" * 65, "brackets": '"sft[lr=1]"',
    "percent": '"a%2Fb"', "tilde": '"~root"', "backslash": '"a\\\\b"', "tab": '"a\\tb"', "markup": '"[/]"',
    "int": "123", "list": "[a, b]", "null": "null", "bool": "true", "homoglyph": '"\u0455ft"', "fullwidth": '"\uff53ft"',
    "emoji": '"sft\U0001F600"',
}

CASES: list[Case] = []
CASES += [Case(f"name-{k}", "names", sub("", name=v), "name") for k, v in NAMES.items()]
CASES += [
    Case("name-base-sft", "names", sub("", name="base", method="sft"), "name"),
    Case("name-Base-dft", "names", sub("", name="Base", method="dft"), "name"),
    Case("name-BASE-lora", "names", sub("", name="BASE", method="lora"), "name"),
]

NUMBERS = [  # (method, field, value)
    ("sft", "learning_rate", ".inf"), ("sft", "learning_rate", "-.inf"), ("sft", "learning_rate", ".nan"),
    ("sft", "learning_rate", "true"), ("sft", "learning_rate", "false"), ("sft", "learning_rate", '"inf"'),
    ("sft", "learning_rate", "0"), ("sft", "learning_rate", "-1.0e-3"), ("sft", "learning_rate", "2.0"),
    ("sft", "learning_rate", "1.0e300"), ("sft", "learning_rate_scale", ".inf"), ("sft", "learning_rate_scale", "0"),
    ("sft", "learning_rate_scale", "true"), ("sft", "num_train_epochs", ".inf"), ("sft", "num_train_epochs", "0"),
    ("sft", "num_train_epochs", "1.0e9"), ("sft", "weight_decay", ".inf"), ("sft", "weight_decay", "-0.1"),
    ("sft", "weight_decay", "2.0"), ("sft", "max_grad_norm", ".nan"), ("sft", "max_grad_norm", "-1.0"),
    ("sft", "warmup_steps", "-1"), ("sft", "warmup_steps", "true"), ("sft", "per_device_train_batch_size", "0"),
    ("sft", "per_device_train_batch_size", "1.5"), ("sft", "gradient_accumulation_steps", "false"),
    ("sft", "max_steps", "-5"), ("talr", "floor", "2.0"), ("talr", "floor", ".nan"), ("kl", "coef", ".inf"),
    ("kl", "coef", "-1.0"), ("l2", "coef", "1.0e9"), ("flow", "temperature", "0"), ("flow", "temperature", ".inf"),
    ("iw-sft", "max_weight", ".inf"), ("iw-sft", "temperature", "-1.0"), ("lora", "rank", "0"),
    ("lora", "alpha", ".inf"), ("lora", "dropout", "1.0"), ("wise-ft", "alphas", "[.nan]"), ("wise-ft", "alphas", "2.0"),
    ("grpo", "beta", ".inf"), ("grpo", "epsilon", "0"), ("grpo", "temperature", ".inf"), ("grpo", "top_p", "2.0"),
    ("dpo", "beta", "0"), ("star", "rounds", "0"), ("grpo", "num_generations", "true"),
]
CASES += [Case(f"number-{m}-{f}-{v.replace(chr(34), '')}", "numbers", hp(m, **{f: v}), f"hyperparameters.{f}")
          for m, f, v in NUMBERS]
CASES += [
    Case("number-lr-times-scale", "numbers", hp("sft", learning_rate="1.0e-1", learning_rate_scale="1.0e3"),
         "hyperparameters.learning_rate_scale"),
    Case("number-lr-times-scale-huge", "numbers", hp("sft", learning_rate="1.0", learning_rate_scale="1.0e300"),
         "hyperparameters.learning_rate_scale"),
    Case("number-reward-weight-inf", "numbers", hp("grpo", reward_weights="[.inf]"), "hyperparameters.reward_weights.0"),
    Case("number-data-temperature", "numbers", sub("data: {recipe: self, temperature: .inf}\n"), "data.temperature"),
    Case("number-data-share-nan", "numbers",
         sub("data: {recipe: mix, mix: [{source: gold, share: .nan}, {source: self, share: 0.5}]}\n"), "data.mix.0.share"),
    Case("number-data-mix-k-bool", "numbers",
         sub("data: {recipe: mix, mix_k: true, mix: [{source: gold}, {source: self}]}\n"), "data.mix_k"),
]

CASES += [
    Case("choice-scheduler-bogus", "choices", hp("sft", lr_scheduler_type="bogus"), "hyperparameters.lr_scheduler_type"),
    Case("choice-scheduler-empty", "choices", hp("sft", lr_scheduler_type='""'), "hyperparameters.lr_scheduler_type"),
    Case("choice-scheduler-case", "choices", hp("sft", lr_scheduler_type="COSINE"), "hyperparameters.lr_scheduler_type"),
    Case("choice-scheduler-rl", "choices", hp("grpo", lr_scheduler_type="linearr"), "hyperparameters.lr_scheduler_type"),
    Case("choice-loss-type", "choices", hp("grpo", loss_type="bogus"), "hyperparameters.loss_type"),
    Case("choice-dpo-loss-type", "choices", hp("dpo", loss_type="bogus"), "hyperparameters.loss_type"),
    Case("choice-reward", "choices", hp("grpo", rewards="[bogus]"), "hyperparameters.rewards.0"),
    Case("choice-method", "choices", sub("", method="sfft"), "method"),
    Case("choice-recipe", "choices", sub("data: {recipe: teacher}\n"), "data.recipe"),
    Case("choice-lora-target-missing", "choices", hp("lora", target_modules="[q_proj, nope]"),
         "hyperparameters.target_modules"),
    Case("choice-lora-target-regex", "choices", hp("lora", target_modules='"nothing.*"'), "hyperparameters.target_modules"),
    Case("choice-lora-target-bad-regex", "choices", hp("lora", target_modules='"(q_proj"'),
         "hyperparameters.target_modules"),
    Case("choice-lora-target-empty", "choices", hp("lora", target_modules="[]"), "hyperparameters.target_modules"),
    Case("choice-lora-target-layernorm-leaf", "choices", hp("lora", target_modules="[input_layernorm]"),
         "hyperparameters.target_modules"),
]

CASES += [
    Case("ref-model-missing", "references", sub("data: {recipe: model, model: /nonexistent/model}\n"), "data.model"),
    Case("ref-mix-model-missing", "references",
         sub("data: {recipe: mix, mix_k: 2, mix: [{source: gold}, {source: model, model: /nonexistent}]}\n"),
         "data.mix[1].model"),
    Case("ref-match-run-missing", "references", sub("data: {recipe: self, match: {by: prompts, run: /nonexistent/run}}\n"),
         "data.match.run"),
    Case("ref-model-and-submission", "references", sub("data: {recipe: model, model: /x, submission: grpo}\n"), "data"),
    Case("ref-study-submission-missing", "references", study("submissions: [no/such/file.yaml]\n"), "submissions.0",
         kind="study"),
    Case("ref-study-track-missing", "references", "name: st\ntrack: no-such-track\nsubmissions: []\n", "track",
         kind="study"),
]

CASES += [
    Case("fixed-budget", "track-fixed", sub("budget: {gradient_tokens: 1}\n"), "budget"),
    Case("fixed-n-test", "track-fixed", hp("sft", n_test="5"), "hyperparameters.n_test"),
    Case("fixed-seeds", "track-fixed", sub("seeds: [1]\n"), "seeds"),
    Case("unknown-top", "unknown", sub("hyperparamters: {}\n"), "hyperparamters"),
    Case("unknown-hyper", "unknown", hp("sft", learnign_rate="1.0e-3"), "hyperparameters.learnign_rate"),
    Case("unknown-optimizer-field", "unknown", hp("sft", optim="sgd"), "hyperparameters.optim"),
    Case("missing-method", "unknown", "name: x\n", "method"),
]

CASES += [
    Case("track-name-climb", "tracks", track("name: micro", 'name: "../../../../x"'), "name", kind="track"),
    Case("track-name-slash", "tracks", track("name: micro", 'name: "a/b"'), "name", kind="track"),
    Case("track-name-nul", "tracks", track("name: micro", 'name: "a\\0b"'), "name", kind="track"),
    Case("track-name-long", "tracks", track("name: micro", "name: " + "t" * 300), "name", kind="track"),
    Case("track-n-test-negative", "tracks", track("n_test: 24", "n_test: -5"), "eval.n_test", kind="track"),
    Case("track-k-zero", "tracks", track("k: 1", "k: 0"), "eval.k", kind="track"),
    Case("track-temperature-inf", "tracks", track("temperature: 0.0", "temperature: .inf"), "eval.temperature",
         kind="track"),
    Case("track-seeds-negative", "tracks", track("seeds: [0, 1]", "seeds: [-1]"), "seeds.0", kind="track"),
    Case("track-seeds-bool", "tracks", track("seeds: [0, 1]", "seeds: [true]"), "seeds", kind="track"),
    Case("track-seeds-empty", "tracks", track("seeds: [0, 1]", "seeds: []"), "seeds", kind="track"),
    Case("track-budget-negative", "tracks", track("gradient_tokens: 1500", "gradient_tokens: -1"),
         "budget.gradient_tokens", kind="track"),
    Case("track-budget-flops-inf", "tracks", track("gradient_tokens: 1500", "train_flops: .inf"), "budget.train_flops",
         kind="track"),
    Case("track-pretrain-lr-nan", "tracks", track("learning_rate: 3.0e-3", "learning_rate: .nan"),
         "base_model.pretrain.learning_rate", kind="track"),
    Case("track-train-n-zero", "tracks", track("n: 200", "n: 0"), "domain.train.n", kind="track"),
    Case("track-mixture-inf", "tracks", track("mixture: {copy: 1,", "mixture: {copy: .inf,"),
         "base_model.pretrain.mixture.copy", kind="track"),
    Case("track-hidden-zero", "tracks", track("hidden_size: 32", "hidden_size: 0"), "base_model.pretrain.model.hidden_size",
         kind="track"),
    Case("track-task-n-test", "tracks", track("{task: copy, params: {max_len: 5}}", "{task: copy, n_test: 0}"),
         "general.0.n_test", kind="track"),
    Case("track-binary", "tracks", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", None, kind="track"),
    Case("track-max-length-zero", "tracks", track("max_length: 40", "max_length: 0"), "training.max_length", kind="track"),
]

CASES += [
    Case("study-name-climb", "studies", study("submissions: []\n", name='"../x"'), "name", kind="study"),
    Case("study-name-space", "studies", study("submissions: []\n", name='"a b"'), "name", kind="study"),
    Case("study-seeds-negative", "studies", study("seeds: [-3]\nsubmissions: []\n"), "seeds.0", kind="study"),
    Case("study-curve-every-zero", "studies", study("curve_every: 0\nsubmissions: []\n"), "curve_every", kind="study"),
    Case("study-inline-bad-name", "studies", study("submissions: [{name: '../x', method: sft}]\n"), "name", kind="study"),
    Case("study-inline-inf", "studies",
         study("submissions: [{name: x, method: sft, hyperparameters: {learning_rate: .inf}}]\n"),
         "hyperparameters.learning_rate", kind="study"),
]

DEEP = "x: " + "[" * 5000 + "]" * 5000 + "\n"
LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
CASES += [
    Case("file-latin1", "unreadable", "name: caf\u00e9\nmethod: sft\n".encode("latin-1"), None),
    Case("file-utf16-bom", "unreadable", "name: x\nmethod: sft\n".encode("utf-16"), None),
    Case("file-bad-bytes", "unreadable", b"name: \xff\xfe\xfd\nmethod: sft\n", None),
    Case("file-deep", "unreadable", DEEP, None),
    Case("file-laughs", "yaml-lies", sub("description: *i\n").replace("name:", LAUGHS + "name:", 1), None),
    Case("file-alias-in-sweep", "yaml-lies", "lrs: &l [1.0e-3, 1.0e-4]\n" + sub("hyperparameters: {learning_rate: *l}\n"),
         None),
    Case("file-duplicate-name", "yaml-lies", "name: a\nname: b\nmethod: sft\n", None),
    Case("file-duplicate-hyper", "yaml-lies", hp("sft", learning_rate="1.0e-3") + "  learning_rate: 1.0e-2\n", None),
    Case("file-python-tag", "yaml-lies", "name: !!python/object/apply:os.system ['touch pwned']\nmethod: sft\n", None),
    Case("file-custom-tag", "yaml-lies", "name: !x y\nmethod: sft\n", None),
    Case("file-syntax", "unreadable", "name: [unclosed\nmethod: sft\n", None),
    Case("file-top-list", "unreadable", "- name: x\n", None),
    Case("file-empty", "unreadable", "", None),
    Case("file-huge", "unreadable", "name: x\nmethod: sft\ndescription: " + "y" * (2 << 20) + "\n", None),
    Case("file-merge-key", "yaml-lies", "base: &b {method: sft}\n<<: *b\nname: x\n", None),
]
