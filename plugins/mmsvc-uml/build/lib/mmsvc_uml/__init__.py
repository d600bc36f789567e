"""mmsvc architecture plugin: user-mode Linux (``arch=um``).

UML's "physical" memory is a host file mapped at the binary's base. The
host-side set-up (linux_main: physmem size, the exec-shield gap, the
reserved image and brk), ``paging_init`` (the zero page, one Normal zone
whose limit is a virtual address, the fixmap tables) and ``mem_init`` as the
statement-level sub-steps of arch/um/kernel/mem.c.
"""

from __future__ import annotations

from mmsvc.api import Architecture, BootContext, Step, hookimpl

from mmsvc_uml import mem_init, percpu_up, setup

__version__ = "0.1.0"

NAME = "um"

ARCH = Architecture(
    name=NAME,
    description="user-mode Linux: host-file physical memory, FLATMEM, one Normal zone",
    zone_names=("Normal", "Movable"),
    max_order=11,
    pageblock_order=10,
    sparsemem=False,
    section_size_bits=27,
    max_physmem_bits=64,
)


def _mine(ctx: BootContext) -> bool:
    return ctx.arch.name == NAME


@hookimpl
def mmsvc_register_architectures(register) -> None:
    register(ARCH)


@hookimpl
def mmsvc_arch_steps(ctx: BootContext, phase: str) -> list[Step] | None:
    if not _mine(ctx):
        return None
    if phase == "setup_arch":
        return setup.steps()
    if phase == "mem_init":
        return mem_init.steps()
    return None


@hookimpl
def mmsvc_arch_step(ctx: BootContext, step: Step) -> bool | None:
    if not _mine(ctx):
        return None
    if step.name == "setup_per_cpu_areas":
        percpu_up.setup_per_cpu_areas(ctx)
        return True
    if step.name == "free_initmem":
        # UML's image is not in its physical memory: nothing to give back
        ctx.arch_state["freed_after_boot"] = {}
        return True
    return None
