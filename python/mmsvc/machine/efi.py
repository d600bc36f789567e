"""UEFI firmware as a machine describes it: the memory map the firmware hands
to the kernel (``efi_memory_desc_t`` entries), its configuration tables and
where it put them, with the kernel's names and printed formats
(include/linux/efi.h, drivers/firmware/efi/efi.c).

Pure data and formatting; what the kernel does with them at boot lives in
the x86_64 plug-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mmsvc.errors import MachineConfigError
from mmsvc.machine import e820 as _e820
from mmsvc.machine.units import as_list as _seq
from mmsvc.machine.units import check_fields, parse_size, parse_str
from mmsvc.machine.units import check_keys as _keys

EFI_PAGE_SHIFT = 12
EFI_PAGE_SIZE = 1 << EFI_PAGE_SHIFT
#: the descriptor size x86 firmware uses (EDK II's, with its padding)
DEFAULT_DESC_SIZE = 48
#: sizeof(efi_memory_attributes_table_t): the header before its descriptors
MEMATTR_HEADER_SIZE = 16

# memory types (EFI_*_MEMORY / EFI_*_CODE / EFI_*_DATA)
EFI_RESERVED_TYPE = 0
EFI_LOADER_CODE = 1
EFI_LOADER_DATA = 2
EFI_BOOT_SERVICES_CODE = 3
EFI_BOOT_SERVICES_DATA = 4
EFI_RUNTIME_SERVICES_CODE = 5
EFI_RUNTIME_SERVICES_DATA = 6
EFI_CONVENTIONAL_MEMORY = 7

#: the names the kernel prints for each type, padded to 12 in its map
TYPE_NAMES = ("Reserved", "Loader Code", "Loader Data", "Boot Code", "Boot Data",
              "Runtime Code", "Runtime Data", "Conventional", "Unusable", "ACPI Reclaim",
              "ACPI Mem NVS", "MMIO", "MMIO Port", "PAL Code", "Persistent")

# attribute bits
EFI_MEMORY_UC = 0x1
EFI_MEMORY_WC = 0x2
EFI_MEMORY_WT = 0x4
EFI_MEMORY_WB = 0x8
EFI_MEMORY_UCE = 0x10
EFI_MEMORY_WP = 0x1000
EFI_MEMORY_RP = 0x2000
EFI_MEMORY_XP = 0x4000
EFI_MEMORY_NV = 0x8000
EFI_MEMORY_MORE_RELIABLE = 0x10000
EFI_MEMORY_RO = 0x20000
EFI_MEMORY_SP = 0x40000
EFI_MEMORY_CPU_CRYPTO = 0x80000
EFI_MEMORY_HOT_PLUGGABLE = 1 << 20
EFI_MEMORY_RUNTIME = 1 << 63
#: the caching attributes firmware gives ordinary memory
EFI_MEMORY_CACHEABLE = EFI_MEMORY_UC | EFI_MEMORY_WC | EFI_MEMORY_WT | EFI_MEMORY_WB

#: the attribute columns of the kernel's map, left to right: (bit, label, width)
_ATTR_COLUMNS = ((EFI_MEMORY_RUNTIME, "RUN", 3), (EFI_MEMORY_HOT_PLUGGABLE, "HP", 2),
                 (EFI_MEMORY_MORE_RELIABLE, "MR", 2), (EFI_MEMORY_CPU_CRYPTO, "CC", 2),
                 (EFI_MEMORY_SP, "SP", 2), (EFI_MEMORY_NV, "NV", 2),
                 (EFI_MEMORY_XP, "XP", 2), (EFI_MEMORY_RP, "RP", 2),
                 (EFI_MEMORY_WP, "WP", 2), (EFI_MEMORY_RO, "RO", 2),
                 (EFI_MEMORY_UCE, "UCE", 3), (EFI_MEMORY_WB, "WB", 2),
                 (EFI_MEMORY_WT, "WT", 2), (EFI_MEMORY_WC, "WC", 2), (EFI_MEMORY_UC, "UC", 2))
_KNOWN_ATTRS = 0
for _bit, _, _ in _ATTR_COLUMNS:
    _KNOWN_ATTRS |= _bit


#: how ``do_add_efi_memmap`` files each memory type in e820 (the memory
#: kinds by their attributes, see :func:`e820_type`)
_E820_OF_TYPE = {9: _e820.E820_ACPI, 10: _e820.E820_NVS, 8: _e820.E820_UNUSABLE,
                 14: _e820.E820_PMEM}


def e820_type(md: EfiMemoryDescriptor, soft_reserve: bool) -> int:
    """The e820 type ``do_add_efi_memmap`` gives an entry: loader, boot
    services and free memory are RAM when write-back cacheable (soft
    reserved when marked SP and soft reservation is on), the ACPI, unusable
    and persistent types their own, anything else reserved."""
    if md.type in (EFI_LOADER_CODE, EFI_LOADER_DATA, EFI_BOOT_SERVICES_CODE,
                   EFI_BOOT_SERVICES_DATA, EFI_CONVENTIONAL_MEMORY):
        if soft_reserve and md.attribute & EFI_MEMORY_SP:
            return _e820.E820_SOFT_RESERVED
        return _e820.E820_RAM if md.attribute & EFI_MEMORY_WB else _e820.E820_RESERVED
    return _E820_OF_TYPE.get(md.type, _e820.E820_RESERVED)


def type_number(text: str) -> int | None:
    """The type a printed name (``"Boot Data"``) or ``type=N`` stands for."""
    text = text.strip()
    if text in TYPE_NAMES:
        return TYPE_NAMES.index(text)
    if text.startswith("type="):
        try:
            return int(text[5:])
        except ValueError:
            return None
    return None


def format_typeattr(etype: int, attribute: int) -> str:
    """The bracketed type and attribute columns of ``efi_md_typeattr_format``."""
    out = f"[type={etype}" if etype >= len(TYPE_NAMES) else f"[{TYPE_NAMES[etype]:<12}"
    if attribute & ~_KNOWN_ATTRS:
        return out + f"|attr=0x{attribute:016x}]"
    cols = [f"{label if attribute & bit else '':>{width}}" for bit, label, width in _ATTR_COLUMNS]
    return out + "|" + "|".join(cols) + "]"


def parse_attributes(columns: str) -> int | None:
    """Inverse of the attribute half of :func:`format_typeattr` (the text
    between the type and the closing bracket, columns split by ``|``)."""
    columns = columns.strip()
    if columns.startswith("attr="):
        try:
            return int(columns[5:], 16)
        except ValueError:
            return None
    cells = [c.strip() for c in columns.split("|")]
    if len(cells) != len(_ATTR_COLUMNS):
        return None
    attr = 0
    for cell, (bit, label, _) in zip(cells, _ATTR_COLUMNS, strict=True):
        if cell == label:
            attr |= bit
        elif cell:
            return None
    return attr


@dataclass(frozen=True)
class EfiMemoryDescriptor:
    """One entry of the firmware's memory map: ``pages`` EFI pages (4 KiB)
    of memory type ``type`` (see :data:`TYPE_NAMES`) from ``phys_addr``,
    with ``attribute`` bits."""

    type: int
    phys_addr: int
    pages: int
    attribute: int = EFI_MEMORY_CACHEABLE

    @property
    def end(self) -> int:
        return self.phys_addr + (self.pages << EFI_PAGE_SHIFT)

    @property
    def is_boot_services(self) -> bool:
        return self.type in (EFI_BOOT_SERVICES_CODE, EFI_BOOT_SERVICES_DATA)

    def format(self, index: int) -> str:
        """The line ``efi_print_memmap`` prints for this entry."""
        return (f"mem{index:02d}: {format_typeattr(self.type, self.attribute)} "
                f"range=[0x{self.phys_addr:016x}-0x{self.end - 1:016x}] "
                f"({self.pages >> (20 - EFI_PAGE_SHIFT)}MB)")

    def to_dict(self) -> dict[str, Any]:
        name = TYPE_NAMES[self.type] if self.type < len(TYPE_NAMES) else self.type
        return {"type": name, "phys_addr": self.phys_addr, "pages": self.pages,
                "attribute": self.attribute}

    @classmethod
    def from_dict(cls, data: object, path: str) -> EfiMemoryDescriptor:
        d = check_fields(data, ("type", "phys_addr", "pages"), path, ("attribute",))
        etype = d["type"]
        if isinstance(etype, str):
            num = type_number(etype)
            if num is None:
                raise MachineConfigError(f"{path}.type", f"unknown EFI memory type {etype!r} "
                                         f"(known: {', '.join(TYPE_NAMES)})")
            etype = num
        # ranges and alignment: EfiFirmware.validate, for built entries too
        return cls(parse_size(etype, f"{path}.type"),
                   parse_size(d["phys_addr"], f"{path}.phys_addr"),
                   parse_size(d["pages"], f"{path}.pages"),
                   parse_size(d.get("attribute", EFI_MEMORY_CACHEABLE), f"{path}.attribute"))


@dataclass(frozen=True)
class EfiConfigTable:
    """A configuration table the system table lists, by the name the kernel
    prints for its GUID (``SMBIOS``, ``ACPI 2.0``, ``MEMATTR``, ...)."""

    name: str
    address: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "address": self.address}

    @classmethod
    def from_dict(cls, data: object, path: str) -> EfiConfigTable:
        d = check_fields(data, ("name", "address"), path)
        name = parse_str(d["name"], f"{path}.name")
        if not name or "=" in name or not name.isprintable():
            raise MachineConfigError(f"{path}.name", f"not a table name: {name!r}")
        return cls(name, parse_size(d["address"], f"{path}.address"))


@dataclass(frozen=True)
class EfiFirmware:
    """What UEFI firmware (and the kernel's EFI stub) leave for the kernel on
    x86: the firmware's vendor and revision, its configuration tables, its
    memory map and the facts about them the kernel reads from memory:

    ``memmap_address``: where the memory map lies (boot_params' efi_info;
    ``None``: unknown, its reservation is not simulated); ``desc_size``:
    the size of a map entry; ``memattr_entries``: the entries of the
    MEMATTR table (its size); ``bgrt_image``: ``(address, size)`` of the
    boot logo the ACPI BGRT table points to, which the kernel keeps;
    ``esrt_size``: the bytes of the ESRT (its header and entries), when
    the firmware lists one; ``secure_boot``: ``disabled``, ``enabled`` or
    ``unknown``."""

    vendor: str = "EDK II"
    revision: tuple[int, int] = (2, 70)
    tables: tuple[EfiConfigTable, ...] = ()
    memmap: tuple[EfiMemoryDescriptor, ...] = ()
    memmap_address: int | None = None
    desc_size: int = DEFAULT_DESC_SIZE
    memattr_entries: int | None = None
    bgrt_image: tuple[int, int] | None = None
    secure_boot: str = "disabled"
    esrt_size: int | None = None

    def table(self, name: str) -> int | None:
        """The address of the configuration table the kernel calls *name*."""
        return next((t.address for t in self.tables if t.name == name), None)

    def banner(self) -> str:
        return f"EFI v{self.revision[0]}.{self.revision[1]:02d} by {self.vendor}"

    def tables_line(self) -> str:
        return "".join(f"{t.name}=0x{t.address:x} " for t in self.tables)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"vendor": self.vendor, "revision": list(self.revision),
                             "tables": [t.to_dict() for t in self.tables],
                             "memmap": [m.to_dict() for m in self.memmap],
                             "desc_size": self.desc_size, "secure_boot": self.secure_boot}
        if self.memmap_address is not None:
            d["memmap_address"] = self.memmap_address
        if self.memattr_entries is not None:
            d["memattr_entries"] = self.memattr_entries
        if self.bgrt_image is not None:
            d["bgrt_image"] = {"address": self.bgrt_image[0], "size": self.bgrt_image[1]}
        if self.esrt_size is not None:
            d["esrt_size"] = self.esrt_size
        return d

    @classmethod
    def from_dict(cls, data: object, path: str = "firmware.efi") -> EfiFirmware:
        d = _keys(data, {"vendor", "revision", "tables", "memmap", "memmap_address",
                         "desc_size", "memattr_entries", "bgrt_image", "secure_boot",
                         "esrt_size"}, path)
        vendor = parse_str(d.get("vendor", "EDK II"), f"{path}.vendor")
        rev = d.get("revision", [2, 70])
        if not isinstance(rev, list | tuple) or len(rev) != 2:
            raise MachineConfigError(f"{path}.revision", f"expected [major, minor], got {rev!r}")
        revision = (parse_size(rev[0], f"{path}.revision[0]"),
                    parse_size(rev[1], f"{path}.revision[1]"))
        if revision[0] > 0xFFFF or revision[1] > 0xFFFF:
            raise MachineConfigError(f"{path}.revision", "each half must fit 16 bits")
        tables = tuple(EfiConfigTable.from_dict(t, f"{path}.tables[{i}]")
                       for i, t in enumerate(_seq(d.get("tables", []), f"{path}.tables")))
        memmap = tuple(EfiMemoryDescriptor.from_dict(m, f"{path}.memmap[{i}]")
                       for i, m in enumerate(_seq(d.get("memmap", []), f"{path}.memmap")))
        desc_size = parse_size(d.get("desc_size", DEFAULT_DESC_SIZE), f"{path}.desc_size")
        if not 40 <= desc_size <= 4096 or desc_size % 8:
            # at least sizeof(efi_memory_desc_t), in 8-byte steps
            raise MachineConfigError(f"{path}.desc_size",
                                     f"must be a multiple of 8 from 40 to 4096, got {desc_size}")
        bgrt = d.get("bgrt_image")
        image = None
        if bgrt is not None:
            b = check_fields(bgrt, ("address", "size"), f"{path}.bgrt_image")
            image = (parse_size(b["address"], f"{path}.bgrt_image.address"),
                     parse_size(b["size"], f"{path}.bgrt_image.size", allow_zero=False))
        secure = parse_str(d.get("secure_boot", "disabled"), f"{path}.secure_boot")
        if secure not in ("disabled", "enabled", "unknown"):
            raise MachineConfigError(f"{path}.secure_boot",
                                     f"expected disabled, enabled or unknown, got {secure!r}")
        addr = d.get("memmap_address")
        entries = d.get("memattr_entries")
        esrt = d.get("esrt_size")
        return cls(vendor, revision, tables, memmap,
                   None if addr is None else parse_size(addr, f"{path}.memmap_address"),
                   desc_size,
                   None if entries is None else parse_size(entries, f"{path}.memattr_entries"),
                   image, secure,
                   None if esrt is None else parse_size(esrt, f"{path}.esrt_size",
                                                        allow_zero=False))

    def validate(self, limit_bits: int | None, path: str = "firmware.efi") -> None:
        limit = None if limit_bits is None else 1 << limit_bits
        for i, m in enumerate(self.memmap):
            for name, bits in (("type", 32), ("phys_addr", 64), ("pages", 64),
                               ("attribute", 64)):
                v = getattr(m, name)
                if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 1 << bits:
                    raise MachineConfigError(f"{path}.memmap[{i}].{name}",
                                             f"expected an integer from 0 to 2^{bits}-1, "
                                             f"got {v!r}")
            if m.phys_addr % EFI_PAGE_SIZE:
                raise MachineConfigError(f"{path}.memmap[{i}].phys_addr",
                                         f"must be 4 KiB aligned, got {m.phys_addr:#x}")
            if not m.pages or m.end > 1 << 64:
                continue  # the kernel drops it as a firmware bug (efi_clean_memmap)
            if limit is not None and m.end > limit:
                raise MachineConfigError(f"{path}.memmap[{i}]",
                                         f"ends at {m.end:#x}, above the {limit_bits}-bit "
                                         f"physical address limit ({limit:#x})")
        if self.bgrt_image is not None and limit is not None \
                and self.bgrt_image[0] + self.bgrt_image[1] > limit:
            raise MachineConfigError(f"{path}.bgrt_image",
                                     f"above the {limit_bits}-bit physical address limit")
        if self.esrt_size is not None and self.table("ESRT") is None:
            raise MachineConfigError(f"{path}.esrt_size",
                                     "given but no ESRT table is listed in tables")
        if self.memattr_entries is not None and self.table("MEMATTR") is None:
            raise MachineConfigError(f"{path}.memattr_entries",
                                     "given but no MEMATTR table is listed in tables")
