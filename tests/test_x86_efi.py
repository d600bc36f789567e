"""Machines booted through UEFI (OVMF under QEMU, the kernel's EFI stub):
the EFI memory map and tables read from a log, the boot-services memory
kept through mem_init and given back at arch_initcall, the boot loader's
setup_data, the BGRT logo, and where the stub put the kernel. Every
``efi-*`` boot in tests/realboots is also compared line by line there."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mmsvc import views
from mmsvc.errors import MachineConfigError
from mmsvc.machine import MachineDescription, from_dmesg
from mmsvc.machine.description import E820Firmware
from mmsvc.machine.e820 import E820_RESERVED, E820_RESERVED_KERN
from mmsvc.machine.efi import (
    EFI_BOOT_SERVICES_DATA,
    EFI_MEMORY_RUNTIME,
    EFI_MEMORY_XP,
    EFI_RUNTIME_SERVICES_DATA,
    EfiFirmware,
    EfiMemoryDescriptor,
    format_typeattr,
    parse_attributes,
)
from mmsvc.simulation import Simulation

HERE = Path(__file__).parent
REAL = HERE / "realboots"
#: efi=debug memblock=debug on a 2 GiB pc: the map, and every reservation
DEBUG_LOG = REAL / "efi-pc-2g-dbg.log"


def _machine(cmdline: str | None = None, log: Path = DEBUG_LOG, **efi) -> MachineDescription:
    m = from_dmesg(str(log)).replace(profile="6.1")
    if efi:
        fw = m.firmware
        m = m.replace(firmware=dataclasses.replace(fw, efi=dataclasses.replace(fw.efi, **efi)))
    return m if cmdline is None else m.replace(cmdline=cmdline)


def _boot(m: MachineDescription, until: str | None = None) -> Simulation:
    sim = Simulation(m)
    if until is None:
        sim.boot()
    else:
        sim.add_breakpoint(until)
        sim.run()
    return sim


def _without(m: MachineDescription, word: str) -> str:
    return " ".join(w for w in m.cmdline.split() if w != word)


def _boot_services(m: MachineDescription) -> list[EfiMemoryDescriptor]:
    return [md for md in m.firmware.efi.memmap if md.is_boot_services]


def test_a_log_gives_the_firmware_its_map_and_tables():
    m = _machine()
    efi = m.firmware.efi
    assert efi.banner() == "EFI v2.70 by EDK II"
    assert [t.name for t in efi.tables] == ["SMBIOS", "ACPI", "ACPI 2.0", "MEMATTR", "INITRD"]
    # efi=debug's first map only, not the runtime map printed later
    assert len(efi.memmap) == 128
    assert efi.memmap[6] == EfiMemoryDescriptor(EFI_BOOT_SERVICES_DATA, 0x900000, 0xC00, 0xF)
    # memblock=debug: where the map lies, how big MEMATTR is
    assert efi.memmap_address == 0x7F773040 and efi.memattr_entries == 22
    # the runtime map shows the BGRT logo's pages carved out of a range
    assert efi.bgrt_image == (0x7DC1F000, 9 * 4096)
    assert efi.secure_boot == "disabled"
    # the extended e820 map: two setup_data (the stub's PCI option ROMs)
    assert [(x.address, x.size) for x in m.firmware.setup_data] == [
        (0x7DA17018, 0x3D040), (0x7DC11018, 0x9C40)]


def test_the_stub_moved_the_kernel_above_the_firmware_data():
    """OVMF keeps boot-services data at 16 MiB, so the stub relocates the
    image to the next 2 MiB-aligned free range (a Loader Code range after
    boot); /proc/iomem agrees, and without it the map says so too."""
    assert _machine().kernel.load_address == 0x1600000
    text = DEBUG_LOG.read_text(errors="replace").split("=== /proc/")[0]
    assert from_dmesg(text).kernel.load_address == 0x1600000


def test_the_memory_map_prints_as_the_kernel_prints_it():
    lines = [ln for ln in DEBUG_LOG.read_text(errors="replace").splitlines()
             if "efi: mem" in ln][:128]
    sim = _boot(_machine(), until="setup_command_line")
    ours = [r.text for r in sim.log.records if r.text.startswith("efi: mem")]
    assert ours == [ln.split("] ", 1)[1] for ln in lines]
    attr = EFI_MEMORY_RUNTIME | EFI_MEMORY_XP | 0x8
    text = format_typeattr(6, attr)
    assert text == "[Runtime Data|RUN|  |  |  |  |  |XP|  |  |  |   |WB|  |  |  ]"
    assert parse_attributes(text[14:-1]) == attr
    assert format_typeattr(20, 1 << 40) == f"[type=20|attr=0x{1 << 40:016x}]"


def test_boot_services_stay_reserved_through_mem_init():
    m = _machine()
    sim = _boot(m, until="mem_init")
    mb = sim.mm.memblock
    kept = [md for md in _boot_services(m) if md.phys_addr]
    assert kept and all(mb.is_region_reserved(md.phys_addr, md.end - md.phys_addr)
                        for md in kept)
    # below 16 MiB they count in the DMA zone's dma_reserve, and with
    # efi=debug they stay: 7 MiB of boot-services data between 9 and 16 MiB
    # are not the DMA zone's, as the real /proc/zoneinfo shows
    sim.boot()
    dma = next(z for z in sim.mm.zones() if z["zone"] == "DMA")
    assert dma["managed"] == 1806
    assert "managed  1806" in DEBUG_LOG.read_text(errors="replace")
    bare = _machine(memmap=tuple(md for md in m.firmware.efi.memmap if not md.is_boot_services))
    dma = next(z for z in _boot(bare).mm.zones() if z["zone"] == "DMA")
    assert dma["managed"] == 1806 + 0x700


def _q35_2g(cmdline_without: str = "efi=debug") -> MachineDescription:
    """The 2 GiB q35 machine, put together from three boots of it: the map
    efi=debug printed, and where memblock=debug saw the firmware's map and
    the BGRT logo (efi=debug's runtime map merges the logo's pages into the
    range around them)."""
    dbg = from_dmesg(str(HERE / "efi" / "efi-q35-2g-dbg.log")).replace(profile="6.1")
    seen = from_dmesg(str(HERE / "efi" / "efi-q35-2g-mbdbg.log")).firmware.efi
    efi = dataclasses.replace(dbg.firmware.efi, bgrt_image=seen.bgrt_image,
                              memmap_address=seen.memmap_address)
    m = dbg.replace(firmware=dataclasses.replace(dbg.firmware, efi=efi))
    return m.replace(cmdline=_without(m, cmdline_without))


def test_without_efi_debug_they_are_given_back_at_arch_initcall():
    kept, freed = _boot(_q35_2g("")), _boot(_q35_2g())
    assert not any("Freeing EFI boot services" in r.text for r in kept.log.records)
    # the real boot without efi=debug: the same line, the same MemTotal
    real = (HERE / "efi" / "efi-q35-2g.log").read_text(errors="replace")
    assert "efi: Freeing EFI boot services memory: 43784K" in real
    assert [r.text for r in freed.log.records if "Freeing EFI boot services" in r.text] == [
        "efi: Freeing EFI boot services memory: 43784K"]
    assert views.meminfo(freed)["MemTotal"] == 2005956 and "MemTotal:        2005956 kB" in real
    # and with efi=debug they stay, as its real boot shows
    assert views.meminfo(kept)["MemTotal"] == 1962172
    assert "MemTotal:        1962172 kB" in (HERE / "efi" / "efi-q35-2g-dbg.log").read_text()


def test_5_14_gives_them_back_in_efi_enter_virtual_mode_silently():
    """Before 6.1.192's deferred free, efi_enter_virtual_mode gives the
    ranges back at once (memblock_free_late) and prints nothing."""
    kept = _boot(_q35_2g("").replace(profile="5.14"))
    freed = _boot(_q35_2g().replace(profile="5.14"))
    assert not any("Freeing EFI" in r.text for r in freed.log.records)
    gained = views.meminfo(freed)["MemTotal"] - views.meminfo(kept)["MemTotal"]
    assert gained == 43784
    names = [s.name for s in freed.steps]
    assert names.index("efi_enter_virtual_mode") < names.index("page_alloc_init_late")


def test_memblock_debug_traces_the_boot_without_efi_debug():
    """Booted as the memblock=debug boot of the machine was (without
    efi=debug), every memblock range matches the real trace, the
    boot-services reservations and the BGRT logo's included."""
    from .test_realboots import _memblock_ranges

    log = HERE / "efi" / "efi-q35-2g-mbdbg.log"
    m = _q35_2g().replace(cmdline=from_dmesg(str(log)).cmdline)
    sim = _boot(m)
    real = _memblock_ranges(log.read_text(errors="replace"))
    assert len(real) > 150
    assert _memblock_ranges(sim.log.text()) == real


@pytest.mark.parametrize("cmdline", ["noefi", "efi=noruntime", "efi=debug,noruntime"])
def test_without_runtime_services_the_map_is_dropped(cmdline):
    """noefi and efi=noruntime drop the map in efi_init: nothing is kept
    for the firmware, nothing given back; the MEMATTR table was reserved
    before that."""
    m = _machine()
    m = m.replace(cmdline=f"{_without(m, 'efi=debug')} {cmdline}")
    sim = _boot(m)
    trace = sim.log.text()
    assert "efi_reserve_boot_services" not in trace
    assert "efi_memattr_init" in trace
    assert not any("Freeing EFI boot services" in r.text for r in sim.log.records)
    assert "efi: mem00" not in trace


def test_setup_data_is_reserved_and_marked_in_e820():
    m = _machine()
    sim = _boot(m, until="setup_command_line")
    text = [r.text for r in sim.log.records]
    i = text.index("extended physical RAM map:")
    assert text[i + 6] == "reserve setup_data: [mem 0x0000000000900000-0x000000007da17017] usable"
    assert text[i + 7] == "reserve setup_data: [mem 0x000000007da17018-0x000000007da54057] usable"
    table, _ = m.e820_after_setup()
    assert any(e.type == E820_RESERVED_KERN and e.addr == 0x7DA17018 for e in table)
    assert sim.mm.memblock.is_region_reserved(0x7DA17018, 0x3D040)


def test_the_bgrt_logo_is_kept_and_leaves_e820_ram():
    m = _machine()
    sim = _boot(m, until="setup_command_line")
    e820 = sim.ctx.arch_state["e820"]
    assert any(e.type == E820_RESERVED and e.addr == 0x7DC1F000 and e.size == 0x9000
               for e in e820)
    # the kernel's copy of the map gained the carved-out entry, tagged
    memmap = sim.ctx.arch_state["efi"]["memmap"]
    assert len(memmap) == 129
    logo = next(md for md in memmap if md.phys_addr == 0x7DC1F000)
    assert logo.attribute & EFI_MEMORY_RUNTIME and logo.pages == 9


def test_a_log_without_efi_debug_gets_a_note():
    warnings: list[str] = []
    m = from_dmesg(str(HERE / "efi" / "efi-q35-2g.log"), warnings=warnings)
    assert m.firmware.efi is not None and m.firmware.efi.memmap == ()
    assert any("without efi=debug" in w and "43784K here" in w for w in warnings)


def test_descriptions_round_trip():
    m = _machine()
    fw = m.firmware
    assert E820Firmware.from_dict(fw.to_dict()) == fw
    assert MachineDescription.from_dict(m.to_dict()) == m


def _bad(**change):
    efi = _machine().firmware.efi.to_dict()
    for key, value in change.items():
        if key == "memmap0":
            efi["memmap"][0] = {**efi["memmap"][0], **value}
        else:
            efi[key] = value
    return efi


@pytest.mark.parametrize(("efi", "where", "what"), [
    (_bad(memmap0={"type": "Boot Stuff"}), "efi.memmap[0].type", "unknown EFI memory type"),
    (_bad(memmap0={"phys_addr": 0x1234}), "efi.memmap[0].phys_addr", "4 KiB aligned"),
    (_bad(memmap0={"pages": -1}), "efi.memmap[0].pages", ""),
    (_bad(memmap0={"colour": 1}), "efi.memmap[0].colour", "unknown key"),
    (_bad(memmap0={"phys_addr": 1 << 60}), "efi.memmap[0]", "physical address limit"),
    (_bad(desc_size=12), "efi.desc_size", "multiple of 8"),
    (_bad(revision=[2]), "efi.revision", "[major, minor]"),
    (_bad(bgrt_image={"address": 0x1000}), "efi.bgrt_image.size", "missing"),
    (_bad(secure_boot="maybe"), "efi.secure_boot", "disabled, enabled or unknown"),
    (_bad(tables=[{"name": "A=B", "address": 1}]), "efi.tables[0].name", "not a table name"),
    (_bad(tables=[]), "efi.memattr_entries", "no MEMATTR table"),
])
def test_bad_efi_descriptions_name_the_field(efi, where, what):
    fw = _machine().firmware.to_dict() | {"efi": efi}
    m = _machine().to_dict()
    m["firmware"] = fw
    with pytest.raises(MachineConfigError) as err:
        MachineDescription.from_dict(m)
    assert where in str(err.value) and what in str(err.value)


def test_a_boot_services_range_overlapping_the_kernel_is_not_given_back():
    """can_free_region: a range touching the image is reserved but kept."""
    m = _machine()
    k = m.kernel
    extra = EfiMemoryDescriptor(EFI_BOOT_SERVICES_DATA, k.load_address - 0x1000, 2)
    efi = m.firmware.efi
    m2 = _machine(memmap=(*efi.memmap, extra)).replace(cmdline=_without(m, "efi=debug"))
    sim = _boot(m2)
    assert sim.ctx.arch_state["efi"]["memmap"][-1].attribute & EFI_MEMORY_RUNTIME


def test_efi_firmware_defaults():
    efi = EfiFirmware()
    assert efi.banner() == "EFI v2.70 by EDK II" and efi.tables_line() == ""
    assert EfiFirmware.from_dict(efi.to_dict()) == efi


def test_another_boot_of_the_machine_completes_a_log_without_efi_debug():
    """--efi-from: the memblock=debug boot (no efi=debug, so no map) gets
    the map from the efi=debug boot; then every line and /proc value of it
    matches, boot services given back included."""
    from click.testing import CliRunner

    from mmsvc.cli import cli

    log, dbg = HERE / "efi" / "efi-q35-2g-mbdbg.log", HERE / "efi" / "efi-q35-2g-dbg.log"
    warnings: list[str] = []
    m = from_dmesg(str(log), warnings=warnings, efi_from=str(dbg))
    assert len(m.firmware.efi.memmap) == 128 and warnings == []
    # its own memblock=debug facts stay: the BGRT logo it saw reserved
    assert m.firmware.efi.bgrt_image == (0x7DC20018, 0x839E)
    result = CliRunner().invoke(cli, ["verify", str(log), "--efi-from", str(dbg)])
    assert result.exit_code == 0, result.output
    assert "Freeing EFI" not in result.output and "/proc values agree" in result.output
    result = CliRunner().invoke(cli, ["meminfo", "--efi-from", str(dbg)])
    assert result.exit_code == 2 and "--efi-from completes a --from-dmesg log" in result.output


@pytest.mark.parametrize(("log", "other", "what"), [
    (REAL / "pc-4g.log", HERE / "efi" / "efi-q35-2g-dbg.log", "not of a UEFI boot"),
    (HERE / "efi" / "efi-q35-2g.log", HERE / "efi" / "efi-q35-2g-mbdbg.log",
     "prints no EFI memory map"),
    (HERE / "efi" / "efi-q35-2g.log", REAL / "efi-q35-4g-dbg.log", "another machine"),
])
def test_efi_from_must_be_another_efi_debug_boot_of_the_machine(log, other, what):
    with pytest.raises(MachineConfigError) as err:
        from_dmesg(str(log), efi_from=str(other))
    assert "efi_from" in str(err.value) and what in str(err.value)


def test_a_uefi_machine_survives_toml():
    """RUNTIME attributes do not fit TOML's signed 64-bit integers: they are
    written as strings, which read back as the same numbers."""
    import tomllib

    from mmsvc.machine.loader import dumps_toml, loads_toml

    m = _machine()
    text = dumps_toml(m)
    assert '"0x800000000000000f"' in text
    tomllib.loads(text)
    assert loads_toml(text) == m


def _with_entry(md: EfiMemoryDescriptor, cmdline: str) -> MachineDescription:
    m = _machine()
    efi = m.firmware.efi
    return _machine(memmap=(*efi.memmap, md)).replace(cmdline=f"{m.cmdline} {cmdline}".strip())


def test_add_efi_memmap_imports_the_map_into_e820():
    """The EFI map goes into e820 (the stronger type wins where they
    overlap): memory the firmware calls unusable leaves memblock."""
    from mmsvc.machine.e820 import E820_UNUSABLE

    bad = EfiMemoryDescriptor(8, 0x40000000, 0x100)  # "Unusable", 1 MiB at 1 GiB
    plain, imported = _with_entry(bad, ""), _with_entry(bad, "add_efi_memmap")
    assert not plain.efi_imports_memmap() and imported.efi_imports_memmap()
    table, _ = imported.e820_after_setup()
    assert any(e.type == E820_UNUSABLE and e.addr == 0x40000000 and e.size == 1 << 20
               for e in table)
    assert (0x40000000, 0x40100000) not in imported.memblock_memory()
    spans = lambda m: sum(e - s for s, e in m.memblock_memory())  # noqa: E731
    assert spans(plain) - spans(imported) == 1 << 20


def test_soft_reserved_memory_is_imported_unless_efi_nosoftreserve():
    """Free memory marked SP (specific-purpose) makes the kernel import the
    map: it becomes soft-reserved e820 memory, which memblock reserves."""
    from mmsvc.machine.e820 import E820_SOFT_RESERVED
    from mmsvc.machine.efi import EFI_CONVENTIONAL_MEMORY, EFI_MEMORY_SP

    sp = EfiMemoryDescriptor(EFI_CONVENTIONAL_MEMORY, 0x40000000, 0x1000, 0xF | EFI_MEMORY_SP)
    m = _with_entry(sp, "")
    assert m.efi_imports_memmap()
    assert any(e.type == E820_SOFT_RESERVED and e.addr == 0x40000000
               for e in m.e820_after_setup()[0])
    sim = _boot(m, until="setup_command_line")
    assert sim.mm.memblock.is_region_reserved(0x40000000, 0x1000000)
    off = _with_entry(sp, "efi=nosoftreserve")
    assert not off.efi_imports_memmap()


def test_invalid_map_entries_are_reported_and_dropped():
    """efi_clean_memmap: an entry of no pages, or one running past 2^64, is
    a firmware bug; the kernel names each (with the 65-bit end it works
    out) and goes on without them. Validation lets them through."""
    m = _machine()
    bad = (EfiMemoryDescriptor(EFI_BOOT_SERVICES_DATA, 0x90000000, 0),
           EfiMemoryDescriptor(7, 0xFFFFFFFFFFF00000, 0x1000))
    sim = _boot(_machine(memmap=(*m.firmware.efi.memmap, *bad)), until="setup_command_line")
    assert [r.text for r in sim.log.records if "nvalid" in r.text] == [
        "efi: [Firmware Bug]: Invalid EFI memory map entries:",
        "efi: mem128: [Boot Data   |   |  |  |  |  |  |  |  |  |  |   |WB|WT|WC|UC] "
        "range=[0x0000000090000000-0x0000000000000000] (invalid)",
        "efi: mem129: [Conventional|   |  |  |  |  |  |  |  |  |  |   |WB|WT|WC|UC] "
        "range=[0xfffffffffff00000-0x10000000000efffff] (invalid)",
        "efi: Removing 2 invalid memory map entries."]
    # the 128 valid ones, and the BGRT logo's piece carved out later
    assert len(sim.ctx.arch_state["efi"]["memmap"]) == 129
    # efi=debug's map lists only the valid ones
    assert sum(r.text.startswith("efi: mem") and "(invalid)" not in r.text
               for r in sim.log.records) == 128


def _with_esrt(address: int, size: int | None = 96) -> MachineDescription:
    from mmsvc.machine.efi import EfiConfigTable

    efi = _machine().firmware.efi
    return _machine(tables=(*efi.tables, EfiConfigTable("ESRT", address)), esrt_size=size)


def test_an_esrt_in_boot_services_data_is_kept():
    """efi_esrt_init: reported, reserved, and its page carved out of the
    boot-services range, so that it is not given back later."""
    m = _with_esrt(0x7F7FE000 + 0x18)  # in the 6 MiB boot-services data range
    sim = _boot(m, until="setup_command_line")
    assert ("esrt: Reserving ESRT space from 0x000000007f7fe018 to 0x000000007f7fe078."
            in [r.text for r in sim.log.records])
    memmap = sim.ctx.arch_state["efi"]["memmap"]
    piece = next(md for md in memmap if md.phys_addr == 0x7F7FE000)
    assert piece.pages == 1 and piece.attribute & EFI_MEMORY_RUNTIME
    # without efi=debug, one page less is given back than without an ESRT
    plain = _boot(_machine(_without(m, "efi=debug")))
    kept = _boot(m.replace(cmdline=_without(m, "efi=debug")))
    freed = [int(r.text.split(": ")[-1][:-1]) for s in (plain, kept) for r in s.log.records
             if "Freeing EFI boot services" in r.text]
    assert freed[0] - freed[1] == 4


@pytest.mark.parametrize(("address", "line"), [
    (0x5600000, "esrt: ESRT header is not in the memory map."),  # conventional memory
    (0x7FE00000 - 0x40, "esrt: ESRT does not fit on single memory map entry "
                                  "(size: 96 max: 64)"),
])
def test_an_esrt_the_kernel_cannot_use_is_reported(address, line):
    sim = _boot(_with_esrt(address), until="setup_command_line")
    texts = [r.text for r in sim.log.records]
    assert line in texts and not any("Reserving ESRT" in t for t in texts)


def test_an_esrt_of_unknown_size_gets_a_note():
    text = DEBUG_LOG.read_text(errors="replace").replace(
        "INITRD=0x7dc1df18 ", "INITRD=0x7dc1df18 ESRT=0x7f7fe018 ")
    warnings: list[str] = []
    m = from_dmesg(text, warnings=warnings)
    assert m.firmware.efi.table("ESRT") == 0x7F7FE018 and m.firmware.efi.esrt_size is None
    assert any("ESRT" in w for w in warnings)
    line = "esrt: Reserving ESRT space from 0x000000007f7fe018 to 0x000000007f7fe078."
    text = text.replace("secureboot:", f"{line}\n[    0.000000] secureboot:", 1)
    assert from_dmesg(text).firmware.efi.esrt_size == 96


def test_proc_iomem_shows_where_the_logo_was_carved_out():
    """When the logo shares its range with the MEMATTR table, efi=debug's
    runtime map merges it away; the reserved hole efi_mem_reserve left in
    e820 RAM still shows in /proc/iomem (page 0, which the kernel reserves
    itself, does not count)."""
    warnings: list[str] = []
    m = from_dmesg(str(REAL / "efi-q35-1g-dbg.log"), warnings=warnings)
    assert m.firmware.efi.bgrt_image == (0x3DC20000, 0x9000) and warnings == []
    # without the /proc views the place is unknown, and a note says so
    text = (REAL / "efi-q35-1g-dbg.log").read_text(errors="replace").split("=== /proc/")[0]
    m = from_dmesg(text, warnings=warnings)
    assert m.firmware.efi.bgrt_image is None and any("BGRT" in w for w in warnings)


def test_a_laptops_table_line_reads_whole():
    """Table names with spaces and digits, as real firmware lists them."""
    from mmsvc.machine.dmesg_efi import read_efi

    line = ("efi: ACPI=0x6c7fe000 ACPI 2.0=0x6c7fe014 TPMFinalLog=0x6c60b000 SMBIOS=0x69c1c000 "
            "SMBIOS 3.0=0x69c1b000 MEMATTR=0x65f4d018 ESRT=0x67fc1f98 MOKvar=0x69c8e000 "
            "RNG=0x69aac018 TPMEventLog=0x5f0fe018 ")
    efi = read_efi(["efi: EFI v2.80 by American Megatrends", line]).efi
    assert efi.banner() == "EFI v2.80 by American Megatrends"
    assert [t.name for t in efi.tables] == [
        "ACPI", "ACPI 2.0", "TPMFinalLog", "SMBIOS", "SMBIOS 3.0", "MEMATTR", "ESRT", "MOKvar",
        "RNG", "TPMEventLog"]
    assert efi.table("SMBIOS 3.0") == 0x69C1B000
    assert f"efi: {efi.tables_line()}" == line


def test_a_mangled_map_line_or_descriptor_is_named():
    text = DEBUG_LOG.read_text(errors="replace").replace(
        "range=[0x0000000000900000-0x00000000014fffff]",
        "range=[0xf000000000900000-0x00000000014fffff]", 1)
    with pytest.raises(MachineConfigError) as err:
        from_dmesg(text)
    assert "efi: mem06" in str(err.value) and "4 KiB pages, in that order" in str(err.value)
    m = _machine()
    bad = EfiMemoryDescriptor(EFI_BOOT_SERVICES_DATA, 0x90000000, -3)
    with pytest.raises(MachineConfigError) as err:
        _machine(memmap=(*m.firmware.efi.memmap, bad))
    assert "efi.memmap[128].pages" in str(err.value)


def test_the_esrts_own_reservation_is_not_taken_for_the_logo():
    """efi_mem_reserve keeps the ESRT first (setup_arch), the logo later
    (acpi_boot_init): under memblock=debug the logo's is the other line."""
    log = (HERE / "efi" / "efi-q35-2g-mbdbg.log").read_text(errors="replace")
    first = log.index("memblock_reserve: [0x000000007dc20018")
    line_start = log.rindex("\n", 0, first) + 1
    stamp = log[line_start:first]
    esrt = (f"{stamp}memblock_reserve: [0x000000007f7fe018-0x000000007f7fe077] "
            "efi_mem_reserve+0x21/0x2e\n")
    text = log[:line_start] + esrt + log[line_start:]
    text = text.replace("INITRD=", "ESRT=0x7f7fe018 INITRD=", 1)
    efi = from_dmesg(text).firmware.efi
    assert efi.table("ESRT") == 0x7F7FE018
    assert efi.bgrt_image == (0x7DC20018, 0x839E)


# -- the runtime services' page tables (efi_virtmap) ------------------------


def test_enter_virtual_mode_takes_the_pages_the_kernel_took():
    """tools/realboot/trace/efi-q35-2g-dbg.jsonl.gz traced a boot of the
    tests/efi machine with efi=debug: the allocations under
    efi_enter_virtual_mode, order by order (efi_pgd, its tables, the map's
    doublings, the map and page 0 mapped 1:1)."""
    import gzip
    import json

    from mmsvc import hookimpl

    trace = HERE.parent / "tools" / "realboot" / "trace" / "efi-q35-2g-dbg.jsonl.gz"
    real = [e["order"] for e in map(json.loads, gzip.open(trace, "rt"))
            if e.get("ev") in ("alloc", "bulk")
            and any(f.removeprefix("i:") == "efi_enter_virtual_mode" for f in e["frames"])]

    class Orders:
        def __init__(self) -> None:
            self.seen: list[int] = []

        @hookimpl
        def mmsvc_page_event(self, ctx, event):
            if ctx.log.step == "efi_enter_virtual_mode" and event.kind == "alloc":
                self.seen.append(event.order)

    orders = Orders()
    sim = Simulation(from_dmesg(str(HERE / "efi" / "efi-q35-2g-dbg.log")).replace(profile="6.1"),
                     plugins=[("orders", orders)])
    sim.boot()
    assert len(real) == 38 and orders.seen == real
    vm = sim.ctx.arch_state["efi"]["virtual_mode"]
    assert vm["memmap_order"] == 2 and vm["regions"] > 85  # a second doubling


def test_populate_pgd_takes_a_table_only_where_one_is_missing():
    from mmsvc.machine import default_machine
    from mmsvc_x86_64.efi_virtmap import PMD_SIZE, EfiPgd

    sim = Simulation(default_machine("6.1"))
    sim.run(until="efi_enter_virtual_mode")
    pgd = EfiPgd(sim.ctx, five_level=True)
    pgd.populate(0x1000, 3)  # p4d, pud, pmd tables and a pte table
    assert pgd.pages == 4
    pgd.populate(0x5000, 2)  # the same 2 MiB: nothing new
    assert pgd.pages == 4
    pgd.populate(PMD_SIZE, 512)  # a whole 2 MiB page: a leaf, no table
    assert pgd.pages == 4
    pgd.populate(3 * PMD_SIZE - 0x1000, 2)  # straddles a 2 MiB boundary: two pte tables
    assert pgd.pages == 6


def test_the_virtual_addresses_keep_the_offset_within_2mib():
    from mmsvc_x86_64.efi_virtmap import EFI_VA_START, PMD_SIZE, merge_regions, next_va

    md = EfiMemoryDescriptor(EFI_RUNTIME_SERVICES_DATA, 0x7f8e5000, 3, EFI_MEMORY_RUNTIME)
    va = next_va(EFI_VA_START, md)
    assert va % PMD_SIZE == md.phys_addr % PMD_SIZE and va + 3 * 4096 <= EFI_VA_START
    aligned = EfiMemoryDescriptor(EFI_RUNTIME_SERVICES_DATA, 0x7f800000, 3, EFI_MEMORY_RUNTIME)
    assert next_va(EFI_VA_START, aligned) % PMD_SIZE == 0
    # efi_merge_regions joins neighbours of one type and attribute
    a = EfiMemoryDescriptor(EFI_RUNTIME_SERVICES_DATA, 0x1000, 1, EFI_MEMORY_RUNTIME)
    b = EfiMemoryDescriptor(EFI_RUNTIME_SERVICES_DATA, 0x2000, 2, EFI_MEMORY_RUNTIME)
    c = EfiMemoryDescriptor(EFI_RUNTIME_SERVICES_DATA, 0x5000, 1, EFI_MEMORY_RUNTIME)
    assert [m.pages for m in merge_regions([a, b, c])] == [3, 1]


def test_acpi_nvs_ranges_are_registered_page_by_page():
    """e820__register_nvs_regions: a line and an nvs_region per ACPI NVS
    range, an nvs_page per page of it (the real boot printed the same lines)."""
    log = HERE / "realboots" / "val-efi-q35-1500m.log"
    sim = Simulation(from_dmesg(str(log)).replace(profile="6.1"))
    sim.boot()
    real = [ln.split("] ", 1)[1] for ln in log.read_text(errors="replace").splitlines()
            if "Registering ACPI NVS region" in ln]
    mine = [ln for ln in sim.log.text().splitlines() if "Registering ACPI NVS region" in ln]
    assert len(real) == 4 and mine == real


def test_acpi_nvs_pages_come_from_kmalloc():
    from mmsvc.machine import default_machine
    from mmsvc.machine.e820 import E820_NVS, E820Entry
    from mmsvc_x86_64.acpi_nvs import e820__register_nvs_regions

    sim = Simulation(default_machine("6.1"))
    sim.run(until="sock_init")
    sim.mm.set_slab_event_recording(True)
    sim.mm.drain_slab_events()
    e820__register_nvs_regions(sim.ctx, [E820Entry(0x1_2345_6800, 0x3000, E820_NVS)])
    assert sim.ctx.log.text().splitlines()[-1] == (
        "ACPI: PM: Registering ACPI NVS region [mem 0x123456800-0x1234597ff] (12288 bytes)")
    # 0x6800..0x9800 touches four pages: the range's nvs_region, four nvs_pages
    made = [(kind, cache) for kind, cache, *_ in sim.mm.drain_slab_events()]
    assert made == [("alloc", "kmalloc-32")] + [("alloc", "kmalloc-64")] * 4
