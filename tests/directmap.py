"""What the real kernel printed for DirectMap4k/2M on a machine, over
repeated boots.

On a machine with more than one CPU the DirectMap lines are not a property
of the machine: the secondary CPUs' kthreads take slab pages and fill their
per-cpu page lists at times that vary from boot to boot, and on x86 the
deferred struct pages of a node are freed by as many threads as the node
has CPUs (deferred_page_init_max_threads), so the order of the buddy free
lists after page_alloc_init_late is a race. So does where the BPF JIT's
first pack lands and how many 2 MiB direct-map pages its pages split.
With more than one node they vary on one CPU too: before each new slab
SLUB asks the boot task's interleave policy where to look for partial
slabs, unless the clock's low bits say to skip that (one new slab in 45),
so the node the boot's slab pages go to flips at random points.
``tests/realboots/directmap-repeats.txt`` holds plain repeated boots of
those machines (``REPEAT=N tools/realboot/corpus NAME...``); one CPU gives
the same lines every time.
"""

from __future__ import annotations

from pathlib import Path

REPEATS = Path(__file__).parent / "realboots" / "directmap-repeats.txt"
#: fixture logs whose machine (memory map, CPUs, nodes, initrd place) is one
#: of the corpus machines
SAME_MACHINE = {"qemu-x86_64-4g-2node-proc.log": "pc-4g-2node"}


def repeats() -> dict[str, list[tuple[int, int]]]:
    """Machine name -> the (DirectMap4k, DirectMap2M) of each repeated boot."""
    out: dict[str, list[tuple[int, int]]] = {}
    for line in REPEATS.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, k4, m2, *_ = line.split()
        out.setdefault(name, []).append((int(k4), int(m2)))
    return out


def seen(log_name: str, logged: tuple[int, int]) -> set[tuple[int, int]] | None:
    """Every (DirectMap4k, DirectMap2M) the kernel printed booting the
    machine of *log_name*: its own and its repeats'; None for a machine
    that was not booted again."""
    machine = SAME_MACHINE.get(log_name, log_name.removesuffix(".log"))
    boots = repeats().get(machine)
    return None if boots is None else {logged, *boots}
