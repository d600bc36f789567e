"""`Mm.alloc_pages` / `Mm.free_pages` answer the per-call shape (exact ints by
position) on a fast path and hand every other shape to the full method: both
must behave as one method, with the same results, errors and signature."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from mmsvc import _core
from mmsvc.errors import DoubleFreeError, NotAllocatedError, WrongOrderError

from .conftest import small_machine


def test_signatures_are_the_documented_ones():
    alloc = inspect.signature(_core.Mm.alloc_pages)
    assert list(alloc.parameters) == ["self", "order", "gfp", "nid", "cpu"]
    assert alloc.parameters["order"].default == 0
    free = inspect.signature(_core.Mm.free_pages)
    assert list(free.parameters) == ["self", "pfn", "order", "cpu"]
    assert "Allocate" in _core.Mm.alloc_pages.__doc__


def test_positional_and_keyword_calls_agree():
    a, b = small_machine(), small_machine()
    got_a = [a.alloc_pages(0), a.alloc_pages(), a.alloc_pages(2)]
    got_b = [b.alloc_pages(order=0), b.alloc_pages(0, None), b.alloc_pages(2, "GFP_KERNEL", -1, 0)]
    assert got_a == got_b
    a.free_pages(got_a[0], 0)
    a.free_pages(got_a[1])
    a.free_pages(got_a[2], 2, 0)
    b.free_pages(pfn=got_b[0], order=0)
    b.free_pages(got_b[1], cpu=0)
    b.free_pages(got_b[2], order=2)
    assert a.buddyinfo() == b.buddyinfo()
    assert a.counters() == b.counters()


def test_other_argument_shapes_reach_the_full_method():
    mm = small_machine()
    dma = mm.alloc_pages(0, "GFP_KERNEL|__GFP_DMA")
    assert mm.page_zone(dma) == (0, "DMA")
    pfn = mm.alloc_pages(np.uint64(1))  # an int-like that is not an int
    assert mm.allocated_order(pfn) == 1
    mm.free_pages(np.uint64(pfn), np.uint32(1))
    pfn = mm.alloc_pages(True)  # bool is an int subclass: order 1, as before
    mm.free_pages(pfn, 1, 1)  # another cpu's pcp list, by position


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda mm: mm.alloc_pages(-1), OverflowError),
        (lambda mm: mm.alloc_pages(1 << 40), OverflowError),
        (lambda mm: mm.alloc_pages("0"), TypeError),
        (lambda mm: mm.alloc_pages(0, None, -1, 0, 5), TypeError),
        (lambda mm: mm.alloc_pages(0, bogus=1), TypeError),
        (lambda mm: mm.free_pages(), TypeError),
        (lambda mm: mm.free_pages(-5, 0), OverflowError),
        (lambda mm: mm.free_pages(1 << 64, 0), OverflowError),
        (lambda mm: mm.free_pages(0x200, 0, 0, 0), TypeError),
        (lambda mm: mm.free_pages(0x200, order=0, pfn=3), TypeError),
    ],
)
def test_bad_arguments_raise_the_full_methods_errors(call, error):
    mm = small_machine()
    before = mm.buddyinfo()
    with pytest.raises(error):
        call(mm)
    assert mm.buddyinfo() == before


def test_core_errors_on_the_fast_path_are_typed_and_change_nothing():
    mm = small_machine()
    pfn = mm.alloc_pages(0)
    big = mm.alloc_pages(3)
    mm.free_pages(pfn, 0)
    counters = mm.counters()
    with pytest.raises(DoubleFreeError, match=hex(pfn)[2:]):
        mm.free_pages(pfn, 0)
    with pytest.raises(WrongOrderError):
        mm.free_pages(big, 2)
    with pytest.raises(NotAllocatedError):
        mm.free_pages(big + 1, 0)
    assert mm.counters() == counters
    mm.free_pages(big, 3)


def test_unbound_calls_check_the_instance():
    mm = small_machine()
    assert _core.Mm.free_pages(mm, _core.Mm.alloc_pages(mm, 0), 0) is None
    with pytest.raises(TypeError):
        _core.Mm.alloc_pages(object(), 0)


def test_event_recording_and_out_of_memory_go_through_the_full_method():
    from mmsvc.errors import OutOfMemoryError

    mm = small_machine()
    mm.set_event_recording(True)
    pfn = mm.alloc_pages(0)
    mm.free_pages(pfn, 0)
    kinds = [e[0] for e in mm.drain_events()]
    assert kinds == ["alloc", "free"]
    mm.set_event_recording(False)
    held = []
    with pytest.raises(OutOfMemoryError):
        while True:
            held.append(mm.alloc_pages(10))
    counters = mm.counters()
    with pytest.raises(OutOfMemoryError):
        mm.alloc_pages(10)
    assert mm.counters() == counters
    for p in held:
        mm.free_pages(p, 10)
