"""Architectures as plain data, and the registry plugins fill.

An architecture plugin registers one :class:`Architecture` through
:func:`mmsvc.hookspecs.mmsvc_register_architectures` and implements
:func:`~mmsvc.hookspecs.mmsvc_arch_steps` (its ``setup_arch`` sub-steps and
``mem_init``) and :func:`~mmsvc.hookspecs.mmsvc_arch_step` (the steps the kernel
only has on some architectures). Everything else in the boot is generic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from mmsvc.errors import PluginError
from mmsvc.hookspecs import hookimpl


@dataclass(frozen=True)
class Architecture:
    """What the generic boot needs to know about an architecture.

    Attributes:
        name: the ``arch`` string of machine descriptions (``"x86_64"``).
        description: one line for ``mmsvc plugins``.
        zone_names: the zones the architecture configures, lowest first
            (``("DMA", "DMA32", "Normal", "Movable")``).
        max_order: ``MAX_ORDER`` (orders ``0 .. max_order-1``).
        pageblock_order: ``pageblock_order``.
        sparsemem: SPARSEMEM (True) or FLATMEM (False).
        section_size_bits: ``SECTION_SIZE_BITS`` under SPARSEMEM.
        max_physmem_bits: ``MAX_PHYSMEM_BITS`` (the largest the
            architecture supports; a machine may narrow it by paging mode).
        pglist_data_size: ``sizeof(pg_data_t)`` of a typical build, used
            when the booted build's catalogue entry does not give it.
        default_machine: returns the architecture's built-in machine
            description (what ``mmsvc boot --arch NAME`` boots), or None.
        hugetlb_sizes: returns the huge page sizes a machine supports
            (``arch_hugetlb_valid_size``), for ``hugepagesz=``; None: none.
        has_transparent_hugepage: whether a machine can map transparent
            huge pages (``has_transparent_hugepage``; x86: PSE), which lets
            a THP build's khugepaged raise min_free_kbytes; None: never.
        options: free-form architecture data for the plugin's own use.
    """

    name: str
    description: str = ""
    zone_names: tuple[str, ...] = ("Normal", "Movable")
    max_order: int = 11
    pageblock_order: int = 9
    sparsemem: bool = True
    section_size_bits: int = 27
    max_physmem_bits: int = 46
    pglist_data_size: int = 0
    default_machine: Callable[[], Any] | None = None
    hugetlb_sizes: Callable[[Any], tuple[int, ...]] | None = None
    has_transparent_hugepage: Callable[[Any], bool] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    plugin: str | None = None


class ArchRegistry:
    """The architectures plugins registered, by name."""

    def __init__(self) -> None:
        self._arches: dict[str, Architecture] = {}

    def register(self, arch: Architecture, plugin: str | None = None) -> None:
        if not isinstance(arch, Architecture):
            raise PluginError(
                f"register() expects an mmsvc.arch.Architecture, got {type(arch).__name__}",
                plugin=plugin,
                hook="mmsvc_register_architectures",
            )
        if arch.name in self._arches:
            other = self._arches[arch.name].plugin
            raise PluginError(
                f"architecture {arch.name!r} is registered twice: by plugin {other!r} "
                f"and by plugin {plugin!r}",
                plugin=plugin,
                hook="mmsvc_register_architectures",
            )
        self._arches[arch.name] = replace(arch, plugin=plugin)

    def get(self, name: str) -> Architecture:
        try:
            return self._arches[name]
        except KeyError:
            known = ", ".join(sorted(self._arches)) or "none installed"
            raise PluginError(
                f"no plugin provides architecture {name!r} (known: {known})"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._arches)

    def __contains__(self, name: object) -> bool:
        return name in self._arches


def collect_architectures(pm: Any) -> ArchRegistry:
    """Ask every plugin to register its architectures (one call per plugin,
    so a duplicate can name both plugins)."""
    registry = ArchRegistry()
    for impl in pm.hook.mmsvc_register_architectures.get_hookimpls():
        name = impl.plugin_name
        try:
            impl.function(register=lambda arch, _n=name: registry.register(arch, _n))
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(
                f"plugin {name!r} raised in hook mmsvc_register_architectures: "
                f"{type(exc).__name__}: {exc}",
                plugin=name,
                hook="mmsvc_register_architectures",
            ) from exc
    return registry


class ArchPlugin:
    """A convenience base for architecture plugins.

    Set :attr:`arch`; define ``<phase>_steps(self, ctx)`` methods returning
    the sub-steps of an arch phase (``setup_arch_steps``, ``mem_init_steps``)
    and ``step_<name>(self, ctx)`` methods for the steps only some
    architectures have (``step_setup_per_cpu_areas``, ``step_pti_init`` ...).
    The hook implementations below answer only for :attr:`arch`, as every
    architecture plugin must. Publish an instance through the entry point::

        [project.entry-points.mmsvc]
        riscv64 = "mmsvc_riscv64:plugin"
    """

    arch: Architecture

    def _mine(self, ctx: Any) -> bool:
        return ctx.arch.name == self.arch.name

    @hookimpl
    def mmsvc_register_architectures(self, register: Callable[[Architecture], None]) -> None:
        register(self.arch)

    @hookimpl
    def mmsvc_arch_steps(self, ctx: Any, phase: str) -> list[Any] | None:
        if not self._mine(ctx):
            return None
        make = getattr(self, f"{phase}_steps", None)
        return make(ctx) if make is not None else None

    @hookimpl
    def mmsvc_arch_step(self, ctx: Any, step: Any) -> bool | None:
        if not self._mine(ctx):
            return None
        run = getattr(self, f"step_{step.name}", None)
        if run is None:
            return None
        run(ctx)
        return True
