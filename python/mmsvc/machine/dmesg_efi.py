"""What a boot log tells of a UEFI machine and of its boot loader's
setup_data (see :mod:`mmsvc.machine.efi`), for ``--from-dmesg``.

Read, when the log has them: the firmware banner and configuration-table
line ``efi_init`` prints; the memory map ``efi=debug`` prints (the first
one, before ``SetVirtualAddressMap``); the Memory Attributes entries
``efi=debug`` lists later (how big the MEMATTR table is); the secure-boot
line; where the firmware's map and the boot logo lie, from the
``memblock=debug`` trace; and the setup_data ranges, from the extended
e820 map. A log without ``efi=debug`` gives no memory map.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from mmsvc.errors import MachineConfigError
from mmsvc.machine import e820 as _e820
from mmsvc.machine.e820 import E820Entry
from mmsvc.machine.efi import (
    DEFAULT_DESC_SIZE,
    EFI_BOOT_SERVICES_DATA,
    EFI_LOADER_CODE,
    EFI_MEMORY_RUNTIME,
    MEMATTR_HEADER_SIZE,
    EfiConfigTable,
    EfiFirmware,
    EfiMemoryDescriptor,
    parse_attributes,
    type_number,
)
from mmsvc.units import round_up

_BANNER = re.compile(r"^efi: EFI v(\d+)\.(\d+) by (.+?)\s*$")
_TABLE = re.compile(r"([A-Za-z][A-Za-z0-9 .]*?)=0x([0-9a-f]+)")
_MEM = re.compile(r"^efi: mem\d+: \[(.{12}|type=\d+)\|(.*)\] range=\[0x([0-9a-f]+)-0x([0-9a-f]+)\]"
                  r" \(\d+MB\)\s*$")
_RUNTIME_MAP = "efi: EFI runtime memory map:"
_MEMATTR_ENTRY = re.compile(r"^efi: memattr: +!?0x[0-9a-f]+-0x[0-9a-f]+ ")
_SECURE = {"secureboot: Secure boot disabled": "disabled",
           "secureboot: Secure boot enabled": "enabled",
           "secureboot: Secure boot could not be determined": "unknown"}
_RESERVE = re.compile(r"^memblock_reserve: \[0x([0-9a-f]+)-0x([0-9a-f]+)\] (\w+)")
_ESRT = re.compile(r"^esrt: Reserving ESRT space from 0x([0-9a-f]+) to 0x([0-9a-f]+)\.")
_EXTENDED = re.compile(r"^reserve setup_data: \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\] (.+?)\s*$")


@dataclass
class EfiLogFacts:
    efi: EfiFirmware | None
    setup_data: list[tuple[int, int]]


def read_efi(lines: Sequence[str]) -> EfiLogFacts:
    """The EFI firmware and setup_data a log's lines (without their time
    stamps) describe."""
    banner = None
    tables: list[EfiConfigTable] = []
    memmap: list[EfiMemoryDescriptor] = []
    runtime_map: list[EfiMemoryDescriptor] = []
    memattr = 0
    secure = "disabled"
    memmap_address = memattr_size = None
    reserves: list[tuple[int, int]] = []
    extended: list[E820Entry] = []
    after_runtime_map = False
    esrt_size = None
    prev = ""
    for line in lines:
        if m := _BANNER.match(line):
            banner = m
        elif banner is not None and prev == banner.group(0) and line.startswith("efi: "):
            tables = [EfiConfigTable(n.strip(), int(a, 16))
                      for n, a in _TABLE.findall(line[len("efi: "):])]
        elif line.startswith(_RUNTIME_MAP):
            after_runtime_map = True
        elif m := _MEM.match(line):
            etype, attr = type_number(m.group(1)), parse_attributes(m.group(2))
            start, end = int(m.group(3), 16), int(m.group(4), 16) + 1
            if end <= start or start % 4096 or end % 4096:
                raise MachineConfigError(f"dmesg: {line}", "not an EFI memory range: it must "
                                         "start and end on 4 KiB pages, in that order")
            if etype is not None and attr is not None:
                md = EfiMemoryDescriptor(etype, start, (end - start) >> 12, attr)
                (runtime_map if after_runtime_map else memmap).append(md)
        elif _MEMATTR_ENTRY.match(line):
            memattr += 1
        elif m := _ESRT.match(line):
            esrt_size = int(m.group(2), 16) - int(m.group(1), 16)
        elif line in _SECURE:
            secure = _SECURE[line]
        elif m := _RESERVE.match(line):
            start, end, who = int(m.group(1), 16), int(m.group(2), 16) + 1, m.group(3)
            if who == "efi_memblock_x86_reserve_range":
                memmap_address = start
            elif who == "efi_memattr_init":
                memattr_size = end - start
            elif who == "efi_mem_reserve":
                reserves.append((start, end - start))
        elif m := _EXTENDED.match(line):
            s, e = int(m.group(1), 16), int(m.group(2), 16) + 1
            etype = _e820.parse_type_name(m.group(3))
            if etype is not None:
                extended.append(E820Entry(s, e - s, etype))
        prev = line
    efi = None
    if banner is not None:
        # efi_mem_reserve keeps the ESRT too (first, in setup_arch): the
        # logo's is the other one
        esrt = next((t.address for t in tables if t.name == "ESRT"), None)
        reserves = [r for r in reserves if not _holds(r, esrt)]
        entries = memattr or None
        if memattr_size is not None:
            entries = (memattr_size - MEMATTR_HEADER_SIZE) // DEFAULT_DESC_SIZE
        efi = EfiFirmware(vendor=banner.group(3),
                          revision=(int(banner.group(1)), int(banner.group(2))),
                          tables=tuple(tables), memmap=tuple(memmap),
                          memmap_address=memmap_address,
                          memattr_entries=entries if any(t.name == "MEMATTR" for t in tables)
                          else None,
                          bgrt_image=reserves[0] if reserves else
                          _carved_out(memmap, runtime_map, esrt),
                          secure_boot=secure,
                          esrt_size=esrt_size if any(t.name == "ESRT" for t in tables) else None)
    return EfiLogFacts(efi, setup_data_ranges(extended))


def _holds(span: tuple[int, int], addr: int | None) -> bool:
    """Whether the ``(start, size)`` span holds *addr*."""
    return addr is not None and span[0] <= addr < span[0] + span[1]


def _carved_out(memmap: Sequence[EfiMemoryDescriptor],
                runtime_map: Sequence[EfiMemoryDescriptor],
                esrt: int | None) -> tuple[int, int] | None:
    """The pages ``efi_mem_reserve`` carved out of a boot-services data
    range for the BGRT's logo (not the ESRT's): ``efi=debug``'s second
    map, once runtime services are mapped, shows them as a RUNTIME piece
    of a range the first map had whole."""
    for rt in runtime_map:
        if rt.type != EFI_BOOT_SERVICES_DATA or not rt.attribute & EFI_MEMORY_RUNTIME \
                or _holds((rt.phys_addr, rt.end - rt.phys_addr), esrt):
            continue
        for md in memmap:
            if md.phys_addr <= rt.phys_addr and rt.end <= md.end and \
                    (md.phys_addr, md.end) != (rt.phys_addr, rt.end):
                return rt.phys_addr, rt.end - rt.phys_addr
    return None


_IOMEM_RESERVED = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) : Reserved$")


def carved_out_of_ram(iomem: Sequence[str], e820: Sequence[E820Entry],
                      efi: EfiFirmware) -> tuple[int, int] | None:
    """The pages ``efi_mem_reserve`` took out of e820 RAM for the BGRT
    logo, as /proc/iomem shows them after boot: a top-level "Reserved"
    range inside what the firmware's map called usable (not the ESRT's,
    when the firmware has one; and above the first MiB, whose page 0 the
    kernel itself keeps out of e820 RAM)."""
    esrt = efi.table("ESRT")
    for line in iomem:
        m = _IOMEM_RESERVED.match(line)
        if not m:
            continue
        start, end = int(m.group(1), 16), int(m.group(2), 16) + 1
        if start < 1 << 20 or _holds((start, end - start), esrt):
            continue
        if any(e.type == _e820.E820_RAM and e.addr <= start and end <= e.end for e in e820):
            return start, end - start
    return None


def setup_data_ranges(extended: Sequence[E820Entry]) -> list[tuple[int, int]]:
    """The ``(address, size)`` of each setup_data the extended map shows.
    ``e820__reserve_setup_data`` splits a usable entry around each one and
    both kinds print "usable"; the kernel merges touching entries of one
    type, so touching usable entries meet at a setup_data edge, and in a
    run of them the pieces alternate memory, setup_data, memory, ... (a
    boot loader puts its setup_data inside RAM, not at its edges)."""
    out: list[tuple[int, int]] = []
    run: list[E820Entry] = []
    for e in [*extended, None]:
        if e is not None and e.type == _e820.E820_RAM and run and run[-1].end == e.addr:
            run.append(e)
            continue
        out += [(p.addr, p.size) for p in run[1::2]]
        run = [e] if e is not None and e.type == _e820.E820_RAM else []
    return out


def kernel_load_address(efi: EfiFirmware, image_span: int, min_addr: int = 0x1000000,
                        align: int = 0x200000) -> int | None:
    """Where the EFI stub left the kernel without KASLR: the start, aligned,
    of the Loader Code region at or above *min_addr* that holds the image
    (the stub moves it there when the firmware loaded it lower); ``None``
    when the memory map does not show one."""
    for md in efi.memmap:
        if md.type != EFI_LOADER_CODE:
            continue
        start = round_up(md.phys_addr, align)
        if start >= min_addr and start + image_span <= md.end:
            return start
    return None
