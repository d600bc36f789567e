"""The scale benchmark: booting a huge machine costs little more than a small one.

:func:`scale_log` writes a synthetic boot log in the fixtures' format (e820
map, SRAT memory affinity, command line, the generic 6.1 image sizes) of a
big NUMA x86_64 machine; :func:`measure` boots it and a 1 GiB machine, each
in a fresh process, and reports wall time and peak RSS.

usage: python -m mmsvc.bench.scale TOTAL_GIB NODES > big.log
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

GiB = 1 << 30


def scale_log(total_gib: int, nodes: int) -> str:
    per_node = total_gib * GiB // nodes
    lines = [
        "Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org) (gcc-12) #1 SMP",
        "Command line: console=ttyS0 nokaslr",
        "BIOS-provided physical RAM map:",
        "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable",
        "BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved",
        "BIOS-e820: [mem 0x00000000000f0000-0x00000000000fffff] reserved",
        "BIOS-e820: [mem 0x0000000000100000-0x00000000bffdffff] usable",
        "BIOS-e820: [mem 0x00000000bffe0000-0x00000000bfffffff] reserved",
        "BIOS-e820: [mem 0x00000000fffc0000-0x00000000ffffffff] reserved",
        f"BIOS-e820: [mem 0x0000000100000000-{(total_gib + 1) * GiB - 1:#018x}] usable",
    ]
    start = 0
    for nid in range(nodes):
        end = start + per_node
        if nid == 0:
            lines.append("ACPI: SRAT: Node 0 PXM 0 [mem 0x00000000-0x0009ffff]")
            lines.append("ACPI: SRAT: Node 0 PXM 0 [mem 0x00100000-0xbfffffff]")
            lines.append(f"ACPI: SRAT: Node 0 PXM 0 [mem 0x100000000-{end + GiB - 1:#x}]")
        else:
            lines.append(f"ACPI: SRAT: Node {nid} PXM {nid} "
                         f"[mem {start + GiB:#x}-{end + GiB - 1:#x}]")
        start = end
    lines.append(f"smpboot: Allowing {nodes} CPUs, 0 hotplug CPUs")
    lines.append("Memory: 1K/1K available (14343K kernel code, 2338K rwdata, 9132K rodata, "
                 "2824K init, 17344K bss, 1K reserved, 0K cma-reserved)")
    return "".join(f"[    0.000000] {line}\n" for line in lines)


SMALL_LOG = """\
[    0.000000] Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org) (gcc-12) #1 SMP
[    0.000000] Command line: console=ttyS0 nokaslr
[    0.000000] BIOS-provided physical RAM map:
[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable
[    0.000000] BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved
[    0.000000] BIOS-e820: [mem 0x00000000000f0000-0x00000000000fffff] reserved
[    0.000000] BIOS-e820: [mem 0x0000000000100000-0x000000003ffdffff] usable
[    0.000000] BIOS-e820: [mem 0x000000003ffe0000-0x000000003fffffff] reserved
[    0.000000] BIOS-e820: [mem 0x00000000fffc0000-0x00000000ffffffff] reserved
[    0.000000] Memory: 1K/1K available (14343K kernel code, 2338K rwdata, 9132K rodata, \
2824K init, 17344K bss, 1K reserved, 0K cma-reserved)
"""


def _boot_in_child(log_path: str) -> tuple[float, int]:
    """Boot the log's machine in a fresh interpreter: (seconds, peak RSS in KiB).

    The peak is the child's own (VmHWM of its address space): getrusage's
    ru_maxrss would also carry the parent's resident size from before the
    exec, which is large inside ``mmsvc bench``."""
    code = (
        "import resource, sys, time\n"
        "t = time.perf_counter()\n"
        "from mmsvc.machine import from_dmesg\n"
        "from mmsvc.simulation import Simulation\n"
        "sim = Simulation(from_dmesg(sys.argv[1]).replace(profile='6.1'))\n"
        "sim.boot()\n"
        "elapsed = time.perf_counter() - t\n"
        "try:\n"
        "    with open('/proc/self/status') as f:\n"
        "        hwm = next(int(l.split()[1]) for l in f if l.startswith('VmHWM:'))\n"
        "except (OSError, StopIteration):\n"
        "    hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(elapsed, hwm)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, log_path], capture_output=True,
                         text=True, check=True, timeout=600)
    seconds, rss = out.stdout.split()
    return float(seconds), int(rss)


def measure(total_gib: int = 32 * 1024, nodes: int = 16) -> dict[str, float]:
    """Boot a 1 GiB machine and a ``total_gib`` machine over ``nodes`` nodes."""
    with tempfile.TemporaryDirectory() as tmp:
        small, big = Path(tmp, "small.log"), Path(tmp, "big.log")
        small.write_text(SMALL_LOG)
        big.write_text(scale_log(total_gib, nodes))
        # best of three: the machine may be busy with something else
        t_small, rss_small = min(_boot_in_child(str(small)) for _ in range(3))
        t_big, rss_big = min(_boot_in_child(str(big)) for _ in range(3))
    return {"small_s": t_small, "small_rss_kib": rss_small, "big_s": t_big,
            "big_rss_kib": rss_big, "time_ratio": t_big / t_small,
            "total_gib": total_gib, "nodes": nodes}


if __name__ == "__main__":
    sys.stdout.write(scale_log(int(sys.argv[1]), int(sys.argv[2])))
