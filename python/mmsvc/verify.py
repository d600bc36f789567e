"""``mmsvc verify``: boot the machine a real log describes and compare, line
by line, the memory lines the kernel printed with the simulation's, and the
/proc views when the log carries them (the ``=== /proc/NAME`` sections)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from mmsvc.machine.dmesg import clean_lines

#: the lines a memory boot prints that must match exactly
EXACT = tuple(re.compile(p) for p in (
    r"^Zone ranges:", r"^\s+(DMA|DMA32|Normal|Movable|HighMem|Device)\s+(\[mem|empty)",
    r"^Movable zone start for each node", r"^\s+Node\s+\d+: 0x[0-9a-f]+$",
    r"^Early memory node ranges", r"^\s+node\s+\d+: \[mem", r"^Initmem setup node",
    r"pages in unavailable ranges", r"^Built \d+ zonelists", r"^mem auto-init:",
    r"^Kernel/User page tables isolation", r"^NODE_DATA\(\d+\) allocated",
    r"^Policy zone:", r"^Fallback order for Node", r"^SLUB: HWalign=", r"^huge_memory: ",
    r"^pcpu-alloc: ", r"^NUMA: Initialized distance table", r"^hugetlbfs: ",
    r"^found SMP MP-table at", r"^SRAT: PXM \d+ -> APIC ",
    r"^node \d+ deferred pages initialised in ", r"^(Memory|Poking) KASLR using",
    r"^percpu: (Embedded|\d+ \d+K pages/cpu)", r"^percpu: unknown allocator",
    r"^(Dentry cache|Inode-cache) hash table entries", r"^software IO TLB: (area num|mapped)",
    r"^HugeTLB", r"^printk: log_buf_len", r"^crashkernel reservation failed",
    r"for crashkernel", r"^crashkernel: ",
    r"^early_memtest:", r"^\s+0x[0-9a-f]{16} - 0x[0-9a-f]{16} pattern [0-9a-f]{16}$",
    r" bad mem addr ", r"^Malformed early option", r"^mminit::",
    r"are not marked as E820_TYPE_RAM", r"^Unknown (kernel )?command line parameters",
    r"invalid for parameter `", r"^ACPI: PM: Registering ACPI NVS region",
    r"^Housekeeping: ", r"^isolcpus: ", r"^ACPI: Reserving \w+ table memory",
    r"^last_pfn = ", r"^DMA: (preallocated|failed)", r"^e820: (update|remove|reserve RAM) ",
    r"hash table entries: ", r"^TCP: Hash tables configured", r"^NetLabel:  domain hash",
    r"available for PCI devices", r"^smp: Brought up", r"^x86/mm: Memory block size",
    r"^x86/mm: Check(ed W\+X|ing user space)", r"^PCI: (MMCONFIG|not using MMCONFIG)",
))
MEMORY = re.compile(
    r"Memory: (\d+)K/(\d+)K available \((\d+)K kernel code, (\d+)K rwdata, (\d+)K rodata, "
    r"(\d+)K init, (\d+)K bss, (\d+)K reserved, (\d+)K cma-reserved")
MEMORY_FIELDS = ("available", "total", "kernel code", "rwdata", "rodata", "init", "bss",
                 "reserved", "cma-reserved")
#: relative tolerances of the Memory line's fields (the rest must be exact)
TOLERANCE = {"available": 0.02, "reserved": 0.01}


def memory_lines(text: str) -> tuple[list[str], list[int] | None]:
    """The exact-match memory lines of a log (timestamps and spacing
    normalised) and the Memory line's numbers."""
    out, mem = [], None
    for line in clean_lines(text):
        line = line.rstrip()
        m = MEMORY.search(line)
        if m:
            mem = [int(x) for x in m.groups()]
            continue
        if any(p.search(line) for p in EXACT):
            out.append(_TIMED.sub(r"\1(time)", re.sub(r"\s+", " ", line.strip())))
    return out, mem


#: lines whose only number is a duration: compared without it
_TIMED = re.compile(r"^(node \d+ deferred pages initialised in )\d+ms$")


#: /proc/meminfo fields compared exactly
PROC_MEMINFO = ("MemTotal", "SwapTotal", "CommitLimit", "HugePages_Total", "HugePages_Free",
                "Hugepagesize", "Hugetlb", "DirectMap4k", "DirectMap2M", "DirectMap1G")
_MEMINFO_LINE = re.compile(r"^(\w+):\s+(\d+)")
_ZONE_HEAD = re.compile(r"^Node (\d+), zone\s+(\w+)")
_ZONE_FIELD = re.compile(r"^\s+(spanned|present|managed|min|low|high)\s+(\d+)$")
_ZONE_PROTECTION = re.compile(r"^\s+protection: \(([\d, ]*)\)")
_PAGESET_CPU = re.compile(r"^\s+cpu: (\d+)$")
_PAGESET_FIELD = re.compile(r"^\s+(high|batch):\s+(\d+)$")


def meminfo_values(lines: list[str]) -> dict[str, int]:
    """``{field: kB}`` of /proc/meminfo text."""
    return {m.group(1): int(m.group(2)) for m in map(_MEMINFO_LINE.match, lines) if m}


def zone_values(lines: list[str]) -> dict[str, int]:
    """``{"node0/DMA32.managed": pages, ...}`` of /proc/zoneinfo text:
    spanned, present and managed, the min/low/high watermarks, the
    lowmem_reserve ``protection`` array (``.protection[i]``) and each online
    CPU's per-cpu list ``high`` and ``batch`` (``.cpu1.high``); ZONE_DEVICE
    left out."""
    out, zone, cpu = {}, None, None
    for line in lines:
        m = _ZONE_HEAD.match(line)
        if m:
            zone, cpu = f"node{m.group(1)}/{m.group(2)}", None
            continue
        if not zone or zone.endswith("Device"):
            continue
        m = _PAGESET_CPU.match(line)
        if m:
            cpu = m.group(1)
            continue
        m = _PAGESET_FIELD.match(line)
        if m and cpu is not None:
            out[f"{zone}.cpu{cpu}.{m.group(1)}"] = int(m.group(2))
            continue
        m = _ZONE_FIELD.match(line)
        if m:
            out[f"{zone}.{m.group(1)}"] = int(m.group(2))
            continue
        m = _ZONE_PROTECTION.match(line)
        if m:
            for i, v in enumerate(m.group(1).split(",")):
                out[f"{zone}.protection[{i}]"] = int(v)
    return out


@dataclass
class Report:
    rows: list[tuple[bool, str]] = field(default_factory=list)
    proc_rows: list[tuple[bool, str]] = field(default_factory=list)
    #: what the log did not say and was assumed (from_dmesg's warnings)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(ok for ok, _ in self.rows + self.proc_rows)

    def lines(self) -> list[str]:
        def show(rows: list[tuple[bool, str]]) -> list[str]:
            return [("  ok   " if ok else "  DIFF ") + text for ok, text in rows]

        good = sum(ok for ok, _ in self.rows)
        out = [f"  note {n}" for n in self.notes]
        out += show(self.rows) + [f"{good}/{len(self.rows)} memory lines agree"]
        if self.proc_rows:
            good = sum(ok for ok, _ in self.proc_rows)
            out += show(self.proc_rows) + [f"{good}/{len(self.proc_rows)} /proc values agree"]
        return out


#: beside a "Fallback order" difference when the distances were not known
SLIT_NOTE = " (SLIT distances not in the log: 10/20 assumed)"


def _norm(line: str) -> str:
    return re.sub(r"\s+", " ", line.strip())


def unreached_lines(real_text: str, sim_text: str) -> set[str]:
    """The simulated lines after the last one the real log also has: a log
    that ends early (a boot stopped before its root file system, as the
    fixtures' did) cannot have printed them."""
    real = {_norm(ln) for ln in clean_lines(real_text)}
    sim = [_norm(ln) for ln in sim_text.splitlines()]
    last = max((i for i, ln in enumerate(sim) if ln in real), default=len(sim) - 1)
    return set(sim[last + 1:]) - set(sim[:last + 1])


def compare(real_text: str, sim_text: str, slit_assumed: bool = False) -> Report:
    """Line by line; *slit_assumed* notes that fallback orders may differ
    because the SLIT's distances were guessed."""
    real, real_mem = memory_lines(real_text)
    sim, sim_mem = memory_lines(sim_text)
    report = Report()

    def note(line: str) -> str:
        return SLIT_NOTE if slit_assumed and line.startswith("Fallback order") else ""

    for line in real:
        if line in sim:
            report.rows.append((True, line))
        else:
            report.rows.append((False, f"{line}    (simulation: missing){note(line)}"))
    unreached = unreached_lines(real_text, sim_text)
    for line in sim:
        if line not in real and line not in unreached:
            report.rows.append((False, f"{line}    (simulation only){note(line)}"))
    if real_mem is not None:
        if sim_mem is None:
            report.rows.append((False, "Memory: line    (simulation: missing)"))
        else:
            for name, r, s in zip(MEMORY_FIELDS, real_mem, sim_mem, strict=True):
                tol = TOLERANCE.get(name, 0.0)
                ok = abs(r - s) <= tol * r
                note = "" if r == s else f" (within {tol:.0%})" if ok else ""
                report.rows.append((ok, f"Memory {name}: real {r}K, simulated {s}K{note}"))
    return report


def compare_proc(real: dict[str, list[str]], sim_meminfo: dict[str, int],
                 sim_zoneinfo: str, cpus: int = 1) -> list[tuple[bool, str]]:
    """Rows for the /proc values a log carries: MemTotal, the commit limit,
    the huge page pools and DirectMap exactly, per zone spanned, present,
    watermarks, protection and the per-cpu lists' high and batch exactly and
    managed within 1 %.
    A DirectMap4k/2M difference on a machine with more than one CPU says so:
    there the kernel's own lines vary from boot to boot."""
    rows = []
    want = meminfo_values(real.get("meminfo", []))
    for name in PROC_MEMINFO:
        if name in want:
            got = sim_meminfo.get(name)
            note = ""
            if got != want[name] and cpus > 1 and name in ("DirectMap4k", "DirectMap2M"):
                note = " (with several CPUs the kernel's own value varies from boot to boot)"
            rows.append((got == want[name],
                         f"/proc/meminfo {name}: real {want[name]} kB, simulated {got} kB{note}"))
    got_zones = zone_values(sim_zoneinfo.splitlines())
    for key, value in zone_values(real.get("zoneinfo", [])).items():
        got = got_zones.get(key)
        tol = 0.01 * value if key.endswith(".managed") else 0
        ok = got is not None and abs(got - value) <= tol
        rows.append((ok, f"/proc/zoneinfo {key}: real {value}, simulated {got}"))
    return rows


def verify_log(path: str, profile: str = "6.1", efi_from: str | None = None) -> Report:
    from mmsvc import views
    from mmsvc.machine import from_dmesg
    from mmsvc.machine.dmesg import proc_sections
    from mmsvc.simulation import Simulation

    text = Path(path).read_text(errors="replace")
    notes: list[str] = []
    machine = from_dmesg(path, warnings=notes, efi_from=efi_from).replace(profile=profile)
    sim = Simulation(machine)
    sim.boot()
    # without fallback orders in the log, from_dmesg could only guess the SLIT
    guessed = bool(machine.numa_distance) and "Fallback order for Node" not in text
    report = compare(text, sim.log.text(), slit_assumed=guessed)
    report.notes = notes
    real_proc = proc_sections(text)
    if real_proc:
        report.proc_rows = compare_proc(real_proc, views.meminfo(sim),
                                        views.render(sim, "zoneinfo"), machine.cpus)
    return report
