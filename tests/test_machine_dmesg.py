"""from_dmesg on the 11 fixture boots, /proc sections, and log-format robustness."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmsvc.errors import MachineConfigError
from mmsvc.machine import CpuFeatures, dumps_json, from_dmesg, loads_json, parse_dmesg
from mmsvc.machine import e820 as E
from mmsvc.machine.dmesg import clean_lines, proc_sections

from .conftest import FIXTURES

FIX = FIXTURES
pytestmark = pytest.mark.skipif(FIX is None, reason="shared/fixtures not found next to the "
                                                    "repository")
LOGS = FIX / "dmesg" if FIX else Path("/nonexistent")
BASE = "console=ttyS0 earlyprintk=serial panic=-1 nokaslr"

# log: (arch, release, e820 count, last e820 line (start, end incl.), cmdline, cpus, nodes,
#       ramdisk, (code, rwdata, rodata, init, bss) in K)
GEN = (14343, 2338, 9132, 2824, 17344)
TOP = (0xFD00000000, 0xFFFFFFFFFF)
EXPECT = {
    "qemu-x86_64-256m.log": ("x86_64", "6.1.0-56-amd64", 7, TOP, BASE, 1, 0, None, GEN),
    "qemu-x86_64-2g.log": ("x86_64", "6.1.0-56-amd64", 7, TOP, BASE, 1, 0, None, GEN),
    "qemu-x86_64-2g-cloud.log": ("x86_64", "6.1.0-56-cloud-amd64", 7, TOP, BASE, 1, 0, None,
                                 (14343, 2327, 8348, 2612, 5436)),
    "qemu-x86_64-3g-q35.log": ("x86_64", "6.1.0-56-amd64", 10, TOP, BASE, 1, 0, None, GEN),
    "qemu-x86_64-8g-2node.log": ("x86_64", "6.1.0-56-amd64", 8, TOP, BASE, 2, 2, None, GEN),
    "qemu-x86_64-1g-memmap.log": ("x86_64", "6.1.0-56-amd64", 7, TOP,
                                  BASE + " memmap=128M$0x10000000", 1, 0, None, GEN),
    "qemu-x86_64-1g-poison.log": ("x86_64", "6.1.0-56-amd64", 7, TOP,
                                  BASE + " page_poison=1 init_on_alloc=0", 1, 0, None, GEN),
    "qemu-x86_64-2g-proc.log": ("x86_64", "6.1.0-56-amd64", 7, TOP, BASE + " rdinit=/init", 1,
                                0, (0x7FEE4000, 0xFC000), GEN),
    "qemu-x86_64-4g-2node-proc.log": ("x86_64", "6.1.0-56-amd64", 8, TOP,
                                      BASE + " rdinit=/init", 2, 2, (0xBFEE4000, 0xFC000), GEN),
    "uml-32M.log": ("um", "6.1.176", 0, None, "mem=32M con=null con0=fd:0,fd:1 "
                    "root=/dev/nonexistent panic=-1 console=tty0", 1, 0, None,
                    (6634, 1490, 2112, 211, 306)),
    "uml-256M.log": ("um", "6.1.176", 0, None, "mem=256M con=null con0=fd:0,fd:1 "
                     "root=/dev/nonexistent panic=-1 console=tty0", 1, 0, None,
                     (6634, 1490, 2112, 211, 306)),
}


def test_every_fixture_is_covered():
    assert sorted(p.name for p in LOGS.glob("*.log")) == sorted(EXPECT)


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_from_dmesg_facts(name):
    arch, release, n_e820, last, cmdline, cpus, nodes, ramdisk, sizes = EXPECT[name]
    d = from_dmesg(LOGS / name)
    assert d.arch == arch and d.kernel.release == release and d.profile == "6.1"
    assert d.cmdline == cmdline and d.cpus == cpus and len(d.numa) == nodes
    k = d.kernel
    assert (k.text, k.rwdata, k.rodata, k.init, k.bss) == tuple(x * 1024 for x in sizes)
    assert (d.initrd.start, d.initrd.size) == ramdisk if ramdisk else d.initrd is None
    assert d.cpu_features == CpuFeatures()  # not in the log: QEMU -cpu max defaults
    if arch == "x86_64":
        table = d.firmware.e820
        assert len(table) == n_e820
        assert table[0] == E.E820Entry(0, 0x9FC00, E.E820_RAM)
        assert (table[-1].addr, table[-1].end - 1, table[-1].type) == (*last, E.E820_RESERVED)
        assert k.reserved_span == (0x2800000 if "cloud" in release else 0x3400000)
    else:
        assert d.kernel.image_end == 10780 * 1024
    # the description survives a JSON round trip
    assert loads_json(dumps_json(d)) == d


@pytest.mark.parametrize("name", sorted(n for n in EXPECT if n.startswith("qemu")))
def test_bios_table_reprints_the_log(name):
    text = (LOGS / name).read_text(errors="replace")
    logged = [ln for ln in clean_lines(text) if ln.startswith("BIOS-e820:")]
    d = from_dmesg(LOGS / name)
    assert E.format_table(d.bios_e820(), "BIOS-e820") == logged


def test_memmap_fixture_user_map_matches_log():
    text = (LOGS / "qemu-x86_64-1g-memmap.log").read_text(errors="replace")
    logged = [ln for ln in clean_lines(text) if ln.startswith("user:")]
    d = from_dmesg(LOGS / "qemu-x86_64-1g-memmap.log")
    assert len(logged) == 9
    assert E.format_table(d.user_e820(), "user") == logged
    assert d.parsed_cmdline.unknown_line() == (
        'Unknown kernel command line parameters "nokaslr", will be passed to user space.')


def test_no_user_map_without_mem_options():
    assert from_dmesg(LOGS / "qemu-x86_64-2g.log").user_e820() is None


def test_srat_nodes():
    d8 = from_dmesg(LOGS / "qemu-x86_64-8g-2node.log")
    assert [(n.nid, n.pxm, n.cpus) for n in d8.numa] == [(0, 0, (0,)), (1, 1, (1,))]
    assert d8.numa[0].ranges == ((0, 0xA0000), (0x100000, 0xC0000000),
                                 (0x100000000, 0x140000000))
    assert d8.numa[1].ranges == ((0x140000000, 0x240000000),)
    d4 = from_dmesg(LOGS / "qemu-x86_64-4g-2node-proc.log")
    assert d4.numa[0].ranges == ((0, 0xA0000), (0x100000, 0x80000000))
    assert d4.numa[1].ranges == ((0x80000000, 0xC0000000), (0x100000000, 0x140000000))


def test_memblock_ranges_from_logs():
    d = from_dmesg(LOGS / "qemu-x86_64-3g-q35.log")
    assert d.memblock_memory() == [(0x1000, 0x9F000), (0x100000, 0x7FFDF000),
                                   (0x100000000, 0x140000000)]
    m = from_dmesg(LOGS / "qemu-x86_64-1g-memmap.log")
    assert m.memblock_memory() == [(0x1000, 0x9F000), (0x100000, 0x10000000),
                                   (0x18000000, 0x3FFE0000)]


def test_uml_host_facts():
    d = from_dmesg(LOGS / "uml-32M.log")
    assert d.firmware.exec_shield_gap == 611262464 and d.firmware.physmem == 32 << 20
    assert d.uml_physmem_size() - 1 == 0x266F1FFF
    assert from_dmesg(LOGS / "uml-256M.log").uml_physmem_size() - 1 == 0x1FEB4FFF
    assert d.parsed_cmdline.unknown == ("mem=32M",)


def test_proc_logs_are_cut_and_sections_offered():
    text = (LOGS / "qemu-x86_64-2g-proc.log").read_text(errors="replace")
    assert not any(ln.startswith("MemTotal") for ln in clean_lines(text))
    secs = proc_sections(text)
    assert list(secs) == ["meminfo", "zoneinfo", "buddyinfo", "pagetypeinfo", "vmallocinfo",
                          "iomem"]
    assert secs["meminfo"][0].startswith("MemTotal:")
    assert proc_sections((LOGS / "qemu-x86_64-2g.log").read_text(errors="replace")) == {}


def test_overrides_and_log_formats():
    text = (LOGS / "qemu-x86_64-2g.log").read_text(errors="replace")
    bare = "\n".join(clean_lines(text))
    syslog = "\n".join(f"<6>{ln}" for ln in clean_lines(text))
    a, b, c = from_dmesg(text), from_dmesg(bare), from_dmesg(syslog)
    assert a == b == c
    x = from_dmesg(text, profile="5.14", cpu_features=CpuFeatures(la57=False))
    assert x.profile == "5.14" and x.max_physmem_bits == 46


def test_unknown_release_gets_estimates():
    text = (LOGS / "qemu-x86_64-2g.log").read_text(errors="replace")
    notes: list[str] = []
    d = from_dmesg(text.replace("6.1.0-56-amd64", "6.1.0-99-custom"), warnings=notes)
    assert len(notes) == 2 and "6.1.0-99-custom" in notes[0]
    assert d.kernel.release == "6.1.0-99-custom"
    assert d.kernel.text == 14343 * 1024 and d.kernel.reserved_span % 0x200000 == 0
    assert d.kconfig.page_extension  # the default x86_64 6.1 config


def test_unrecognised_log():
    with pytest.raises(MachineConfigError) as ei:
        from_dmesg("hello\nworld\n")
    assert ei.value.field == "dmesg"
    assert parse_dmesg("nothing here\n").arch is None


def test_cpu_features_the_log_states():
    """max_arch_pfn tells the paging depth, the GB-pages report tells 1 GiB pages."""
    text = (LOGS / "qemu-x86_64-2g.log").read_text(errors="replace")
    d = from_dmesg(text)
    assert d.cpu_features.la57 and d.cpu_features.gbpages and d.max_physmem_bits == 52
    four = text.replace("max_arch_pfn = 0x10000000000", "max_arch_pfn = 0x400000000")
    d4 = from_dmesg(four)
    assert not d4.cpu_features.la57 and d4.cpu_features.gbpages and d4.max_physmem_bits == 46
    no_gb = "\n".join(ln for ln in text.splitlines() if "Using GB pages" not in ln)
    assert not from_dmesg(no_gb).cpu_features.gbpages
    # nogbpages hides the report whatever the CPU has: keep the default
    asked = no_gb.replace("nokaslr", "nokaslr nogbpages")
    assert from_dmesg(asked).cpu_features.gbpages
    # a log cut before the direct map states nothing: the defaults stay
    cut = "\n".join(ln for ln in text.splitlines()
                    if "last_pfn" not in ln and "Using GB pages" not in ln)
    assert from_dmesg(cut).cpu_features == CpuFeatures()
    # what the caller passes wins
    assert from_dmesg(four, cpu_features=CpuFeatures()).cpu_features.la57



def test_an_efi_boot_is_named_with_what_it_leaves_out(tmp_path):
    from pathlib import Path

    bios = (Path(__file__).parent / "realboots" / "pc-1536m.log").read_text()
    efi = bios.replace("BIOS-provided physical RAM map:",
                       "efi: EFI v2.70 by EDK II\nBIOS-provided physical RAM map:", 1)
    efi = efi.replace("=== /proc/meminfo", "[    0.448705] efi: Freeing EFI boot services "
                      "memory: 40332K\n=== /proc/meminfo", 1)
    log = tmp_path / "efi.log"
    log.write_text(efi)
    notes: list[str] = []
    from_dmesg(str(log), warnings=notes)
    assert len(notes) == 1 and "EFI boot" in notes[0] and "40332K" in notes[0]
    notes = []
    from_dmesg(str(Path(__file__).parent / "realboots" / "pc-1536m.log"), warnings=notes)
    assert notes == []


def test_a_virtual_machine_is_told_by_its_dmi_line(tmp_path):
    from pathlib import Path

    text = (Path(__file__).parent / "realboots" / "pc-1536m.log").read_text()
    assert from_dmesg(str(Path(__file__).parent / "realboots" / "pc-1536m.log")
                      ).cpu_features.hypervisor
    bare = tmp_path / "bare.log"
    bare.write_text(text.replace("DMI: QEMU Standard PC (i440FX + PIIX, 1996)",
                                 "DMI: Dell Inc. PowerEdge R740"))
    assert not from_dmesg(str(bare)).cpu_features.hypervisor


def test_processors_exceeding_nr_cpus_are_possible_cpus_when_given():
    # possible_cpus=5 nr_cpus=4 on three CPUs: "5 Processors exceeds NR_CPUS
    # limit of 4" counts the option's CPUs, not the firmware's
    from pathlib import Path

    log = Path(__file__).parent / "realboots" / "mix4-pc-2g-smp3-possible-nosmt.log"
    m = from_dmesg(str(log))
    assert (m.cpus, m.present_cpus) == (3, None)
