"""The generic steps of ``mm_init()`` (init/main.c) and their helpers.

Each function is one step; the architecture-specific steps (``mem_init``,
``init_espfix_bsp``, ``pti_init``) belong to the architecture plugins.
"""

from __future__ import annotations

from mmsvc.boot.context import BootContext
from mmsvc.errors import PluginError
from mmsvc.units import PAGE_SIZE, SMP_CACHE_BYTES

#: STACK_HASH_ORDER_MAX in 5.14 lib/stackdepot.c: 2^20 buckets of pointers
STACK_HASH_SIZE_5_14 = 1 << 20
#: KFENCE_POOL_SIZE with the default CONFIG_KFENCE_NUM_OBJECTS=255
KFENCE_POOL_SIZE = (255 + 1) * 2 * PAGE_SIZE
#: PAGE_ALLOC_COSTLY_ORDER, the default slub_max_order
PAGE_ALLOC_COSTLY_ORDER = 3


def page_ext_init_flatmem(ctx: BootContext) -> None:
    """FLATMEM with page_ext: the page_ext array comes from memblock (before mem_init)."""
    if not (ctx.kconfig.page_extension and not ctx.arch.sparsemem):
        ctx.results["page_ext_init_flatmem"] = "not FLATMEM with CONFIG_PAGE_EXTENSION"
        return
    ctx.results["page_ext_init_flatmem"] = "no page_ext client enabled"


def init_mem_debugging_and_hardening(ctx: BootContext) -> None:
    """Settle init_on_alloc/init_on_free against page poisoning."""
    kc, cmd = ctx.kconfig, ctx.cmdline
    # the command line's tri-state switches (parse_cmdline validated them)
    init_on_alloc = kc.init_on_alloc_default_on if cmd.init_on_alloc is None else cmd.init_on_alloc
    init_on_free = kc.init_on_free_default_on if cmd.init_on_free is None else cmd.init_on_free
    poison = bool(kc.page_poisoning and cmd.page_poison)
    if (init_on_alloc or init_on_free) and poison:
        ctx.pr_info("mem auto-init: CONFIG_PAGE_POISONING is on, will take precedence over "
                    "init_on_alloc and init_on_free")
        init_on_alloc = init_on_free = False
    ctx.g.init_on_alloc = init_on_alloc
    ctx.g.init_on_free = init_on_free
    ctx.g.page_poisoning = poison


def kfence_alloc_pool(ctx: BootContext) -> None:
    """CONFIG_KFENCE: reserve the KFENCE object pool from memblock."""
    if not ctx.kconfig.kfence:
        return
    interval = ctx.cmdline.get_int("kfence.sample_interval", 100)
    if interval == 0:
        return
    addr = ctx.mm.memblock.alloc(KFENCE_POOL_SIZE, PAGE_SIZE, caller="kfence_alloc_pool")
    ctx.results["kfence_pool"] = {"addr": addr, "size": KFENCE_POOL_SIZE}


def report_meminit(ctx: BootContext) -> None:
    """Print "mem auto-init: stack:..., heap alloc:..., heap free:..."."""
    stack = ctx.kconfig.stack_init
    alloc = "on" if ctx.g.init_on_alloc else "off"
    free = "on" if ctx.g.init_on_free else "off"
    ctx.pr_info(f"mem auto-init: stack:{stack}, heap alloc:{alloc}, heap free:{free}")
    if ctx.g.init_on_free:
        ctx.pr_info("mem auto-init: clearing system memory may take some time...")


def stack_depot_init(ctx: BootContext) -> None:
    """5.14: CONFIG_STACKDEPOT allocates its hash table from memblock unless
    ``stack_depot_disable=on``; 6.1 (``stack_depot_early_init``) only when a
    user asked for it early (page_owner, slub_debug stack traces)."""
    kc, cmd = ctx.kconfig, ctx.cmdline
    if not kc.stackdepot or _flag(cmd, "stack_depot_disable", False):
        return
    if ctx.profile_at_least("6.1"):
        wanted = (kc.page_owner and _flag(cmd, "page_owner", False))
        if not wanted:
            return
    size = STACK_HASH_SIZE_5_14 * 8
    addr = ctx.mm.memblock.alloc(size, SMP_CACHE_BYTES, caller="stack_depot_init")
    ctx.results["stack_depot"] = {"addr": addr, "size": size}


def kmem_cache_init(ctx: BootContext) -> None:
    """Bring SLUB up (boot caches and kmalloc caches, their slabs from the
    buddy allocator) and print its parameters."""
    cmd = ctx.cmdline
    direct_map = ctx.results.get("direct_map") or {}
    options = {
        "nr_cpu_ids": ctx.g.nr_cpu_ids,
        "nr_node_ids": ctx.arch_state.get("nr_node_ids", 1),
        "zone_dma": bool(ctx.kconfig.zone_dma),
        "slab_nomerge": cmd.get("slab_nomerge") is not None or cmd.get("slub_nomerge") is not None,
        "slub_min_order": cmd.get_int("slub_min_order", 0),
        "slub_max_order": cmd.get_int("slub_max_order", PAGE_ALLOC_COSTLY_ORDER),
        "slub_min_objects": cmd.get_int("slub_min_objects", 0),
    }
    if "virt" in direct_map:
        options["page_offset"] = direct_map["virt"]
    ctx.pr_info(ctx.mm.kmem_cache_init(**options))
    ctx.g.slab_state = "UP"


def vmalloc_init(ctx: BootContext) -> None:
    """The vmalloc space becomes usable, in the bounds the architecture gave
    (``ctx.results["vmalloc_layout"]``: a layout name or start/end, and
    optionally ``extra_ranges``, further ``(start, end)`` ranges such as a
    module space that requests may name)."""
    layout = ctx.results.get("vmalloc_layout")
    if layout is None:
        ctx.results.setdefault("noop", {})["vmalloc_init"] = (
            "the architecture set up no kernel page table / vmalloc bounds")
        return
    bounds = {k: v for k, v in layout.items() if k != "extra_ranges"}
    ctx.mm.vmalloc_init(**bounds)
    # the areas registered before vmalloc existed come first, where they were put
    for addr, size in ctx.results.get("vm_early", ()):
        got = ctx.mm.vm_area_register_early(size)
        if got != addr:
            raise PluginError(f"an early vmalloc area was placed at {addr:#x}, but the "
                              f"vmalloc space puts it at {got:#x}: the architecture's "
                              "VMALLOC_START and its vmalloc layout disagree")
    for start, end in layout.get("extra_ranges", ()):
        ctx.mm.vmalloc_add_range(start, end)
    ctx.g.vmap_initialized = True


def noop(reason: str):
    """A step that does nothing on this configuration, with the reason recorded."""

    def step(ctx: BootContext) -> None:
        ctx.results.setdefault("noop", {})[ctx.log.step] = reason

    return step


def _flag(cmd: object, name: str, default: bool) -> bool:
    """A boolean parameter the command-line parser keeps only as text
    (``stack_depot_disable``, ``page_owner``): on/off words, a bare flag on."""
    get = getattr(cmd, "get", None)
    value = get(name) if get else None
    if value is None:
        return default
    v = str(value).strip().lower()
    if v in ("1", "on", "y", "yes", "true", ""):
        return True
    if v in ("0", "off", "n", "no", "false"):
        return False
    return default


