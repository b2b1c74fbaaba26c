"""The fault counter records what a call touches for the first time, and nothing it does not."""

from __future__ import annotations

import mmap

import pytest

from benchmarks.page_faults import FaultCounter, minor_faults

PAGES = 512


@pytest.mark.skipif(minor_faults() is None, reason="no getrusage on this platform")
def test_touching_fresh_pages_counts_a_fault_per_page() -> None:
    page = mmap.PAGESIZE

    def touch_fresh_pages() -> int:
        with mmap.mmap(-1, PAGES * page) as fresh:  # anonymous: no page is backed until written
            for i in range(PAGES):
                fresh[i * page] = 1
        return PAGES

    counted = FaultCounter(touch_fresh_pages)
    assert counted() == PAGES  # the call's result is passed through
    counted()
    assert len(counted.counts) == 2
    assert counted.median() >= PAGES


@pytest.mark.skipif(minor_faults() is None, reason="no getrusage on this platform")
def test_reused_memory_counts_no_fault_per_page() -> None:
    page = mmap.PAGESIZE
    with mmap.mmap(-1, PAGES * page) as touched:
        for i in range(PAGES):
            touched[i * page] = 1

        def touch_again() -> None:
            for i in range(PAGES):
                touched[i * page] = 2

        counted = FaultCounter(touch_again)
        counted()
        assert counted.median() < PAGES / 10


def test_no_rounds_no_median() -> None:
    assert FaultCounter(lambda: None).median() is None
