"""memtest=: the early RAM test over memblock's free ranges, and faulty RAM.

The lines themselves are checked against real kernels by the -memtest boots
of tests/realboots (test_realboots); these tests cover what a healthy QEMU
machine cannot show: bad RAM, its reservation, the kernel's walk resuming
after it, and the log reader getting the fault back."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmsvc.errors import MachineConfigError
from mmsvc.machine import FaultyRam, MachineDescription, from_dmesg
from mmsvc.machine.description import Initrd
from mmsvc.machine.units import kstrtouint
from mmsvc.mm.memtest import PATTERNS
from mmsvc.simulation import Simulation
from tests.conftest import boot_default

RANGE = re.compile(r"^  0x([0-9a-f]{16}) - 0x([0-9a-f]{16}) pattern ([0-9a-f]{16})$")


def _ranges(sim: Simulation) -> list[tuple[int, int, str]]:
    out = []
    for r in sim.log.records:
        if m := RANGE.match(r.text):
            out.append((int(m.group(1), 16), int(m.group(2), 16), m.group(3)))
    return out


def _memory_reserved_k(sim: Simulation) -> int:
    return sim.ctx.results["mem_init_print_info"]["reserved_kb"]


def test_kstrtouint_reads_what_the_kernel_accepts():
    assert [kstrtouint(x) for x in ("1", "17", "0x10", "010", "+3", "3\n")] == [
        1, 17, 16, 8, 3, 3]
    assert [kstrtouint(x) for x in ("", "x", "1a", "-1", "4294967296")] == [None] * 5


def test_the_patterns_run_from_the_nth_down_over_every_free_range():
    sim = boot_default("memtest=3")
    lines = [r.text for r in sim.log.records]
    assert "early_memtest: # of tests: 3" in lines
    ranges = _ranges(sim)
    per_pass = len(ranges) // 3
    assert per_pass >= 2 and len(ranges) == 3 * per_pass
    # patterns 2, 1, 0 of the list, printed in memory byte order
    assert [p for _s, _e, p in ranges[::per_pass]] == [
        "5555555555555555", "ffffffffffffffff", "0000000000000000"]
    # every pass tests the same ranges: the first MiB and the image are reserved
    assert ranges[0][:2] == (0x100000, 0x1000000)
    assert ranges[:per_pass] == [(s, e, ranges[0][2]) for s, e, _p in ranges[:per_pass]]
    assert [r[:2] for r in ranges[:per_pass]] == [r[:2] for r in ranges[-per_pass:]]
    # a bare memtest runs all 17, the last pattern printed as its bytes ("LINUXrlz")
    sim = boot_default("memtest")
    assert "early_memtest: # of tests: 17" in [r.text for r in sim.log.records]
    assert _ranges(sim)[0][2] == "4c494e5558726c7a" == PATTERNS[16].to_bytes(8, "little").hex()


def test_no_memtest_is_silent_and_a_malformed_one_is_named():
    assert not _ranges(boot_default(""))
    sim = boot_default("memtest=lots")
    lines = [r.text for r in sim.log.records]
    assert "Malformed early option 'memtest'" in lines
    assert not _ranges(sim) and "early_memtest: # of tests: 0" not in lines
    assert not any("Unknown kernel command line" in ln and "memtest" in ln for ln in lines)


def test_a_pass_count_no_one_could_wait_for_is_refused_by_name():
    from mmsvc.machine import default_machine

    with pytest.raises(MachineConfigError) as ei:
        default_machine("6.1").replace(cmdline="memtest=4294967295")
    assert ei.value.field == "cmdline: memtest=4294967295"
    assert "1024" in str(ei.value)
    # what does not fit 32 bits is the kernel's malformed option, as before
    sim = boot_default("memtest=99999999999")
    assert "Malformed early option 'memtest'" in sim.log.text()


def test_a_build_without_memtest_does_not_know_the_option():
    from mmsvc.machine import kernels

    cloud = kernels.lookup("6.1.0-56-cloud-amd64")
    sim = boot_default("memtest=2", kernel=cloud.image, kconfig=cloud.kconfig)
    lines = [r.text for r in sim.log.records]
    assert not _ranges(sim)
    assert any(ln.startswith("Unknown kernel command line parameters") and "memtest=2" in ln
               for ln in lines)


def test_faulty_ram_is_found_reserved_and_kept_from_the_buddy_allocator():
    healthy = boot_default("memtest=3")
    # one word at 512 MiB + 4 whose bit 0 always reads 0: pattern 0x5555.. (run
    # first) fails there; the block is the words the fault touches
    bad = FaultyRam(0x2000_0004, 16, stuck_bits=1, stuck_value=0)
    sim = boot_default("memtest=3", faulty_ram=(bad,))
    lines = [r.text for r in sim.log.records]
    report = "  5555555555555555 bad mem addr 0x0000000020000000 - 0x0000000020000018 reserved"
    assert report in lines
    assert lines.count(report) == 1  # reserved: later passes skip it
    assert "Bad RAM detected. Use memtest86+ to perform a thorough test" in lines
    assert sim.mm.memblock.is_region_reserved(0x2000_0000, 0x18)
    # the page holding it never reaches the buddy allocator
    assert _memory_reserved_k(sim) == _memory_reserved_k(healthy) + 4
    # later passes test around it
    after = [r for r in _ranges(sim) if r[2] == "ffffffffffffffff"]
    assert any(e == 0x2000_0000 for _s, e, _p in after)
    assert any(s == 0x2000_0018 for s, _e, _p in after)


def test_ram_that_keeps_the_patterns_asked_for_passes():
    # stuck at 0 in bit 0: pattern 0 (memtest=1) reads back right
    bad = FaultyRam(0x2000_0000, 4096, stuck_bits=1, stuck_value=0)
    sim = boot_default("memtest=1", faulty_ram=(bad,))
    assert not any("bad mem" in r.text for r in sim.log.records)


def test_the_5_14_kernel_does_not_warn():
    bad = FaultyRam(0x2000_0000, 4096)
    sim = boot_default("memtest=2", profile="5.14", faulty_ram=(bad,))
    lines = [r.text for r in sim.log.records]
    assert any("bad mem addr" in ln for ln in lines)
    assert not any(ln.startswith("Bad RAM detected") for ln in lines)


def test_the_walk_resumes_after_a_reservation_as_the_kernels_does():
    # the range below the initrd ends at a reservation, so the kernel's cursor
    # moves to the next reserved gap: after bad RAM is reserved inside the
    # range, that gap is the rest of the same range, tested (and printed) again
    initrd = Initrd(0x3000_0000, 0x100_0000)
    bad = FaultyRam(0x2000_0000, 4096, stuck_value=(1 << 64) - 1)
    sim = boot_default("memtest=1", initrd=initrd, faulty_ram=(bad,))
    ranges = _ranges(sim)
    assert (0x441_1000, 0x3000_0000, "ffffffffffffffff") not in ranges  # pattern 0 only
    assert (0x441_1000, 0x3000_0000, "0000000000000000") in ranges
    assert (0x2000_1000, 0x3000_0000, "0000000000000000") in ranges
    # with the range ending at the end of memory instead there is nothing to resume
    sim = boot_default("memtest=1", faulty_ram=(bad,))
    assert not any(s == 0x2000_1000 for s, _e, _p in _ranges(sim))


def test_a_logs_bad_ram_comes_back_from_the_log(tmp_path):
    # bit 5 stuck at 1: memtest=16 runs 0xeeee.., 0xdddd.. (bit 5 clear) ...
    bad = FaultyRam(0x2000_0000, 0x3000, stuck_bits=0x20, stuck_value=0x20)
    sim = boot_default("memtest=16", faulty_ram=(bad,))
    text = sim.log.text()
    assert "dddddddddddddddd bad mem addr 0x0000000020000000 - 0x0000000020003000 reserved" \
        in text
    log = tmp_path / "bad.log"
    log.write_text(text)
    machine = from_dmesg(str(log))
    assert len(machine.faulty_ram) == 1
    again = Simulation(machine.replace(profile="6.1"))
    again.boot()
    want = [ln for ln in text.splitlines() if "bad mem" in ln]
    assert [ln for ln in again.log.text().splitlines() if "bad mem" in ln] == want


@pytest.mark.parametrize("entry,field", [
    ({"start": 0, "size": 0}, "faulty_ram[0].size"),
    ({"start": 0, "size": 8, "stuck_bits": 0}, "faulty_ram[0].stuck_bits"),
    ({"start": 0, "size": 8, "stuck_value": 1 << 64}, "faulty_ram[0].stuck_value"),
    ({"start": 0, "size": 8, "stuck": 1}, "faulty_ram[0].stuck"),
    ({"size": 8}, "faulty_ram[0].start"),
    ({"start": 1 << 60, "size": 8}, "faulty_ram[0]"),
])
def test_bad_faulty_ram_entries_are_refused_by_name(entry, field):
    from mmsvc.machine import default_machine

    d = default_machine("6.1").to_dict()
    d["faulty_ram"] = [entry]
    with pytest.raises(MachineConfigError) as ei:
        MachineDescription.from_dict(d)
    assert ei.value.field == field


def test_faulty_ram_round_trips_through_the_dict_form():
    from mmsvc.machine import default_machine

    m = default_machine("6.1").replace(faulty_ram=(FaultyRam(0x1000_0000, 64, 0xFF, 0x0F),))
    assert MachineDescription.from_dict(m.to_dict()) == m
    assert FaultyRam.failing_first(0, 8, 0xFFFFFFFFFFFFFFFF, (0x5555555555555555,)) == \
        FaultyRam(0, 8, 1 << 1, 0)
    # no single stuck bit passes both 0 and all-ones then fails something
    assert FaultyRam.failing_first(0, 8, 0x5555555555555555, (0, 0xFFFFFFFFFFFFFFFF)) is None


_FAULT = st.builds(
    FaultyRam,
    start=st.integers(0, (5 << 30) - 1),
    size=st.integers(1, 64 << 20),
    stuck_bits=st.sampled_from([(1 << 64) - 1, 1, 1 << 63, 0x5555_5555_5555_5555]),
    stuck_value=st.sampled_from([0, (1 << 64) - 1, 0xAAAA_AAAA_AAAA_AAAA]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_FAULT, max_size=4), st.sampled_from(["memtest", "memtest=1", "memtest=4",
                                                     "memtest=40", "memtest=0"]))
def test_any_faulty_ram_boots_with_its_bad_words_reserved(faults, option):
    sim = boot_default(option, faulty_ram=tuple(faults))
    reported = [r.text for r in sim.log.records if "bad mem addr" in r.text]
    for line in reported:
        lo, hi = (int(x, 16) for x in re.findall(r"0x([0-9a-f]{16})", line))
        assert any(f.start < hi and lo < f.end for f in faults)
        assert sim.mm.memblock.is_region_reserved(lo, hi - lo)
    # found at most once per run of words: reserved words are not tested again
    assert len(reported) == len(set(reported))
    if option == "memtest=0" or not faults:
        assert reported == []
