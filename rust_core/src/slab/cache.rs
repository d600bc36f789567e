//! `struct kmem_cache`: object layout (`calculate_alignment`,
//! `calculate_sizes`), order and objects (`oo`, `min`), `min_partial`,
//! `cpu_partial`, and the per-cache counters.

use super::config::SlabConfig;
use super::flags::SlabFlags;
use super::node::KmemCacheNode;
use super::order::{calculate_order, get_order, order_objects, OrderParams, PAGE_ALLOC_COSTLY_ORDER};
use crate::memblock::KernelVersion;
use crate::page_source::PageUse;
use crate::units::PAGE_SIZE;

/// Size of a pointer (`sizeof(void *)`) on the 64-bit targets we model.
pub const WORD: u32 = 8;
/// `ARCH_SLAB_MINALIGN` on x86_64 (`__alignof__(unsigned long long)`).
pub const ARCH_SLAB_MINALIGN: u32 = 8;
/// `ARCH_KMALLOC_MINALIGN` on x86_64.
pub const ARCH_KMALLOC_MINALIGN: u32 = 8;
/// `MIN_PARTIAL`.
pub const MIN_PARTIAL: u32 = 5;
/// `MAX_PARTIAL`.
pub const MAX_PARTIAL: u32 = 10;
/// Sentinel for "no slab" in slab links.
pub(crate) const NO_SLAB: u32 = u32::MAX;

/// A handle on a cache. Aliases (merged caches) share the handle of the
/// cache they were merged into, as in the kernel they share the pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheId(pub u32);

/// `struct kmem_cache_order_objects`: an order and the objects it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OrderObjects {
    /// Page order of a slab.
    pub order: u32,
    /// Objects in a slab of that order.
    pub objects: u32,
}

impl OrderObjects {
    /// `oo_make`.
    pub fn new(order: u32, size: u32) -> Self {
        OrderObjects { order, objects: order_objects(order, size) }
    }
}

/// `calculate_alignment` (mm/slab_common.c): with SLAB_HWCACHE_ALIGN, the
/// cache line halved while the object fits in half of it; at least
/// ARCH_SLAB_MINALIGN; rounded up to a word.
pub fn calculate_alignment(flags: SlabFlags, align: u32, size: u32, cache_line: u32) -> u32 {
    let mut align = align;
    if flags.contains(SlabFlags::HWCACHE_ALIGN) {
        let mut ralign = cache_line;
        while ralign > 1 && size <= ralign / 2 {
            ralign /= 2;
        }
        align = align.max(ralign);
    }
    if align < ARCH_SLAB_MINALIGN {
        align = ARCH_SLAB_MINALIGN;
    }
    align.next_multiple_of(WORD)
}

/// Where each part of an object slot lies (`calculate_sizes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ObjectLayout {
    /// `object_size`: what the user asked for.
    pub object_size: u32,
    /// `size`: the slot size, a multiple of `align`.
    pub size: u32,
    /// `align`.
    pub align: u32,
    /// `inuse`: bytes used by the object and its right red zone word.
    pub inuse: u32,
    /// `offset`: where the free pointer lives, from the object start.
    pub offset: u32,
    /// `red_left_pad`: red zone before each object (objects start after it).
    pub red_left_pad: u32,
    /// Bytes of alloc/free tracking (SLAB_STORE_USER), after the free pointer.
    pub track_bytes: u32,
}

/// `sizeof(struct track)`: 5.14 keeps 16 return addresses (CONFIG_STACKTRACE),
/// 6.1 a stack depot handle.
pub fn track_size(version: KernelVersion) -> u32 {
    match version {
        KernelVersion::V5_14 => 8 + 16 * 8 + 4 + 4 + 8,
        KernelVersion::V6_1 => 32,
    }
}

/// `calculate_sizes` without the order: the object layout for `object_size`
/// bytes, `align` (already through `calculate_alignment`), `flags` and
/// whether there is a constructor.
pub fn calculate_layout(
    version: KernelVersion,
    object_size: u32,
    align: u32,
    flags: SlabFlags,
    has_ctor: bool,
) -> Option<ObjectLayout> {
    let mut size = object_size.checked_next_multiple_of(WORD)?;
    if flags.contains(SlabFlags::RED_ZONE) && size == object_size {
        size = size.checked_add(WORD)?;
    }
    let inuse = size;
    // 6.1: `slub_debug_orig_size`: kmalloc caches that store the user keep the
    // requested size after the tracks, and the free pointer outside.
    let orig_size =
        version == KernelVersion::V6_1 && flags.contains(SlabFlags::STORE_USER) && flags.contains(SlabFlags::KMALLOC);
    let offset;
    if flags.intersects(SlabFlags::TYPESAFE_BY_RCU | SlabFlags::POISON)
        || (flags.contains(SlabFlags::RED_ZONE) && object_size < WORD)
        || has_ctor
        || orig_size
    {
        offset = size;
        size = size.checked_add(WORD)?;
    } else {
        offset = (object_size / 2) / WORD * WORD;
    }
    let mut track_bytes = 0;
    if flags.contains(SlabFlags::STORE_USER) {
        track_bytes = 2 * track_size(version);
        if orig_size {
            track_bytes += 4;
        }
        size = size.checked_add(track_bytes)?;
    }
    let mut red_left_pad = 0;
    if flags.contains(SlabFlags::RED_ZONE) {
        size = size.checked_add(WORD)?;
        red_left_pad = WORD.checked_next_multiple_of(align)?;
        size = size.checked_add(red_left_pad)?;
    }
    let size = size.checked_next_multiple_of(align)?;
    Some(ObjectLayout { object_size, size, align, inuse, offset, red_left_pad, track_bytes })
}

/// `set_min_partial`: `ilog2(size) / 2` clamped to [MIN_PARTIAL, MAX_PARTIAL].
pub fn min_partial_for(size: u32) -> u32 {
    let ilog2 = 31 - size.max(1).leading_zeros();
    (ilog2 / 2).clamp(MIN_PARTIAL, MAX_PARTIAL)
}

/// `set_cpu_partial`: 5.14 counts objects (30/13/6/2); 6.1 objects
/// (120/52/24/6) turned into `cpu_partial_slabs`. 0 for debug caches.
/// Returns `(cpu_partial, cpu_partial_slabs)`.
pub fn cpu_partial_for(version: KernelVersion, size: u32, flags: SlabFlags, objects: u32) -> (u32, u32) {
    if flags.intersects(SlabFlags::DEBUG_FLAGS) {
        return (0, 0);
    }
    let size = size as u64;
    match version {
        KernelVersion::V5_14 => {
            let n = if size >= PAGE_SIZE {
                2
            } else if size >= 1024 {
                6
            } else if size >= 256 {
                13
            } else {
                30
            };
            (n, 0)
        }
        KernelVersion::V6_1 => {
            let n = if size >= PAGE_SIZE {
                6
            } else if size >= 1024 {
                24
            } else if size >= 256 {
                52
            } else {
                120
            };
            (n, (n * 2).div_ceil(objects.max(1)))
        }
    }
}

/// `struct kmem_cache_cpu`: the active slab and the per-cpu partial list of
/// one CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuSlab {
    /// Active slab (`c->slab`), NO_SLAB when none.
    pub(crate) slab: u32,
    /// Head of the per-cpu partial list (`c->partial`), linked through `next`.
    pub(crate) partial: u32,
    /// Slabs on the per-cpu partial list (6.1 `slab->slabs` of the head).
    pub(crate) partial_slabs: u32,
    /// 5.14 `page->pobjects` of the head: free objects counted when added.
    pub(crate) partial_pobjects: u32,
    /// Exact free objects in the per-cpu partial slabs.
    pub(crate) partial_free: u64,
}

impl Default for CpuSlab {
    fn default() -> Self {
        CpuSlab { slab: NO_SLAB, partial: NO_SLAB, partial_slabs: 0, partial_pobjects: 0, partial_free: 0 }
    }
}

/// One slab cache (`struct kmem_cache`) with its counters.
#[derive(Debug, Clone)]
pub struct KmemCache {
    /// Name shown in /proc/slabinfo.
    pub name: String,
    /// Names of the caches merged into this one (`sysfs_slab_alias`).
    pub aliases: Vec<String>,
    /// Flags after `kmem_cache_flags` (slub_debug applied).
    pub flags: SlabFlags,
    /// Object layout.
    pub layout: ObjectLayout,
    /// `oo`: preferred order and objects.
    pub oo: OrderObjects,
    /// `min`: fallback order (`get_order(size)`) and its objects.
    pub min: OrderObjects,
    /// `min_partial`.
    pub min_partial: u32,
    /// `cpu_partial` (objects).
    pub cpu_partial: u32,
    /// `cpu_partial_slabs` (6.1; 0 on 5.14).
    pub cpu_partial_slabs: u32,
    /// `refcount`: -1 for boot caches that never merge, else the number of
    /// `kmem_cache_create` calls resolved to this cache.
    pub refcount: i32,
    /// Whether a constructor was given.
    pub has_ctor: bool,
    /// `useroffset` (hardened usercopy region).
    pub useroffset: u32,
    /// `usersize`; a cache with a usercopy region never merges.
    pub usersize: u32,
    /// Created by `kmem_cache_init` (boot and kmalloc caches): not destroyable.
    pub is_boot: bool,
    /// `kmem_cache_has_cpu_partial`: CONFIG_SLUB_CPU_PARTIAL and no debug flag.
    pub has_cpu_partial: bool,
    /// Per-cpu state (`cpu_slab`), one per CPU id.
    pub(crate) cpus: Vec<CpuSlab>,
    /// The node (`kmem_cache_node`): partial list and counters.
    pub(crate) node: KmemCacheNode,
    /// Objects handed out and not yet freed.
    pub(crate) live_objects: u64,
    /// The `kmem_cache` object describing this cache (0 for none).
    pub(crate) meta_object: u64,
    /// The `kmem_cache_node` objects of this cache.
    pub(crate) node_objects: Vec<u64>,
    /// The kmalloc'ed `random_seq` array (CONFIG_SLAB_FREELIST_RANDOM), 0 for none.
    pub(crate) random_seq: u64,
}

impl KmemCache {
    /// Build a cache: alignment, layout, order and limits. `None` when the
    /// sizes overflow or no order holds an object.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn build(
        cfg: &SlabConfig,
        name: &str,
        object_size: u32,
        align: u32,
        flags: SlabFlags,
        has_ctor: bool,
        useroffset: u32,
        usersize: u32,
    ) -> Option<KmemCache> {
        let flags = flags | cfg.slub_debug;
        let layout = calculate_layout(cfg.version, object_size, align, flags, has_ctor)?;
        let p = order_params(cfg);
        let order = calculate_order(layout.size, &p)?;
        let oo = OrderObjects::new(order, layout.size);
        if oo.objects == 0 || oo.objects > super::order::MAX_OBJS_PER_PAGE {
            return None;
        }
        let min = OrderObjects::new(get_order(layout.size as u64), layout.size);
        let (cpu_partial, cpu_partial_slabs) = cpu_partial_for(cfg.version, layout.size, flags, oo.objects);
        Some(KmemCache {
            name: name.to_string(),
            aliases: Vec::new(),
            flags,
            layout,
            oo,
            min,
            min_partial: min_partial_for(layout.size),
            cpu_partial,
            cpu_partial_slabs,
            refcount: 1,
            has_ctor,
            useroffset,
            usersize,
            is_boot: false,
            has_cpu_partial: cfg.cpu_partial && !flags.intersects(SlabFlags::DEBUG_FLAGS),
            cpus: vec![CpuSlab::default(); cfg.nr_cpu_ids as usize],
            node: KmemCacheNode::default(),
            live_objects: 0,
            meta_object: 0,
            node_objects: Vec::new(),
            random_seq: 0,
        })
    }

    /// `s->size`: bytes per object slot.
    pub fn size(&self) -> u32 {
        self.layout.size
    }

    /// `s->object_size`.
    pub fn object_size(&self) -> u32 {
        self.layout.object_size
    }

    /// What the pages of this cache count as in /proc/meminfo.
    pub fn page_use(&self) -> PageUse {
        if self.flags.contains(SlabFlags::RECLAIM_ACCOUNT) {
            PageUse::SlabReclaimable
        } else {
            PageUse::SlabUnreclaimable
        }
    }

    /// `slab_ksize`: the usable bytes of an object.
    pub fn ksize(&self) -> u32 {
        if self.flags.intersects(SlabFlags::RED_ZONE | SlabFlags::POISON) {
            self.layout.object_size
        } else if self.flags.intersects(SlabFlags::TYPESAFE_BY_RCU | SlabFlags::STORE_USER) {
            self.layout.inuse
        } else {
            self.layout.size
        }
    }

    /// `slab_unmergeable`.
    pub(crate) fn unmergeable(&self, nomerge: bool) -> bool {
        nomerge
            || self.flags.intersects(SlabFlags::NEVER_MERGE)
            || self.has_ctor
            || self.usersize != 0
            || self.refcount < 0
    }
}

/// The order parameters of a configuration.
pub fn order_params(cfg: &SlabConfig) -> OrderParams {
    OrderParams {
        min_order: cfg.slub_min_order,
        max_order: cfg.slub_max_order,
        min_objects: cfg.slub_min_objects,
        nr_cpu_ids: cfg.nr_cpu_ids,
    }
}

/// Default `slub_max_order`.
pub const DEFAULT_MAX_ORDER: u32 = PAGE_ALLOC_COSTLY_ORDER;
