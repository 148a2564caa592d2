"""Ranks of an external launcher agree on one value through a real TCP store (threads stand in for
the ranks: the store is the same one torch.distributed uses between processes)."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from torch.distributed import TCPStore

from lighter.engine import launchers
from lighter.engine.launchers import (
    Launch,
    agree,
    fresh_store_after_restart,
    lightning_nodes,
    recall,
    remember,
)
from lighter.engine.reproduce import SEED_ENV, choose_seed
from lighter.errors import StageError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_every_rank_takes_rank_zeros_draw():
    port = free_port()
    draws = iter(["11", "22", "33"])

    def rank(r: int) -> str:
        launch = Launch("torchrun", r, 3, "127.0.0.1", port, run="run")
        return agree("seed", lambda: next(draws), launch)

    with ThreadPoolExecutor(3) as pool:
        agreed = list(pool.map(rank, [1, 0, 2]))
    assert agreed == ["11", "11", "11"]  # one draw (rank 0's), seen by every rank
    assert next(draws) == "22"


def test_a_restarted_group_draws_anew():
    port = free_port()
    draws = iter(["11", "22"])

    def rank(r: int, restart: int) -> str:
        return agree("port", lambda: next(draws), Launch("torchrun", r, 2, "127.0.0.1", port, "run", restart))

    with ThreadPoolExecutor(2) as pool:
        first = list(pool.map(rank, [0, 1], [0, 0]))
    with ThreadPoolExecutor(2) as pool:
        second = list(pool.map(rank, [1, 0], [1, 1]))
    assert first == ["11", "11"] and second == ["22", "22"]


def test_a_restarted_group_keeps_what_was_agreed_across_restarts():
    """torchrun's store outlives a restart: the seed of the first attempt is the seed of the run."""
    port = free_port()
    draws = iter(["11", "22"])

    def rank(r: int, restart: int) -> str:
        launch = Launch("torchrun", r, 2, "127.0.0.1", port, "run", restart)
        return agree("seed", lambda: next(draws), launch, across_restarts=True)

    with ThreadPoolExecutor(2) as pool:
        first = list(pool.map(rank, [0, 1], [0, 0]))
    with ThreadPoolExecutor(2) as pool:
        second = list(pool.map(rank, [1, 0], [1, 1]))
    assert first == second == ["11", "11"]
    assert next(draws) == "22"  # no second draw


@pytest.fixture
def agent_store(monkeypatch):
    """A store as torchrun's agent serves it; the ranks (threads here) connect to it as clients."""
    monkeypatch.setenv("TORCHELASTIC_USE_AGENT_STORE", "True")
    server = TCPStore("127.0.0.1", 0, 2, is_master=True, wait_for_workers=False)
    yield server


def test_a_restarted_group_recalls_what_the_first_attempt_remembered(agent_store):
    port = agent_store.port
    first = [Launch("torchrun", r, 2, "127.0.0.1", port, "run", 0) for r in (0, 1)]
    again = [Launch("torchrun", r, 2, "127.0.0.1", port, "run", 1) for r in (0, 1)]
    assert [recall("run-folder", launch) for launch in first] == [None, None]
    remember("run-folder", "/runs/version_3", first[0])
    assert [recall("run-folder", launch) for launch in again] == ["/runs/version_3"] * 2
    other = Launch("torchrun", 1, 2, "127.0.0.1", port, "another-run", 1)
    assert recall("run-folder", other) is None


def test_a_rank_that_cannot_reach_rank_zero_gets_an_error_not_a_hang(monkeypatch):
    monkeypatch.setattr(launchers, "_TIMEOUT", timedelta(seconds=2))
    launch = Launch("SLURM", 1, 2, "127.0.0.1", free_port(), "job.0")  # nobody serves this port
    with pytest.raises(StageError) as caught:
        agree("seed", lambda: "1", launch)
    message = str(caught.value)
    assert message.startswith(
        f"@ trainer#num_nodes: SLURM rank 1 of 2 could not reach rank 0 at 127.0.0.1:{launch.port} within 2 s"
    )
    assert "check that every node was started" in message


def test_a_restarted_group_gets_a_fresh_store_for_its_process_group(agent_store):
    """After a restart the agent's store still holds the dead attempt's keys: the process group
    moves to a new store that rank 0 serves (and keeps what lighter remembers in the agent's)."""
    port = agent_store.port
    environs = [{"TORCHELASTIC_USE_AGENT_STORE": "True", "MASTER_PORT": str(port)} for _ in (0, 1)]
    launches = [Launch("torchrun", r, 2, "127.0.0.1", port, "run", 1) for r in (0, 1)]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(fresh_store_after_restart, launches, environs))
    moved = {environ["MASTER_PORT"] for environ in environs}
    assert len(moved) == 1 and moved != {str(port)}
    assert all(environ["TORCHELASTIC_USE_AGENT_STORE"] == "False" for environ in environs)
    fresh = TCPStore("127.0.0.1", int(moved.pop()), is_master=False, timeout=timedelta(seconds=5))
    fresh.set("k", "v")  # rank 0 serves it
    assert fresh.get("k") == b"v"
    assert agent_store.check(["lighter/process-group-port/run.1"])  # agreed through the agent's store
    for launch, environ in zip(launches, environs, strict=True):  # nothing happens on a first start
        first = Launch("torchrun", launch.rank, 2, "127.0.0.1", port, "run", 0)
        before = dict(environ)
        fresh_store_after_restart(first, environ)
        assert environ == before


def test_without_a_launcher_a_process_draws_alone():
    assert agree("seed", lambda: "5", None) == "5"
    assert agree("seed", lambda: "6", Launch("SLURM", 0, 1, "127.0.0.1", 1, "job.0")) == "6"


def test_lightnings_children_take_pl_global_seed():
    """Lightning's launcher starts its children with PL_GLOBAL_SEED, which seed_everything sets."""
    assert SEED_ENV == "PL_GLOBAL_SEED"
    assert choose_seed(None, {"PL_GLOBAL_SEED": "123"}, Launch("torchrun", 1, 2, "127.0.0.1", 1, "x")) == 123


def test_the_main_process_of_each_node_of_lightnings_launcher_takes_part():
    env = {"MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "2900", "NODE_RANK": "1"}
    assert lightning_nodes(2, env) == Launch("Lightning", 1, 2, "10.0.0.1", 2900, "10.0.0.1:2900")
    no_node_rank = {k: v for k, v in env.items() if k != "NODE_RANK"}
    assert lightning_nodes(2, {**no_node_rank, "GROUP_RANK": "0"}).rank == 0  # Lightning reads it too
    assert lightning_nodes(1, env) is None  # one node: nothing to agree with
    assert lightning_nodes("2", env) is None and lightning_nodes(True, env) is None
    assert lightning_nodes(2, {**env, "LOCAL_RANK": "1"}) is None  # a child: inherits PL_GLOBAL_SEED
    assert lightning_nodes(2, {k: v for k, v in env.items() if k != "MASTER_PORT"}) is None
    assert lightning_nodes(2, no_node_rank) is None
