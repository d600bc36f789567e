"""Build a machine description from a real boot log.

Only the lines that describe the machine are read (see shared/fixtures/dmesg/README.md):
the "BIOS-e820" (or BIOS-88/e801) and "user:" tables, "ACPI: SRAT: Node n PXM p [mem ..]"
and "SRAT: PXM p -> APIC a -> Node n", the SLIT's size in the ACPI table list (its
distances are not printed: a 6.1 log's "Fallback order for Node n" lines give
distances that order the nodes the same way, else 10 and 20 stand in), the kernel
command line, "RAMDISK: [mem ..]",
UML's exec-shield gap, the five image sizes of the "Memory:" line, the "Linux version"
release, the CPU count and, on x86_64, the CPU features the boot states: the paging
depth (``max_arch_pfn``: 2^40 with LA57, 2^34 without), 1 GiB pages ("Using GB pages
for direct mapping", printed whenever the CPU has them and PSE unless ``nogbpages``),
NX (its "missing in CPU" notice), PSE (a hugetlbfs build registers 2 MiB huge pages
only with it), and the CPU's vendor, family and model from the boot CPU's "smpboot:
CPU0:" line (which decide, as the kernel's vulnerability whitelist does, whether it has
the Meltdown bug). Also the bad RAM ``memtest=`` reserved, and from the /proc/iomem
dump after the log, if there is one, where the image's text sits (KASLR's choice).
Everything else is what a simulator must reproduce, and is ignored. Lines may carry
``[    0.000000] `` timestamps or ``<n>`` syslog levels.
A ``=== /proc/NAME`` line ends the boot log; :func:`proc_sections` reads what follows.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

from mmsvc.errors import MachineConfigError
from mmsvc.machine import kernels
from mmsvc.machine.description import (
    DEFAULT_DMI_SIZE,
    AcpiTable,
    CpuFeatures,
    E820Firmware,
    FaultyRam,
    Initrd,
    KernelConfig,
    KernelImage,
    MachineDescription,
    McfgAllocation,
    MotherboardResource,
    MpTable,
    NumaNode,
    SetupData,
    UmlFirmware,
)
from mmsvc.machine.dmesg_efi import carved_out_of_ram, kernel_load_address, read_efi
from mmsvc.machine.e820 import E820Entry, parse_type_name
from mmsvc.machine.efi import EfiFirmware
from mmsvc.machine.units import kstrtouint
from mmsvc.units import PAGE_SIZE, round_up

_PREFIX = re.compile(r"^(?:<\d+>)?(?:\[\s*\d+\.\d+\]\s?)?")
_E820 = re.compile(r"^(BIOS-e820|BIOS-88|BIOS-e801|user): \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\] "
                   r"(.+?)\s*$")
#: the ACPI table list: "ACPI: SLIT 0x<address> <length> (...)"
_SLIT = re.compile(r"ACPI: SLIT 0x[0-9A-Fa-f]+ ([0-9A-Fa-f]+) ")
#: sizeof(struct acpi_table_header) + the locality count
_SLIT_HEADER = 44
#: the ACPI table list: "ACPI: FACP 0x000000007FFE198C 000074 (v01 ...)"
_ACPI_TABLE = re.compile(r"^ACPI: ([A-Z0-9_]{4}) 0x([0-9A-Fa-f]{8,16}) ([0-9A-Fa-f]{6})\b")
#: tables the kernel finds them through, which it does not reserve
_ACPI_ROOT_TABLES = frozenset({"RSDP", "RSDT", "XSDT"})
_SRAT_MEM = re.compile(
    r"ACPI: SRAT: Node (\d+) PXM (\d+) \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\]( hotplug)?")
_MP_TABLE = re.compile(r"^found SMP MP-table at \[mem (0x[0-9a-f]+)-0x[0-9a-f]+\]")
_MMCONFIG = re.compile(r"^PCI: MMCONFIG for domain ([0-9a-f]{4}) "
                       r"\[bus ([0-9a-f]{2})-([0-9a-f]{2})\] "
                       r"at \[mem 0x[0-9a-f]+-0x[0-9a-f]+\] \(base (0x[0-9a-f]+)\)$")
_PNP_SYSTEM_MEM = re.compile(r"^system [0-9a-f]{2}:[0-9a-f]{2}: \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)"
                             r"(?: window)?\] (?:has been|could not be) reserved$")
#: memblock=debug's reservations (reserve_brk's says how much DMI data brk holds)
_RESERVE = re.compile(r"^memblock_reserve: \[0x([0-9a-f]+)-0x([0-9a-f]+)\]")
#: under memblock=debug, the MP configuration table's reservation follows
_MP_CONFIG = re.compile(r"^memblock_reserve: \[(0x[0-9a-f]+)-(0x[0-9a-f]+)\] smp_scan_config")
_SRAT_CPU = re.compile(r"SRAT: PXM (\d+) -> APIC (0x[0-9a-f]+) -> Node (\d+)")
_RAMDISK = re.compile(r"^RAMDISK: \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\]")
#: relocate_initrd's report gives the initrd's exact size
_RAMDISK_MOVE = re.compile(r"^Move RAMDISK from \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\]")
_NODE_RANGE = re.compile(r"^\s*node\s+\d+: \[mem 0x[0-9a-f]+-(0x[0-9a-f]+)\]$")
_GAP = re.compile(r"Adding (\d+) bytes to physical memory to account for exec-shield gap")
_VERSION = re.compile(r"Linux version (\S+)")
_BAD_MEM = re.compile(r"^\s*([0-9a-f]{16}) bad mem addr 0x([0-9a-f]+) - 0x([0-9a-f]+) reserved")
#: /proc/iomem: where the kernel image's text sits (KASLR moves it)
_KERNEL_CODE = re.compile(r"^\s*([0-9a-f]+)-[0-9a-f]+ : Kernel code$")
#: /proc/iomem: where bss ends, which is where the image's own reservation ends
_KERNEL_BSS = re.compile(r"^\s*[0-9a-f]+-([0-9a-f]+) : Kernel bss$")
#: what a build prints of itself: its static per-cpu bytes, its mcount call
#: sites, the SMP lock table and the decrypted bss it gives back
_BUILD_SAYS = (
    ("percpu_static", re.compile(r"^percpu: (?:Embedded )?\d+ (?:4K )?pages/cpu s(\d+) "), 1),
    ("ftrace_entries", re.compile(r"^ftrace: allocating (\d+) entries in \d+ pages"), 1),
    ("smp_alternatives", re.compile(r"^Freeing SMP alternatives memory: (\d+)K"), 1024),
    ("decrypted_unused", re.compile(r"^Freeing unused decrypted memory: (\d+)K"), 1024),
)
#: mark_rodata_ro's two alignment gaps, freed once the image is read-only
_IMAGE_GAP = re.compile(r"^Freeing unused kernel image \((text/rodata|rodata/data) gap\) "
                        r"memory: (\d+)K")
_FALLBACK = re.compile(r"^Fallback order for Node (\d+): ([\d ]+)$")
_MEMORY = re.compile(r"Memory: \d+K/\d+K available \((\d+)K kernel code, (\d+)K rwdata, "
                     r"(\d+)K rodata, (\d+)K init, (\d+)K bss")
#: prefill_possible_map's warnings name how many CPUs the firmware listed
_EXCEEDS = re.compile(r"(\d+) Processors exceeds (?:NR_CPUS|max_cpus) limit")
_ALLOWING = re.compile(r"smpboot: Allowing (\d+) CPUs(?:, (\d+) hotplug CPUs)?")
_NR_CPU_IDS = re.compile(r"nr_cpu_ids:(\d+)")
_SLUB_CPUS = re.compile(r"SLUB: .*CPUs=(\d+)")
#: print_cpu_info: "smpboot: CPU0: " then the vendor name unless the model name has it
_CPU0 = re.compile(r"smpboot: CPU0: (.*)$")
_PROC = re.compile(r"^=== /proc/(\S+)")
_MAX_ARCH_PFN = re.compile(r"last_pfn = 0x[0-9a-f]+ max_arch_pfn = (0x[0-9a-f]+)")
_GBPAGES = "Using GB pages for direct mapping"
_NO_NX = "Notice: NX (Execute Disable) protection missing in CPU!"
#: a virtual machine: the kernel names the hypervisor, or the firmware's DMI does
_HYPERVISOR = re.compile(r"^Hypervisor detected: |^DMI: .*(QEMU|KVM|VMware|VirtualBox|"
                         r"innotek|Xen|Virtual Machine|Bochs|Amazon EC2|Google Compute)")
#: hugetlb_init registers 2 MiB pages when the CPU has PSE (5.14 prints no colon)
_HUGETLB_2M = re.compile(r"^HugeTLB:? registered 2\.00 MiB page size")
#: mp_register_ioapic's line for each I/O APIC (from ACPI's MADT or the MP table)
_IOAPIC = re.compile(r"^IOAPIC\[(\d+)\]: apic_id")
_NO_DMI = "DMI not present or invalid."
_NO_RSDP = "A valid RSDP was not found"
#: an EFI boot's boot-services memory given back late
_EFI_BOOT_SERVICES = re.compile(r"^efi: Freeing EFI boot services memory: (\d+)K")
#: free_initmem, after every initcall (hugetlb_init's included)
_LATE = "Freeing unused kernel image"
#: max_arch_pfn of a 5-level (LA57) kernel: 52 physical address bits
_LA57_MAX_ARCH_PFN = 1 << 40
_UML_MARKERS = ("exec-shield gap", "Checking that ptrace can change system call numbers",
                "Core dump limits :")
_X86_MARKERS = ("BIOS-e820:", "BIOS-provided physical RAM map", "x86/fpu:", "DMI: ")


@dataclass
class DmesgFacts:
    """Everything read from a log, before it becomes a description."""

    arch: str | None = None
    release: str | None = None
    e820_who: str | None = None
    e820: list[E820Entry] = field(default_factory=list)
    user_map: list[E820Entry] = field(default_factory=list)
    srat_memory: list[tuple[int, int, int, int]] = field(default_factory=list)  # nid,pxm,s,e
    srat_hotplug: list[tuple[int, int]] = field(default_factory=list)  # s,e
    srat_cpus: list[tuple[int, int, int]] = field(default_factory=list)  # pxm, apic, nid
    slit_localities: int = 0  # from the SLIT's length in the ACPI table list
    fallback_orders: dict[int, list[int]] = field(default_factory=dict)  # nid -> nodes
    bad_mem: list[tuple[int, int, int]] = field(default_factory=list)  # pattern, start, end
    acpi_tables: list[AcpiTable] = field(default_factory=list)
    mp_table: MpTable | None = None
    mcfg: list[McfgAllocation] = field(default_factory=list)
    motherboard: list[MotherboardResource] = field(default_factory=list)
    kernel_code: int | None = None  # physical _text, from /proc/iomem after the boot log
    kernel_bss_end: int | None = None  # physical __bss_stop, from /proc/iomem
    image_gaps: dict[str, int] = field(default_factory=dict)  # "text/rodata" -> bytes
    build_says: dict[str, int] = field(default_factory=dict)  # BuildConstants name -> value
    cmdline: str | None = None
    ramdisk: tuple[int, int] | None = None  # start, size
    exec_shield_gap: int | None = None
    memory_end: int | None = None  # the end of the early memory node ranges
    image_sizes: dict[str, int] | None = None  # bytes
    cpus: int | None = None
    hotplug_cpus: int = 0  # possible CPUs not present at boot ("M hotplug CPUs")
    firmware_cpus: int | None = None  # before nr_cpus=/nosmp cut them ("N Processors exceeds")
    max_arch_pfn: int | None = None  # the first "last_pfn = .. max_arch_pfn = .." line
    gbpages_line: bool = False
    nx_missing: bool = False
    hugetlb_2m_line: bool = False
    reached_free_initmem: bool = False
    hypervisor: bool | None = None  # None: the log does not say (no DMI line)
    rdrand: bool | None = None  # from a "... KASLR using ..." line
    efi_boot_services_kb: int | None = None
    efi_firmware: EfiFirmware | None = None
    ioapics: set[int] = field(default_factory=set)  # the "IOAPIC[N]:" numbers
    dmi: bool = True  # False after "DMI not present or invalid."
    reserves: list[tuple[int, int]] = field(default_factory=list)  # memblock=debug's
    acpi: bool = True  # False when the firmware has no RSDP
    setup_data: list[tuple[int, int]] = field(default_factory=list)  # address, size
    cpu0: str | None = None  # the boot CPU's description after "smpboot: CPU0: "
    warnings: list[str] = field(default_factory=list)


def clean_lines(text: str) -> list[str]:
    """The boot log's lines without timestamps/levels, stopping at ``=== /proc/``."""
    out = []
    for raw in text.splitlines():
        line = _PREFIX.sub("", raw.rstrip("\r\n"))
        if _PROC.match(line):
            break
        out.append(line)
    return out


def proc_sections(text: str) -> dict[str, list[str]]:
    """The ``/proc`` dumps after the boot log: ``{"meminfo": [lines], ...}``
    (each ``=== /proc/NAME`` starts one, ``=== end`` stops)."""
    out: dict[str, list[str]] = {}
    cur: str | None = None
    for line in text.splitlines():
        m = _PROC.match(line)
        if m:
            cur = m.group(1)
            out[cur] = []
        elif line.startswith("=== end"):
            cur = None
        elif cur is not None:
            out[cur].append(line)
    return out


def _read_text(source: str | PathLike[str]) -> str:
    if isinstance(source, PathLike):
        return Path(source).read_text(errors="replace")
    if "\n" not in source and len(source) < 4096:
        p = Path(source)
        if p.exists():
            return p.read_text(errors="replace")
    return source


def parse_dmesg(source: str | PathLike[str]) -> DmesgFacts:
    """Read the machine-describing facts from a log (a path or its text)."""
    raw = _read_text(source)
    lines = clean_lines(raw)
    f = DmesgFacts()
    cmd_early = None
    nr_cpu_ids = slub_cpus = None
    for line in lines:
        m = _E820.match(line)
        if m:
            who, s, e, tname = m.group(1), int(m.group(2), 16), int(m.group(3), 16), m.group(4)
            etype = parse_type_name(tname)
            if etype is None:
                raise MachineConfigError(f"dmesg: {line}", f"unknown e820 type {tname!r}")
            entry = E820Entry(s, e - s + 1, etype)
            if who == "user":
                f.user_map.append(entry)
            else:
                f.e820_who = who
                f.e820.append(entry)
            continue
        if (m := _ACPI_TABLE.match(line)) and m.group(1) not in _ACPI_ROOT_TABLES \
                and not any(t.signature == m.group(1) and t.address == int(m.group(2), 16)
                            for t in f.acpi_tables):
            f.acpi_tables.append(AcpiTable(m.group(1), int(m.group(2), 16), int(m.group(3), 16)))
        if m := _MMCONFIG.match(line):
            f.mcfg.append(McfgAllocation(int(m.group(4), 16), int(m.group(1), 16),
                                         int(m.group(2), 16), int(m.group(3), 16)))
        if m := _PNP_SYSTEM_MEM.match(line):
            start, end = int(m.group(1), 16), int(m.group(2), 16) + 1
            f.motherboard.append(MotherboardResource(start, end - start))
        if m := _NODE_RANGE.match(line):
            f.memory_end = max(f.memory_end or 0, int(m.group(1), 16) + 1)
        if m := _RESERVE.match(line):
            f.reserves.append((int(m.group(1), 16), int(m.group(2), 16) + 1))
        if m := _MP_TABLE.match(line):
            f.mp_table = MpTable(int(m.group(1), 16))
        elif (m := _MP_CONFIG.match(line)) and f.mp_table is not None \
                and int(m.group(1), 16) != f.mp_table.address:
            start, end = int(m.group(1), 16), int(m.group(2), 16) + 1
            f.mp_table = MpTable(f.mp_table.address, start, end - start)
        if f.release is None and (m := _VERSION.search(line)):
            f.release = m.group(1)
        elif m := _SLIT.search(line):
            f.slit_localities = math.isqrt(max(int(m.group(1), 16) - _SLIT_HEADER, 0))
        elif m := _BAD_MEM.match(line):
            f.bad_mem.append((int.from_bytes(bytes.fromhex(m.group(1)), "little"),
                              int(m.group(2), 16), int(m.group(3), 16)))
        elif m := _FALLBACK.match(line):
            f.fallback_orders[int(m.group(1))] = [int(x) for x in m.group(2).split()]
        elif m := _SRAT_MEM.search(line):
            f.srat_memory.append((int(m.group(1)), int(m.group(2)), int(m.group(3), 16),
                                  int(m.group(4), 16) + 1))
            if m.group(5):
                f.srat_hotplug.append((int(m.group(3), 16), int(m.group(4), 16) + 1))
        elif m := _SRAT_CPU.search(line):
            f.srat_cpus.append((int(m.group(1)), int(m.group(2), 16), int(m.group(3))))
        elif line.startswith("Kernel command line:"):
            f.cmdline = line[len("Kernel command line:"):].strip()
        elif line.startswith("Command line:"):
            cmd_early = line[len("Command line:"):].strip()
        elif m := _RAMDISK.search(line):
            s, e = int(m.group(1), 16), int(m.group(2), 16)
            f.ramdisk = (s, e - s + 1)
        elif m := _RAMDISK_MOVE.search(line):
            s, e = int(m.group(1), 16), int(m.group(2), 16)
            f.ramdisk = (s, e - s + 1)
        elif m := _GAP.search(line):
            f.exec_shield_gap = int(m.group(1))
        elif m := _MEMORY.search(line):
            k = [int(x) * 1024 for x in m.groups()]
            f.image_sizes = dict(zip(("text", "rwdata", "rodata", "init", "bss"), k,
                                     strict=True))
        elif m := _MAX_ARCH_PFN.search(line):
            if f.max_arch_pfn is None:
                f.max_arch_pfn = int(m.group(1), 16)
        elif _GBPAGES in line:
            f.gbpages_line = True
        elif line.startswith(_NO_NX):
            f.nx_missing = True
        elif _HUGETLB_2M.match(line):
            f.hugetlb_2m_line = True
        elif line.startswith(_LATE):
            f.reached_free_initmem = True
            if m := _IMAGE_GAP.match(line):
                f.image_gaps[m.group(1)] = int(m.group(2)) << 10
        elif (said := _build_says(line)) is not None:
            f.build_says.setdefault(*said)
        elif _HYPERVISOR.match(line):
            f.hypervisor = True
        elif " KASLR using" in line and f.rdrand is None:
            f.rdrand = " RDRAND" in line
        elif line.startswith("DMI: ") and f.hypervisor is None:
            f.hypervisor = False
        elif m := _EFI_BOOT_SERVICES.match(line):
            f.efi_boot_services_kb = int(m.group(1))
        elif f.cpu0 is None and (m := _CPU0.search(line)):
            f.cpu0 = m.group(1)
        elif m := _EXCEEDS.search(line):
            f.firmware_cpus = max(f.firmware_cpus or 0, int(m.group(1)))
        elif m := _ALLOWING.search(line):
            f.cpus = int(m.group(1))
            f.hotplug_cpus = int(m.group(2) or 0)
        elif m := _IOAPIC.match(line):
            f.ioapics.add(int(m.group(1)))
        elif line.startswith(_NO_DMI):
            f.dmi = False
        elif _NO_RSDP in line:
            f.acpi = False
        elif m := _NR_CPU_IDS.search(line):
            nr_cpu_ids = int(m.group(1))
        elif m := _SLUB_CPUS.search(line):
            slub_cpus = int(m.group(1))
    if f.cmdline is None:
        f.cmdline = cmd_early
    iomem = proc_sections(raw).get("iomem", [])
    for line in iomem:
        if m := _KERNEL_CODE.match(line):
            f.kernel_code = int(m.group(1), 16)
        elif m := _KERNEL_BSS.match(line):
            f.kernel_bss_end = int(m.group(1), 16) + 1
    if f.cpus is None:
        f.cpus = nr_cpu_ids or slub_cpus
    efi = read_efi(lines)
    f.efi_firmware, f.setup_data = efi.efi, efi.setup_data
    if f.efi_firmware is not None and f.efi_firmware.bgrt_image is None \
            and any(t.signature == "BGRT" for t in f.acpi_tables):
        pages = carved_out_of_ram(iomem, f.user_map or f.e820, f.efi_firmware)
        if pages is not None:
            f.efi_firmware = dataclasses.replace(f.efi_firmware, bgrt_image=pages)
    text = "\n".join(lines)
    if f.e820 or any(mk in text for mk in _X86_MARKERS):
        f.arch = "x86_64"
    elif any(mk in text for mk in _UML_MARKERS):
        f.arch = "um"
    return f


def _stated_cpu_features(f: DmesgFacts, kconfig: KernelConfig) -> CpuFeatures:
    """The defaults, corrected by what an x86_64 log states: the paging depth
    from ``max_arch_pfn``, 1 GiB pages from the direct-mapping report
    (which init_mem_mapping prints after the ``last_pfn`` lines), NX from
    its notice, and PSE from hugetlb_init's 2 MiB registration, which a
    hugetlbfs build prints with PSE only (if the log goes that far)."""
    if f.arch != "x86_64" or f.max_arch_pfn is None:
        return CpuFeatures()
    from mmsvc.machine.cmdline import parse_cmdline

    gbpages = f.gbpages_line or parse_cmdline(f.cmdline or "", "x86_64").nogbpages
    pse = f.hugetlb_2m_line or not (kconfig.hugetlbfs and f.reached_free_initmem)
    vendor, family, model = _cpu_identity(f.cpu0)
    hypervisor = f.hypervisor if f.hypervisor is not None else CpuFeatures().hypervisor
    rdrand = f.rdrand if f.rdrand is not None else CpuFeatures().rdrand
    return CpuFeatures(la57=f.max_arch_pfn >= _LA57_MAX_ARCH_PFN, gbpages=gbpages,
                       nx=not f.nx_missing, pse=pse, hypervisor=hypervisor, rdrand=rdrand,
                       vendor=vendor,
                       family=family, model=model)


_FAMILY_MODEL = re.compile(r"\(family: (0x[0-9a-f]+), model: (0x[0-9a-f]+)")


def _cpu_identity(cpu0: str | None) -> tuple[str, int, int]:
    """Vendor, family and model from the boot CPU's line (print_cpu_info
    prints the vendor name before a model name that lacks it); the
    default's where the log has no such line."""
    d = CpuFeatures()
    if cpu0 is None:
        return d.vendor, d.family, d.model
    vendor = next((w for w in re.findall(r"[A-Za-z]+", cpu0) if w in CpuFeatures.VENDORS),
                  "unknown")
    m = _FAMILY_MODEL.search(cpu0)
    if m is None:
        return vendor, d.family, d.model
    return vendor, int(m.group(1), 16), int(m.group(2), 16)


#: an estimate for builds outside the catalogue: what x86_64's ORC unwind
#: tables and bug table (between _edata and __init_begin, in none of the
#: Memory line's sizes) take per byte of text; both Debian 6.1 builds
#: (generic and cloud) have about 0.27
UNWIND_TABLES_PER_TEXT = 0.27
#: x86_64's PMD_SIZE, the image's section alignment
HPAGE = 2 << 20


def _build_says(line: str) -> tuple[str, int] | None:
    for name, pattern, unit in _BUILD_SAYS:
        if m := pattern.match(line):
            return name, int(m.group(1)) * unit
    return None


def _estimated_image(release: str, arch: str, f: DmesgFacts) -> KernelImage:
    """A build outside the catalogue: its image from the printed sizes (UML
    reserves just those), with the build constants the log prints."""
    sizes = f.image_sizes or {}
    total = sum(sizes.values())
    if arch == "um":
        return KernelImage(release=release, load_address=0, reserved_span=total,
                           image_end=total, **sizes)
    gaps = {f"{k.replace('/', '_')}_gap": v for k, v in f.image_gaps.items()}
    stated = {**f.build_says, **gaps}
    return dataclasses.replace(_x86_image(release, f, sizes), **stated)


def _x86_image(release: str, f: DmesgFacts, sizes: dict[str, int]) -> KernelImage:
    """x86_64 reserves ``_text`` to ``__bss_stop``, which /proc/iomem's
    "Kernel bss" line ends exactly; without it the span follows the linker
    script: rodata and data each start on a 2 MiB boundary (the gaps
    mark_rodata_ro frees, as printed when the log has them), the unwind
    tables come before init, and bss ends on one."""
    load = f.kernel_code if f.kernel_code is not None else 0x1000000
    if f.kernel_bss_end is not None and f.kernel_bss_end > load:
        span = round_up(f.kernel_bss_end - load, PAGE_SIZE)
        return KernelImage(release=release, load_address=0x1000000, reserved_span=span, **sizes)
    text, rodata = sizes.get("text", 0), sizes.get("rodata", 0)
    text_end = round_up(text, PAGE_SIZE)
    rodata_start = text_end + f.image_gaps.get("text/rodata",
                                               round_up(text_end, HPAGE) - text_end)
    rodata_end = round_up(rodata_start + rodata, PAGE_SIZE)
    data_start = rodata_end + f.image_gaps.get("rodata/data",
                                               round_up(rodata_end, HPAGE) - rodata_end)
    rest = sizes.get("rwdata", 0) + sizes.get("init", 0) + sizes.get("bss", 0)
    span = round_up(data_start + rest + int(text * UNWIND_TABLES_PER_TEXT), HPAGE)
    return KernelImage(release=release, load_address=0x1000000, reserved_span=span, **sizes)


def from_dmesg(
    source: str | PathLike[str],
    *,
    profile: str | None = None,
    cpu_features: CpuFeatures | None = None,
    kernel: KernelImage | None = None,
    warnings: list[str] | None = None,
    efi_from: str | PathLike[str] | None = None,
) -> MachineDescription:
    """A :class:`MachineDescription` for the machine a boot log came from.

    The kernel image and config come from the catalogue entry of the log's release
    (unknown releases get the architecture's default config and an image whose reserved
    span is estimated from the printed sizes; see ``DmesgFacts.warnings`` via
    :func:`parse_dmesg`). The printed section sizes always override the catalogue's.
    CPU features the log does not state default to the fixtures' QEMU ``-cpu max``.
    The profile is the release's ("5.14"/"6.1") unless *profile* is given.
    Guesses made along the way are appended to *warnings* when a list is passed.
    *efi_from*: another log of the same UEFI machine (booted with
    ``efi=debug``, and ``memblock=debug`` for the rest) that fills in what
    this one does not print: the EFI memory map, the MEMATTR table's size,
    where the firmware's map and the BGRT logo lie.
    """
    f = parse_dmesg(source)
    if efi_from is not None:
        _fill_efi(f, parse_dmesg(efi_from))
    if f.arch is None:
        raise MachineConfigError("dmesg", "cannot tell the architecture: no BIOS-e820 lines "
                                          "and no UML start-up lines")
    release = f.release or "unknown"
    build = kernels.find(release, f.arch)
    if profile is None:
        if build is not None:
            profile = build.profile
        elif release.startswith("5.14"):
            profile = "5.14"
        else:
            profile = "6.1"
    if kernel is None:
        if build is not None:
            kernel = build.image
            if f.image_sizes:
                kernel = KernelImage(**{**kernel.__dict__, **f.image_sizes})
        else:
            kernel = _estimated_image(release, f.arch, f)
            how = ("read from /proc/iomem's Kernel bss" if f.arch == "x86_64"
                   and f.kernel_bss_end is not None else
                   "estimated from the printed sizes and the linker script's alignments")
            f.warnings.append(f"release {release!r} is not in the catalogue: the kernel's "
                              f"reserved span is {how}")
    if build is not None:
        kconfig = build.kconfig
    else:
        fallback = kernels.default_build(f.arch, profile)
        if fallback is None:
            raise MachineConfigError("dmesg", f"no kernel config known for {f.arch}")
        kconfig = fallback.kconfig
        f.warnings.append(f"release {release!r} is not in the catalogue: using the config "
                          f"of {fallback.release}")
    cmdline = f.cmdline or ""
    kernel = _placed_image(f, kernel, kconfig, cmdline)
    f.warnings += _efi_gaps(f, cmdline)
    if warnings is not None:
        warnings.extend(f.warnings)
    if f.arch == "x86_64":
        if not f.e820:
            raise MachineConfigError("dmesg", "no BIOS-e820 lines")
        firmware: object = E820Firmware(tuple(f.e820), tuple(f.acpi_tables), f.mp_table,
                                        tuple(f.mcfg), tuple(f.motherboard),
                                        tuple(SetupData(a, n) for a, n in f.setup_data),
                                        f.efi_firmware, len(f.ioapics),
                                        _dmi_size(f, kernel, kconfig), f.acpi)
    else:
        from mmsvc.machine.cmdline import parse_cmdline

        mem = parse_cmdline(cmdline, "um").mem
        gap = f.exec_shield_gap or 0
        if mem is None and not f.cmdline and f.memory_end is not None:
            # a boot that stopped before printing its command line: its
            # memory node range is mem= plus the exec-shield gap
            mem = f.memory_end - (gap if gap > 1 << 20 else 0)
        firmware = UmlFirmware(physmem=mem, exec_shield_gap=gap)
    nodes: dict[int, dict] = {}
    for nid, pxm, s, e in f.srat_memory:
        n = nodes.setdefault(nid, {"ranges": [], "pxm": pxm, "cpus": []})
        n["ranges"].append((s, e))
    for cpu, (pxm, _apic, nid) in enumerate(f.srat_cpus):
        n = nodes.setdefault(nid, {"ranges": [], "pxm": pxm, "cpus": []})
        n["cpus"].append(cpu)
    numa = tuple(NumaNode(nid, tuple(v["ranges"]), tuple(v["cpus"]), v["pxm"],
                          tuple(r for r in v["ranges"] if r in f.srat_hotplug))
                 for nid, v in sorted(nodes.items()))
    cpus = f.firmware_cpus or f.cpus or max(1, len(f.srat_cpus))
    present_cpus = (cpus - f.hotplug_cpus if not f.firmware_cpus and 0 < f.hotplug_cpus < cpus
                    else None)
    if f.firmware_cpus and f.cpus and _possible_cpus_given(cmdline):
        # "N Processors exceeds NR_CPUS" counted possible_cpus=, not the
        # firmware's CPUs: those are the present ones the kernel allowed
        cpus, present_cpus = f.cpus - f.hotplug_cpus, None
    initrd = Initrd(*f.ramdisk) if f.ramdisk else None
    slit = _slit_distances(f)
    faulty = _faulty_ram(f, cmdline)
    return MachineDescription(
        arch=f.arch, firmware=firmware, kernel=kernel, kconfig=kconfig, numa=numa,
        numa_distance=slit, cpus=cpus,
        present_cpus=present_cpus,
        cpu_features=cpu_features or _stated_cpu_features(f, kconfig), cmdline=cmdline,
        initrd=initrd,
        faulty_ram=faulty, profile=profile)


def _dmi_size(f: DmesgFacts, kernel: KernelImage, kconfig: KernelConfig) -> int:
    """The DMI data the kernel kept in brk: none without a table; under
    memblock=debug, what reserve_brk's range holds beyond the early page
    tables (whole pages, all that counts); else QEMU's default table's."""
    if not f.dmi:
        return 0
    brk = kernel.load_address + kernel.reserved_span
    for start, end in f.reserves:
        if start == brk:
            return max(end - start - kconfig.x86_init_pgt_buf_pages * PAGE_SIZE, 0)
    return DEFAULT_DMI_SIZE


def _fill_efi(f: DmesgFacts, other: DmesgFacts) -> None:
    """Complete *f*'s UEFI facts with *other*'s (another boot of the machine)."""
    if f.efi_firmware is None:
        raise MachineConfigError("efi_from", "the log is not of a UEFI boot (no \"efi: EFI v\" "
                                             "line)")
    if other.efi_firmware is None or not other.efi_firmware.memmap:
        raise MachineConfigError("efi_from", "that log prints no EFI memory map (boot it with "
                                             "efi=debug)")
    if other.e820 != f.e820:
        raise MachineConfigError("efi_from", "that log is of another machine: its BIOS-e820 "
                                             "map differs")
    mine, theirs = f.efi_firmware, other.efi_firmware
    f.efi_firmware = dataclasses.replace(
        mine, memmap=mine.memmap or theirs.memmap,
        memattr_entries=(mine.memattr_entries if mine.memattr_entries is not None
                         else theirs.memattr_entries),
        memmap_address=(mine.memmap_address if mine.memmap_address is not None
                        else theirs.memmap_address),
        bgrt_image=mine.bgrt_image or theirs.bgrt_image)


def _efi_gaps(f: DmesgFacts, cmdline: str) -> list[str]:
    """What an EFI boot's log leaves out that the simulation needs: the
    memory map (printed only with efi=debug; not needed when runtime
    services are off, which drops it) and where the BGRT's boot logo lies."""
    from mmsvc.machine.cmdline import parse_cmdline

    efi = f.efi_firmware
    if efi is None:
        return []
    if parse_cmdline(cmdline, "x86_64").efi_runtime_disabled:
        return []
    if not efi.memmap:
        size = (f" ({f.efi_boot_services_kb}K here)" if f.efi_boot_services_kb is not None
                else "")
        return ["an EFI boot without efi=debug: the log does not print the EFI memory map, "
                "so the firmware's boot-services memory" + size + ", which stays reserved "
                "until after mem_init, is not simulated, and the Memory line's reserved and "
                "available, Total pages and where NODE_DATA goes may differ"]
    if efi.table("ESRT") is not None and efi.esrt_size is None:
        return ["an EFI boot: the firmware lists an ESRT but the log does not say how big it "
                "is (no \"esrt: Reserving ESRT space\" line), so the kernel's keeping it is "
                "not simulated"]
    if efi.bgrt_image is None and any(t.signature == "BGRT" for t in f.acpi_tables):
        return ["an EFI boot: the log does not say where the ACPI BGRT's boot logo lies "
                "(memblock=debug's efi_mem_reserve line does, as do efi=debug's runtime map "
                "when it splits a range and /proc/iomem's reserved hole in RAM), so the pages "
                "the kernel keeps for it are not simulated and MemTotal may be a few pages off"]
    return []


def _possible_cpus_given(cmdline: str) -> bool:
    from mmsvc.machine.cmdline import parse_cmdline

    return bool(parse_cmdline(cmdline, "x86_64").get_int("possible_cpus", 0))


def _placed_image(f: DmesgFacts, kernel: KernelImage, kconfig: KernelConfig,
                  cmdline: str) -> KernelImage:
    """x86_64: the image where the kernel put it. KASLR (a RANDOMIZE_BASE
    build booted without ``nokaslr``) picks a random physical address that
    the boot log does not print; /proc/iomem's "Kernel code" line, when
    the log carries it, does. Where the image sits changes what deferred
    init leaves free at boot, so the Memory line's available count."""
    if f.arch != "x86_64":
        return kernel
    if f.kernel_code is not None:
        return dataclasses.replace(kernel, load_address=f.kernel_code)
    from mmsvc.machine.cmdline import parse_cmdline

    kaslr = kconfig.randomize_base and not parse_cmdline(cmdline, "x86_64").nokaslr
    if f.efi_firmware is not None and f.efi_firmware.memmap and not kaslr:
        where = kernel_load_address(f.efi_firmware, kernel.reserved_span)
        if where is not None:
            return dataclasses.replace(kernel, load_address=where)
    if kaslr:
        f.warnings.append("KASLR was on and the log does not say where it put the kernel "
                          f"(/proc/iomem's Kernel code): {kernel.load_address:#x} assumed, "
                          "so the Memory line's available count may differ")
    return kernel


def _faulty_ram(f: DmesgFacts, cmdline: str) -> tuple[FaultyRam, ...]:
    """The bad RAM memtest reserved ("<pattern> bad mem addr A - B reserved"),
    as RAM with one stuck bit that passes the patterns tested before and
    fails the one named."""
    if not f.bad_mem:
        return ()
    from mmsvc.machine.cmdline import parse_cmdline
    from mmsvc.mm.memtest import PATTERNS

    value = parse_cmdline(cmdline, f.arch or "x86_64").get("memtest")
    count = len(PATTERNS) if value == "" else kstrtouint(value or "0") or 0
    order = [PATTERNS[i % len(PATTERNS)] for i in range(count - 1, -1, -1)]
    out = []
    for pattern, start, end in f.bad_mem:
        passed = tuple(order[:order.index(pattern)]) if pattern in order else ()
        bad = FaultyRam.failing_first(start, end - start, pattern, passed)
        if bad is None:
            f.warnings.append(f"bad RAM at [{start:#x}-{end:#x}) failed pattern "
                              f"{pattern:#018x} after patterns no stuck bit passes: "
                              "it fails every pattern here")
            bad = FaultyRam(start, end - start, stuck_value=pattern ^ ((1 << 64) - 1))
        out.append(bad)
    return tuple(out)


def _slit_distances(f: DmesgFacts) -> tuple[tuple[int, ...], ...]:
    """The SLIT, whose distances a log never prints. The fallback orders a
    6.1 kernel prints come from them: distances growing along each node's
    order give the same orders (and, strictly growing, leave no tie to
    break). Without those lines, or when NUMA emulation printed them for
    its own nodes, 10 and 20 stand in."""
    d = f.slit_localities
    table = [[10 if i == j else 20 for j in range(d)] for i in range(d)]
    if not f.fallback_orders or "numa=" in (f.cmdline or ""):
        return tuple(map(tuple, table))
    pxm_of = {nid: pxm for nid, pxm, _s, _e in f.srat_memory}
    pxm_of.update({nid: pxm for pxm, _apic, nid in f.srat_cpus if nid not in pxm_of})
    for nid, order in f.fallback_orders.items():
        p = pxm_of.get(nid)
        if p is None or p >= d:
            continue
        step = 10 if len(order) <= 24 else max(1, 244 // len(order))
        dist, seen = 10, {p}
        for other in order[1:]:
            q = pxm_of.get(other)
            if q is None or q >= d or q in seen:
                continue
            dist += step
            table[p][q] = dist
            seen.add(q)
        for q in range(d):  # nodes without memory are in no order: farthest
            if q not in seen:
                table[p][q] = min(dist + step, 255)
    return tuple(map(tuple, table))


__all__ = ["DmesgFacts", "clean_lines", "from_dmesg", "parse_dmesg", "proc_sections"]
