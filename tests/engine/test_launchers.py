"""Ranks of an external launcher agree on one value through a real TCP store (threads stand in for
the ranks: the store is the same one torch.distributed uses between processes)."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor

from lighter.engine.launchers import Launch, agree
from lighter.engine.reproduce import SEED_ENV, choose_seed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_every_rank_takes_rank_zeros_draw():
    port = free_port()
    draws = iter(["11", "22", "33"])

    def rank(r: int) -> str:
        launch = Launch("torchrun", r, 3, "127.0.0.1", port, attempt="run.0")
        return agree("seed", lambda: next(draws), launch)

    with ThreadPoolExecutor(3) as pool:
        agreed = list(pool.map(rank, [1, 0, 2]))
    assert agreed == ["11", "11", "11"]  # one draw (rank 0's), seen by every rank
    assert next(draws) == "22"


def test_a_restarted_group_draws_anew():
    port = free_port()
    draws = iter(["11", "22"])

    def rank(r: int, attempt: str) -> str:
        return agree("seed", lambda: next(draws), Launch("torchrun", r, 2, "127.0.0.1", port, attempt))

    with ThreadPoolExecutor(2) as pool:
        first = list(pool.map(rank, [0, 1], ["run.0"] * 2))
    with ThreadPoolExecutor(2) as pool:
        second = list(pool.map(rank, [1, 0], ["run.1"] * 2))
    assert first == ["11", "11"] and second == ["22", "22"]


def test_without_a_launcher_a_process_draws_alone():
    assert agree("seed", lambda: "5", None) == "5"
    assert agree("seed", lambda: "6", Launch("SLURM", 0, 1, "127.0.0.1", 1, "job.0")) == "6"


def test_lightnings_children_take_pl_global_seed():
    """Lightning's launcher starts its children with PL_GLOBAL_SEED, which seed_everything sets."""
    assert SEED_ENV == "PL_GLOBAL_SEED"
    assert choose_seed(None, {"PL_GLOBAL_SEED": "123"}, Launch("torchrun", 1, 2, "127.0.0.1", 1, "x")) == 123
