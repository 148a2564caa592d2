"""Real MONAI model-zoo bundle configs resolve with lighter exactly as with ``monai.bundle.ConfigParser``.

The corpus lives beside the checkout (``<repo>/../shared/compat/monai-bundles``, as in CI) and is
not copied into the project; without it these tests skip. For every config file, each top-level
id that MONAI resolves here (with the packages installed on this machine, within a time limit)
must resolve with ours to an equivalent object. Ids MONAI cannot resolve (missing packages such
as ignite, missing data or bundle scripts) are skipped, since there is nothing to compare with.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from _gen_compare import difference
from _gen_harness import TimeLimit, monai_parser, our_parser, time_limit

pytest.importorskip("monai.bundle")

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "compat" / "monai-bundles"
FILES = sorted(p for p in CORPUS.glob("*/configs/*") if p.suffix in (".json", ".yaml", ".yml"))
# MONAI takes up to ~2 s for the largest detection networks here; ids slower than this are skipped.
MONAI_LIMIT_S = 8.0
OURS_LIMIT_S = 30.0


def _params() -> list:
    if not FILES:
        return [
            pytest.param(None, id="no-corpus", marks=pytest.mark.skip(reason=f"corpus not found at {CORPUS}"))
        ]
    return [pytest.param(path, id=str(path.relative_to(CORPUS))) for path in FILES]


def _monai_resolved(path: Path, ids: list[str]) -> dict[str, object]:
    """The top-level ids MONAI resolves in ``path``, with what it built for each."""
    parser, resolved = monai_parser(files=str(path)), {}
    for id_ in ids:
        try:
            with time_limit(MONAI_LIMIT_S):
                resolved[id_] = parser.get_parsed_content(id_)
        except TimeLimit:
            parser = monai_parser(files=str(path))  # interrupted mid-way: start clean
        except Exception:  # noqa: BLE001 - whatever MONAI cannot build here is not compared
            pass
    return resolved


@pytest.mark.parametrize("path", _params())
def test_bundle_config_resolves_like_monai(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Bundles create output folders relative to the working directory: keep them out of the repo.
    monkeypatch.chdir(tmp_path)
    ids = [k for k in monai_parser(files=str(path)).get() if k != "_meta_"]
    expected = _monai_resolved(path, ids)
    parser, problems, built, started = our_parser(files=str(path)), [], {}, time.perf_counter()
    # Ours resolves every id in the same order as MONAI did, the failing ones too: a list that
    # fails half-way may already have changed objects built earlier (``add_module`` on a network).
    for id_ in ids:
        try:
            with time_limit(OURS_LIMIT_S):
                built[id_] = parser.get_parsed_content(id_)
        except TimeLimit:
            problems.append(f"{id_}: ours ran past {OURS_LIMIT_S} s")
            parser = our_parser(files=str(path))
        except Exception as err:  # noqa: BLE001 - reported below with the id
            if id_ in expected:
                problems.append(
                    f"{id_}: MONAI resolved it, ours raised {type(err).__name__}: {str(err)[:300]}"
                )
    elapsed = time.perf_counter() - started
    # Compare once everything is built: later ids may change earlier objects (a scheduler sets
    # its optimizer's initial_lr), as they did in MONAI's run.
    for id_, got in built.items():
        if id_ not in expected:
            continue
        diff = difference(expected[id_], got, path=id_, strict=False)
        if diff is not None:
            problems.append(diff[:500])
    print(
        f"\n{path.relative_to(CORPUS)}: MONAI resolved {len(expected)}/{len(ids)} top-level ids, "
        f"ours matched {len(expected) - len(problems)} ({elapsed:.2f} s)"
    )
    assert not problems, "\n".join(problems)
