//! Cache flags (`slab_flags_t`, include/linux/slab.h) and the allocation
//! flags kmalloc looks at (`gfp_t` bits that choose a kmalloc cache type).

use std::fmt;

/// `slab_flags_t`: the flags of a cache. Bit values are the kernel's.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SlabFlags(pub u32);

crate::flags::flag_set_ops!(SlabFlags, not);

impl SlabFlags {
    /// No flags.
    pub const NONE: SlabFlags = SlabFlags(0);
    /// `SLAB_CONSISTENCY_CHECKS`: expensive checks on alloc/free.
    pub const CONSISTENCY_CHECKS: SlabFlags = SlabFlags(0x0000_0100);
    /// `SLAB_RED_ZONE`: guard bytes around each object.
    pub const RED_ZONE: SlabFlags = SlabFlags(0x0000_0400);
    /// `SLAB_POISON`: poison free objects.
    pub const POISON: SlabFlags = SlabFlags(0x0000_0800);
    /// `SLAB_KMALLOC` (6.1): the cache is a kmalloc cache.
    pub const KMALLOC: SlabFlags = SlabFlags(0x0000_1000);
    /// `SLAB_HWCACHE_ALIGN`: align objects on cache lines.
    pub const HWCACHE_ALIGN: SlabFlags = SlabFlags(0x0000_2000);
    /// `SLAB_CACHE_DMA`: slab pages from ZONE_DMA.
    pub const CACHE_DMA: SlabFlags = SlabFlags(0x0000_4000);
    /// `SLAB_CACHE_DMA32`: slab pages from ZONE_DMA32.
    pub const CACHE_DMA32: SlabFlags = SlabFlags(0x0000_8000);
    /// `SLAB_STORE_USER`: keep alloc/free tracking after each object.
    pub const STORE_USER: SlabFlags = SlabFlags(0x0001_0000);
    /// `SLAB_RECLAIM_ACCOUNT`: pages count as SReclaimable.
    pub const RECLAIM_ACCOUNT: SlabFlags = SlabFlags(0x0002_0000);
    /// `SLAB_PANIC`: panic if creation fails.
    pub const PANIC: SlabFlags = SlabFlags(0x0004_0000);
    /// `SLAB_TYPESAFE_BY_RCU`: defer freeing slabs by RCU.
    pub const TYPESAFE_BY_RCU: SlabFlags = SlabFlags(0x0008_0000);
    /// `SLAB_MEM_SPREAD`: spread some memory over cpuset.
    pub const MEM_SPREAD: SlabFlags = SlabFlags(0x0010_0000);
    /// `SLAB_TRACE`: trace allocations and frees.
    pub const TRACE: SlabFlags = SlabFlags(0x0020_0000);
    /// `SLAB_DEBUG_OBJECTS`: debugobjects checks on free.
    pub const DEBUG_OBJECTS: SlabFlags = SlabFlags(0x0040_0000);
    /// `SLAB_NOLEAKTRACE`: no kmemleak tracing.
    pub const NOLEAKTRACE: SlabFlags = SlabFlags(0x0080_0000);
    /// `SLAB_FAILSLAB`: fault injection.
    pub const FAILSLAB: SlabFlags = SlabFlags(0x0200_0000);
    /// `SLAB_ACCOUNT`: account objects to a memcg.
    pub const ACCOUNT: SlabFlags = SlabFlags(0x0400_0000);

    /// `SLAB_NEVER_MERGE` (mm/slab_common.c, KASAN off).
    pub const NEVER_MERGE: SlabFlags = SlabFlags(
        Self::RED_ZONE.0
            | Self::POISON.0
            | Self::STORE_USER.0
            | Self::TRACE.0
            | Self::TYPESAFE_BY_RCU.0
            | Self::NOLEAKTRACE.0
            | Self::FAILSLAB.0,
    );
    /// `SLAB_MERGE_SAME`: flags two caches must share to merge.
    pub const MERGE_SAME: SlabFlags =
        SlabFlags(Self::RECLAIM_ACCOUNT.0 | Self::CACHE_DMA.0 | Self::CACHE_DMA32.0 | Self::ACCOUNT.0);
    /// `SLAB_DEBUG_FLAGS` of SLUB.
    pub const DEBUG_FLAGS: SlabFlags =
        SlabFlags(Self::RED_ZONE.0 | Self::POISON.0 | Self::STORE_USER.0 | Self::TRACE.0 | Self::CONSISTENCY_CHECKS.0);
    /// Every flag `kmem_cache_create` accepts (`SLAB_FLAGS_PERMITTED`).
    pub const PERMITTED: SlabFlags = SlabFlags(
        Self::CONSISTENCY_CHECKS.0
            | Self::RED_ZONE.0
            | Self::POISON.0
            | Self::HWCACHE_ALIGN.0
            | Self::CACHE_DMA.0
            | Self::CACHE_DMA32.0
            | Self::STORE_USER.0
            | Self::RECLAIM_ACCOUNT.0
            | Self::PANIC.0
            | Self::TYPESAFE_BY_RCU.0
            | Self::MEM_SPREAD.0
            | Self::TRACE.0
            | Self::DEBUG_OBJECTS.0
            | Self::NOLEAKTRACE.0
            | Self::FAILSLAB.0
            | Self::ACCOUNT.0,
    );
}

impl fmt::Debug for SlabFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SlabFlags({:#x})", self.0)
    }
}

/// The `gfp_t` bits that matter to kmalloc: they pick the kmalloc cache type
/// (`kmalloc_type`). Bit values are the kernel's.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct Gfp(pub u32);

crate::flags::flag_set_ops!(Gfp);

impl Gfp {
    /// `GFP_KERNEL` (no type bits): KMALLOC_NORMAL.
    pub const KERNEL: Gfp = Gfp(0);
    /// `__GFP_DMA`: a `dma-kmalloc-*` cache (with CONFIG_ZONE_DMA).
    pub const DMA: Gfp = Gfp(0x01);
    /// `__GFP_RECLAIMABLE`: a `kmalloc-rcl-*` cache.
    pub const RECLAIMABLE: Gfp = Gfp(0x10);
    /// `__GFP_ACCOUNT`: a `kmalloc-cg-*` cache (with CONFIG_MEMCG_KMEM).
    pub const ACCOUNT: Gfp = Gfp(0x40_0000);
}

