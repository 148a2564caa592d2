"""The launcher that started this process, and one value agreed by all of its ranks.

``torchrun`` and SLURM's ``srun`` start every rank as an independent ``lighter`` process: nothing
they draw (a seed) is shared unless the ranks talk. They do so here, before anything is built,
through the same TCP store that ``torch.distributed`` will use for the process group: the address,
port, rank and world size come from Lightning's own cluster environment for the launcher (so they
are the ones Lightning will use), and the store is made by ``torch.distributed.rendezvous``, whose
server on rank 0 is shared (multi-tenant) with the process group's, or is torchrun's agent store.
Nothing here runs for a single process, or for the children of Lightning's own launcher (they
inherit the parent's environment).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from lighter.errors import Location, StageError

__all__ = ["Launch", "detect_launch", "agree", "check_launch"]

# How long a rank waits for rank 0: the default process-group timeout, which Lightning keeps.
_TIMEOUT = timedelta(minutes=30)

# Rank 0 hosts the store's server: it must outlive the agreement, until the process group's store
# (same host and port, same process) shares it. Kept for the life of the process.
_stores: list[Any] = []


@dataclass(frozen=True)
class Launch:
    """Where this process stands in a run started by an external launcher.

    Attributes:
        name: ``"torchrun"`` or ``"SLURM"``.
        rank: The global rank of this process.
        world_size: The number of processes in the run.
        address: Host of the rank-0 store.
        port: Port of the rank-0 store.
        attempt: Distinguishes a restarted group's values from the previous attempt's.
    """

    name: str
    rank: int
    world_size: int
    address: str
    port: int
    attempt: str


def detect_launch() -> Launch | None:
    """Return the external launcher of this process (as Lightning would choose it), or ``None``."""
    from lightning_fabric.plugins.environments import SLURMEnvironment, TorchElasticEnvironment

    environ = os.environ  # Lightning's environments read it too
    # Lightning asks SLURM first, then torchrun: the same order, so both agree on the environment.
    if SLURMEnvironment.detect():
        env: Any = SLURMEnvironment()
        attempt = f"{environ.get('SLURM_JOB_ID', '')}.{environ.get('SLURM_STEP_ID', '')}"
        name = "SLURM"
    elif TorchElasticEnvironment.detect():
        env = TorchElasticEnvironment()
        attempt = f"{environ.get('TORCHELASTIC_RUN_ID', '')}.{environ.get('TORCHELASTIC_RESTART_COUNT', '0')}"
        name = "torchrun"
    else:
        return None
    return Launch(name, env.global_rank(), env.world_size(), env.main_address, env.main_port, attempt)


def agree(key: str, draw: Callable[[], str], launch: Launch | None) -> str:
    """Return ``draw()`` of rank 0 on every rank of ``launch`` (``draw()`` itself without a launch).

    Raises:
        RuntimeError: The store cannot be reached within the process-group timeout.
    """
    if launch is None or launch.world_size <= 1:
        return draw()
    from torch.distributed import rendezvous

    url = f"tcp://{launch.address}:{launch.port}?rank={launch.rank}&world_size={launch.world_size}"
    store, _, _ = next(rendezvous(url, timeout=_TIMEOUT))
    name = f"lighter/{key}/{launch.attempt}"
    if launch.rank == 0:
        _stores.append(store)
        value = draw()
        store.set(name, value)
        return value
    return store.get(name).decode()


def check_launch(trainer: Any, launch: Launch | None, where: Callable[[str], Location | None]) -> None:
    """Stop before the stage when the Trainer does not fit the processes the launcher started.

    Args:
        trainer: The built ``Trainer``.
        launch: The external launcher, if any.
        where: The location of a config id, for the error.

    Raises:
        StageError: A strategy that starts its own processes (``ddp_spawn``…) under an external
            launcher, which would run one whole run per rank; or ``devices × num_nodes`` that differ
            from the number of processes the launcher started.
    """
    if launch is None:
        return
    # DDP strategies that start processes themselves keep the start method Lightning passes to
    # multiprocessing; the one for processes started from outside is "popen".
    start_method = getattr(trainer.strategy, "_start_method", "popen")
    if start_method != "popen":
        raise StageError(
            f"{launch.name} already started {launch.world_size} processes, but the strategy starts its own "
            f"with '{start_method}' (every rank would run a separate copy of the whole run)",
            id="trainer#strategy",
            location=where("trainer#strategy"),
            suggestion="use --trainer#strategy=ddp",
        )
    devices, nodes = trainer.num_devices, trainer.num_nodes
    if devices * nodes != launch.world_size:
        per_node = launch.world_size // nodes if launch.world_size % nodes == 0 else None
        raise StageError(
            f"{launch.name} started {launch.world_size} processes, but trainer#devices × trainer#num_nodes "
            f"is {devices} × {nodes} = {devices * nodes}",
            id="trainer#devices",
            location=where("trainer#devices"),
            suggestion=(
                f"set --trainer#devices={per_node}"
                if per_node
                else f"set trainer#devices × trainer#num_nodes to {launch.world_size}"
            ),
        )
