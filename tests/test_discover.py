"""``autograd-props discover``: specs inferred for Functions nobody wrote a spec for.

``tests/discoverable`` is a package of Functions in the styles public code uses (classic and
modern, broadcasting inputs, a weight matrix, a ``dim``, integer labels, an ``eps``, surrogates,
a custom op, NumPy); ``tests/discoverable_bugs`` holds copies of eight of them with one planted
bug each (``BUGS``).  The gate runs over them as a user runs it (``python -m autograd_props
discover TARGET`` in a subprocess): every planted bug is caught by a property aimed at it, no
correct Function is flagged, and a surrogate is flagged with the reading that says so.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap

import pytest
import torch

from autograd_props import discover
from autograd_props._discover.arguments import draws, parameters
from autograd_props._discover.finding import TargetError
from autograd_props._discover.spec_writer import spec_module
from autograd_props.discovery import SURROGATE_HINT
from tests.corpus.gate_runner import ROOT, run_gate
from tests.discoverable_bugs import BUGS

PACKAGE = "tests.discoverable"
EXPECTED = {
    "Square", "Softplus", "Mul", "AddCMul", "Linear", "Softmax", "RMSNorm", "CrossEntropy", "MSELoss",
    "cube", "NumpySin", "StraightThroughRound", "GradReverse",
}  # fmt: skip
SURROGATES = {"StraightThroughRound", "GradReverse"}
VJP = {"vjp_native", "vjp_finite_differences"}
# A backward that is not the forward's derivative is also seen by the properties that evaluate the
# backward against the reference by another route (as in tests/corpus/mutants.py).
BACKWARD_VALUE = {"double_backward", "vmap", "special_values", "extreme_values", "unused_outputs"}


def test_discovery_finds_every_function_and_infers_all_it_can():
    found = discover(PACKAGE)
    assert {f.name for f in found.found} == EXPECTED | {"PackedSum"}
    assert {s.name for s in found} == EXPECTED
    (missing,) = found.not_inferred
    assert missing.where == "tests.discoverable.ops.PackedSum" and "*tensors" in missing.why
    by_name = {s.name: s for s in found}
    assert not by_name["NumpySin"].has_reference
    assert any("NumPy" in note for note in by_name["NumpySin"].inference_notes)
    assert all(by_name[n].has_reference for n in EXPECTED - {"NumpySin"})
    families = {s.name: s.inference_notes[0] for s in found}
    assert "broadcastable" in families["AddCMul"] and "matrix-compatible" in families["Linear"]
    assert "integer labels" in families["CrossEntropy"] and "dims()" in families["Softmax"]


def test_complex_dtypes_are_drawn_for_a_function_whose_code_takes_conjugates_only():
    real = {s.name: s for s in discover(PACKAGE)}
    assert not any(d.is_complex for s in real.values() for d in s.dtypes)
    written_for_complex = {s.name: s for s in discover("tests.corpus.planted_complex_bugs")}
    # the missing conj() is in an override: the base class it derives from takes conjugates
    assert set(written_for_complex) == {"ComplexMulMissingConj", "ComplexAbsWirtinger"}
    for spec in written_for_complex.values():
        assert {torch.complex128, torch.complex64} <= set(spec.dtypes), spec.dtypes
        assert any("complex dtypes drawn too" in note for note in spec.inference_notes)


def test_a_path_and_a_module_name_find_the_same_functions():
    by_name = {f.name for f in discover(PACKAGE).found}
    assert {f.name for f in discover(str(ROOT / "tests" / "discoverable")).found} == by_name
    assert {f.name for f in discover(str(ROOT / "tests" / "discoverable" / "layers.py")).found} == {"Linear", "Softmax", "RMSNorm"}
    with pytest.raises(TargetError, match="cannot import"):
        discover("tests.no_such_package")
    with pytest.raises(TargetError, match="no such file"):
        discover("tests/no_such_folder/")


def test_imported_functions_are_not_discovered(tmp_path, monkeypatch):
    (tmp_path / "user_module.py").write_text(
        "import torch\nfrom tests.discoverable.activations import Square\nfrom torch.autograd import Function\n"
        "class Own(Function):\n    @staticmethod\n    def forward(ctx, x):\n        return x * 2\n"
        "    @staticmethod\n    def backward(ctx, g):\n        return 2 * g\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert [f.name for f in discover(str(tmp_path / "user_module.py")).found] == ["Own"]


@pytest.mark.parametrize(
    ("source", "kinds"),
    [
        ("def forward(ctx, x, weight, bias=None, dim=-1, eps=1e-5): ...", ["tensor", "tensor", "constant", "dim", "constant"]),
        ("def forward(ctx, logits, labels, target, index, keepdim): ...", ["tensor", "labels", "target", "index", "constant"]),
        ("def forward(ctx, x: torch.Tensor, p: float, n: int, flag: bool): ...", ["tensor", "constant", "constant", "constant"]),
    ],
)
def test_parameters_are_read_from_names_annotations_and_defaults(source, kinds):
    namespace = {"torch": torch}
    exec(source, namespace)
    assert [p.kind for p in parameters(namespace["forward"], skip_first=True)] == kinds


def test_a_signature_that_cannot_be_read_says_why():
    def takes_a_string(ctx, x, mode: str):
        return x

    with pytest.raises(ValueError, match=r"\*args"):
        parameters(lambda ctx, *args: None, skip_first=True)
    with pytest.raises(ValueError, match="str without a default"):
        parameters(takes_a_string, skip_first=True)


def test_write_specs_round_trip_in_process(tmp_path, monkeypatch):
    """The written module imports, and each of its specs is the discovered one: same name,
    Function, dtypes, constants, reference or none, and the same argument draws."""
    found = discover(PACKAGE)
    (tmp_path / "written_specs.py").write_text(spec_module(found))
    monkeypatch.syspath_prepend(str(tmp_path))
    written = importlib.import_module("written_specs")
    assert [s.name for s in written.SPECS] == [s.name for s in found]
    for ours, theirs in zip(found, written.SPECS):
        assert (theirs.function_class, theirs.custom_op, theirs.dtypes) == (ours.function_class, ours.custom_op, ours.dtypes)
        assert (theirs.non_differentiable, theirs.has_reference) == (ours.non_differentiable, ours.has_reference)
        a, b = draws(ours.args(torch.float32, "cpu"), 5), draws(theirs.args(torch.float32, "cpu"), 5)
        assert repr(a) == repr(b), ours.name
    assert f"# not inferred: {found.not_inferred[0]}" in spec_module(found)
    assert SURROGATE_HINT in spec_module(found)


# The gate over the packages, in subprocesses, as a user runs it.

ALL_AIMED = sorted({prop for _, props in BUGS.values() for prop in props})


@pytest.fixture(scope="module")
def correct_run():
    return run_gate(f"discover:{PACKAGE}", "-n", "2")


@pytest.fixture(scope="module")
def buggy_run():
    return run_gate("discover:tests.discoverable_bugs", "-m", " or ".join(ALL_AIMED))


def _failed(run, name: str) -> set[str]:
    return {c["prop"] for c in run.cells if c["spec"] == name and c["outcome"] == "failed"}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED - SURROGATES))
def test_no_correct_function_is_flagged(correct_run, name):
    cells = [c for c in correct_run.cells if c["spec"] == name]
    assert any(c["outcome"] == "passed" for c in cells), f"{name} did not run\n{correct_run.output[-3000:]}"
    assert not _failed(correct_run, name), f"correct {name} flagged: {sorted(c['key'] for c in cells if c['outcome'] == 'failed')}"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SURROGATES))
def test_a_surrogate_is_flagged_as_not_the_derivative(correct_run, name):
    failed = _failed(correct_run, name)
    assert failed & VJP and not failed - VJP - BACKWARD_VALUE, sorted(failed)
    errors = [f["error"] for c in correct_run.cells if c["spec"] == name and c["prop"] in VJP for f in c["failures"]]
    assert errors and all(e.startswith(SURROGATE_HINT) for e in errors), errors[:2]


@pytest.mark.slow
def test_a_function_not_inferred_keeps_the_run_from_passing(correct_run):
    assert correct_run.exit_code == 1  # the surrogates failed: a failure outranks what was not inferred
    assert "tests.discoverable.ops.PackedSum: not inferred" in correct_run.output
    assert "PackedSum" in correct_run.report["header"]["not inferred (not checked: the run does not pass)"]


@pytest.mark.slow
def test_not_inferred_alone_exits_5(tmp_path):
    (tmp_path / "two_functions.py").write_text(
        textwrap.dedent(
            """
            import torch

            class Double(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    return 2 * x

                @staticmethod
                def backward(ctx, g):
                    return 2 * g

            class Packed(torch.autograd.Function):
                @staticmethod
                def forward(ctx, *xs):
                    return sum(xs)

                @staticmethod
                def backward(ctx, g):
                    return g
            """
        )
    )
    run = run_gate("discover:two_functions", "-m", "vjp_native", cwd=tmp_path)
    assert run.exit_code == 5, run.output[-3000:]
    assert {c["outcome"] for c in run.cells if c["dtype"] == "float64"} == {"passed"}
    assert "Packed: not inferred: the forward takes *xs" in run.output


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BUGS))
def test_every_planted_bug_is_caught_by_a_property_aimed_at_it(buggy_run, name):
    bug, aimed = BUGS[name]
    failed = _failed(buggy_run, name)
    assert failed & set(aimed), f"{name} ({bug}) not caught: failed {sorted(failed)}\n{buggy_run.output[-3000:]}"
    for cell in buggy_run.cells:
        if cell["spec"] == name and cell["prop"] in VJP and cell["outcome"] == "failed":
            assert cell["failures"][0]["error"].startswith(SURROGATE_HINT)


# Runs each reproducer given on stdin (a JSON list) as printed, in a namespace of its own, and
# prints the first line of what each raised: one interpreter for them all (a start-up each would
# cost more than the reproducers).
RUN_EACH_REPRODUCER = """
import json, sys, warnings
warnings.simplefilter("ignore")
raised = []
for code in json.load(sys.stdin):
    try:
        exec(compile(code, "<reproducer>", "exec"), {"__name__": "__main__"})
        raised.append("")
    except Exception as exc:
        raised.append(f"{type(exc).__name__}: {exc}".splitlines()[0])
print(json.dumps(raised))
"""


@pytest.mark.slow
def test_every_discovered_failure_reproduces_as_printed(buggy_run):
    failures = [f for c in buggy_run.cells if c["outcome"] == "failed" for f in c["failures"]]
    assert len(failures) >= len(BUGS)
    assert all("spec_named('discover:tests.discoverable_bugs', " in f["reproducer"] for f in failures)
    ran = subprocess.run([sys.executable, "-c", RUN_EACH_REPRODUCER], cwd=ROOT, input=json.dumps([f["reproducer"] for f in failures]),
                         capture_output=True, text=True, timeout=600, check=True)
    for failure, raised in zip(failures, json.loads(ran.stdout), strict=True):
        error = failure["error"].removeprefix(f"{SURROGATE_HINT}. ")
        assert raised and raised[:200] == error.splitlines()[0][:200], (failure["reproducer"][:300], error[:300], raised)
    # and one as a user pastes it: a fresh interpreter
    square = next(f for c in buggy_run.cells if c["spec"] == "Square" and c["prop"] == "vjp_native" for f in c["failures"])
    ran = subprocess.run([sys.executable, "-c", square["reproducer"]], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 1 and square["error"].removeprefix(f"{SURROGATE_HINT}. ").splitlines()[0][:200] in ran.stderr


@pytest.mark.slow
def test_write_specs_gives_the_same_cells_and_outcomes(buggy_run, tmp_path):
    """``--write-specs`` then the gate over the written module: the cells and outcomes of the gate
    over ``discover:`` itself."""
    written = tmp_path / "written_bug_specs.py"
    made = subprocess.run(
        [sys.executable, "-m", "autograd_props", "discover", "tests.discoverable_bugs", "--write-specs", str(written)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert made.returncode == 0 and written.exists(), made.stderr[-2000:]
    run = run_gate("written_bug_specs", "-m", " or ".join(ALL_AIMED), cwd=tmp_path, env={"PYTHONPATH": str(ROOT)})
    assert {(c["key"], c["outcome"]) for c in run.cells} == {(c["key"], c["outcome"]) for c in buggy_run.cells}


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["discover"], "usage: autograd-props discover TARGET"),
        (["discover", "no_such_module_here"], "cannot import 'no_such_module_here'"),
        (["discover", "tests.corpus.gate_runner"], "defines no torch.autograd.Function subclass"),
        (["discover", "tests.discoverable", "--write-specs"], "--write-specs needs a FILE"),
    ],
)
def test_the_command_refuses_bad_targets_in_one_line(args, says):
    ran = subprocess.run([sys.executable, "-m", "autograd_props", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 4 and says in ran.stderr and ran.stderr.count("\n") == 1, ran.stderr[-2000:]


def test_sizes_the_backward_refuses_are_left_out_and_noted(tmp_path, monkeypatch):
    """A backward that reads ``x.shape[-1]`` refuses the 0-d inputs its forward accepts: discovery
    draws at least 1-d there and says so, rather than reporting the gap as the Function's failure."""
    (tmp_path / "last_dim_backward.py").write_text(
        textwrap.dedent(
            """
            import torch

            class MeanCentered(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    return x - x.mean(-1, keepdim=True)

                @staticmethod
                def backward(ctx, g):
                    n = g.shape[-1]
                    return g - g.sum(-1, keepdim=True) / n
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    (spec,) = discover("last_dim_backward")
    assert "at least 1-d" in spec.inference_notes[0]
    assert any("smaller shapes left out: the backward raised IndexError" in note for note in spec.inference_notes)
