"""The fresh regime makes every round pay the page faults of its large tensors, whatever ran before."""

from __future__ import annotations

import mmap
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from benchmarks.allocator import _glibc_mallopt, set_regime
from benchmarks.page_faults import minor_faults

# Five 8 MB tensors live at once, then freed, round after round.  Under glibc's adaptive
# thresholds the later rounds reuse part of the heap (about 7,800 of 9,800 pages faulted here,
# varying with the heap's history); under fresh each round faults every page again.
ROUNDS_OF_FIVE_TENSORS = textwrap.dedent(
    """
    import sys, torch
    from benchmarks.allocator import set_regime
    from benchmarks.page_faults import minor_faults
    set_regime(sys.argv[1])
    counts = []
    for _ in range(8):
        before = minor_faults()
        live = [torch.ones(10**6, dtype=torch.float64) for _ in range(5)]
        del live
        counts.append(minor_faults() - before)
    print(*counts)
    """
)
PAGES_PER_ROUND = 5 * 8_000_000 // mmap.PAGESIZE


@pytest.mark.skipif(_glibc_mallopt() is None or minor_faults() is None, reason="glibc's mallopt and getrusage only")
def test_fresh_faults_every_page_of_every_round() -> None:
    # In a child process: the regime is process-wide, and the test run's own should not change.
    out = subprocess.run(
        [sys.executable, "-c", ROUNDS_OF_FIVE_TENSORS, "fresh"],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1],
    ).stdout.split()
    counts = [int(c) for c in out]
    assert len(counts) == 8
    assert min(counts) > 0.95 * PAGES_PER_ROUND, counts


def test_adaptive_changes_nothing_and_an_unknown_regime_is_refused() -> None:
    assert set_regime("adaptive").startswith("adaptive")
    with pytest.raises(ValueError, match="choose from fresh, adaptive"):
        set_regime("retain")
