"""KASLR: a RANDOMIZE_BASE build booted without nokaslr puts the image at a
random physical address and (RANDOMIZE_MEMORY) the vmalloc area at a random
1 GiB boundary. The real boots pc-2g-kaslr, pc-8g-kaslr-memtest (the image
above 4 GiB) and q35-6g-2node-kaslr check the memory lines (test_realboots)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mmsvc.machine import default_machine, from_dmesg
from mmsvc.simulation import Simulation
from tests.conftest import boot_default

REAL = Path(__file__).parent / "realboots"


def _drop_iomem(text: str) -> str:
    out, skip = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith("=== /proc/iomem"):
            skip = True
        elif line.startswith("=== "):
            skip = False
        if not skip:
            out.append(line)
    return "".join(out)


def test_the_log_says_where_kaslr_put_the_image(tmp_path):
    notes: list[str] = []
    m = from_dmesg(str(REAL / "pc-2g-kaslr.log"), warnings=notes)
    assert m.kernel.load_address == 0x5380_0000 and notes == []
    high = from_dmesg(str(REAL / "pc-8g-kaslr-memtest.log"))
    assert high.kernel.load_address == 0x1_e4a0_0000
    # without /proc/iomem the address is unknown: the default, and a note
    bare = tmp_path / "bare.log"
    bare.write_text(_drop_iomem((REAL / "pc-2g-kaslr.log").read_text()))
    notes = []
    m = from_dmesg(str(bare), warnings=notes)
    assert m.kernel.load_address == 0x100_0000
    assert len(notes) == 1 and "KASLR" in notes[0] and "Kernel code" in notes[0]
    # a nokaslr boot needs no note
    notes = []
    from_dmesg(str(REAL / "pc-1536m.log"), warnings=notes)
    assert notes == []


def _kaslr(**fields) -> Simulation:
    """The default machine booted without nokaslr."""
    sim = Simulation(default_machine("6.1").replace(cmdline="console=ttyS0", **fields))
    sim.boot()
    return sim


def _free_kb(sim) -> int:
    return sim.ctx.results["mem_init_print_info"]["available_kb"]


def test_a_random_vmalloc_base_takes_one_more_top_level_table():
    fixed = boot_default("")  # the default machine boots with nokaslr
    assert "nokaslr" in fixed.machine.cmdline
    random = _kaslr()
    pages = fixed.ctx.arch_state["vmalloc_prealloc_pages"]
    assert random.ctx.arch_state["vmalloc_prealloc_pages"] == pages + 1
    # the build without RANDOMIZE_MEMORY keeps the fixed, aligned base
    kc = dataclasses.replace(fixed.machine.kconfig, randomize_memory=False)
    plain = _kaslr(kconfig=kc)
    assert plain.ctx.arch_state["vmalloc_prealloc_pages"] == pages


def test_an_image_in_the_deferred_memory_frees_its_init_sections_early():
    # the default machine: deferred init leaves Normal (from 4 GiB) past its
    # first section; an image there keeps its struct pages set up, so
    # alternatives and init memory go back to the buddy allocator before
    # deferred init, as in the kernel
    low = _kaslr()
    k = dataclasses.replace(low.machine.kernel, load_address=0x1_2000_0000)
    high = _kaslr(kernel=k)
    lines = [r.text for r in high.log.records]
    assert any(ln.startswith("Freeing unused kernel image (initmem) memory") for ln in lines)
    # at mem_init the image no longer sits in the early-initialised memory
    image_kb = low.machine.kernel.reserved_span >> 10
    assert _free_kb(high) - _free_kb(low) > image_kb * 9 // 10


def test_a_node_holding_nothing_but_the_image_takes_its_memmap_elsewhere():
    # KASLR ignores memmap=exactmap: the image may sit outside the RAM the
    # user kept, and e820_add_kernel_range makes it RAM again; on a node of
    # its own that island has no room for the memmap buffer, so the
    # sections' memmaps come from another node, as vmemmap_alloc_block_buf's
    # fallback does
    from mmsvc.machine import NumaNode

    GiB = 1 << 30
    m = default_machine("6.1")
    k = dataclasses.replace(m.kernel, load_address=0x1_2000_0000)
    numa = (NumaNode(0, ((0, 4 * GiB),), (0,)), NumaNode(1, ((4 * GiB, 5 * GiB),), (1,)))
    sim = Simulation(m.replace(cmdline="console=ttyS0 memmap=exactmap memmap=640K@0 memmap=1G@1M",
                               kernel=k, numa=numa, cpus=2))
    sim.boot()
    text = sim.log.text()
    assert ".text .data .bss are not marked as E820_TYPE_RAM!" in text
    assert "node   1: [mem 0x0000000120000000-0x0000000123" in text


def test_the_kaslr_trampoline_tables_come_from_the_early_buffer():
    # init_trampoline_kaslr takes a pud (and a p4d with 5-level paging) through
    # alloc_low_pages: from the brk buffer, so they show only once it runs
    # out, as it does when the direct map needs 4 KiB pages (no PSE)
    m = default_machine("6.1")

    def reserved(cmdline: str, **cpu) -> int:
        feats = dataclasses.replace(m.cpu_features, pse=False, gbpages=False, **cpu)
        sim = Simulation(m.replace(cmdline=cmdline, cpu_features=feats))
        sim.boot()
        return sim.ctx.results["mem_init_print_info"]["reserved_kb"]

    assert reserved("console=ttyS0") - reserved("console=ttyS0 nokaslr") == 8
    assert reserved("console=ttyS0", la57=False) - reserved("console=ttyS0 nokaslr",
                                                            la57=False) == 4


def test_kaslr_entropy_reports_go_to_the_serial_early_console_only():
    from mmsvc.machine import default_machine

    def lines(extra: str, **cpu) -> list[str]:
        m = default_machine("6.1")
        fields = {}
        if cpu:
            fields["cpu_features"] = dataclasses.replace(m.cpu_features, **cpu)
        sim = Simulation(dataclasses.replace(m, cmdline=f"console=ttyS0 {extra}", **fields))
        sim.boot()
        return [ln for ln in sim.log.text().splitlines() if "KASLR using" in ln]

    # nokaslr: only the poking address is drawn (RANDOMIZE_BASE builds)
    assert lines("earlyprintk=serial nokaslr") == ["Poking KASLR using RDRAND RDTSC..."]
    assert lines("earlyprintk=serial", rdrand=False)[0] == "Memory KASLR using RDTSC..."
    # no early console, or a later word registering the VGA one after it
    assert lines("nokaslr") == []
    assert lines("earlyprintk=serial vga=normal nokaslr") == []
    # asking for the serial console again does not take it back: it is refused
    sim = Simulation(dataclasses.replace(
        default_machine("6.1"),
        cmdline="console=ttyS0 earlyprintk=serial vga=normal earlyprintk=serial,keep nokaslr"))
    sim.boot()
    text = sim.log.text()
    assert "ERROR: earlyprintk= earlyser already used\n" in text
    assert "KASLR using" not in text
