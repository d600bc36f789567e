"""The buddy allocator through Python: typed errors, batches, a model check."""

from __future__ import annotations

import array

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmsvc import _core
from mmsvc.errors import (
    DoubleFreeError,
    InvalidArgumentError,
    InvalidStateError,
    NotAllocatedError,
    OutOfMemoryError,
    OutOfRangeError,
    WrongOrderError,
)

from .conftest import MiB, small_machine


def test_zones_and_counters():
    mm = small_machine()
    c = mm.counters()
    assert c["present_pages"] == (64 * MiB - MiB) >> 12
    assert c["totalram_pages"] == c["present_pages"]
    assert c["nr_free_pages"] == c["totalram_pages"]
    zones = {z["zone"]: z for z in mm.zones()}
    assert zones["DMA"]["present"] == 0x1000 - 0x100
    assert zones["DMA32"]["min"] > 0 and zones["DMA32"]["high"] > zones["DMA32"]["low"]


def test_alloc_free_and_views():
    mm = small_machine()
    before = mm.buddyinfo()
    pfn = mm.alloc_pages(order=3, gfp="GFP_KERNEL")
    assert pfn % 8 == 0 and mm.allocated_order(pfn) == 3
    assert mm.page_zone(pfn)[1] in ("DMA", "DMA32")
    mm.free_pages(pfn, 3)
    mm.drain_pcp()
    assert mm.buddyinfo() == before
    dma = mm.alloc_pages(0, gfp="GFP_KERNEL|__GFP_DMA")
    assert mm.page_zone(dma) == (0, "DMA")


def test_wrong_use_is_typed_and_changes_nothing():
    mm = small_machine()
    pfn = mm.alloc_pages(order=2)
    state = (mm.buddyinfo(), mm.counters())
    with pytest.raises(WrongOrderError):
        mm.free_pages(pfn, 1)
    with pytest.raises(NotAllocatedError):
        mm.free_pages(pfn + 1, 0)
    with pytest.raises(OutOfRangeError):
        mm.free_pages(1 << 40, 0)
    with pytest.raises(InvalidArgumentError, match="gfp"):
        mm.alloc_pages(0, gfp="GFP_KERNAL")
    with pytest.raises(InvalidArgumentError):
        mm.alloc_pages(order=11)
    assert (mm.buddyinfo(), mm.counters()) == state
    mm.free_pages(pfn, 2)
    with pytest.raises(DoubleFreeError):
        mm.free_pages(pfn, 2)


def test_out_of_memory():
    mm = small_machine(8 * MiB)
    with pytest.raises(OutOfMemoryError):
        for _ in range(10_000):
            mm.alloc_pages(order=9)


def test_zones_needed_before_allocation():
    mm = _core.Mm()
    with pytest.raises(InvalidStateError, match="free_area_init"):
        mm.alloc_pages(0)


def test_batch_round_trip_and_all_or_nothing():
    mm = small_machine()
    free_before = mm.counters()["nr_free_pages"] + mm.counters()["pcp_pages"]
    buf = array.array("Q", bytes(8 * 1000))
    assert mm.alloc_pages_bulk(buf, order=0) == 1000
    assert len(set(buf)) == 1000
    bad = array.array("Q", list(buf[:10]) + [buf[0]])  # a pfn twice
    with pytest.raises(DoubleFreeError):
        mm.free_pages_bulk(bad, 0)
    assert all(mm.allocated_order(p) == 0 for p in buf)  # nothing was freed
    mm.free_pages_bulk(buf, 0)
    c = mm.counters()
    assert c["nr_free_pages"] + c["pcp_pages"] == free_before


def test_batch_partial_when_memory_runs_out():
    mm = small_machine(8 * MiB)
    buf = array.array("Q", bytes(8 * 100))
    n = mm.alloc_pages_bulk(buf, order=9)
    assert 0 < n < 100
    assert all(p == 2**64 - 1 for p in buf[n:])


def test_events_are_recorded_only_when_asked():
    mm = small_machine()
    pfn = mm.alloc_pages(1)
    assert mm.drain_events() == []
    mm.set_event_recording(True)
    mm.free_pages(pfn, 1)
    pfn = mm.alloc_pages(1)
    kinds = [e[0] for e in mm.drain_events()]
    assert kinds == ["free", "alloc"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 10), st.integers(0, 1000)),
                min_size=1, max_size=120))
def test_random_sequences_match_a_reference_model(ops):
    """Allocated blocks never overlap, lie in RAM, and free counts add up."""
    mm = small_machine(32 * MiB)
    total = mm.counters()["totalram_pages"]
    live: dict[int, int] = {}
    for is_alloc, order, pick in ops:
        if is_alloc or not live:
            try:
                pfn = mm.alloc_pages(order=order)
            except OutOfMemoryError:
                continue
            assert pfn % (1 << order) == 0
            assert 0x100 <= pfn and pfn + (1 << order) <= (32 * MiB) >> 12
            for other, o in live.items():
                assert pfn + (1 << order) <= other or other + (1 << o) <= pfn
            live[pfn] = order
        else:
            victim = sorted(live)[pick % len(live)]
            mm.free_pages(victim, live.pop(victim))
        c = mm.counters()
        used = sum(1 << o for o in live.values())
        assert c["nr_free_pages"] + c["pcp_pages"] == total - used
