"""The processes of one run: which launcher started this process, how many there are, and which one it is.

`harness run` works as one process, or as several started by `accelerate launch --num_processes N` or
`torchrun --nproc_per_node N` (torch.distributed: the launcher sets WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR
and MASTER_PORT; transformers' Trainer joins the process group from them). With several processes every
one trains its shard of each global batch, the budget meter sums its counts across them through the
trainer's accelerator (harness/budget), and only the main process (rank 0) writes the run folder and
evaluates.

Launchers the harness does not support are refused before any work, never run with each process metering
and writing alone: DeepSpeed and FSDP through accelerate (the meter hooks the plain model), MPI launchers
(mpirun: OMPI_*/PMI_* variables) and a Slurm step of several tasks (srun) without torch.distributed's
variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from harness.errors import ConfigError

TORCH_VARIABLES = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
HOW = ("start several processes with `accelerate launch --num_processes N -m harness.cli run ...` or "
       "`torchrun --nproc_per_node N -m harness.cli run ...`, or run `harness run` as one process")


class UnsupportedLauncher(ConfigError):
    """This process was started by a launcher the harness cannot meter one budget under."""

    def __init__(self, message: str) -> None:
        super().__init__(None, None, message)


@dataclass(frozen=True)
class Processes:
    """This process's place among the processes of one run."""

    world_size: int = 1
    rank: int = 0
    local_rank: int = 0
    launcher: str = "none"
    """none (one process), accelerate, torchrun, or torch.distributed (another launcher setting its variables)."""

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """The process that writes the run folder and evaluates (rank 0)."""
        return self.rank == 0


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in ("1", "true", "yes")


def _int(env: Mapping[str, str], name: str) -> int | None:
    value = env.get(name)
    if value is None or value.strip() == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise UnsupportedLauncher(f"environment variable {name}={value!r} is not a whole number; {HOW}") from None


def detect(env: Mapping[str, str] | None = None) -> Processes:
    """This process's launcher and rank, from the environment; raises UnsupportedLauncher (with what to do instead)
    for launchers the harness does not support."""
    env = os.environ if env is None else env
    for flag, what in (("ACCELERATE_USE_DEEPSPEED", "DeepSpeed"), ("ACCELERATE_USE_FSDP", "FSDP"),
                       ("ACCELERATE_USE_MEGATRON_LM", "Megatron-LM")):
        if _flag(env, flag):
            raise UnsupportedLauncher(f"accelerate is configured to use {what} ({flag}); the harness meters the "
                                      f"budget on a plain (DDP) model only. Use an accelerate config without {what}: {HOW}")
    world = _int(env, "WORLD_SIZE")
    if world is None or world <= 1:
        foreign = [(name, n) for name in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MV2_COMM_WORLD_SIZE",
                                          "SLURM_STEP_NUM_TASKS") if (n := _int(env, name)) and n > 1]
        if foreign and world is None:
            name, n = foreign[0]
            raise UnsupportedLauncher(f"this process is one of {n} started by a launcher the harness does not support "
                                      f"({name}={n}, without torch.distributed's WORLD_SIZE/RANK); each would meter "
                                      f"and write the run alone. {HOW}")
        return Processes()
    missing = [v for v in TORCH_VARIABLES if not env.get(v)]
    if missing:
        raise UnsupportedLauncher(f"WORLD_SIZE={world} but {', '.join(missing)} not set: not a torch.distributed "
                                  f"launch the harness knows. {HOW}")
    rank, local = _int(env, "RANK"), _int(env, "LOCAL_RANK")
    if not (0 <= rank < world) or local < 0:
        raise UnsupportedLauncher(f"RANK={rank} / LOCAL_RANK={local} do not fit WORLD_SIZE={world}. {HOW}")
    if any(k.startswith("ACCELERATE_") for k in env):
        launcher = "accelerate"
    elif env.get("TORCHELASTIC_RUN_ID"):
        launcher = "torchrun"
    else:
        launcher = "torch.distributed"
    return Processes(world, rank, local, launcher)


def join_processes(procs: Processes):
    """Join the run's process group through accelerate (gloo on CPU, NCCL on GPUs) and return its PartialState,
    which transformers' Trainer then uses. Without GPUs accelerate needs to be told the processes are CPU ones
    (ACCELERATE_USE_CPU, as `accelerate launch --cpu` sets), else each process would train alone."""
    import torch
    from accelerate import PartialState

    cpu = not torch.cuda.is_available()
    if cpu:
        os.environ["ACCELERATE_USE_CPU"] = "true"
    state = PartialState(cpu=cpu)
    if state.num_processes != procs.world_size:
        raise UnsupportedLauncher(f"accelerate sees {state.num_processes} processes, the launcher started "
                                  f"{procs.world_size} ({procs.launcher}); {HOW}")
    return state
