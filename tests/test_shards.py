"""Shards: ``--shard K/N`` and ``autograd-props merge``.

The end-to-end test runs the built-in set (every spec, every cell of two cheap properties, ``-m``
keeps it affordable) once unsharded and once in 3 shards, and requires the merged report to equal
the unsharded one cell for cell, with the same exit code.  The runs use no pytest cache, so the
split comes from the cost model alone, as on a CI runner with a cold cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograd_props._engine.shards import Shard, parse_shard, partition, plan_shards
from tests.corpus.gate_runner import ROOT

PROPERTIES = "forward or gradient_contract"  # cheap ones; all specs, all their dtypes
VOLATILE = ("duration",)  # seconds differ from run to run; nothing else may


def command(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("AUTOGRAD_PROPS_FUNCS", "CI")}
    return subprocess.run(
        [sys.executable, "-m", "autograd_props", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=1500
    )


def gate(report_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    return command(
        "-m", PROPERTIES, "-p", "no:randomly", "-p", "no:cacheprovider", "--hypothesis-profile=autograd-props-meta",
        "--report-dir", str(report_dir), *extra,
    )


def _comparable(report: dict) -> tuple[list, dict]:
    cells = [{k: v for k, v in cell.items() if k not in VOLATILE} for cell in report["cells"]]
    return cells, report["matrix"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """The unsharded run and the three shards' runs of the built-in set."""
    root = tmp_path_factory.mktemp("shards")
    whole = gate(root / "whole")
    parts = [gate(root / f"part{k}", "--shard", f"{k}/3") for k in (1, 2, 3)]
    return {"root": root, "whole": whole, "parts": parts}


def test_three_shards_merged_equal_the_unsharded_run_cell_for_cell(runs):
    root, whole = runs["root"], runs["whole"]
    assert whole.returncode == 0, whole.stdout[-3000:] + whole.stderr[-3000:]
    reports = [json.loads((root / f"part{k}" / "verification.json").read_text()) for k in (1, 2, 3)]
    owned = [set(r["part"]["owned"]) for r in reports]
    assert all(owned), "a shard owned no cell"
    assert not (owned[0] & owned[1] or owned[0] & owned[2] or owned[1] & owned[2])
    for proc in runs["parts"]:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    merged = command("merge", *(str(root / f"part{k}") for k in (1, 2, 3)), "--report-dir", str(root / "merged"))
    assert merged.returncode == whole.returncode, merged.stdout + merged.stderr
    unsharded = json.loads((root / "whole" / "verification.json").read_text())
    result = json.loads((root / "merged" / "verification.json").read_text())
    assert _comparable(result) == _comparable(unsharded)
    assert {c["spec"] for c in unsharded["cells"]} == set(_builtin_spec_names())
    assert "part" not in result and result["header"]["state"] == "complete"
    markdown = (root / "merged" / "verification.md").read_text()
    assert markdown.split("\n| spec |", 1)[1] == (root / "whole" / "verification.md").read_text().split("\n| spec |", 1)[1]


def test_each_part_says_it_is_one(runs):
    root = runs["root"]
    report = json.loads((root / "part2" / "verification.json").read_text())
    assert report["part"]["index"] == 2 and report["part"]["count"] == 3
    assert sorted(report["part"]["owned"]) == sorted(c["key"] for c in report["cells"])
    assert (root / "part2" / "verification.md").read_text().startswith("# autograd-props verification report: PART 2 of 3")


def test_merge_with_a_missing_part_names_it_and_its_cells(runs):
    root = runs["root"]
    part2 = json.loads((root / "part2" / "verification.json").read_text())["part"]["owned"]
    merged = command("merge", str(root / "part1"), str(root / "part3"), "--report-dir", str(root / "incomplete"))
    assert merged.returncode == 4
    assert "shard 2/3 missing" in merged.stderr
    assert part2[0] in merged.stderr


def test_merge_refuses_a_part_given_twice_and_a_report_that_is_not_a_part(runs):
    root = runs["root"]
    twice = command("merge", str(root / "part1"), str(root / "part1"), str(root / "part2"), "--report-dir", str(root / "x"))
    assert twice.returncode == 4 and "shard 1/3 given twice" in twice.stderr
    whole = command("merge", str(root / "whole"), "--report-dir", str(root / "y"))
    assert whole.returncode == 4 and "not the report part of a shard" in whole.stderr


@pytest.mark.parametrize("value", ["0/3", "4/3", "1/0", "2", "a/b", "-1/3", ""])
def test_parse_shard_refuses_what_is_not_k_of_n(value):
    with pytest.raises(ValueError, match=r"--shard .*K/N"):
        parse_shard(value)


@pytest.mark.parametrize("value", ["4/3", "a/b"])
def test_a_bad_shard_is_a_usage_error_in_one_line(value, tmp_path):
    proc = command(f"--shard={value}", "--report-dir", str(tmp_path), cwd=ROOT)
    assert proc.returncode == 4, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if "--shard" in line]
    assert len(lines) == 1 and "K/N" in lines[0], proc.stdout + proc.stderr


@pytest.mark.parametrize("value, expected", [("1/1", Shard(1, 1)), ("3/4", Shard(3, 4)), (" 2 / 3 ", Shard(2, 3))])
def test_parse_shard(value, expected):
    assert parse_shard(value) == expected


def test_the_split_is_deterministic_disjoint_complete_and_balanced():
    costs = {f"p{i % 7}[spec{i}-float64-cpu]": float((i * 37) % 11 + 1) for i in range(200)}
    groups = partition(costs, 3)
    assert partition(dict(reversed(list(costs.items()))), 3) == groups  # the order given does not matter
    assert sorted(k for g in groups for k in g) == sorted(costs)
    totals = [sum(costs[k] for k in g) for g in groups]
    assert max(totals) - min(totals) <= max(costs.values())


def test_measured_durations_replace_the_model():
    estimates = {"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0}
    plans = [plan_shards(Shard(k, 2), estimates, {"a": 30.0}) for k in (1, 2)]
    assert {"a"} in [set(p.owned) for p in plans]  # the one slow cell gets a shard to itself
    assert plans[0].measured == 1 and plans[0].costs == plans[1].costs
    assert plan_shards(Shard(1, 2), estimates, {}).costs != plans[0].costs


def _builtin_spec_names() -> list[str]:
    sys.path.insert(0, str(ROOT))
    try:
        from funcs import SPECS
    finally:
        sys.path.remove(str(ROOT))
    return [s.name for s in SPECS]


def test_the_sharded_ci_recipe_agrees_with_itself():
    yaml = pytest.importorskip("yaml", reason="PyYAML (in the test extra) parses the workflow")
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "gate-shards.yml").read_text())
    shard, merge = workflow["jobs"]["shard"], workflow["jobs"]["merge"]
    shards = shard["strategy"]["matrix"]["shard"]
    assert shards == list(range(1, len(shards) + 1)) and shard["strategy"]["fail-fast"] is False
    steps = shard["steps"]
    gate_run = next(s["run"] for s in steps if "--shard" in s.get("run", ""))
    assert f"--shard ${{{{ matrix.shard }}}}/{len(shards)}" in gate_run
    part_dir = gate_run.split("--report-dir", 1)[1].split()[0]
    cache = next(s for s in steps if str(s.get("uses", "")).startswith("actions/cache@"))
    assert cache["with"]["path"] == ".pytest_cache" and "${{ matrix.shard }}" in cache["with"]["key"]
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()" and upload["with"]["path"].rstrip("/") == part_dir
    assert upload["with"]["name"] == "report-part-${{ matrix.shard }}"
    assert merge["needs"] == "shard" and merge["if"] == "always()"
    download = next(s for s in merge["steps"] if str(s.get("uses", "")).startswith("actions/download-artifact@"))
    assert download["with"]["pattern"] == "report-part-*"
    merge_run = next(s["run"] for s in merge["steps"] if " merge " in s.get("run", ""))
    assert f"{download['with']['path']}/*" in merge_run
