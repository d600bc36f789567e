"""The public API for plugins: everything an architecture plugin may use.

Plugins import from here (and :mod:`mmsvc.hookspecs` documents the hooks);
anything else in the package is internal and may change. See
``docs/plugins.md`` for a guide with a worked architecture.

Boot context and steps
    :class:`BootContext` (what every step receives), :class:`Step`,
    :func:`substep` (a sub-step with its implementation),
    :class:`Architecture` (what a plugin registers), :class:`ArchPlugin`
    (a base class implementing the arch hooks), :data:`hookimpl`.

Generic kernel services a ``setup_arch`` / ``mem_init`` calls
    :func:`free_area_init` (nodes and zones, with the kernel's prints),
    :func:`memblock_free_all`, :func:`sparse_init` with
    :class:`SparseGeometry` and :class:`VmemmapTables`,
    :func:`pcpu_embed_first_chunk` (the per-cpu first chunk;
    :func:`pcpu_page_first_chunk` for ``percpu_alloc=page``, which
    :func:`percpu_alloc_setup` reads; or
    :func:`build_alloc_info` and :func:`pcpu_setup_first_chunk` for an
    architecture that allocates the units itself),
    :func:`node_of` (a memblock region's node), :func:`parse_memtest` and
    :func:`early_memtest` (``memtest=``, once the direct map is up).

Page arithmetic
    ``PAGE_SIZE``, ``PAGE_SHIFT``, ``SMP_CACHE_BYTES``, :func:`round_up`,
    :func:`round_down`, :func:`page_align`, :func:`roundup_pow_of_two`,
    :func:`div_round_up`.

The machine's memory itself is ``ctx.mm`` (``mmsvc._core.Mm``): its
``memblock`` view (add, reserve, alloc_* ...) and, after
``free_area_init``, the buddy allocator (``alloc_pages``, ``free_pages`` ...).
"""

from __future__ import annotations

from mmsvc.arch import Architecture, ArchPlugin
from mmsvc.boot.context import BootContext, KernelGlobals
from mmsvc.boot.steps import Step, StepKind, StepState, substep
from mmsvc.errors import MachineConfigError, MmsvcError, OutOfMemoryError, PluginError
from mmsvc.hookspecs import hookimpl
from mmsvc.klog import KERN_CRIT, KERN_DEBUG, KERN_ERR, KERN_INFO, KERN_NOTICE, KERN_WARNING
from mmsvc.mm.memtest import early_memtest, parse_memtest
from mmsvc.mm.page_alloc import free_area_init, memblock_free_all, node_of, pglist_data_size
from mmsvc.mm.percpu import (
    PCPU_MIN_UNIT_SIZE,
    PERCPU_DYNAMIC_RESERVE,
    PERCPU_MODULE_RESERVE,
    FirstChunk,
    build_alloc_info,
    pcpu_embed_first_chunk,
    pcpu_page_first_chunk,
    pcpu_setup_first_chunk,
    percpu_alloc_setup,
)
from mmsvc.mm.printk import setup_log_buf
from mmsvc.mm.sparse import SparseGeometry, VmemmapTables, sparse_init
from mmsvc.units import (
    PAGE_SHIFT,
    PAGE_SIZE,
    SMP_CACHE_BYTES,
    div_round_up,
    page_align,
    round_down,
    round_up,
    roundup_pow_of_two,
)

__all__ = [
    "KERN_CRIT", "KERN_DEBUG", "KERN_ERR", "KERN_INFO", "KERN_NOTICE", "KERN_WARNING", "ArchPlugin",
    "Architecture",
    "BootContext",
    "FirstChunk",
    "KernelGlobals", "MachineConfigError", "MmsvcError", "OutOfMemoryError", "PluginError",
    "SparseGeometry",
    "Step", "StepKind", "StepState", "VmemmapTables", "free_area_init", "hookimpl",
    "memblock_free_all", "node_of", "pcpu_embed_first_chunk", "pglist_data_size", "sparse_init",
    "substep",
    "PCPU_MIN_UNIT_SIZE", "PERCPU_DYNAMIC_RESERVE", "PERCPU_MODULE_RESERVE", "build_alloc_info",
    "pcpu_setup_first_chunk", "pcpu_page_first_chunk", "percpu_alloc_setup",
    "PAGE_SHIFT", "PAGE_SIZE", "SMP_CACHE_BYTES", "page_align",
    "round_down", "round_up", "roundup_pow_of_two", "div_round_up", "setup_log_buf",
    "early_memtest", "parse_memtest",
]
