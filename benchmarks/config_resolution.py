"""Config resolution speed: lighter.config.ConfigParser against monai.bundle.ConfigParser.

Run ``python benchmarks/config_resolution.py`` (``--quick`` for a smoke run with small configs,
``--check`` to exit with status 1 when a target is missed). Both parsers resolve the same
synthetic config: ``n`` components, each with an ``@`` reference, a ``$`` expression and a ``%``
macro, like a real experiment with many transforms/layers::

    vars: {x: 1, tmpl: {_target_: builtins.dict, k: 1}}
    c7:   {_target_: collections.OrderedDict, a: "@c3#a", b: "$@vars#x + 7", c: "%vars#tmpl"}

Targets (issue 2): resolve-only from a dict >= 50x faster than MONAI at n = 1,500; load from YAML
and resolve >= 10x faster; 4x the components costs <= 5x the time (linear growth).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import yaml

__all__ = ["synthetic_config", "main"]

DICT_TARGET = 50.0
YAML_TARGET = 10.0
GROWTH_TARGET = 5.0


def synthetic_config(n: int) -> dict:
    """``n`` components; ``c{i}`` refers to ``c{i // 2}`` so reference chains stay short (log n)."""
    config: dict = {"vars": {"x": 1, "tmpl": {"_target_": "builtins.dict", "k": 1}}}
    for i in range(n):
        a = f"@c{i // 2}#a" if i else "@vars#x"
        config[f"c{i}"] = {
            "_target_": "collections.OrderedDict",
            "a": a,
            "b": f"$@vars#x + {i}",
            "c": "%vars#tmpl",
        }
    return config


def _lighter_dict(config: dict) -> Callable[[], object]:
    from lighter.config import ConfigParser

    return lambda: ConfigParser(config=config).get_parsed_content("")


def _monai_dict(config: dict) -> Callable[[], object]:
    from monai.bundle import ConfigParser

    # MONAI rewrites the dict it is given: each run gets its own copy, made before the clock starts.
    copies = []

    def run() -> object:
        return ConfigParser(config=copies.pop()).get_parsed_content("")

    run.prepare = lambda: copies.append(copy.deepcopy(config))  # type: ignore[attr-defined]
    return run


def _from_file(parser_class: type, path: Path) -> Callable[[], object]:
    def run() -> object:
        parser = parser_class()
        parser.read_config(str(path))
        return parser.get_parsed_content("")

    return run


def best_of(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best and median wall time of ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        prepare = getattr(run, "prepare", None)
        if prepare is not None:
            prepare()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def _check_same_result(n: int) -> None:
    """Both parsers must build the same thing, or the comparison is meaningless."""
    from monai.bundle import ConfigParser as MonaiParser

    from lighter.config import ConfigParser

    config = synthetic_config(n)
    ours = ConfigParser(config=config).get_parsed_content("")
    theirs = MonaiParser(config=copy.deepcopy(config)).get_parsed_content("")
    if ours != theirs:
        raise SystemExit("lighter and MONAI resolve the benchmark config differently")


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--quick", action="store_true", help="small configs, one repetition (smoke run)")
    options.add_argument("--check", action="store_true", help="exit with status 1 if a target is missed")
    args = options.parse_args(argv)
    # MONAI takes tens of seconds per run at n = 1,500 (its resolution is quadratic): one run each.
    n, growth, repeats, monai_repeats = (150, 4, 3, 1) if args.quick else (1500, 4, 5, 1)
    warnings.filterwarnings("ignore")
    _check_same_result(50)

    from monai.bundle import ConfigParser as MonaiParser

    from lighter.config import ConfigParser

    rows, met = [], []
    with tempfile.TemporaryDirectory() as tmp:
        small, big = Path(tmp, "small.yaml"), Path(tmp, "big.yaml")
        small.write_text(yaml.safe_dump(synthetic_config(n), sort_keys=False))
        big.write_text(yaml.safe_dump(synthetic_config(growth * n), sort_keys=False))
        config, big_config = synthetic_config(n), synthetic_config(growth * n)

        # MONAI first: its runs import most of monai and leave a larger heap behind, which every
        # later run scans in its garbage collections. lighter's small and big configs are then
        # timed in the same state, so that the growth figure compares like with like.
        monai_dict = best_of(_monai_dict(config), monai_repeats)
        monai_yaml = best_of(_from_file(MonaiParser, small), monai_repeats)
        ours_dict = best_of(_lighter_dict(config), repeats)
        ours_dict_big = best_of(_lighter_dict(big_config), repeats)
        ours_yaml = best_of(_from_file(ConfigParser, small), repeats)
        ours_yaml_big = best_of(_from_file(ConfigParser, big), repeats)

    def row(label: str, ours: tuple[float, float], theirs: tuple[float, float] | None, target: float) -> None:
        ratio = theirs[0] / ours[0] if theirs else ours[0]
        ok = ratio >= target if theirs else ratio <= target
        met.append(ok)
        theirs_text = f"{theirs[0]:9.3f} {theirs[1]:9.3f}" if theirs else f"{'-':>9} {'-':>9}"
        sign = ">=" if theirs else "<="
        rows.append(
            f"{label:<34} {ours[0]:9.4f} {ours[1]:9.4f} {theirs_text} {ratio:8.1f}x  {sign} {target:g}x  "
            f"{'(quick run)' if args.quick else 'met' if ok else 'MISSED'}"
        )

    row(f"resolve from dict, n={n}", ours_dict, monai_dict, DICT_TARGET)
    row(f"YAML load + resolve, n={n}", ours_yaml, monai_yaml, YAML_TARGET)
    growth_dict = (ours_dict_big[0] / ours_dict[0], ours_dict_big[1] / ours_dict[1])
    growth_yaml = (ours_yaml_big[0] / ours_yaml[0], ours_yaml_big[1] / ours_yaml[1])
    row(f"lighter growth dict {n}->{growth * n}", growth_dict, None, GROWTH_TARGET)
    row(f"lighter growth YAML {n}->{growth * n}", growth_yaml, None, GROWTH_TARGET)

    print(f"config resolution (seconds; best and median; lighter x{repeats}, MONAI x{monai_repeats})")
    print(f"{'case':<34} {'lighter':>9} {'median':>9} {'monai':>9} {'median':>9} {'ratio':>9}  target")
    print("\n".join(rows))
    print(f"lighter at n={growth * n}: dict {ours_dict_big[0]:.4f} s, YAML {ours_yaml_big[0]:.4f} s")
    if args.quick:
        print("quick run: targets are judged only in the full run (n = 1,500)")
        return 0
    print("all targets met" if all(met) else "SOME TARGETS MISSED")
    return 0 if all(met) or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
