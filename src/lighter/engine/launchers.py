"""The launcher that started this process, and one value agreed by all of its ranks.

``torchrun`` and SLURM's ``srun`` start every rank as an independent ``lighter`` process: nothing
they draw (a seed) is shared unless the ranks talk. They do so here, before anything is built,
through the same TCP store that ``torch.distributed`` will use for the process group: the address,
port, rank and world size come from Lightning's own cluster environment for the launcher (so they
are the ones Lightning will use), and the store is made as ``torch.distributed``'s ``env://``
rendezvous makes it: torchrun's agent store, or a server on rank 0 that the process group's
shares (multi-tenant).
Nothing here runs for a single process, or for the children of Lightning's own launcher (they
inherit the parent's environment); across several machines, the main processes of Lightning's
launcher on each node agree the same way (:func:`lightning_nodes`).

torchrun's store outlives the processes when ``--max-restarts`` restarts a group: what the first
attempt :func:`remember`-ed (its run folder) or agreed ``across_restarts`` (its seed), a restarted
group finds again, and :func:`fresh_store_after_restart` keeps the dead attempt's keys away from
the new process group.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from lighter.errors import Location, StageError

__all__ = [
    "Launch",
    "detect_launch",
    "lightning_nodes",
    "agree",
    "recall",
    "remember",
    "fresh_store_after_restart",
    "check_launch",
]

# How long a rank waits for rank 0: the default process-group timeout, which Lightning keeps.
_TIMEOUT = timedelta(minutes=30)

# One connection per (host, port, rank), kept for the life of the process: on rank 0 it may host
# the store's server, which must outlive the agreement until the process group's store (same host
# and port, same process) shares it.
_connections: dict[tuple[str, int, int], Any] = {}

# The launch as torchrun started it, for a process whose MASTER_PORT was moved to a fresh store.
_moved: dict[tuple[str, int, int], Launch] = {}


@dataclass(frozen=True)
class Launch:
    """Where this process stands in a run started by an external launcher.

    Attributes:
        name: ``"torchrun"``, ``"SLURM"``, or ``"Lightning"`` (its launcher on several nodes).
        rank: The global rank of this process (its node's, for ``"Lightning"``).
        world_size: The number of processes in the run (of nodes, for ``"Lightning"``).
        address: Host of the rank-0 store.
        port: Port of the rank-0 store.
        run: The launcher's id of the whole run (torchrun's run id, SLURM's job and step).
        restart: How many times torchrun has restarted the group (``--max-restarts``); 0 at first.
    """

    name: str
    rank: int
    world_size: int
    address: str
    port: int
    run: str
    restart: int = 0

    @property
    def attempt(self) -> str:
        """Distinguishes a restarted group's values from the previous attempt's."""
        return f"{self.run}.{self.restart}"


def detect_launch() -> Launch | None:
    """Return the external launcher of this process (as Lightning would choose it), or ``None``."""
    from lightning_fabric.plugins.environments import SLURMEnvironment, TorchElasticEnvironment

    environ = os.environ  # Lightning's environments read it too
    restart = 0
    # Lightning asks SLURM first, then torchrun: the same order, so both agree on the environment.
    if SLURMEnvironment.detect():
        env: Any = SLURMEnvironment()
        run = f"{environ.get('SLURM_JOB_ID', '')}.{environ.get('SLURM_STEP_ID', '')}"
        name = "SLURM"
    elif TorchElasticEnvironment.detect():
        env = TorchElasticEnvironment()
        run = environ.get("TORCHELASTIC_RUN_ID", "")
        restart = int(environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0)
        name = "torchrun"
    else:
        return None
    launch = Launch(name, env.global_rank(), env.world_size(), env.main_address, env.main_port, run, restart)
    # After fresh_store_after_restart, MASTER_PORT names the process group's new store; the values
    # kept across restarts stay in torchrun's.
    moved = _moved.get((launch.run, launch.restart, launch.rank))
    return moved if moved is not None else launch


def lightning_nodes(num_nodes: Any, environ: Mapping[str, str] = os.environ) -> Launch | None:
    """The main process of one node of a multi-node run started by Lightning's own launcher, or ``None``.

    Started by hand on each machine with ``MASTER_ADDR``, ``MASTER_PORT`` and ``NODE_RANK`` (as
    Lightning documents), the nodes' main processes are the ones that must agree: each starts its
    node's other processes, which inherit its seed. ``rank`` is the node's, ``world_size`` the
    number of nodes (``trainer#num_nodes``).
    """
    if not isinstance(num_nodes, int) or isinstance(num_nodes, bool) or num_nodes <= 1:
        return None
    if "LOCAL_RANK" in environ:  # a process Lightning's launcher started: it inherits the seed
        return None
    node = environ.get("NODE_RANK", environ.get("GROUP_RANK", ""))
    port = environ.get("MASTER_PORT", "")
    if not node.isdigit() or not port.isdigit():
        return None  # without MASTER_PORT every node would pick its own: Lightning's error follows
    address = environ.get("MASTER_ADDR", "127.0.0.1")
    return Launch("Lightning", int(node), num_nodes, address, int(port), run=f"{address}:{port}")


def _store(launch: Launch) -> Any:
    """This rank's connection to the run's store (the first call connects, or serves on rank 0).

    Raises:
        StageError: Rank 0's store cannot be reached within the process-group timeout.
    """
    key = (launch.address, launch.port, launch.rank)
    if key not in _connections:
        from torch.distributed import TCPStore

        # As torch.distributed's env:// rendezvous makes it, so that the process group's store
        # is this one: a client of torchrun's agent store, else served by rank 0 (multi-tenant: the
        # process group's server on this port, in this process, is this one) without waiting for
        # the others to connect (Lightning's nodes do not say how many there are).
        serve = launch.rank == 0 and os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True"
        with _unreachable(launch):
            _connections[key] = TCPStore(
                launch.address,
                launch.port,
                launch.world_size if serve else None,
                is_master=serve,
                timeout=_TIMEOUT,
                wait_for_workers=False,
                multi_tenant=serve,
            )
    return _connections[key]


@contextmanager
def _unreachable(launch: Launch) -> Iterator[None]:
    """Turn a store that does not answer in time into an error that says what to check."""
    try:
        yield
    except RuntimeError as error:  # DistNetworkError / DistStoreError: a timeout or a refusal
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        who = "node" if launch.name == "Lightning" else "rank"
        raise StageError(
            f"{launch.name} {who} {launch.rank} of {launch.world_size} could not reach {who} 0 at "
            f"{launch.address}:{launch.port} within {_TIMEOUT.total_seconds():g} s ({reason})",
            id="trainer#num_nodes",
            suggestion="check that every node was started with the same trainer#devices × trainer#num_nodes "
            "and that the address and port are reachable from this machine",
        ) from error


def agree(key: str, draw: Callable[[], str], launch: Launch | None, *, across_restarts: bool = False) -> str:
    """Return ``draw()`` of rank 0 on every rank of ``launch`` (``draw()`` itself without a launch).

    With ``across_restarts``, a group that torchrun restarted takes the value the first attempt
    agreed on (its store outlives the processes) instead of drawing anew.

    Raises:
        StageError: The store cannot be reached within the process-group timeout.
    """
    if launch is None or launch.world_size <= 1:
        return draw()
    store = _store(launch)
    name = f"lighter/{key}/{launch.run if across_restarts else launch.attempt}"
    with _unreachable(launch):
        if launch.rank == 0:
            if across_restarts and store.check([name]):
                return store.get(name).decode()
            value = draw()
            store.set(name, value)
            return value
        return store.get(name).decode()


def _restarted_group(launch: Launch | None) -> bool:
    return launch is not None and launch.name == "torchrun" and launch.restart > 0 and launch.world_size > 1


def remember(key: str, value: str, launch: Launch | None) -> None:
    """Keep ``value`` in the store of a torchrun run, for the attempts after a restart to :func:`recall`."""
    if launch is not None and launch.name == "torchrun" and launch.world_size > 1:
        with _unreachable(launch):
            _store(launch).set(f"lighter/{key}/{launch.run}", value)


def recall(key: str, launch: Launch | None) -> str | None:
    """What an earlier attempt of this torchrun run :func:`remember`-ed under ``key``; ``None`` at first."""
    if not _restarted_group(launch):
        return None
    store = _store(launch)
    name = f"lighter/{key}/{launch.run}"
    with _unreachable(launch):
        return store.get(name).decode() if store.check([name]) else None


def fresh_store_after_restart(launch: Launch | None, environ: MutableMapping[str, str] = os.environ) -> None:
    """Give a group that torchrun restarted a store of its own for its process group.

    torchrun's agent keeps one store for every attempt of the run, and the process group's keys
    carry no attempt: after a restart a rank may read the address a dead rank of the previous
    attempt published, and gloo fails with "Connection refused" (pytorch/pytorch#135712 is the
    same race for NCCL). Rank 0 serves a new store on a free port and every rank points
    ``MASTER_PORT`` at it before Lightning creates the process group.
    """
    if not _restarted_group(launch):
        return
    if environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True":
        return  # each rank-0 process serves its own store already

    def serve() -> str:
        from torch.distributed import TCPStore

        server = TCPStore(
            launch.address,
            0,
            launch.world_size,
            is_master=True,
            timeout=_TIMEOUT,
            multi_tenant=True,  # the process group's store on this port, in this process, is this one
            wait_for_workers=False,
        )
        _connections[(launch.address, server.port, launch.rank)] = server
        return str(server.port)

    port = agree("process-group-port", serve, launch)
    _moved[(launch.run, launch.restart, launch.rank)] = launch
    environ["MASTER_PORT"] = port
    environ["TORCHELASTIC_USE_AGENT_STORE"] = "False"


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
