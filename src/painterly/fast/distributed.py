"""A training on several processes, started by ``torchrun``: PyTorch's
DistributedDataParallel over gloo (CPU) or NCCL (CUDA).

Every process draws the same batch of crops for a step (its generator is seeded by the
step) and paints its own share of them; the gradients are averaged, each share's loss
scaled so that the average is the whole batch's mean. A step is thus the same whatever
the number of processes, and a checkpoint written by N of them resumes with M. Only
the first process (rank 0) writes the checkpoints, the previews, the record and the
model; it sends the others the checkpoint it resumes from.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import distributed as dist
from torch import nn

from ..errors import ConfigError, ModelError

# torchrun's variables: the process's rank among all, their number, its rank on its machine.
VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
# A process that waits longer than this for the others gives up (a peer that died
# without torchrun noticing); a step takes seconds, setting up a minute or two.
TIMEOUT = datetime.timedelta(minutes=10)
# What stops a training's steps: a signal, or a collective whose peer has gone.
STOPS: tuple[type[BaseException], ...] = (
    KeyboardInterrupt,
    dist.DistBackendError,
    dist.DistNetworkError,
)


@dataclass(frozen=True)
class Ranks:
    """Where this process stands among those of one training."""

    rank: int = 0
    world: int = 1
    local: int = 0  # its rank on its own machine: which GPU it takes

    @property
    def main(self) -> bool:
        """The process that writes the files."""
        return self.rank == 0

    def share(self, batch: int) -> list[int]:
        """The images of a batch this process paints: every ``world``-th one."""
        return list(range(self.rank, batch, self.world))


def launched(env: Mapping[str, str] | None = None) -> bool:
    """Whether ``torchrun`` started this process as one of several."""
    env = os.environ if env is None else env
    return all(k in env for k in VARIABLES) and env["WORLD_SIZE"] not in ("", "0", "1")


def from_environment(env: Mapping[str, str] | None = None) -> Ranks:
    """This process's :class:`Ranks` from torchrun's variables; without them a
    :class:`ModelError` saying how to start a distributed training."""
    env = os.environ if env is None else env
    missing = [k for k in VARIABLES if k not in env]
    if missing:
        raise ModelError(
            f"a distributed training needs torchrun's {', '.join(missing)}: start it as "
            "torchrun --nproc-per-node N -m painterly train ..."
        )
    try:
        rank, world, local = (int(env[k]) for k in VARIABLES)
    except ValueError:
        shown = ", ".join(f"{k}={env[k]!r}" for k in VARIABLES)
        raise ModelError(f"torchrun's variables are not numbers ({shown})") from None
    return Ranks(rank, world, local)


def device_for(ranks: Ranks, device: torch.device) -> torch.device:
    """The device this process trains on: its own GPU on a machine of several."""
    if ranks.world == 1:
        return device
    if device.type == "cuda":
        return torch.device("cuda", ranks.local % torch.cuda.device_count())
    if device.type != "cpu":
        raise ConfigError(
            f"a distributed training runs on the CPU (gloo) or CUDA (NCCL), not on "
            f"{device.type}: give --device cpu or cuda",
            "device",
        )
    return device


def check_batch(ranks: Ranks, batch: int) -> None:
    if batch < ranks.world:
        raise ConfigError(
            f"{{field}} {batch} is smaller than the {ranks.world} processes: give each "
            f"process at least one crop (a batch of {ranks.world} or more)",
            "batch",
        )


@contextlib.contextmanager
def joined(ranks: Ranks, device: torch.device) -> Iterator[None]:
    """Within the block this process is in torchrun's process group (gloo on the CPU,
    NCCL on CUDA), which it leaves at the end; a group the caller already started is
    used as it is. One process: nothing to join."""
    if ranks.world == 1 or dist.is_initialized():
        yield
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    gpu = torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext()
    with gpu:
        dist.init_process_group(backend, rank=ranks.rank, world_size=ranks.world, timeout=TIMEOUT)
        try:
            yield
        finally:
            dist.destroy_process_group()


def wrap(net: nn.Module, ranks: Ranks, device: torch.device) -> nn.Module:
    """``net`` whose backward averages its gradients over the processes (itself alone)."""
    if ranks.world == 1:
        return net
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(net, device_ids=ids)


def check_same(ranks: Ranks, key: str) -> None:
    """Refuse to train when the processes see different styles, photos or settings."""
    if ranks.world == 1:
        return
    keys: list[Any] = [None] * ranks.world
    dist.all_gather_object(keys, key)
    others = [i for i, k in enumerate(keys) if k != keys[0]]
    if others:
        raise ModelError(
            f"process(es) {others} of this training see other styles, photos or settings "
            "than process 0: give every process the same command and the same files"
        )


def from_main(ranks: Ranks, value: Any, device: torch.device) -> Any:
    """Process 0's ``value`` on every process (a checkpoint, for example)."""
    if ranks.world == 1:
        return value
    box = [value if ranks.main else None]
    dist.broadcast_object_list(box, src=0, device=device if device.type == "cuda" else None)
    return box[0]


def summed(ranks: Ranks, values: Sequence[float], device: torch.device) -> list[float]:
    """The sum over the processes of each of ``values``."""
    if ranks.world == 1:
        return list(values)
    total = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(total)
    return [float(v) for v in total.cpu()]
