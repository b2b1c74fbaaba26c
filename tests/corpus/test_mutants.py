"""Every planted bug is caught, by the property aimed at it, and every correct twin passes; the
gate runs them as a user would (``--funcs``), in subprocesses."""

from __future__ import annotations

import pytest

import funcs
from tests.corpus import real_style_twins
from tests.corpus.gate_runner import batches, run_batched
from tests.corpus.mutants import MUTANTS
from tests.corpus.twins import TWINS
from tests.once_per_run import once_per_run

pytestmark = pytest.mark.slow


# Twins that are built-in Functions are checked by the gate over the built-ins in the same test
# run (properties/test_gate.py: same spec, same derandomized examples); a second gate run of them
# here would repeat that check and cost about a fifth of the corpus's time.  A twin that stops
# being a built-in is run here again, by this very rule.
BUILT_IN_TWINS = sorted(name for name, spec in TWINS.items() if spec in funcs.SPECS)
OWN_TWINS = [name for name in TWINS if name not in BUILT_IN_TWINS]


# Specs checked per gate run: each run pays about 6 s of start-up (torch, pytest, the first
# compile), a fifth of a mutant's run; groups of four pay it once, and still leave enough runs
# to keep both cores busy to the end.
SPECS_PER_RUN = 4


def twin_source(name: str) -> str:
    return f"tests.corpus.each_twin:{name}"


def spec_name(source: str) -> str:
    module, _, attr = source.partition(":")
    return MUTANTS[attr].spec.name if module.endswith("mutants") else TWINS[attr].name


@pytest.fixture(scope="module")
def gate_runs(tmp_path_factory, worker_id):
    """All mutants and the twins that are not built-ins through the gate, in parallel subprocesses
    (one per core), once per test run, a few specs of distinct names per run; each result is
    that spec's cells alone (a mutant has its twin's name, so no two of one twin share a run)."""
    # Mutants first: their runs are the longer ones (a failing cell keeps searching), and a long
    # run started last would be left alone on one core at the end.
    mutants = batches([f"tests.corpus.mutants:{name}" for name in MUTANTS], spec_name, SPECS_PER_RUN)
    twins = batches([twin_source(name) for name in OWN_TWINS], spec_name, SPECS_PER_RUN)
    return once_per_run(tmp_path_factory, worker_id, "corpus-gate-runs", lambda _: run_batched(mutants + twins, spec_name))


def test_corpus_is_complete():
    assert len(MUTANTS) >= 20
    assert {m.twin.name for m in MUTANTS.values()} <= set(TWINS)


@pytest.mark.parametrize("name", list(MUTANTS))
def test_mutant_is_caught_by_its_property(gate_runs, name):
    mutant, run = MUTANTS[name], gate_runs[f"tests.corpus.mutants:{name}"]
    assert run.exit_code == 1, f"{name} ({mutant.bug}) passed the gate\n{run.output[-3000:]}"
    assert run.failed & mutant.catches, f"{name}: failed {sorted(run.failed)}, expected one of {sorted(mutant.catches)}"
    unrelated = run.failed - mutant.catches - mutant.allowed
    assert not unrelated, f"{name} ({mutant.bug}) also failed unrelated properties {sorted(unrelated)}"
    aimed = [c for c in run.cells if c["outcome"] == "failed" and c["prop"] in mutant.catches]
    first = [c["first_failure"] for c in aimed]
    assert all(isinstance(n, int) and n >= 1 for n in first), f"{name}: first-failure counts {first}"
    most = max(len(c["failures"]) for c in aimed)
    assert most >= mutant.bugs, f"{name}: at most {most} distinct failures reported in one cell, expected {mutant.bugs}"


@pytest.mark.parametrize("name", sorted(real_style_twins.NOTES))
def test_twin_reports_what_it_saw(gate_runs, name):
    prop, phrase = real_style_twins.NOTES[name]
    notes = [note for c in gate_runs[twin_source(name)].cells if c["spec"] == name and c["prop"] == prop for note in c["notes"]]
    assert any(phrase in note for note in notes), f"twin {name}: {prop} noted {sorted(set(notes))}, expected {phrase!r}"


@pytest.mark.parametrize("name", OWN_TWINS)
def test_twin_passes(gate_runs, name):
    run = gate_runs[twin_source(name)]
    cells = [c for c in run.cells if c["spec"] == name]
    assert cells, f"twin {name} was not run\n{run.output[-3000:]}"
    failed = sorted(c["key"] for c in cells if c["outcome"] == "failed")
    assert not failed, f"correct twin {name} failed (a false alarm): {failed}\n{run.output[-3000:]}"
    assert any(c["outcome"] == "passed" for c in cells)
