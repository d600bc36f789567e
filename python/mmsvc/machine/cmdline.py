"""Kernel command line parsing: the options that change memory initialisation.

:func:`parse_cmdline` splits the line the way the kernel's ``next_arg`` does (quotes
group words, quotes around a value are dropped, ``--`` ends the kernel's part), then
reads the options mmsvc cares about. A malformed value of one of those options raises
:class:`MachineConfigError` whose field is ``"cmdline: <the option as written>"``.
Options the kernel does not know are kept and listed in
:attr:`KernelCmdline.unknown`, in the order 6.1 prints them in
"Unknown kernel command line parameters "...", will be passed to user space."
(arguments without ``=`` first, then ``name=value`` ones; names with a dot are module
parameters and are never listed). Which names the kernel knows is a table here
(:data:`KNOWN_PARAMS`); it covers the common ones, not all of kernel-parameters.txt.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from mmsvc.errors import MachineConfigError
from mmsvc.machine import e820 as _e820
from mmsvc.machine.units import (
    kernel_strtoull,
    kstrtobool,
    kstrtouint,
    memparse,
    memparse_full,
)

# --------------------------------------------------------------------------- tables

#: Parameters every architecture registers (``early_param``, ``__setup``, ``core_param``).
_COMMON_KNOWN = frozenset("""
console earlycon earlyprintk keep_bootcon loglevel quiet debug ignore_loglevel log_buf_len
panic panic_on_warn panic_print oops pause_on_oops initcall_debug
init rdinit root rootfstype rootflags rootwait rootdelay ro rw initrd noinitrd retain_initrd
nosmp maxcpus nr_cpus possible_cpus
init_on_alloc init_on_free page_poison memblock crashkernel kernelcore movablecore
movable_node numa_balancing hashdist cma mitigations nosmt mminit_loglevel coherent_pool
mhash_entries mphash_entries thash_entries uhash_entries dhash_entries ihash_entries
slub_debug slub_nomerge slab_nomerge slub_min_order slub_max_order slub_min_objects
page_owner debug_pagealloc page_alloc.shuffle stack_depot_disable early_page_ext
hugepages hugepagesz default_hugepagesz hugetlb_cma transparent_hugepage
hugetlb_free_vmemmap
cgroup_disable cgroup_no_v1 swapaccount audit selinux apparmor security lsm
enforcing checkreqprot
nohz nohz_full isolcpus rcu_nocbs irqaffinity threadirqs nowatchdog nmi_watchdog
softlockup_panic sysrq_always_enabled
clocksource resume resume_offset noresume hibernate reboot
norandmaps hardened_usercopy nohugevmalloc stack_guard_gap lpj
nomodeset video fbcon profile trace_event ftrace tp_printk
""".split())

_X86_KNOWN = frozenset("""
mem memmap acpi noapic nolapic apic disableapic nox2apic x2apic_phys
iommu intel_iommu amd_iommu swiotlb noexec nopat nogbpages gbpages
numa noefi efi add_efi_memmap efi_fake_mem tsc hpet nohpet notsc clearcpuid
vsyscall idle pci pcie_aspm nospectre_v1
l1tf mds tsx_async_abort retbleed srbds mmio_stale_data
gather_data_sampling spec_rstack_overflow
mce nomce memtest reservetop vdso intel_idle.max_cstate
acpi_enforce_resources acpi_osi acpi_rsdp nofsgsbase nopku percpu_alloc
""".split())

_UML_KNOWN = frozenset("""
con ssl ubd eth hostfs mconsole xterm dtb
""".split())

#: UML's console, serial-line and block-device options are ``__setup`` prefixes:
#: ``con`` also claims ``con0=...``.
_UML_PREFIX = ("con", "ssl", "ubd", "eth")

#: Known parameter names by architecture; other architectures get the common set plus
#: ``mem``.
KNOWN_PARAMS: dict[str, frozenset[str]] = {
    "x86_64": _COMMON_KNOWN | _X86_KNOWN,
    "um": _COMMON_KNOWN | _UML_KNOWN,
}


def known_params(arch: str) -> frozenset[str]:
    return KNOWN_PARAMS.get(arch, _COMMON_KNOWN | {"mem"})


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class MemOp:
    """One e820 edit from ``mem=`` or one ``memmap=`` item (x86 only).

    kind: ``exactmap`` (empty the table), ``limit`` (remove RAM at addresses >= size),
    ``add`` (append ``[start, start+size)`` of ``type``), ``remove`` (remove the range,
    only entries of ``from_type`` unless it is ``None``), ``update`` (retype
    ``from_type`` to ``type`` inside the range).
    """

    kind: str
    source: str
    start: int = 0
    size: int = 0
    type: int = 0
    from_type: int | None = None


@dataclass(frozen=True)
class CrashKernel:
    """``crashkernel=``: a fixed size, or a size chosen by total memory from *ranges*
    (``(start, end or None, size)`` each); optional ``@offset``; ``,high``/``,low``."""

    raw: str
    size: int | None = None
    ranges: tuple[tuple[int, int | None, int], ...] = ()
    offset: int | None = None
    high: bool = False
    low: bool = False
    #: why the kernel rejects a size it cannot read ("memory value expected",
    #: "unrecognized char: x"): it warns so and reserves nothing
    invalid: str | None = None

    def size_for(self, system_ram: int, round_to: int = 0) -> int:
        """The size the kernel picks for a machine with *system_ram* bytes.

        Ranges are matched against the memory rounded up to *round_to*
        (6.1 rounds to 128 MiB: firmware keeps some RAM to itself); an entry
        whose size is not below that memory makes the whole option invalid."""
        if self.invalid is not None:
            return 0
        if self.size is not None:
            return self.size
        total = -(-system_ram // round_to) * round_to if round_to else system_ram
        for start, end, size in self.ranges:
            if size >= total:
                return 0
            if total >= start and (end is None or total < end):
                return size
        return 0


@dataclass(frozen=True)
class CoreSize:
    """``kernelcore=``/``movablecore=``: bytes, a percentage, or ``mirror``."""

    raw: str
    bytes: int | None = None
    percent: int | None = None
    mirror: bool = False


@dataclass(frozen=True)
class KernelCmdline:
    """The parsed command line. ``None`` for a tri-state means "not given"."""

    raw: str
    arch: str
    params: tuple[tuple[str, str | None], ...]
    init_args: tuple[str, ...] = ()
    mem_ops: tuple[MemOp, ...] = ()
    mem: int | None = None
    pti: str = "auto"
    mitigations: str = "auto"
    init_on_alloc: bool | None = None
    init_on_free: bool | None = None
    page_poison: bool | None = None
    memblock_debug: bool = False
    no5lvl: bool = False
    nokaslr: bool = False
    nogbpages: bool = False
    noexec: bool = False
    crashkernel: CrashKernel | None = None
    crashkernel_low: CrashKernel | None = None
    kernelcore: CoreSize | None = None
    movablecore: CoreSize | None = None
    movable_node: bool = False
    numa_off: bool = False
    numa_options: tuple[str, ...] = ()
    #: ``log_buf_len=``: the kernel log buffer asked for, in bytes (memparse)
    log_buf_len: int | None = None
    #: per parameter of ``params``: whether some handler claims its name
    known: tuple[bool, ...] = field(default=())

    @property
    def numa_fake(self) -> str | None:
        """What ``numa=fake=`` asks for (the last one given), else None."""
        fakes = [o[len("fake="):] for o in self.numa_options if o.startswith("fake=")]
        return fakes[-1] if fakes else None

    @property
    def efi_options(self) -> frozenset[str]:
        """The words of every ``efi=`` (``debug``, ``noruntime``,
        ``nosoftreserve``, ...): each ``efi=`` is an early parameter of its own."""
        return frozenset(w for n, v in self.params if _norm(n) == "efi" and v
                         for w in v.split(",") if w)

    @property
    def efi_runtime_disabled(self) -> bool:
        """``noefi`` or ``efi=noruntime``: no EFI runtime services, and the
        kernel drops the EFI memory map."""
        return self.get("noefi") is not None or "noruntime" in self.efi_options

    @property
    def numa_noacpi(self) -> bool:
        """``numa=noacpi``: the SRAT is not read."""
        return "noacpi" in self.numa_options

    @property
    def userdef(self) -> bool:
        """True when the kernel prints a "user-defined physical RAM map"."""
        return bool(self.mem_ops)

    @property
    def pti_forced_off(self) -> bool:
        return self.pti == "off" or self.mitigations == "off"

    @property
    def unknown(self) -> tuple[str, ...]:
        """The parameters no handler claims, as 6.1 lists them."""
        return self.unknown_with()

    def unknown_with(self, rejected: Collection[int] = ()) -> tuple[str, ...]:
        """:attr:`unknown`, counting also the parameters at the indices
        *rejected* (of :attr:`params`), whose ``__setup`` handler declined
        them at boot (returned 0), as init/main.c's unknown_bootoption
        collects them: bare words first, then ``name=value`` (a repeated
        name keeps its place, with the last value)."""
        argv: list[str] = []
        envp: list[tuple[str, str]] = []
        for i, (name, value) in enumerate(self.params):
            if _norm(name) in ("init", "rdinit") and value is not None:
                # init_setup/rdinit_setup drop the bare words given before them
                argv.clear()
            if i < len(self.known) and self.known[i] and i not in rejected:
                continue
            if value is None:
                argv.append(name)
                continue
            for k, (en, _ev) in enumerate(envp):
                if en == name:
                    envp[k] = (name, value)
                    break
            else:
                envp.append((name, value))
        return tuple(argv) + tuple(f"{n}={v}" for n, v in envp)

    def unknown_line(self, rejected: Collection[int] = (), profile: str = "6.1") -> str | None:
        """``print_unknown_bootoptions``' notice, or ``None`` when nothing is
        unknown. 5.14 printed the first wording (each word after a space);
        5.16 (and 5.15's stable updates) the one 6.1 prints."""
        unknown = self.unknown_with(rejected)
        if not unknown:
            return None
        if profile == "5.14":
            return "Unknown command line parameters:" + "".join(f" {u}" for u in unknown)
        return (f'Unknown kernel command line parameters "{" ".join(unknown)}", '
                "will be passed to user space.")

    def get(self, name: str) -> str | None:
        """The value of the last ``name=`` (``""`` for a bare flag), or ``None``."""
        found: str | None = None
        for n, v in self.params:
            if _norm(n) == _norm(name):
                found = "" if v is None else v
        return found

    def setup_max_cpus(self, nr_cpus: int) -> int:
        """``setup_max_cpus``: ``maxcpus=`` (``nosmp``: 0), else NR_CPUS."""
        if self.get("nosmp") is not None:
            return 0
        return self.get_int("maxcpus", nr_cpus) or 0

    def get_int(self, name: str, default: int | None = None) -> int | None:
        """The number at the start of the last ``name=`` value, read as the
        kernel's get_option/simple_strtoul do (base prefixes, trailing text
        ignored); *default* when the option is absent or starts with no number."""
        value = self.get(name)
        number, used = kernel_strtoull(value or "")
        return number if used else default


# --------------------------------------------------------------------------- splitting


def split_args(text: str) -> tuple[list[tuple[str, str | None]], list[str]]:
    """Split like the kernel's ``next_arg``/``parse_args``.

    Returns ``(params, init_args)``: ``(name, value or None)`` pairs up to ``--``, and
    the words after it.
    """
    params: list[tuple[str, str | None]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            return params, []
        quoted = text[i] == '"'
        if quoted:
            i += 1
        in_quote = quoted
        j = i
        while j < n:
            c = text[j]
            if c.isspace() and not in_quote:
                break
            if c == '"':
                in_quote = not in_quote
            j += 1
        word = text[i:j]
        i = j
        if quoted and word.endswith('"'):
            word = word[:-1]
        eq = word.find("=")
        if eq < 0:
            name, value = word, None
        else:
            name, value = word[:eq], word[eq + 1:]
            if value.startswith('"'):
                value = value[1:]
                if value.endswith('"'):
                    value = value[:-1]
        if value is None and name == "--":
            rest = text[i:].split()
            return params, rest
        params.append((name, value))


def _norm(name: str) -> str:
    return name.replace("-", "_")


# --------------------------------------------------------------------------- options


def _err(name: str, value: str | None, reason: str) -> MachineConfigError:
    shown = name if value is None else f"{name}={value}"
    return MachineConfigError(f"cmdline: {shown}", reason)


def _memparse_strict(name: str, value: str | None, text: str | None = None) -> int:
    if value is None:
        raise _err(name, value, "needs a value")
    got = memparse_full(value if text is None else text)
    if got is None:
        raise _err(name, value, "not a size (a number with an optional K/M/G/T/P/E suffix)")
    return got


def _bool_opt(name: str, value: str | None) -> bool:
    got = kstrtobool(value)
    if got is None:
        raise _err(name, value, "expected a boolean (1/0, y/n, on/off)")
    return got


def parse_memmap_item(item: str) -> MemOp:
    """One comma-separated ``memmap=`` item, as ``parse_memmap_one`` reads it."""
    source = f"memmap={item}"
    if item.startswith("exactmap"):
        return MemOp("exactmap", source)
    size, p = memparse(item)
    if p == 0:
        raise MachineConfigError(f"cmdline: {source}", "does not start with a size")
    if p == len(item):
        return MemOp("limit", source, size=size)
    marker = item[p]
    kinds = {"@": _e820.E820_RAM, "#": _e820.E820_ACPI, "$": _e820.E820_RESERVED,
             "!": _e820.E820_PRAM}
    if marker in kinds or marker == "%":
        start, q = memparse(item, p + 1)
        if q == p + 1:
            raise MachineConfigError(f"cmdline: {source}",
                                     f"missing start address after {marker!r}")
        if marker in kinds:
            if q != len(item):
                raise MachineConfigError(f"cmdline: {source}",
                                         f"unexpected {item[q:]!r} after the start address")
            return MemOp("add", source, start=start, size=size, type=kinds[marker])
        from_type = to_type = 0
        if q < len(item) and item[q] == "-":
            from_type, r = kernel_strtoull(item, q + 1)
            if r == q + 1:
                raise MachineConfigError(f"cmdline: {source}", "missing type number after '-'")
            q = r
        if q < len(item) and item[q] == "+":
            to_type, r = kernel_strtoull(item, q + 1)
            if r == q + 1:
                raise MachineConfigError(f"cmdline: {source}", "missing type number after '+'")
            q = r
        if q != len(item):
            raise MachineConfigError(f"cmdline: {source}", f"unexpected {item[q:]!r}")
        from_type &= 0xFFFFFFFF
        to_type &= 0xFFFFFFFF
        if from_type and to_type:
            if from_type == to_type:
                raise MachineConfigError(f"cmdline: {source}",
                                         "old and new type are equal (the kernel BUGs on this)")
            return MemOp("update", source, start=start, size=size, type=to_type,
                         from_type=from_type)
        if to_type:
            return MemOp("add", source, start=start, size=size, type=to_type)
        return MemOp("remove", source, start=start, size=size, from_type=from_type or None)
    raise MachineConfigError(f"cmdline: {source}", f"unexpected {item[p:]!r} after the size")


def _parse_crashkernel(value: str | None, name: str) -> CrashKernel:
    if value is None:
        raise _err(name, value, "needs a value")
    raw = value
    high = low = False
    if value.endswith(",high"):
        high, value = True, value[: -len(",high")]
    elif value.endswith(",low"):
        low, value = True, value[: -len(",low")]
    if high or low or ":" not in value:
        # parse_crashkernel_simple/_suffix: a size the kernel cannot read is
        # warned about and ignored, not fatal
        _, end = memparse(value)
        if end == 0:
            return CrashKernel(raw, high=high, low=low, invalid="memory value expected")
        if end < len(value) and (high or low or value[end] != "@"):
            return CrashKernel(raw, high=high, low=low,
                               invalid=f"unrecognized char: {value[end]}")
    offset = None
    if "@" in value:
        value, _, off = value.rpartition("@")
        offset = memparse_full(off)
        if offset is None:
            raise _err(name, raw, "bad offset after '@'")
    if ":" in value:
        ranges = []
        for part in value.split(","):
            rng, sep, sz = part.partition(":")
            start_s, dash, end_s = rng.partition("-")
            start = memparse_full(start_s)
            end = memparse_full(end_s) if end_s else None
            size = memparse_full(sz)
            if not sep or not dash or start is None or size is None or (end_s and end is None):
                raise _err(name, raw, f"bad range item {part!r} (expected start-[end]:size)")
            if end is not None and end <= start:
                raise _err(name, raw, f"range {part!r} ends before it starts")
            ranges.append((start, end, size))
        return CrashKernel(raw, ranges=tuple(ranges), offset=offset, high=high, low=low)
    size = memparse_full(value)
    if size is None:
        raise _err(name, raw, "expected size[@offset], size,high|low or ranges")
    return CrashKernel(raw, size=size, offset=offset, high=high, low=low)


def _parse_core(name: str, value: str | None, allow_mirror: bool) -> CoreSize:
    if not value:
        raise _err(name, value, "needs a value")
    if allow_mirror and value == "mirror":
        return CoreSize(value, mirror=True)
    number, end = kernel_strtoull(value)
    if end and end == len(value) - 1 and value[end] == "%":
        if number > 100:
            raise _err(name, value, "percentage above 100")
        return CoreSize(value, percent=number)
    size = memparse_full(value)
    if size is None:
        raise _err(name, value, "expected a size, a percentage" + (" or mirror" if allow_mirror
                                                                  else ""))
    return CoreSize(value, bytes=size)


#: memtest=N beyond this is refused: every pass prints every free range
MAX_MEMTEST_PASSES = 1024


#: parameters registered only when a config switch is on (KernelConfig field)
CONFIG_PARAMS = {
    "cma": "dma_cma", "debug_pagealloc": "debug_pagealloc", "page_owner": "page_owner",
    "memtest": "memtest", "mminit_loglevel": "debug_memory_init",
    "hugetlb_cma": "cma", "page_poison": "page_poisoning",
    "selinux": "security_selinux_bootparam", "efi_fake_mem": "efi_fake_memmap",
    "amd_iommu": "amd_iommu", "mce": "x86_mce", "nomce": "x86_mce",
    "nohz_full": "cpu_isolation", "isolcpus": "cpu_isolation",
    "coherent_pool": "dma_coherent_pool", "hashdist": "numa",
    "hugepages": "hugetlbfs", "hugepagesz": "hugetlbfs", "default_hugepagesz": "hugetlbfs",
    "transparent_hugepage": "transparent_hugepage", "movable_node": "memory_hotplug",
    "hugetlb_free_vmemmap": "hugetlb_page_optimize_vmemmap",
}


#: parameters a later kernel no longer has: (architecture, first version without it)
REMOVED_PARAMS = {
    "noexec": ("x86_64", (5, 19)),  # x86_64's NX switch went with 5.19
}


def _version(profile: str) -> tuple[int, ...]:
    return tuple(int(p) for p in profile.split(".") if p.isdigit())


def _is_known(name: str, arch: str, kconfig: object | None = None,
              profile: str | None = None) -> bool:
    n = _norm(name)
    gone = REMOVED_PARAMS.get(n)
    if gone is not None and profile is not None and gone[0] == arch \
            and _version(profile) >= gone[1]:
        return False
    switch = CONFIG_PARAMS.get(n)
    if switch is not None and kconfig is not None and not getattr(kconfig, switch, True):
        return False
    if n in {_norm(k) for k in known_params(arch)}:
        return True
    return arch == "um" and any(n.startswith(p) for p in _UML_PREFIX)


def parse_cmdline(text: str, arch: str = "x86_64", kconfig: object | None = None,
                  profile: str | None = None) -> KernelCmdline:
    """Parse a kernel command line for *arch* (``x86_64``, ``um`` or another name);
    with the build's *kconfig*, parameters its config leaves out are unknown, and
    with the *profile* ("5.14", "6.1"), parameters that kernel no longer has."""
    params, init_args = split_args(text)
    values: dict[str, object] = {}
    mem_ops: list[MemOp] = []
    numa_opts: list[str] = []
    for name, value in params:
        n = _norm(name)
        if n == "mem":
            if arch == "x86_64" and value == "nopentium":
                pass  # 32-bit only; the 64-bit kernel warns and ignores it
            else:
                size = _memparse_strict(name, value)
                if size == 0:
                    raise _err(name, value, "mem=0 is rejected by the kernel")
                values["mem"] = size
                if arch == "x86_64":
                    mem_ops.append(MemOp("limit", f"{name}={value}", size=size))
        elif n == "memmap" and arch == "x86_64":
            if value is None:
                raise _err(name, value, "needs a value")
            for item in value.split(","):
                mem_ops.append(parse_memmap_item(item))
        elif n in ("init_on_alloc", "init_on_free", "page_poison"):
            values[n] = _bool_opt(name, value)
        elif n == "memblock":
            if value is None or "debug" not in value:
                raise _err(name, value, "the only value is 'debug'")
            values["memblock_debug"] = True
        elif n == "pti" and arch == "x86_64":
            if value not in ("on", "off", "auto"):
                raise _err(name, value, "expected on, off or auto")
            values["pti"] = value
        elif n == "nopti" and arch == "x86_64":
            values["nopti"] = True
        elif n == "mitigations":
            if value not in ("off", "auto", "auto,nosmt"):
                raise _err(name, value, "expected off, auto or auto,nosmt")
            values["mitigations"] = value
        elif n in ("no5lvl", "nokaslr", "nogbpages", "movable_node") and value is None:
            values[n] = True
        elif n == "noexec" and arch == "x86_64" and _is_known(n, arch, kconfig, profile):
            if value not in (None, "on", "off"):
                raise _err(name, value, "expected on or off")
            values["noexec"] = value == "off"
        elif n == "memtest" and value:
            count = kstrtouint(value)
            if count is not None and count > MAX_MEMTEST_PASSES:
                raise _err(name, value, f"more than {MAX_MEMTEST_PASSES} test passes: the "
                           "kernel would print every free range for each")
        elif n == "crashkernel":
            ck = _parse_crashkernel(value, name)
            values["crashkernel_low" if ck.low else "crashkernel"] = ck
        elif n in ("kernelcore", "movablecore"):
            values[n] = _parse_core(name, value, allow_mirror=n == "kernelcore")
        elif n == "log_buf_len" and value is not None:
            values["log_buf_len"] = memparse(value)[0]
        elif n == "numa" and arch == "x86_64":
            if value is None:
                raise _err(name, value, "needs a value")
            if not (value in ("off", "noacpi", "nohmat") or value.startswith("fake=")):
                raise _err(name, value, "expected off, noacpi, nohmat or fake=...")
            if value == "off":
                values["numa_off"] = True
            numa_opts.append(value)
    known = tuple("." in name or _is_known(name, arch, kconfig, profile) for name, _ in params)
    pti = values.get("pti", "auto")
    if pti != "on" and values.get("nopti"):
        pti = "off"
    return KernelCmdline(
        raw=text,
        arch=arch,
        params=tuple(params),
        init_args=tuple(init_args),
        mem_ops=tuple(mem_ops),
        mem=values.get("mem"),  # type: ignore[arg-type]
        pti=pti,  # type: ignore[arg-type]
        mitigations=values.get("mitigations", "auto"),  # type: ignore[arg-type]
        init_on_alloc=values.get("init_on_alloc"),  # type: ignore[arg-type]
        init_on_free=values.get("init_on_free"),  # type: ignore[arg-type]
        page_poison=values.get("page_poison"),  # type: ignore[arg-type]
        memblock_debug=bool(values.get("memblock_debug", False)),
        no5lvl=bool(values.get("no5lvl", False)),
        nokaslr=bool(values.get("nokaslr", False)),
        nogbpages=bool(values.get("nogbpages", False)),
        noexec=bool(values.get("noexec", False)),
        crashkernel=values.get("crashkernel"),  # type: ignore[arg-type]
        crashkernel_low=values.get("crashkernel_low"),  # type: ignore[arg-type]
        kernelcore=values.get("kernelcore"),  # type: ignore[arg-type]
        movablecore=values.get("movablecore"),  # type: ignore[arg-type]
        movable_node=bool(values.get("movable_node", False)),
        numa_off=bool(values.get("numa_off", False)),
        numa_options=tuple(numa_opts),
        log_buf_len=values.get("log_buf_len"),  # type: ignore[arg-type]
        known=known,
    )
