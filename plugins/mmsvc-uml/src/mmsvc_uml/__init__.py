"""mmsvc architecture plugin: user-mode Linux (``arch=um``).

UML's "physical" memory is a host file mapped at the binary's base. The
host-side set-up (linux_main: physmem size, the exec-shield gap, the
reserved image and brk), ``paging_init`` (the zero page, one Normal zone
whose limit is a virtual address, the fixmap tables) and ``mem_init`` as the
statement-level sub-steps of arch/um/kernel/mem.c.
"""

from __future__ import annotations

from mmsvc.api import Architecture, ArchPlugin, BootContext, Step
from mmsvc.machine import MachineDescription, UmlFirmware, kernels
from mmsvc_uml import mem_init, percpu_up, setup

__version__ = "0.1.0"

NAME = "um"


def default_machine(profile: str = "5.14") -> MachineDescription:
    """A UML guest with the profile's default physmem and catalogued build, one CPU."""
    build = kernels.default_build(NAME, profile)
    if build is None:  # pragma: no cover - the catalogue ships both profiles
        raise LookupError(profile)
    return MachineDescription(arch=NAME, firmware=UmlFirmware(), kernel=build.image,
                              kconfig=build.kconfig, cpus=1, cmdline="", profile=profile)


ARCH = Architecture(
    name=NAME,
    description="user-mode Linux: host-file physical memory, FLATMEM, one Normal zone",
    zone_names=("Normal", "Movable"),
    max_order=11,
    pageblock_order=10,
    sparsemem=False,
    section_size_bits=27,
    max_physmem_bits=64,
    default_machine=default_machine,
)


class Uml(ArchPlugin):
    """User-mode Linux: linux_main/setup_physmem/paging_init, mem_init's
    statements, the UP per-cpu chunk, nothing to free after boot."""

    arch = ARCH

    def setup_arch_steps(self, ctx: BootContext) -> list[Step]:
        return setup.steps()

    def mem_init_steps(self, ctx: BootContext) -> list[Step]:
        return mem_init.steps()

    def step_setup_per_cpu_areas(self, ctx: BootContext) -> None:
        percpu_up.setup_per_cpu_areas(ctx)

    def step_free_initmem(self, ctx: BootContext) -> None:
        # UML's image is not in its physical memory: nothing to give back
        ctx.arch_state["freed_after_boot"] = {}


#: the plugin object the ``mmsvc`` entry point names
plugin = Uml()
