"""The method registry. Adding a method is one module plus one `MethodSpec` line in `_BUILTIN` below.

Importing this package imports nothing heavy (no torch, transformers, TRL, PEFT, datasets): a spec names
its config class and its implementation as "module:Class" strings. `config_class` imports only the light
module of the config (so `harness validate` stays light); `get_method` imports the implementation the
first time a method is asked for, and keeps the instance.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.methods.base import Method, TrainContext
from harness.methods.configs import Hyperparameters, MethodConfig
from harness.registry import Registry


@dataclass(frozen=True)
class MethodSpec:
    """One registry entry: what a method is called, where its hyperparameters and its code live, what it does."""

    name: str
    config: str
    """Its config class as "module:Class", in a light module (pydantic and light harness modules only)."""
    impl: str
    """Its `Method` implementation as "module:Class"; imported on first use."""
    summary: str
    """One line for tables and the command line."""
    trains: bool = True
    uses_sft_data: bool = True
    """Trains on the track's SFT data, so a submission's data recipe applies (RL and self-sampling methods: False)."""


_C = "harness.methods.configs:"
_BUILTIN = [
    MethodSpec("base", _C + "NoHyperparameters", "harness.methods.base_model:BaseMethod",
               "the track's base model, no training", trains=False),
    MethodSpec("sft", _C + "MethodConfig", "harness.methods.sft:SFTMethod", "completion-only NLL (TRL SFTTrainer)"),
    MethodSpec("sft-no-tf", _C + "MethodConfig", "harness.methods.sft_no_tf:SFTNoTFMethod",
               "SFT without teacher forcing: gold labels after the model's own greedy prefix (paper 001)"),
    MethodSpec("dft", _C + "MethodConfig", "harness.methods.dft:DFTMethod",
               "token NLL scaled by sg(p) (TRL loss_type='dft')"),
    # Token losses on one base trainer (harness.methods.token_loss): a function of the batch and the config each.
    MethodSpec("talr", _C + "TALRConfig", "harness.methods.talr:TALR",
               "token weights max(sg(p^(1/tau)), floor), tau = batch median of sequence NLL"),
    MethodSpec("l2", _C + "L2Config", "harness.methods.l2:L2", "SFT + coef x squared distance to the base weights"),
    MethodSpec("kl", _C + "KLConfig", "harness.methods.kl:KL", "SFT + coef x k3 KL to the frozen base"),
    MethodSpec("flow", _C + "FLOWConfig", "harness.methods.flow:FLOW",
               "static sequence weights exp(-base loss / tau)"),
    MethodSpec("iw-sft", _C + "IWSFTConfig", "harness.methods.iw_sft:IWSFT",
               "sequence NLL x clipped importance weight against the base"),
    # Forgetting mitigations of the TALR paper's comparison that are not a loss.
    MethodSpec("lora", _C + "LoRAConfig", "harness.methods.lora:LoRAMethod",
               "LoRA adapters on the SFT objective, merged"),
    MethodSpec("wise-ft", _C + "WiSEFTConfig", "harness.methods.wise_ft:WiSEFTMethod",
               "SFT, then base/fine-tuned weight averages, one point per alpha"),
    # RL and self-generated data: they sample only through ctx.sampler or inside a metered TRL trainer.
    MethodSpec("grpo", _C + "GRPOMethodConfig", "harness.methods.grpo:GRPOMethod",
               "GRPO with the task's grader as reward (TRL)", uses_sft_data=False),
    MethodSpec("rloo", _C + "RLOOMethodConfig", "harness.methods.rloo:RLOOMethod",
               "REINFORCE leave-one-out (TRL RLOOTrainer)", uses_sft_data=False),
    MethodSpec("reinforce", _C + "ReinforceConfig", "harness.methods.reinforce:ReinforceMethod",
               "REINFORCE with the group-mean baseline (fixed GRPO settings)", uses_sft_data=False),
    MethodSpec("star", _C + "StarConfig", "harness.methods.star:StarMethod",
               "rounds of sample, keep correct, fine-tune", uses_sft_data=False),
    MethodSpec("rft", _C + "RFTConfig", "harness.methods.star:StarMethod",
               "one round of rejection-sampling fine-tuning", uses_sft_data=False),
    MethodSpec("offline-dft", _C + "RFTConfig", "harness.methods.offline_dft:OfflineDFTMethod",
               "DFT on the base model's own correct samples", uses_sft_data=False),
    MethodSpec("dpo", _C + "DPOMethodConfig", "harness.methods.dpo:DPOMethod",
               "DPO on (correct, wrong) pairs sampled from the base", uses_sft_data=False),
]

_SPECS: Registry[MethodSpec] = Registry("method")
_CONFIGS: Registry[type] = Registry("method")
_IMPLS: Registry[type] = Registry("method")
_INSTANCES: dict[str, Method] = {}


def register_method(spec: MethodSpec) -> MethodSpec:
    """Add a method (a built-in line above, or a plugin's own spec); nothing is imported until it is used."""
    _SPECS.register(spec.name)(spec)
    _CONFIGS.register_lazy(spec.name, spec.config)
    _IMPLS.register_lazy(spec.name, spec.impl)
    return spec


def unregister_method(name: str) -> None:
    """Remove a method registered with `register_method` (a plugin or a test done with it)."""
    for registry in (_SPECS, _CONFIGS, _IMPLS):
        registry.unregister(name)
    _INSTANCES.pop(name, None)


for _spec in _BUILTIN:
    register_method(_spec)


def method_names() -> list[str]:
    return _SPECS.names()


def unknown_method_message(name: str) -> str:
    """The error text for an unknown name: "unknown method 'tlar'. Did you mean 'talr'? Known: ..." """
    return _SPECS.unknown_message(name)


def method_spec(name: str) -> MethodSpec:
    """The registry entry; an unknown name raises a KeyError whose message is `unknown_method_message(name)`."""
    return _SPECS.get(name)


def config_class(name: str) -> type[MethodConfig] | type[Hyperparameters]:
    """The method's config class, importing only its light module: a MethodConfig subclass, or for `base`
    NoHyperparameters (a model without fields; every config class has `parse`)."""
    method_spec(name)
    return _CONFIGS.get(name)


def get_method(name: str) -> Method:
    """The method's implementation, imported and instantiated on first use and kept."""
    spec = method_spec(name)
    if name not in _INSTANCES:
        _INSTANCES[name] = _IMPLS.get(name)(spec)
    return _INSTANCES[name]


__all__ = ["Hyperparameters", "Method", "MethodConfig", "MethodSpec", "TrainContext", "config_class", "get_method",
           "method_names", "method_spec", "register_method", "unknown_method_message", "unregister_method"]
