//! What `kmem_cache_init` depends on: kernel profile, CPUs and nodes, Kconfig
//! switches and boot parameters.

use super::flags::SlabFlags;
use crate::memblock::KernelVersion;

/// x86_64 direct-map base with 4-level paging (`PAGE_OFFSET`, no KASLR).
pub const PAGE_OFFSET_L4: u64 = 0xffff_8880_0000_0000;
/// x86_64 direct-map base with 5-level paging.
pub const PAGE_OFFSET_L5: u64 = 0xff11_0000_0000_0000;

/// Configuration of a [`super::SlabAllocator`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlabConfig {
    /// Kernel profile (layout of debug metadata, kmalloc cache creation order).
    pub version: KernelVersion,
    /// `nr_cpu_ids` (feeds the default `slub_min_objects`).
    pub nr_cpu_ids: u32,
    /// `nr_node_ids` (size of `struct kmem_cache`, kmem_cache_node objects).
    pub nr_node_ids: u32,
    /// `cache_line_size()` (64 on x86_64).
    pub cache_line_size: u32,
    /// Virtual address of pfn 0 in the direct map: object addresses are
    /// `page_offset + pfn * 4096 + offset`.
    pub page_offset: u64,
    /// CONFIG_ZONE_DMA: create `dma-kmalloc-*` caches.
    pub zone_dma: bool,
    /// CONFIG_MEMCG_KMEM: create `kmalloc-cg-*` caches, kmalloc-* unmergeable.
    pub memcg_kmem: bool,
    /// `cgroup.memory=nokmem`: `kmalloc-cg-*` alias the normal caches.
    pub memcg_nokmem: bool,
    /// `slub_nomerge` (or !CONFIG_SLAB_MERGE_DEFAULT).
    pub slab_nomerge: bool,
    /// `slub_min_order=` (default 0).
    pub slub_min_order: u32,
    /// `slub_max_order=` (default PAGE_ALLOC_COSTLY_ORDER = 3).
    pub slub_max_order: u32,
    /// `slub_min_objects=` (0: `4 * (fls(nr_cpu_ids) + 1)`).
    pub slub_min_objects: u32,
    /// `slub_debug=` flags applied to every cache (`kmem_cache_flags`).
    pub slub_debug: SlabFlags,
    /// CONFIG_SLUB_CPU_PARTIAL: per-cpu partial lists.
    pub cpu_partial: bool,
    /// CONFIG_SLAB_FREELIST_RANDOM: every cache kmallocs a `random_seq` of
    /// 4 bytes per object of a slab (the shuffle itself is not modelled:
    /// objects are still handed out in address order).
    pub freelist_random: bool,
    /// `sizeof(struct kmem_cache_node)` (64 with CONFIG_SLUB_DEBUG on x86_64).
    pub kmem_cache_node_size: u32,
    /// `offsetof(struct kmem_cache, node)`; the `kmem_cache` object size is this
    /// plus 8 bytes per node (216 on the Debian x86_64 configs, estimated).
    pub kmem_cache_base_size: u32,
}

impl SlabConfig {
    /// The default profile of a kernel version: x86_64, one CPU, one node,
    /// 4-level paging, ZONE_DMA and MEMCG_KMEM on (Debian configs).
    pub fn new(version: KernelVersion) -> Self {
        SlabConfig {
            version,
            nr_cpu_ids: 1,
            nr_node_ids: 1,
            cache_line_size: 64,
            page_offset: PAGE_OFFSET_L4,
            zone_dma: true,
            memcg_kmem: true,
            memcg_nokmem: false,
            slab_nomerge: false,
            slub_min_order: 0,
            slub_max_order: 3,
            slub_min_objects: 0,
            slub_debug: SlabFlags::NONE,
            cpu_partial: true,
            freelist_random: false,
            kmem_cache_node_size: 64,
            kmem_cache_base_size: 216,
        }
    }

    /// Linux 5.14 defaults.
    pub fn v5_14() -> Self {
        Self::new(KernelVersion::V5_14)
    }

    /// Linux 6.1 defaults.
    pub fn v6_1() -> Self {
        Self::new(KernelVersion::V6_1)
    }
}

impl Default for SlabConfig {
    fn default() -> Self {
        Self::new(KernelVersion::default())
    }
}
