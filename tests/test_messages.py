"""first_line: one line of what an exception says, never an IndexError on an empty message."""

from autograd_props.messages import first_line


def test_the_first_non_blank_line_stripped_and_cut():
    assert first_line(RuntimeError("\n  shape mismatch  \nat frame 3")) == "shape mismatch"
    assert first_line(RuntimeError("x" * 300)) == "x" * 200
    assert first_line(RuntimeError("x" * 300), 500) == "x" * 300


def test_an_empty_message_is_empty():
    assert first_line(NotImplementedError()) == ""
    assert first_line(ValueError("\n \n")) == ""
