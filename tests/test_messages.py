"""first_line: one line of what an exception says, never an IndexError on an empty message."""

from autograd_props.messages import first_line


def test_the_first_non_blank_line_stripped_and_cut():
    assert first_line(RuntimeError("\n  shape mismatch  \nat frame 3")) == "shape mismatch"
    assert first_line(RuntimeError("x" * 300)) == "x" * 200
    assert first_line(RuntimeError("x" * 300), 500) == "x" * 300


def test_an_empty_message_is_empty():
    assert first_line(NotImplementedError()) == ""
    assert first_line(ValueError("\n \n")) == ""


def test_a_half_precision_loss_says_what_it_measures_and_how_to_compute_as_native_does():
    import torch

    import autograd_props
    from autograd_props.profiles import CI
    from tests.corpus.gelu_tanh_half import IN_FLOAT32, IN_ITS_DTYPE

    report = autograd_props.check(IN_ITS_DTYPE, properties=["vjp_native", "vmap"], dtypes=[torch.float16], profile=CI, raise_on_failure=False)
    errors = {c.prop: c.error for c in report.failed}
    assert set(errors) == {"vjp_native", "vmap"}, report.by_cell
    for error in errors.values():
        assert "a precision loss" in error and "(the error against the float64 truth over native's; 4x is allowed in float16)" in error
        assert "x.to(torch.promote_types(x.dtype, torch.float32))" in error
    # Under torch.func.vjp it is the same gradient: the message sends the user to it, not to vmap.
    assert "the same values plain autograd's backward gives: the Function's own gradient, which vjp_native judges" in errors["vmap"]
    # Computed as the message advises, it passes (in float64 too: the advice keeps float64 as it is).
    advised = autograd_props.check(IN_FLOAT32, properties=["vjp_native", "vmap"], profile=CI)
    assert set(advised.outcomes.values()) == {"passed"}, advised.by_cell


def test_a_failure_prints_compactly_by_default_and_in_full_with_v():
    from tests.corpus.gate_runner import run_gate

    compact = run_gate("tests.corpus.softplus_sign_flipped", "-m", "vjp_native", "-k", "float32", profile="ci")
    assert compact.exit_code == 1
    failures = compact.output.split("= FAILURES =", 1)[1].split("verification matrix", 1)[0]
    assert "Reproduce with:" in failures and "example shapes:" in failures and "softplus gradient of argument 0" in failures
    assert "runner.py" not in failures and "def " not in failures  # no traceback through the suite's frames
    assert "@seed(" not in compact.output and "Explanation:" not in compact.output  # Hypothesis's advice about its own test
    assert len(compact.output.splitlines()) <= 60  # one screen for one bug
    assert "FAILED gate_tests.py::TestGate::test_vjp_native[softplus-float32-cpu]" in compact.output  # not a path from the cwd
    full = run_gate("tests.corpus.softplus_sign_flipped", "-m", "vjp_native", "-k", "float32", "-v", profile="ci")
    assert "runner.py" in full.output and "Reproduce with:" in full.output
    # One bug in every dtype: the first cell in full, the others a line each pointing at it.
    # Where CI is set pytest prints each failure's whole message again in its short summary.
    every_dtype = run_gate("tests.corpus.softplus_sign_flipped", "-m", "vjp_native", profile="ci", env={"CI": "true"})
    failures = every_dtype.output.split("= FAILURES =", 1)[1].split("verification matrix", 1)[0]
    assert failures.count("Reproduce with:") == 1 and failures.count("(as vjp_native[softplus-") == 3, failures
    summary = every_dtype.output.split("short test summary info", 1)[1].splitlines()[1:-1]
    assert len(summary) == 4 and all(line.startswith("FAILED ") for line in summary), summary  # a line per cell
    assert len(every_dtype.output.splitlines()) <= 70


def test_a_wrong_second_derivative_of_a_function_suggests_once_differentiable():
    import torch

    import autograd_props
    from autograd_props.profiles import CI
    from tests.corpus.mutants import MUTANTS

    report = autograd_props.check(MUTANTS["SAVES_INTERMEDIATE"].spec, properties=["double_backward"], dtypes=[torch.float64], profile=CI, raise_on_failure=False)
    (failed,) = report.failed
    assert "second derivative" in failed.error and "@torch.autograd.function.once_differentiable" in failed.error
