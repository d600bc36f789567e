"""``mmsvc verify``: boot the machine a real log describes and compare, line
by line, the memory lines the kernel printed with the simulation's."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_TS = re.compile(r"^\[\s*\d+\.\d+\]\s?")
#: the lines a memory boot prints that must match exactly
EXACT = tuple(re.compile(p) for p in (
    r"^Zone ranges:", r"^\s+(DMA|DMA32|Normal|Movable|HighMem|Device)\s+(\[mem|empty)",
    r"^Movable zone start for each node", r"^\s+Node\s+\d+: 0x[0-9a-f]+$",
    r"^Early memory node ranges", r"^\s+node\s+\d+: \[mem", r"^Initmem setup node",
    r"pages in unavailable ranges", r"^Built \d+ zonelists", r"^mem auto-init:",
    r"^Kernel/User page tables isolation", r"^NODE_DATA\(\d+\) allocated",
    r"^Policy zone:", r"^Fallback order for Node", r"^percpu: Embedded",
    r"^(Dentry cache|Inode-cache) hash table entries", r"^software IO TLB: area num",
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
    for raw in text.splitlines():
        if raw.startswith("=== /proc/"):
            break
        line = _TS.sub("", raw).rstrip()
        m = MEMORY.search(line)
        if m:
            mem = [int(x) for x in m.groups()]
            continue
        if any(p.search(line) for p in EXACT):
            out.append(re.sub(r"\s+", " ", line.strip()))
    return out, mem


@dataclass
class Report:
    rows: list[tuple[bool, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(ok for ok, _ in self.rows)

    def lines(self) -> list[str]:
        good = sum(ok for ok, _ in self.rows)
        return [("  ok   " if ok else "  DIFF ") + text for ok, text in self.rows] + [
            f"{good}/{len(self.rows)} memory lines agree"]


def compare(real_text: str, sim_text: str) -> Report:
    real, real_mem = memory_lines(real_text)
    sim, sim_mem = memory_lines(sim_text)
    report = Report()
    for line in real:
        if line in sim:
            report.rows.append((True, line))
        else:
            report.rows.append((False, f"{line}    (simulation: missing)"))
    for line in sim:
        if line not in real:
            report.rows.append((False, f"{line}    (simulation only)"))
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


def verify_log(path: str, profile: str = "6.1") -> Report:
    from mmsvc.machine import from_dmesg
    from mmsvc.simulation import Simulation

    text = Path(path).read_text(errors="replace")
    machine = from_dmesg(path).replace(profile=profile)
    sim = Simulation(machine)
    sim.boot()
    return compare(text, sim.log.text())
