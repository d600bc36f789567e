"""The machine description: plain frozen dataclasses, their dict form, and validation.

A :class:`MachineDescription` says what the simulated kernel boots on: the architecture,
the firmware memory map (e820 on x86_64; the host set-up on UML; a generic typed region
list for any other architecture), NUMA nodes, CPUs and their features, the command line,
the kernel image and its configuration, the initrd and the simulation profile.

``to_dict``/``from_dict`` convert to and from plain dicts (what TOML and JSON hold).
``from_dict`` rejects unknown keys and malformed values with
:class:`~mmsvc.errors.MachineConfigError` naming the field (``"firmware.e820[3].size"``).
Constructing a :class:`MachineDescription` validates it (see :meth:`validate`).

Architecture plug-ins register their firmware class with :func:`register_firmware`;
any architecture without one uses :class:`GenericFirmware` and may pass free-form
``arch_options`` through.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any, ClassVar

from mmsvc.errors import MachineConfigError
from mmsvc.machine import e820 as _e820
from mmsvc.machine import efi as _efi
from mmsvc.machine.e820 import E820Entry
from mmsvc.machine.efi import EfiFirmware
from mmsvc.machine.units import U64_MASK, check_fields, parse_bool, parse_size, parse_str
from mmsvc.machine.units import as_list as _list
from mmsvc.machine.units import check_keys as _check_keys
from mmsvc.machine.units import join_path as _join
from mmsvc.units import PAGE_SIZE, round_up

PROFILES = ("5.14", "6.1")
DEFAULT_PROFILE = "5.14"


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


# --------------------------------------------------------------------------- firmware


def e820_entry_from_dict(data: object, path: str) -> E820Entry:
    """An e820 entry ``{addr, size, type}``; ``type`` is a number or a printed name."""
    d = _check_keys(data, {"addr", "size", "type"}, path)
    for key in ("addr", "size", "type"):
        if key not in d:
            raise MachineConfigError(_join(path, key), "missing")
    etype = d["type"]
    if isinstance(etype, str) and _e820.parse_type_name(etype) is not None:
        etype_num = _e820.parse_type_name(etype)
    else:
        etype_num = parse_size(etype, _join(path, "type"))
    return E820Entry(parse_size(d["addr"], _join(path, "addr")),
                     parse_size(d["size"], _join(path, "size")), int(etype_num))


@dataclass(frozen=True)
class AcpiTable:
    """An ACPI table the firmware lists (RSDT/XSDT, with the DSDT and FACS the
    FADT names): the kernel reserves its memory early."""

    signature: str
    address: int
    length: int

    def to_dict(self) -> dict[str, Any]:
        return {"signature": self.signature, "address": self.address, "length": self.length}

    @classmethod
    def from_dict(cls, data: object, path: str) -> AcpiTable:
        d = check_fields(data, ("signature", "address", "length"), path)
        sig = parse_str(d["signature"], _join(path, "signature"))
        if not 1 <= len(sig) <= 4 or not sig.isascii() or not sig.isprintable():
            raise MachineConfigError(_join(path, "signature"),
                                     f"expected up to 4 printable ASCII characters, got {sig!r}")
        return cls(sig, parse_size(d["address"], _join(path, "address"), allow_zero=False),
                   parse_size(d["length"], _join(path, "length"), allow_zero=False))


@dataclass(frozen=True)
class MpTable:
    """The Intel MultiProcessor table the BIOS leaves in low memory: its
    16-byte floating pointer at ``address`` and, when known, the
    configuration table it points to (``config_address``, ``config_length``;
    a boot log states the length only under ``memblock=debug``). The kernel
    reserves both."""

    address: int
    config_address: int = 0
    config_length: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = {"address": self.address}
        if self.config_length:
            d |= {"config_address": self.config_address, "config_length": self.config_length}
        return d

    @classmethod
    def from_dict(cls, data: object, path: str) -> MpTable:
        d = _check_keys(data, {"address", "config_address", "config_length"}, path)
        if "address" not in d:
            raise MachineConfigError(_join(path, "address"), "missing")
        if ("config_address" in d) != ("config_length" in d):
            raise MachineConfigError(path, "give config_address and config_length together")
        return cls(parse_size(d["address"], _join(path, "address")),
                   parse_size(d.get("config_address", 0), _join(path, "config_address")),
                   parse_size(d.get("config_length", 0), _join(path, "config_length")))


@dataclass(frozen=True)
class McfgAllocation:
    """An allocation of the ACPI MCFG table: PCI segment ``segment``'s buses
    ``start_bus``..``end_bus`` have their configuration space (ECAM, 1 MiB
    a bus) from ``address`` on, ``address`` being where bus 0 would be."""

    address: int
    segment: int = 0
    start_bus: int = 0
    end_bus: int = 0xFF

    @property
    def window(self) -> tuple[int, int]:
        """Physical ``[start, end)`` of the buses' configuration space."""
        return (self.address + (self.start_bus << 20), self.address + ((self.end_bus + 1) << 20))

    def to_dict(self) -> dict[str, Any]:
        return {"address": self.address, "segment": self.segment,
                "start_bus": self.start_bus, "end_bus": self.end_bus}

    @classmethod
    def from_dict(cls, data: object, path: str) -> McfgAllocation:
        d = _check_keys(data, {"address", "segment", "start_bus", "end_bus"}, path)
        if "address" not in d:
            raise MachineConfigError(_join(path, "address"), "missing")
        out = cls(parse_size(d["address"], _join(path, "address"), allow_zero=False),
                  *(parse_size(d.get(k, default), _join(path, k))
                    for k, default in (("segment", 0), ("start_bus", 0), ("end_bus", 0xFF))))
        if out.segment > 0xFFFF:
            raise MachineConfigError(_join(path, "segment"),
                                     f"must be 0..0xffff, got {out.segment}")
        if not out.start_bus <= out.end_bus <= 0xFF:
            raise MachineConfigError(path, f"buses must satisfy start_bus <= end_bus <= 0xff, got "
                                           f"{out.start_bus:#x}..{out.end_bus:#x}")
        return out


@dataclass(frozen=True)
class MotherboardResource:
    """A memory range an ACPI motherboard device (PNP0C01/PNP0C02) claims:
    the late MMCONFIG check (``pci=noearly``, or after e820 failed it)
    trusts a window one of these holds whole."""

    start: int
    size: int

    @property
    def end(self) -> int:
        return self.start + self.size

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "size": self.size}

    @classmethod
    def from_dict(cls, data: object, path: str) -> MotherboardResource:
        d = check_fields(data, ("start", "size"), path)
        return cls(parse_size(d["start"], _join(path, "start")),
                   parse_size(d["size"], _join(path, "size"), allow_zero=False))


#: the DMI data the kernel keeps from QEMU's default SMBIOS table (bytes)
DEFAULT_DMI_SIZE = 0x200


@dataclass(frozen=True)
class SetupData:
    """A ``setup_data`` entry the boot loader chains from boot_params (the
    EFI stub's PCI option ROMs, a random seed, ...): ``size`` bytes from
    ``address``, its 16-byte header included. The kernel reserves it and
    marks it in the e820 map ("reserve setup_data")."""

    address: int
    size: int

    @property
    def end(self) -> int:
        return self.address + self.size

    def to_dict(self) -> dict[str, Any]:
        return {"address": self.address, "size": self.size}

    @classmethod
    def from_dict(cls, data: object, path: str) -> SetupData:
        d = check_fields(data, ("address", "size"), path)
        return cls(parse_size(d["address"], _join(path, "address"), allow_zero=False),
                   parse_size(d["size"], _join(path, "size"), allow_zero=False))


@dataclass(frozen=True)
class E820Firmware:
    """x86 firmware: the e820 entries the BIOS hands over (may overlap; the kernel
    sanitises them), the ACPI tables it lists (``acpi_tables``), the
    allocations of its MCFG table (``mcfg``: where PCI's configuration space
    lies; the kernel reads them only when an MCFG table is listed), the
    ranges its motherboard devices claim (``motherboard_resources``), its
    MP table (``mp_table``, if any), the boot loader's ``setup_data``
    entries and, on a machine booted through UEFI (by the kernel's EFI
    stub), what the EFI firmware hands over (``efi``, an
    :class:`~mmsvc.machine.efi.EfiFirmware`; the e820 map is then the one
    the stub built from the EFI memory map). ``ioapics``: how many I/O
    APICs the firmware lists (QEMU's microvm has two); ``dmi_size``: the
    bytes the kernel's DMI scan keeps in its brk area from the SMBIOS table
    (identity and OEM strings, devices, memory devices: some 0x200 with
    QEMU's default table, several pages on real machines; 0 without a
    table, as on microvm); ``acpi``: whether it has ACPI tables at all (without
    them the kernel runs as with ``acpi=off``)."""

    e820: tuple[E820Entry, ...]
    acpi_tables: tuple[AcpiTable, ...] = ()
    mp_table: MpTable | None = None
    mcfg: tuple[McfgAllocation, ...] = ()
    motherboard_resources: tuple[MotherboardResource, ...] = ()
    setup_data: tuple[SetupData, ...] = ()
    efi: EfiFirmware | None = None
    ioapics: int = 1
    dmi_size: int = DEFAULT_DMI_SIZE
    acpi: bool = True
    kind: ClassVar[str] = "e820"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"e820": [e.to_dict() for e in self.e820]}
        if self.acpi_tables:
            d["acpi_tables"] = [t.to_dict() for t in self.acpi_tables]
        if self.mp_table is not None:
            d["mp_table"] = self.mp_table.to_dict()
        if self.mcfg:
            d["mcfg"] = [a.to_dict() for a in self.mcfg]
        if self.motherboard_resources:
            d["motherboard_resources"] = [r.to_dict() for r in self.motherboard_resources]
        if self.setup_data:
            d["setup_data"] = [x.to_dict() for x in self.setup_data]
        if self.efi is not None:
            d["efi"] = self.efi.to_dict()
        if self.ioapics != 1:
            d["ioapics"] = self.ioapics
        if self.dmi_size != DEFAULT_DMI_SIZE:
            d["dmi_size"] = self.dmi_size
        if not self.acpi:
            d["acpi"] = False
        return d

    @classmethod
    def from_dict(cls, data: object, path: str = "firmware") -> E820Firmware:
        d = _check_keys(data, {"e820", "acpi_tables", "mp_table", "mcfg",
                               "motherboard_resources", "setup_data", "efi", "ioapics",
                               "dmi_size", "acpi"}, path)
        if "e820" not in d:
            raise MachineConfigError(_join(path, "e820"), "missing")
        items = _list(d["e820"], _join(path, "e820"))
        tables = _list(d.get("acpi_tables", []), _join(path, "acpi_tables"))
        mcfg = _list(d.get("mcfg", []), _join(path, "mcfg"))
        board = _list(d.get("motherboard_resources", []), _join(path, "motherboard_resources"))
        setup = _list(d.get("setup_data", []), _join(path, "setup_data"))
        efi = d.get("efi")
        mp = d.get("mp_table")
        return cls(tuple(e820_entry_from_dict(x, f"{path}.e820[{i}]")
                         for i, x in enumerate(items)),
                   tuple(AcpiTable.from_dict(t, f"{path}.acpi_tables[{i}]")
                         for i, t in enumerate(tables)),
                   None if mp is None else MpTable.from_dict(mp, _join(path, "mp_table")),
                   tuple(McfgAllocation.from_dict(a, f"{path}.mcfg[{i}]")
                         for i, a in enumerate(mcfg)),
                   tuple(MotherboardResource.from_dict(r, f"{path}.motherboard_resources[{i}]")
                         for i, r in enumerate(board)),
                   tuple(SetupData.from_dict(x, f"{path}.setup_data[{i}]")
                         for i, x in enumerate(setup)),
                   None if efi is None else EfiFirmware.from_dict(efi, _join(path, "efi")),
                   parse_size(d.get("ioapics", 1), _join(path, "ioapics")),
                   parse_size(d.get("dmi_size", DEFAULT_DMI_SIZE), _join(path, "dmi_size")),
                   parse_bool(d.get("acpi", True), _join(path, "acpi")))

    def validate(self, desc: MachineDescription, path: str = "firmware") -> None:
        limit = desc.max_physmem_bits
        for i, e in enumerate(self.e820):
            p = f"{path}.e820[{i}]"
            for name in ("addr", "size", "type"):
                v = getattr(e, name)
                if isinstance(v, bool) or not isinstance(v, int):
                    raise MachineConfigError(f"{p}.{name}", f"expected an integer, got {v!r}")
                if v < 0:
                    raise MachineConfigError(f"{p}.{name}", f"must not be negative, got {v}")
            if e.size == 0:
                raise MachineConfigError(f"{p}.size", "zero-sized entry")
            if not 0 < e.type <= 0xFFFFFFFF:
                raise MachineConfigError(f"{p}.type", f"type must be 1..0xffffffff, got {e.type}")
            if limit is not None and e.end > 1 << limit:
                raise MachineConfigError(
                    p, f"ends at {e.end:#x}, above the {limit}-bit physical address limit "
                       f"({1 << limit:#x})")
        _e820.bios_table(self.e820, f"{path}.e820")
        for i, t in enumerate(self.acpi_tables):
            if limit is not None and t.address + t.length > 1 << limit:
                raise MachineConfigError(f"{path}.acpi_tables[{i}]",
                                         f"above the {limit}-bit physical address limit")
        ends = [(f"mcfg[{i}]", a.window[1]) for i, a in enumerate(self.mcfg)]
        ends += [(f"motherboard_resources[{i}]", r.end)
                 for i, r in enumerate(self.motherboard_resources)]
        ends += [(f"setup_data[{i}]", x.end) for i, x in enumerate(self.setup_data)]
        for name, end in ends:
            if limit is not None and end > 1 << limit:
                raise MachineConfigError(f"{path}.{name}",
                                         f"above the {limit}-bit physical address limit")
        if self.efi is not None:
            self.efi.validate(limit, _join(path, "efi"))
        if isinstance(self.ioapics, bool) or not isinstance(self.ioapics, int) \
                or not 0 <= self.ioapics <= 128:
            # MAX_IO_APICS
            raise MachineConfigError(_join(path, "ioapics"),
                                     f"must be 0 to 128, got {self.ioapics!r}")
        mp = self.mp_table
        if mp is not None and (mp.address + 16 > 1 << 20
                               or mp.config_address + mp.config_length > 1 << 32):
            # smp_scan_config looks in the first MiB; the pointer is 32-bit
            raise MachineConfigError(f"{path}.mp_table", "the MP floating pointer must lie in "
                                     "the first MiB and its table below 4 GiB")


@dataclass(frozen=True)
class UmlFirmware:
    """User-mode Linux host set-up.

    ``physmem``: physical memory size before the command line (the ``mem=`` value; a
    ``mem=`` on the command line overrides it; ``None`` → 64 MiB on 6.1, 32 MiB on 5.14).
    ``exec_shield_gap``: the host's gap between the binary's end and the heap start
    (added to physmem when above 1 MiB). ``iomem``: bytes of ``iomem=`` regions.
    ``brk_growth``: host heap growth between start-up and ``mem_init`` (0 normally).
    """

    physmem: int | None = None
    exec_shield_gap: int = 0
    iomem: int = 0
    brk_growth: int = 0
    kind: ClassVar[str] = "uml"

    def to_dict(self) -> dict[str, Any]:
        return _drop_none({"physmem": self.physmem, "exec_shield_gap": self.exec_shield_gap,
                           "iomem": self.iomem, "brk_growth": self.brk_growth})

    @classmethod
    def from_dict(cls, data: object, path: str = "firmware") -> UmlFirmware:
        d = _check_keys(data, {"physmem", "exec_shield_gap", "iomem", "brk_growth"}, path)
        physmem = d.get("physmem")
        return cls(
            physmem=None if physmem is None else parse_size(
                physmem, _join(path, "physmem"), allow_zero=False),
            exec_shield_gap=parse_size(d.get("exec_shield_gap", 0),
                                       _join(path, "exec_shield_gap")),
            iomem=parse_size(d.get("iomem", 0), _join(path, "iomem")),
            brk_growth=parse_size(d.get("brk_growth", 0), _join(path, "brk_growth")),
        )

    def validate(self, desc: MachineDescription, path: str = "firmware") -> None:
        for name in ("physmem", "exec_shield_gap", "iomem", "brk_growth"):
            v = getattr(self, name)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise MachineConfigError(f"{path}.{name}",
                                         f"expected a non-negative integer, got {v!r}")
        if self.physmem == 0:
            raise MachineConfigError(f"{path}.physmem", "must not be zero")


@dataclass(frozen=True)
class MemoryRegion:
    """A typed physical range for architectures without a dedicated firmware class."""

    start: int
    size: int
    type: str = "ram"

    @property
    def end(self) -> int:
        return self.start + self.size

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "size": self.size, "type": self.type}


@dataclass(frozen=True)
class GenericFirmware:
    """A generic memory list (``ram``, ``reserved``, ``nomap``... — the arch plug-in
    decides what types mean)."""

    memory: tuple[MemoryRegion, ...] = ()
    kind: ClassVar[str] = "generic"

    def to_dict(self) -> dict[str, Any]:
        return {"memory": [m.to_dict() for m in self.memory]}

    @classmethod
    def from_dict(cls, data: object, path: str = "firmware") -> GenericFirmware:
        d = _check_keys(data, {"memory"}, path)
        out = []
        for i, item in enumerate(_list(d.get("memory", []), _join(path, "memory"))):
            p = f"{path}.memory[{i}]"
            m = _check_keys(item, {"start", "size", "type"}, p)
            for key in ("start", "size"):
                if key not in m:
                    raise MachineConfigError(f"{p}.{key}", "missing")
            out.append(MemoryRegion(parse_size(m["start"], f"{p}.start"),
                                    parse_size(m["size"], f"{p}.size"),
                                    parse_str(m.get("type", "ram"), f"{p}.type")))
        return cls(tuple(out))

    def validate(self, desc: MachineDescription, path: str = "firmware") -> None:
        limit = desc.max_physmem_bits
        for i, m in enumerate(self.memory):
            p = f"{path}.memory[{i}]"
            if m.size <= 0:
                raise MachineConfigError(f"{p}.size", "zero-sized region")
            if m.start < 0:
                raise MachineConfigError(f"{p}.start", "must not be negative")
            if limit is not None and m.end > 1 << limit:
                raise MachineConfigError(p, f"above the {limit}-bit physical address limit")


Firmware = E820Firmware | UmlFirmware | GenericFirmware

_FIRMWARE_BY_ARCH: dict[str, type] = {"x86_64": E820Firmware, "um": UmlFirmware}


def register_firmware(arch: str, cls: type) -> None:
    """Let an architecture plug-in use its own firmware class (needs ``from_dict``,
    ``to_dict`` and ``validate(desc, path)``)."""
    _FIRMWARE_BY_ARCH[arch] = cls


def firmware_class(arch: str) -> type:
    return _FIRMWARE_BY_ARCH.get(arch, GenericFirmware)


# --------------------------------------------------------------------------- NUMA, CPU


@dataclass(frozen=True)
class NumaNode:
    """A NUMA node: its memory ranges (``(start, end)``, end exclusive, as in the SRAT
    memory affinity entries), the CPUs on it and, optionally, its ACPI proximity domain.
    ``hotplug`` lists the ranges the SRAT marks hotpluggable (in a description: a
    range with ``hotplug = true``); ``movable_node`` makes their memory movable."""

    nid: int
    ranges: tuple[tuple[int, int], ...] = ()
    cpus: tuple[int, ...] = ()
    pxm: int | None = None
    hotplug: tuple[tuple[int, int], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        ranges = [{"start": s, "end": e} | ({"hotplug": True} if (s, e) in self.hotplug else {})
                  for s, e in self.ranges]
        return _drop_none({"nid": self.nid, "ranges": ranges,
                           "cpus": list(self.cpus), "pxm": self.pxm})

    @classmethod
    def from_dict(cls, data: object, path: str) -> NumaNode:
        d = _check_keys(data, {"nid", "ranges", "cpus", "pxm"}, path)
        if "nid" not in d:
            raise MachineConfigError(_join(path, "nid"), "missing")
        ranges = []
        hotplug = []
        for j, r in enumerate(_list(d.get("ranges", []), _join(path, "ranges"))):
            p = f"{path}.ranges[{j}]"
            rd = _check_keys(r, {"start", "end", "size", "hotplug"}, p)
            if "start" not in rd:
                raise MachineConfigError(f"{p}.start", "missing")
            start = parse_size(rd["start"], f"{p}.start")
            if ("end" in rd) == ("size" in rd):
                raise MachineConfigError(p, "give exactly one of end (exclusive) or size")
            end = (parse_size(rd["end"], f"{p}.end") if "end" in rd
                   else start + parse_size(rd["size"], f"{p}.size"))
            ranges.append((start, end))
            flag = rd.get("hotplug", False)
            if not isinstance(flag, bool):
                raise MachineConfigError(f"{p}.hotplug", f"expected true or false, got {flag!r}")
            if flag:
                hotplug.append((start, end))
        cpus = tuple(parse_size(c, f"{path}.cpus[{k}]")
                     for k, c in enumerate(_list(d.get("cpus", []), _join(path, "cpus"))))
        pxm = d.get("pxm")
        return cls(parse_size(d["nid"], _join(path, "nid")), tuple(ranges), cpus,
                   None if pxm is None else parse_size(pxm, _join(path, "pxm")), tuple(hotplug))


#: cpu_vuln_whitelist's NO_SPECULATION entries (arch/x86/kernel/cpu/common.c):
#: (vendor or None for any, family, model or None for any)
_NO_SPECULATION = (
    (None, 4, None), ("Centaur", 5, None), ("Intel", 5, None), ("NSC", 5, None),
    ("Vortex", 5, None), ("Vortex", 6, None),
    # the Saltwell and Bonnell Atoms
    ("Intel", 6, 0x36), ("Intel", 6, 0x35), ("Intel", 6, 0x27), ("Intel", 6, 0x1C),
    ("Intel", 6, 0x26),
)


@dataclass(frozen=True)
class CpuFeatures:
    """CPU features that change memory set-up. Defaults: the fixtures' QEMU TCG
    ``-cpu max`` (an AMD-vendor CPU, family 0xf model 0x6b, with LA57 and
    1 GiB pages and NX).

    ``hypervisor``: the CPU says it runs under a hypervisor (QEMU's does).
    ``vendor`` is the kernel's vendor name (``x86_vendor``): on an ``Intel``
    CPU every cpu_entry_area also maps the debug store and its buffers.
    ``meltdown_vulnerable`` left unset is decided as cpu_set_bug_bits does for
    the vendor, family and model (AMD and Hygon CPUs, and the CPUs without
    speculation, do not have the bug; others do unless their
    IA32_ARCH_CAPABILITIES says RDCL_NO, which a description states by setting
    it to false)."""

    la57: bool = True
    gbpages: bool = True
    meltdown_vulnerable: bool | None = None
    nx: bool = True
    pse: bool = True
    #: X86_FEATURE_HYPERVISOR: a virtual machine (the memory block size of
    #: machines of 64 GiB and more follows the end of memory there)
    hypervisor: bool = True
    #: X86_FEATURE_RDRAND: KASLR's entropy mixes it in (and says so)
    rdrand: bool = True
    vendor: str = "AMD"
    family: int = 0xF
    model: int = 0x6B
    extra: Mapping[str, Any] = field(default_factory=dict)

    _BOOLS: ClassVar[tuple[str, ...]] = ("la57", "gbpages", "nx", "pse", "hypervisor",
                                         "rdrand")
    #: the vendor names the kernel knows (arch/x86/kernel/cpu/*.c c_vendor)
    VENDORS: ClassVar[tuple[str, ...]] = ("Intel", "AMD", "Hygon", "Centaur", "Zhaoxin",
                                          "Cyrix", "Transmeta", "UMC", "NSC", "Vortex",
                                          "unknown")

    def __post_init__(self) -> None:
        if self.vendor not in self.VENDORS:
            raise MachineConfigError("cpu_features.vendor",
                                     f"unknown CPU vendor {self.vendor!r}; one of "
                                     + ", ".join(self.VENDORS))
        for name in ("family", "model"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 0xFFFF:
                raise MachineConfigError(f"cpu_features.{name}",
                                         f"expected a CPUID {name} number, got {v!r}")

    @property
    def has_meltdown(self) -> bool:
        """X86_BUG_CPU_MELTDOWN as the kernel sets it for this CPU."""
        if self.meltdown_vulnerable is not None:
            return self.meltdown_vulnerable
        if self.vendor in ("AMD", "Hygon"):
            return False
        return not any((v is None or v == self.vendor) and f == self.family
                       and (m is None or m == self.model) for v, f, m in _NO_SPECULATION)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {k: getattr(self, k) for k in self._BOOLS}
        d.update(vendor=self.vendor, family=self.family, model=self.model)
        if self.meltdown_vulnerable is not None:
            d["meltdown_vulnerable"] = self.meltdown_vulnerable
        if self.extra:
            d["extra"] = dict(self.extra)
        return d

    @classmethod
    def from_dict(cls, data: object, path: str = "cpu_features") -> CpuFeatures:
        d = _check_keys(data, {*cls._BOOLS, "meltdown_vulnerable", "vendor", "family",
                               "model", "extra"}, path)
        kwargs: dict[str, Any] = {k: parse_bool(d[k], _join(path, k))
                                  for k in (*cls._BOOLS, "meltdown_vulnerable") if k in d}
        if "vendor" in d:
            if not isinstance(d["vendor"], str):
                raise MachineConfigError(_join(path, "vendor"),
                                         f"expected a vendor name, got {d['vendor']!r}")
            kwargs["vendor"] = d["vendor"]
        for k in ("family", "model"):
            if k in d:
                kwargs[k] = parse_size(d[k], _join(path, k))
        if "extra" in d:
            if not isinstance(d["extra"], Mapping):
                raise MachineConfigError(_join(path, "extra"), "expected a table")
            kwargs["extra"] = dict(d["extra"])
        return cls(**kwargs)


# --------------------------------------------------------------------------- kernel


@dataclass(frozen=True)
class KernelImage:
    """The kernel image's place and section sizes, in bytes.

    ``load_address``: physical address of ``_text`` (0x1000000 on x86_64 with
    ``nokaslr``; 0 on UML, where physical addresses start at the binary's base).
    ``text``/``rwdata``/``rodata``/``init``/``bss``: what "Memory: ..." prints
    (``_etext-_stext``, ``_edata-_sdata``, ``__end_rodata-__start_rodata``,
    ``__init_end-__init_begin``, ``__bss_stop-__bss_start``).
    ``reserved_span``: bytes from ``load_address`` the kernel reserves for its image
    (``__end_of_kernel_reserve - _text`` on x86_64; not derivable from the printed
    sizes). ``image_end``: bytes from ``load_address`` to the page-rounded ``_end``
    (``e820_add_kernel_range`` on x86_64; on UML ``ROUND_UP(_end) - 0x60000000``).
    ``idt_table_offset``: bytes from ``_text`` to ``idt_table`` (x86); ``ftrace_entries``:
    the image's mcount call sites (``__stop_mcount_loc - __start_mcount_loc`` over 8).
    Both come from a symbol table. ``percpu_static``, ``smp_alternatives``,
    ``decrypted_unused``, ``text_rodata_gap``, ``rodata_data_gap``: what a boot log of a
    build outside the catalogue prints of it ("percpu: Embedded N pages/cpu sBYTES", the
    "Freeing ..." lines). Each given one overrides the catalogue's build constant
    (:class:`mmsvc.machine.kernels.BuildConstants` says what they are).
    """

    release: str
    load_address: int = 0x1000000
    text: int = 0
    rwdata: int = 0
    rodata: int = 0
    init: int = 0
    bss: int = 0
    reserved_span: int = 0
    image_end: int | None = None
    idt_table_offset: int | None = None
    ftrace_entries: int | None = None
    percpu_static: int | None = None
    smp_alternatives: int | None = None
    decrypted_unused: int | None = None
    text_rodata_gap: int | None = None
    rodata_data_gap: int | None = None

    #: the build constants an image can state for itself
    CONSTANTS: ClassVar[tuple[str, ...]] = ("idt_table_offset", "ftrace_entries",
                                            "percpu_static", "smp_alternatives",
                                            "decrypted_unused", "text_rodata_gap",
                                            "rodata_data_gap")
    _INTS: ClassVar[tuple[str, ...]] = ("load_address", "text", "rwdata", "rodata", "init",
                                        "bss", "reserved_span", "image_end", *CONSTANTS)
    _OPTIONAL: ClassVar[frozenset[str]] = frozenset({"image_end", *CONSTANTS})

    @property
    def end_of_image(self) -> int:
        """Exclusive end of ``_text`` .. ``_end`` (falls back to the reserved span)."""
        span = self.image_end if self.image_end is not None else self.reserved_span
        return self.load_address + span

    def to_dict(self) -> dict[str, Any]:
        return _drop_none({"release": self.release,
                           **{k: getattr(self, k) for k in self._INTS}})

    @classmethod
    def from_dict(cls, data: object, path: str = "kernel",
                  base: KernelImage | None = None) -> KernelImage:
        d = _check_keys(data, {"release", *cls._INTS}, path)
        kwargs: dict[str, Any] = dataclasses.asdict(base) if base else {}
        if "release" in d:
            kwargs["release"] = parse_str(d["release"], _join(path, "release"))
        if "release" not in kwargs:
            raise MachineConfigError(_join(path, "release"), "missing")
        for k in cls._INTS:
            if k in d:
                kwargs[k] = parse_size(d[k], _join(path, k))
        return cls(**kwargs)

    def validate(self, path: str = "kernel") -> None:
        if not isinstance(self.release, str) or not self.release:
            raise MachineConfigError(f"{path}.release", "must be a non-empty string")
        for k in self._INTS:
            v = getattr(self, k)
            if v is None and k in self._OPTIONAL:
                continue
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise MachineConfigError(f"{path}.{k}",
                                         f"expected a non-negative integer, got {v!r}")


@dataclass(frozen=True)
class KernelConfig:
    """The kernel-config switches that change memory initialisation.

    Field ``x`` stands for ``CONFIG_X`` except ``kmemleak`` (``DEBUG_KMEMLEAK``),
    ``structleak_*`` (``GCC_PLUGIN_STRUCTLEAK_*``). Defaults are "off"; the catalogue
    holds the real builds' values. ``extra`` carries other ``CONFIG_`` values for plug-ins.
    """

    deferred_struct_page_init: bool = False
    page_extension: bool = False
    page_poisoning: bool = False
    init_on_alloc_default_on: bool = False
    init_on_free_default_on: bool = False
    kfence: bool = False
    kmemleak: bool = False
    page_table_isolation: bool = False
    x86_5level: bool = False
    sparsemem: bool = False
    sparsemem_extreme: bool = False
    sparsemem_vmemmap: bool = False
    flatmem: bool = False
    numa: bool = False
    acpi_numa: bool = False
    amd_numa: bool = False
    numa_emu: bool = False
    numa_balancing: bool = False
    numa_balancing_default_enabled: bool = False
    stackdepot: bool = False
    swiotlb: bool = False
    init_stack_all_zero: bool = False
    init_stack_all_pattern: bool = False
    structleak_byref_all: bool = False
    structleak_byref: bool = False
    structleak_user: bool = False
    zone_dma: bool = False
    zone_dma32: bool = False
    zone_device: bool = False
    cma: bool = False
    dma_cma: bool = False
    memory_hotplug: bool = False
    randomize_memory: bool = False
    randomize_base: bool = False
    page_owner: bool = False
    debug_pagealloc: bool = False
    shuffle_page_allocator: bool = False
    smp: bool = False
    cpumask_offstack: bool = False
    bpf_jit: bool = False
    network_phy_timestamping: bool = False
    crash_core: bool = False
    highmem: bool = False
    transparent_hugepage: bool = False
    hugetlbfs: bool = False
    hugetlb_page_optimize_vmemmap: bool = False
    hugetlb_page_optimize_vmemmap_default_on: bool = False
    cpu_sup_intel: bool = False
    memtest: bool = False
    debug_memory_init: bool = False
    mmu: bool = False
    lru_gen: bool = False
    memory_failure: bool = False
    page_idle_flag: bool = False
    arch_uses_pg_uncached: bool = False
    kasan_hw_tags: bool = False
    security_selinux_bootparam: bool = False
    efi_fake_memmap: bool = False
    amd_iommu: bool = False
    x86_mce: bool = False
    cpu_isolation: bool = False
    dma_coherent_pool: bool = False
    futex: bool = False
    debug_wx: bool = False
    pci_mmconfig: bool = False
    inet: bool = False
    mptcp: bool = False
    quota: bool = False
    netlabel: bool = False
    no_hz_full: bool = False
    nr_cpus: int = 1
    log_buf_shift: int = 17
    log_cpu_max_buf_shift: int = 12
    nodes_shift: int = 0
    pgtable_levels: int = 4
    physical_start: int = 0
    physical_align: int = 0
    extra: Mapping[str, str] = field(default_factory=dict)

    #: the switch and number fields, in order (filled in below from the fields)
    BOOLS: ClassVar[tuple[str, ...]] = ()
    INTS: ClassVar[tuple[str, ...]] = ()

    @property
    def max_numnodes(self) -> int:
        return 1 << self.nodes_shift if self.numa else 1

    @property
    def stack_init(self) -> str:
        """What "mem auto-init: stack:..." prints for this config."""
        if self.init_stack_all_pattern:
            return "all(pattern)"
        if self.init_stack_all_zero:
            return "all(zero)"
        if self.structleak_byref_all:
            return "byref_all(zero)"
        if self.structleak_byref:
            return "byref(zero)"
        if self.structleak_user:
            return "__user(zero)"
        return "off"

    @property
    def x86_init_pgt_buf_pages(self) -> int:
        """x86's INIT_PGT_BUF_SIZE in pages, the early page tables in brk:
        tables for the first PMD and the ISA range, twice that with memory
        randomisation (compile-time: CONFIG_X86_5LEVEL, not the CPU)."""
        tables = 4 if self.x86_5level else 3
        return (4 if self.randomize_memory else 2) * tables

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {k: getattr(self, k) for k in (*self.BOOLS, *self.INTS)}
        if self.extra:
            d["extra"] = dict(self.extra)
        return d

    @classmethod
    def from_dict(cls, data: object, path: str = "kconfig",
                  base: KernelConfig | None = None) -> KernelConfig:
        d = _check_keys(data, {*cls.BOOLS, *cls.INTS, "extra"}, path)
        kwargs: dict[str, Any] = {}
        for k in cls.BOOLS:
            if k in d:
                kwargs[k] = parse_bool(d[k], _join(path, k))
        for k in cls.INTS:
            if k in d:
                kwargs[k] = parse_size(d[k], _join(path, k))
        if "extra" in d:
            extra = d["extra"]
            if not isinstance(extra, Mapping):
                raise MachineConfigError(_join(path, "extra"), "expected a table")
            kwargs["extra"] = {str(k): str(v) for k, v in extra.items()}
        return dataclasses.replace(base, **kwargs) if base else cls(**kwargs)


KernelConfig.BOOLS = tuple(f.name for f in fields(KernelConfig) if f.type == "bool")
KernelConfig.INTS = tuple(f.name for f in fields(KernelConfig) if f.type == "int")


@dataclass(frozen=True)
class Initrd:
    """Where the boot loader put the initrd (``RAMDISK: [mem start-(start+size-1)]``)."""

    start: int
    size: int

    def to_dict(self) -> dict[str, int]:
        return {"start": self.start, "size": self.size}

    @classmethod
    def from_dict(cls, data: object, path: str = "initrd") -> Initrd:
        d = check_fields(data, ("start", "size"), path)
        return cls(parse_size(d["start"], _join(path, "start")),
                   parse_size(d["size"], _join(path, "size")))


@dataclass(frozen=True)
class FaultyRam:
    """RAM whose words do not keep what is written: in every 64-bit word of
    ``[start, start+size)`` the bits set in ``stuck_bits`` always read as the
    same bits of ``stuck_value`` (stuck-at faults; the default is a word
    that always reads 0). Only ``memtest=`` notices: it reserves the words
    that fail one of its patterns."""

    start: int
    size: int
    stuck_bits: int = U64_MASK
    stuck_value: int = 0

    @property
    def end(self) -> int:
        return self.start + self.size

    def fails(self, pattern: int) -> bool:
        """Whether a word written with *pattern* reads back different."""
        return ((pattern ^ self.stuck_value) & self.stuck_bits) != 0

    @classmethod
    def failing_first(cls, start: int, size: int, pattern: int,
                      passed: tuple[int, ...] = ()) -> FaultyRam | None:
        """RAM that keeps every pattern of *passed* and fails *pattern*: one
        bit stuck where the passed patterns agree and *pattern* does not;
        ``None`` if no stuck bit can do that."""
        for bit in range(64):
            want = (pattern >> bit & 1) ^ 1
            if all(q >> bit & 1 == want for q in passed):
                return cls(start, size, 1 << bit, want << bit)
        return None

    def to_dict(self) -> dict[str, int]:
        return {"start": self.start, "size": self.size, "stuck_bits": self.stuck_bits,
                "stuck_value": self.stuck_value}

    @classmethod
    def from_dict(cls, data: object, path: str = "faulty_ram") -> FaultyRam:
        d = _check_keys(data, {"start", "size", "stuck_bits", "stuck_value"}, path)
        for k in ("start", "size"):
            if k not in d:
                raise MachineConfigError(_join(path, k), "missing")
        words = {k: parse_size(d[k], _join(path, k)) for k in ("stuck_bits", "stuck_value")
                 if k in d}
        for k, v in words.items():
            if v > U64_MASK:
                raise MachineConfigError(_join(path, k), f"{v:#x} does not fit a 64-bit word")
        if words.get("stuck_bits", 1) == 0:
            raise MachineConfigError(_join(path, "stuck_bits"), "no stuck bit: the RAM is fine")
        return cls(parse_size(d["start"], _join(path, "start")),
                   parse_size(d["size"], _join(path, "size"), allow_zero=False), **words)


# --------------------------------------------------------------------------- machine

# --------------------------------------------------------------------------- machine


@dataclass(frozen=True)
class MachineDescription:
    """Everything the simulated boot needs to know about the machine. Validated on
    construction (:meth:`validate`)."""

    arch: str
    firmware: Any
    kernel: KernelImage
    kconfig: KernelConfig
    numa: tuple[NumaNode, ...] = ()
    #: the firmware's SLIT: row i holds the distances from proximity domain i
    #: to each domain (empty: the firmware has no SLIT)
    numa_distance: tuple[tuple[int, ...], ...] = ()
    #: possible CPUs (what "smpboot: Allowing N CPUs" counts)
    cpus: int = 1
    #: of those, the ones present at boot (None: all); the rest are hotplug CPUs
    present_cpus: int | None = None
    cpu_features: CpuFeatures = field(default_factory=CpuFeatures)
    cmdline: str = ""
    initrd: Initrd | None = None
    #: RAM that does not keep what is written (what ``memtest=`` finds)
    faulty_ram: tuple[FaultyRam, ...] = ()
    profile: str = DEFAULT_PROFILE
    arch_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    # -- derived facts -------------------------------------------------------------

    @cached_property
    def parsed_cmdline(self):
        """The command line parsed for this architecture
        (:class:`~mmsvc.machine.cmdline.KernelCmdline`)."""
        from mmsvc.machine.cmdline import parse_cmdline

        return parse_cmdline(self.cmdline, self.arch, self.kconfig, self.profile)

    @property
    def five_level_paging(self) -> bool:
        """x86_64: 5-level paging is used (CONFIG_X86_5LEVEL, CPU LA57, no ``no5lvl``)."""
        return (self.arch == "x86_64" and self.kconfig.x86_5level and self.cpu_features.la57
                and not self.parsed_cmdline.no5lvl)

    @property
    def max_physmem_bits(self) -> int | None:
        """``MAX_PHYSMEM_BITS``: 52 with 5-level paging, 46 with 4-level on x86_64;
        ``arch_options["phys_bits"]`` for other architectures; ``None`` if unknown."""
        if self.arch == "x86_64":
            return 52 if self.five_level_paging else 46
        bits = self.arch_options.get("phys_bits") if self.arch_options else None
        return bits if isinstance(bits, int) and not isinstance(bits, bool) else None

    def bios_e820(self) -> tuple[E820Entry, ...]:
        """The table printed under "BIOS-provided physical RAM map:"."""
        self._need_e820()
        return _e820.bios_table(self.firmware.e820)

    def user_e820(self) -> tuple[E820Entry, ...] | None:
        """The table printed under "user-defined physical RAM map:", or ``None``."""
        self._need_e820()
        return _e820.apply_user_map(self.bios_e820(), self.parsed_cmdline.mem_ops)

    def efi_imports_memmap(self) -> bool:
        """x86 on UEFI: the kernel adds the EFI memory map to e820
        (``do_add_efi_memmap``): with ``add_efi_memmap``, or when free memory
        is marked soft-reserved (SP) and ``efi=nosoftreserve`` is not given."""
        efi = getattr(self.firmware, "efi", None)
        if efi is None or not efi.memmap:
            return False
        cmd = self.parsed_cmdline
        if cmd.get("add_efi_memmap") is not None:
            return True
        return self._efi_soft_reserve() and any(
            md.type == _efi.EFI_CONVENTIONAL_MEMORY and md.attribute & _efi.EFI_MEMORY_SP
            for md in efi.memmap)

    def _efi_soft_reserve(self) -> bool:
        return "nosoftreserve" not in self.parsed_cmdline.efi_options

    def early_e820(self) -> tuple[E820Entry, ...]:
        """The e820 table once the early parameters are in: the user's
        edits (``mem=``, ``memmap=``), the EFI memory map when the kernel
        imports it, and the setup_data ranges turned from RAM to
        RESERVED_KERN (still memory, printed "usable", but reserved)."""
        table = self.user_e820()
        if table is None:
            table = self.bios_e820()
        if self.efi_imports_memmap():
            soft = self._efi_soft_reserve()
            table = _e820.sanitize((*table, *(
                E820Entry(md.phys_addr, md.end - md.phys_addr, _efi.e820_type(md, soft))
                for md in self.firmware.efi.memmap if md.pages)))
        for x in getattr(self.firmware, "setup_data", ()):
            table = _e820.range_update(table, x.address, x.size, _e820.E820_RAM,
                                       _e820.E820_RESERVED_KERN)
        return _e820.sanitize(table)

    def extended_e820(self) -> tuple[E820Entry, ...] | None:
        """The table printed under "extended physical RAM map:" when the
        boot loader passed setup_data, else ``None``."""
        if not getattr(self.firmware, "setup_data", ()):
            return None
        return self.early_e820()

    def e820_after_setup(self) -> tuple[tuple[E820Entry, ...], bool]:
        """The table after ``e820_add_kernel_range`` and ``trim_bios_range``, and
        whether the kernel-range warning is printed."""
        return _e820.setup_arch_table(self.early_e820(), self.kernel.load_address,
                                      self.kernel.end_of_image - self.kernel.load_address)

    def memblock_memory(self) -> list[tuple[int, int]]:
        """x86_64: the ``(start, end)`` ranges that become memblock memory.
        UML: ``[(0, physmem)]``. Generic: the page-trimmed ``ram`` regions."""
        if self.arch == "x86_64":
            return _e820.memblock_memory(self.e820_after_setup()[0])
        if self.arch == "um":
            return [(0, self.uml_physmem_size())]
        out = []
        for m in self.firmware.memory:
            if m.type == "ram":
                s, e = round_up(m.start, PAGE_SIZE), m.end // PAGE_SIZE * PAGE_SIZE
                if s < e:
                    out.append((s, e))
        return sorted(out)

    def uml_physmem_size(self) -> int:
        """UML: physmem as ``linux_main`` computes it: the ``mem=`` value (or the
        firmware's, or the profile default), plus the exec-shield gap when it exceeds
        1 MiB, page-aligned."""
        if self.arch != "um":
            raise MachineConfigError("arch", "uml_physmem_size needs arch 'um'")
        size = self.parsed_cmdline.mem
        if size is None:
            size = self.firmware.physmem
        if size is None:
            size = (64 if self.profile == "6.1" else 32) << 20
        if self.firmware.exec_shield_gap > 1 << 20:
            size += self.firmware.exec_shield_gap
        return round_up(size, PAGE_SIZE)

    def _need_e820(self) -> None:
        if not isinstance(self.firmware, E820Firmware):
            raise MachineConfigError("firmware", f"arch {self.arch!r} has no e820 table")

    # -- validation ----------------------------------------------------------------

    def validate(self) -> None:
        """Check the description; raises :class:`MachineConfigError` naming the field."""
        if not isinstance(self.arch, str) or not self.arch:
            raise MachineConfigError("arch", "must be a non-empty string")
        if self.profile not in PROFILES:
            raise MachineConfigError(
                "profile", f"unknown profile {self.profile!r} (known: {', '.join(PROFILES)})")
        if isinstance(self.cpus, bool) or not isinstance(self.cpus, int) or self.cpus < 1:
            raise MachineConfigError("cpus", f"must be a positive integer, got {self.cpus!r}")
        if self.present_cpus is not None and (
                isinstance(self.present_cpus, bool) or not isinstance(self.present_cpus, int)
                or not 1 <= self.present_cpus <= self.cpus):
            raise MachineConfigError("present_cpus", f"must be 1 to cpus ({self.cpus}), "
                                                     f"got {self.present_cpus!r}")
        if self.cpus > self.kconfig.nr_cpus:
            raise MachineConfigError(
                "cpus", f"{self.cpus} CPUs but the kernel has NR_CPUS={self.kconfig.nr_cpus}")
        if not isinstance(self.cmdline, str):
            raise MachineConfigError("cmdline", "must be a string")
        expected = firmware_class(self.arch)
        if not isinstance(self.firmware, expected):
            raise MachineConfigError(
                "firmware", f"arch {self.arch!r} needs {expected.__name__}, "
                            f"got {type(self.firmware).__name__}")
        self.kernel.validate()
        self.parsed_cmdline  # noqa: B018 - parsing raises on malformed known options
        self.firmware.validate(self)
        if isinstance(self.firmware, E820Firmware):
            self.user_e820()
        self._validate_numa()
        self._validate_numa_distance()
        self._validate_initrd()
        self._validate_faulty_ram()

    def _validate_numa(self) -> None:
        if not self.numa:
            return
        if not self.kconfig.numa:
            raise MachineConfigError("numa", "NUMA nodes given but the kernel has CONFIG_NUMA off")
        limit = self.max_physmem_bits
        seen_nid: dict[int, int] = {}
        seen_cpu: dict[int, int] = {}
        spans: list[tuple[int, int, str]] = []
        for i, node in enumerate(self.numa):
            p = f"numa[{i}]"
            if not isinstance(node.nid, int) or node.nid < 0:
                raise MachineConfigError(f"{p}.nid", f"must be a non-negative integer, "
                                                     f"got {node.nid!r}")
            if node.nid >= self.kconfig.max_numnodes:
                raise MachineConfigError(
                    f"{p}.nid", f"unknown node {node.nid}: the kernel has "
                                f"{self.kconfig.max_numnodes} possible nodes")
            if node.nid in seen_nid:
                raise MachineConfigError(f"{p}.nid", f"node {node.nid} is already "
                                                     f"numa[{seen_nid[node.nid]}]")
            seen_nid[node.nid] = i
            for j, (s, e) in enumerate(node.ranges):
                rp = f"{p}.ranges[{j}]"
                if s < 0 or e <= s:
                    raise MachineConfigError(rp, f"empty or inverted range [{s:#x}, {e:#x})")
                if limit is not None and e > 1 << limit:
                    raise MachineConfigError(rp, f"above the {limit}-bit physical address limit")
                spans.append((s, e, rp))
            for k, cpu in enumerate(node.cpus):
                if not 0 <= cpu < self.cpus:
                    raise MachineConfigError(f"{p}.cpus[{k}]",
                                             f"CPU {cpu} does not exist (cpus = {self.cpus})")
                if cpu in seen_cpu:
                    raise MachineConfigError(f"{p}.cpus[{k}]", f"CPU {cpu} is already on "
                                                               f"numa[{seen_cpu[cpu]}]")
                seen_cpu[cpu] = i
        spans.sort()
        for (s1, e1, p1), (s2, e2, p2) in zip(spans, spans[1:], strict=False):
            if s2 < e1:
                raise MachineConfigError(p2, f"overlaps {p1} ([{s1:#x}, {e1:#x}) and "
                                             f"[{s2:#x}, {e2:#x}))")

    def _validate_numa_distance(self) -> None:
        """Only the table's shape and byte values: a table the kernel finds
        invalid (not 10 on the diagonal, not more elsewhere) is the kernel's
        to refuse, as it does."""
        rows = self.numa_distance
        for i, row in enumerate(rows):
            if not isinstance(row, tuple) or len(row) != len(rows):
                raise MachineConfigError(f"numa_distance[{i}]",
                                         f"expected a row of {len(rows)} distances "
                                         f"(a square table), got {row!r}")
            for j, v in enumerate(row):
                if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 255:
                    raise MachineConfigError(f"numa_distance[{i}][{j}]",
                                             f"expected a byte (0..255), got {v!r}")

    def _validate_initrd(self) -> None:
        if self.initrd is None:
            return
        for k in ("start", "size"):
            v = getattr(self.initrd, k)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise MachineConfigError(f"initrd.{k}", f"expected a non-negative integer, "
                                                        f"got {v!r}")
        if self.initrd.size == 0:
            raise MachineConfigError("initrd.size", "zero-sized initrd")
        limit = self.max_physmem_bits
        if limit is not None and self.initrd.start + self.initrd.size > 1 << limit:
            raise MachineConfigError("initrd", f"above the {limit}-bit physical address limit")

    def _validate_faulty_ram(self) -> None:
        limit = self.max_physmem_bits
        for i, bad in enumerate(self.faulty_ram):
            if limit is not None and bad.end > 1 << limit:
                raise MachineConfigError(f"faulty_ram[{i}]",
                                         f"above the {limit}-bit physical address limit")

    # -- dict form -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (ints, strs, bools, lists, dicts) that :meth:`from_dict` reads back."""
        d: dict[str, Any] = {
            "arch": self.arch,
            "profile": self.profile,
            "cpus": self.cpus,
            **({"present_cpus": self.present_cpus} if self.present_cpus is not None else {}),
            "cmdline": self.cmdline,
            "firmware": self.firmware.to_dict(),
            "numa": [n.to_dict() for n in self.numa],
            "numa_distance": [list(r) for r in self.numa_distance],
            "cpu_features": self.cpu_features.to_dict(),
            "kernel": self.kernel.to_dict(),
            "kconfig": self.kconfig.to_dict(),
        }
        if self.initrd is not None:
            d["initrd"] = self.initrd.to_dict()
        if self.faulty_ram:
            d["faulty_ram"] = [b.to_dict() for b in self.faulty_ram]
        if self.arch_options:
            d["arch_options"] = dict(self.arch_options)
        return d

    KEYS: ClassVar[frozenset[str]] = frozenset({
        "arch", "firmware", "numa", "numa_distance", "cpus", "present_cpus", "cpu_features",
        "cmdline",
        "kernel", "initrd", "faulty_ram", "profile", "kconfig", "arch_options"})

    @classmethod
    def from_dict(cls, data: object) -> MachineDescription:
        """Build from a dict; ``kernel``/``kconfig`` may be a catalogue release string,
        or a table completed from the catalogue entry of ``kernel.release`` (or the
        architecture's default build) for the keys it leaves out."""
        from mmsvc.machine import kernels

        d = _check_keys(data, cls.KEYS, "")
        arch = parse_str(d.get("arch", "x86_64"), "arch")
        profile = parse_str(d.get("profile", DEFAULT_PROFILE), "profile")
        if profile not in PROFILES:
            raise MachineConfigError(
                "profile", f"unknown profile {profile!r} (known: {', '.join(PROFILES)})")

        # kernel image
        raw_kernel = d.get("kernel")
        build = None
        if raw_kernel is None:
            build = kernels.default_build(arch, profile)
            if build is None:
                raise MachineConfigError("kernel", f"missing (no default build for {arch!r})")
            kernel = build.image
        elif isinstance(raw_kernel, str):
            build = kernels.lookup(raw_kernel, arch, field="kernel")
            kernel = build.image
        else:
            kd = _check_keys(raw_kernel, {"release", *KernelImage._INTS}, "kernel")
            release = kd.get("release")
            if isinstance(release, str):
                build = kernels.find(release, arch)
            if build is None and arch == "x86_64" and "reserved_span" not in kd:
                raise MachineConfigError(
                    "kernel.reserved_span", "missing: the release is not in the catalogue, "
                    "and the span the kernel reserves for itself cannot be guessed")
            kernel = KernelImage.from_dict(kd, "kernel", base=build.image if build else None)

        # kernel config
        raw_cfg = d.get("kconfig")
        base_cfg = build.kconfig if build else None
        if base_cfg is None:
            fallback = kernels.default_build(arch, profile)
            base_cfg = fallback.kconfig if fallback else KernelConfig()
        if raw_cfg is None:
            kconfig = base_cfg
        elif isinstance(raw_cfg, str):
            kconfig = kernels.lookup(raw_cfg, arch, field="kconfig").kconfig
        else:
            kconfig = KernelConfig.from_dict(raw_cfg, "kconfig", base=base_cfg)

        fw_cls = firmware_class(arch)
        if "firmware" not in d:
            if fw_cls is UmlFirmware:
                firmware = UmlFirmware()
            else:
                raise MachineConfigError("firmware", "missing")
        else:
            firmware = fw_cls.from_dict(d["firmware"], "firmware")

        numa = tuple(NumaNode.from_dict(n, f"numa[{i}]")
                     for i, n in enumerate(_list(d.get("numa", []), "numa")))
        numa_distance = tuple(
            tuple(_list(row, f"numa_distance[{i}]"))
            for i, row in enumerate(_list(d.get("numa_distance", []), "numa_distance")))
        cpus = parse_size(d.get("cpus", 1), "cpus", allow_zero=False)
        present_cpus = (parse_size(d["present_cpus"], "present_cpus", allow_zero=False)
                        if d.get("present_cpus") is not None else None)
        cpu_features = (CpuFeatures.from_dict(d["cpu_features"]) if "cpu_features" in d
                        else CpuFeatures())
        cmdline = parse_str(d.get("cmdline", ""), "cmdline")
        initrd = Initrd.from_dict(d["initrd"]) if d.get("initrd") is not None else None
        faulty_ram = tuple(FaultyRam.from_dict(b, f"faulty_ram[{i}]")
                           for i, b in enumerate(_list(d.get("faulty_ram", []), "faulty_ram")))
        arch_options = d.get("arch_options", {})
        if not isinstance(arch_options, Mapping):
            raise MachineConfigError("arch_options", "expected a table")
        return cls(arch=arch, firmware=firmware, kernel=kernel, kconfig=kconfig, numa=numa,
                   numa_distance=numa_distance, cpus=cpus, present_cpus=present_cpus,
                   cpu_features=cpu_features,
                   cmdline=cmdline, initrd=initrd, faulty_ram=faulty_ram, profile=profile,
                   arch_options=dict(arch_options))

    def replace(self, **changes: Any) -> MachineDescription:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)
