"""e820: sanitising, edits, printing, memblock hand-over."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmsvc.errors import MachineConfigError
from mmsvc.machine import e820
from mmsvc.machine.e820 import E820Entry as E

RAM, RES, ACPI, NVS, PRAM, SOFT = (e820.E820_RAM, e820.E820_RESERVED, e820.E820_ACPI,
                                   e820.E820_NVS, e820.E820_PRAM, e820.E820_SOFT_RESERVED)


def test_overlap_highest_type_wins():
    status, out = e820.update_table([E(0, 0x1000, RAM), E(0x800, 0x1000, RES)])
    assert status == 0
    assert out == (E(0, 0x800, RAM), E(0x800, 0x1000, RES))


def test_overlap_inner_lower_type_is_swallowed():
    out = e820.sanitize([E(0, 0x3000, NVS), E(0x1000, 0x1000, RAM)])
    assert out == (E(0, 0x3000, NVS),)


def test_inner_higher_type_splits():
    out = e820.sanitize([E(0, 0x3000, RAM), E(0x1000, 0x1000, ACPI)])
    assert out == (E(0, 0x1000, RAM), E(0x1000, 0x1000, ACPI), E(0x2000, 0x1000, RAM))


def test_same_type_neighbours_merge_and_sort():
    out = e820.sanitize([E(0x2000, 0x1000, RAM), E(0, 0x1000, RAM), E(0x1000, 0x1000, RAM)])
    assert out == (E(0, 0x3000, RAM),)


@pytest.mark.parametrize("etype", [PRAM, SOFT])
def test_pram_and_soft_reserved_do_not_merge(etype):
    out = e820.sanitize([E(0, 0x1000, etype), E(0x1000, 0x1000, etype)])
    assert out == (E(0, 0x1000, etype), E(0x1000, 0x1000, etype))


def test_overlapping_pram_splits_at_every_change_point():
    out = e820.sanitize([E(0, 0x2000, PRAM), E(0x1000, 0x2000, PRAM)])
    assert out == (E(0, 0x1000, PRAM), E(0x1000, 0x1000, PRAM), E(0x2000, 0x1000, PRAM))


def test_empty_entries_vanish():
    out = e820.sanitize([E(0, 0x1000, RAM), E(0x5000, 0, RES), E(0x1000, 0x1000, RES)])
    assert out == (E(0, 0x1000, RAM), E(0x1000, 0x1000, RES))


def test_fewer_than_two_entries_unchanged():
    assert e820.update_table([E(0x1000, 0, RAM)]) == (-1, (E(0x1000, 0, RAM),))
    assert e820.update_table([]) == (-1, ())


def test_wrapping_entry_leaves_table_unchanged():
    table = (E(0, 0x1000, RAM), E(2**64 - 0x1000, 0x2000, RES))
    assert e820.update_table(table) == (-1, table)


def test_gap_between_entries_kept():
    out = e820.sanitize([E(0x3000, 0x1000, RAM), E(0, 0x1000, RAM)])
    assert out == (E(0, 0x1000, RAM), E(0x3000, 0x1000, RAM))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 64), st.integers(0, 16),
                          st.sampled_from([RAM, RES, ACPI, NVS, 5, PRAM])),
                min_size=2, max_size=8))
def test_sanitize_matches_pointwise_max(raw):
    """Every byte ends up with the highest type of the entries covering it."""
    table = [E(a * 0x100, s * 0x100, t) for a, s, t in raw]
    out = e820.sanitize(table)
    for a in range(0, 81 * 0x100, 0x100):
        want = max((e.type for e in table if e.addr <= a < e.end), default=0)
        got = [e.type for e in out if e.addr <= a < e.end]
        assert got == ([want] if want else [])
    starts = [e.addr for e in out]
    assert starts == sorted(starts)
    for x, y in zip(out, out[1:], strict=False):
        assert x.end <= y.addr
        if x.end == y.addr and x.type == y.type:
            assert x.type == PRAM


def test_format_names():
    lines = e820.format_table([E(0, 0x9FC00, RAM), E(0x9FC00, 0x400, RES),
                               E(0x100000, 0x1000, ACPI), E(0x200000, 0x1000, NVS),
                               E(0x300000, 0x1000, 5), E(0x400000, 0x1000, PRAM),
                               E(0x500000, 0x1000, 7), E(0x600000, 0x1000, SOFT),
                               E(0x700000, 0x1000, 128), E(0x800000, 0x1000, 99)], "BIOS-e820")
    assert lines[0] == "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable"
    assert lines[1] == "BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved"
    assert [ln.split("] ")[1] for ln in lines[2:]] == [
        "ACPI data", "ACPI NVS", "unusable", "persistent (type 12)", "persistent (type 7)",
        "soft reserved", "usable", "type 99"]


def test_parse_type_name_round_trip():
    for t in (RAM, RES, ACPI, NVS, 5, PRAM, 7, SOFT, 42):
        assert e820.parse_type_name(e820.type_name(t)) == t


def test_range_remove_leaves_husk_until_sanitised():
    out = e820.range_remove([E(0, 0x1000, RAM), E(0x1000, 0x1000, RAM)], 0x1000, 0x1000, RAM)
    assert out == (E(0, 0x1000, RAM), E(0, 0, 0))
    assert e820.sanitize(out) == (E(0, 0x1000, RAM),)


def test_range_remove_middle_appends_tail():
    out = e820.range_remove([E(0, 0x3000, RAM)], 0x1000, 0x1000, RAM)
    assert out == (E(0, 0x1000, RAM), E(0x2000, 0x1000, RAM))


def test_range_update_equal_types_rejected():
    with pytest.raises(ValueError):
        e820.range_update([E(0, 0x1000, RAM)], 0, 0x1000, RAM, RAM)


def test_trim_bios_range():
    bios = [E(0, 0x9FC00, RAM), E(0x9FC00, 0x400, RES), E(0xA0000, 0x60000, RAM),
            E(0x100000, 0x100000, RAM)]
    out = e820.trim_bios_range(bios)
    assert out == (E(0, 0x1000, RES), E(0x1000, 0x9EC00, RAM), E(0x9FC00, 0x400, RES),
                   E(0x100000, 0x100000, RAM))


def test_add_kernel_range_noop_when_ram():
    table = (E(0, 0x10000000, RAM), E(0x10000000, 0x1000, RES))
    assert e820.add_kernel_range(table, 0x1000000, 0x3400000) == (table, False)


def test_add_kernel_range_over_reserved_warns():
    table = (E(0, 0x1000000, RAM), E(0x1000000, 0x4000000, RES), E(0x5000000, 0x1000, RAM))
    out, warned = e820.add_kernel_range(table, 0x1000000, 0x3400000)
    assert warned
    assert e820.sanitize(out) == (E(0, 0x4400000, RAM), E(0x4400000, 0xC00000, RES),
                                  E(0x5000000, 0x1000, RAM))


def test_memblock_memory_trims_and_skips_types():
    table = [E(0, 0x9FC00, RAM), E(0x9FC00, 0x400, RES), E(0x100000, 0x800, ACPI),
             E(0x200000, 0x1800, RAM), E(0x201800, 0x800, 128), E(0x300000, 0x1000, SOFT)]
    assert e820.memblock_memory(table) == [(0, 0x9F000), (0x200000, 0x202000)]
    assert e820.memblock_reserved(table) == [(0x300000, 0x301000)]


def test_bios_table_rejects_single_entry():
    with pytest.raises(MachineConfigError) as ei:
        e820.bios_table([E(0, 0x1000, RAM)])
    assert ei.value.field == "firmware.e820"


def test_user_map_panics_become_errors():
    from mmsvc.machine.cmdline import parse_cmdline

    ops = parse_cmdline("memmap=exactmap memmap=640K@0").mem_ops
    with pytest.raises(MachineConfigError) as ei:
        e820.apply_user_map([E(0, 0x1000, RAM), E(0x1000, 0x1000, RES)], ops)
    assert ei.value.field == "cmdline: memmap=640K@0"
