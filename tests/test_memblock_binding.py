"""The memblock view of the extension module, through Python."""

from __future__ import annotations

import pytest

from mmsvc import _core
from mmsvc.errors import InvalidArgumentError, MmsvcError, OutOfMemoryError


@pytest.fixture
def mb():
    mm = _core.Mm("6.1")
    mb = mm.memblock
    mb.add(0x1000, 0x9E000)
    mb.add(0x100000, 0x7FEE0000)
    return mb


def test_regions_merge_and_split(mb):
    mb.add(0x9F000, 0x61000)  # fills the hole: everything merges
    assert [(r.base, r.end) for r in mb.memory()] == [(0x1000, 0x7FFE0000)]
    mb.remove(0x50000, 0x1000)
    assert [(r.base, r.end) for r in mb.memory()] == [(0x1000, 0x50000), (0x51000, 0x7FFE0000)]


def test_top_down_allocation_and_free_ranges(mb):
    addr = mb.alloc(0x2000, 0x1000)
    assert addr == 0x7FFE0000 - 0x2000
    assert mb.is_region_reserved(addr, 0x2000)
    free = mb.free_ranges()
    assert free[-1][1] == addr
    mb.free(addr, 0x2000)
    assert mb.reserved() == []


def test_bottom_up(mb):
    mb.bottom_up = True
    assert mb.alloc_from(0x1000, 0x1000, 0x200000) == 0x200000


def test_debug_trace_and_dump(mb):
    mb.debug = True
    mb.reserve(0x1000000, 0x3400000, caller="early_reserve_memory")
    assert mb.take_log() == [
        "memblock_reserve: [0x0000000001000000-0x00000000043fffff] early_reserve_memory"]
    dump = mb.dump()
    assert " reserved[0x0]\t[0x0000000001000000-0x00000000043fffff], 0x0000000003400000 bytes" \
        in dump


def test_errors_are_typed_and_change_nothing(mb):
    before = mb.memory()
    with pytest.raises(InvalidArgumentError, match="flags"):
        mb.add(0x200000000, 0x1000, flags=0x100)
    with pytest.raises(InvalidArgumentError, match="align"):
        mb.alloc(0x1000, 3)
    with pytest.raises(OutOfMemoryError):
        mb.alloc(1 << 40, 0x1000)
    assert mb.memory() == before
    assert issubclass(OutOfMemoryError, MmsvcError)


def test_clone_state_is_independent():
    mm = _core.Mm()
    mm.memblock.add(0, 1 << 30)
    fork = mm.clone_state()
    fork.memblock.reserve(0, 0x1000)
    assert mm.memblock.reserved() == []
    assert len(fork.memblock.reserved()) == 1


def test_unknown_profile():
    with pytest.raises(InvalidArgumentError, match="profile"):
        _core.Mm("4.19")
