//! The slab allocator, modelled on SLUB (mm/slub.c, mm/slab_common.c) of
//! Linux 5.14 and 6.1.
//!
//! [`SlabAllocator::new`] is `kmem_cache_init`: the boot caches
//! `kmem_cache_node` and `kmem_cache`, then the kmalloc caches. Slab pages
//! come from a [`crate::page_source::PageSource`] passed to every call that
//! may need or return pages; objects have direct-map addresses
//! (`page_offset + pfn * 4096 + offset`).
//!
//! Submodules: [`flags`] (cache and gfp flags), [`config`], [`order`]
//! (`calculate_order`), [`cache`] (`struct kmem_cache` and its layout),
//! `slab` (one slab's free list), `node` (partial list), `pfnmap` (address →
//! slab), `alloc` (allocation and free paths), [`kmalloc`], `merge`
//! (`find_mergeable`, `kmem_cache_create`), `init` (`kmem_cache_init`),
//! [`slabinfo`] (/proc/slabinfo and meminfo counters), [`events`].
//!
//! # Model
//!
//! * Caches live in a vector indexed by [`CacheId`]; a merged cache hands out
//!   the id of the cache it joined (refcount and alias names go up).
//! * Slabs live in an arena. Each has its free object indices as a LIFO stack
//!   (the first object handed out by a new slab is object 0, and a freed
//!   object is the next one handed out, as with SLUB's freelist) and a bitmap
//!   of free objects, so a double free is found in O(1).
//! * Every CPU of a cache has an active slab and a per-cpu partial list
//!   (CONFIG_SLUB_CPU_PARTIAL); the node has the partial list, and counts of
//!   slabs, objects and full slabs. [`SlabAllocator::set_cpu`] chooses the CPU.
//! * Allocation: active slab, then the per-cpu partial list, then the node
//!   partial list (`get_partial_node` also refills the per-cpu list), then a
//!   new slab of order `oo` (falling back to `min`) from the page source.
//! * Free: a frozen slab (active or per-cpu partial) just takes the object; a
//!   full slab goes to the current CPU's partial list (draining it to the node
//!   when full: 5.14 counts objects, 6.1 slabs); an empty node-partial slab is
//!   discarded once the node has `min_partial` partial slabs.
//! * Address → slab: a sparse two-level pfn map; multi-page slabs map every
//!   page, large kmalloc blocks map a head and tails.
//! * Every error leaves the allocator unchanged. Cache creation takes several
//!   objects (its `kmem_cache` object, one `kmem_cache_node` object per node,
//!   the `random_seq` array): the slabs they need are reserved from the page
//!   source first, so either all of it happens or nothing does.
//!
//! # Not modelled
//!
//! One node's lists (`nr_node_ids` only sizes metadata); no freelist
//! shuffling (CONFIG_SLAB_FREELIST_RANDOM only allocates `random_seq`); no
//! zone choice for DMA caches (the page source only sees the page use); no
//! RCU-delayed slab freeing; no object contents (poison, red zone bytes,
//! tracks are sized, not written); caches created later by the rest of the
//! kernel are up to the caller.

pub mod cache;
pub mod config;
pub mod events;
pub mod flags;
pub mod kmalloc;
pub mod order;
pub mod slabinfo;

mod alloc;
mod init;
mod merge;
mod node;
mod pfnmap;
#[allow(clippy::module_inception)]
mod slab;

#[cfg(test)]
mod tests;

pub use cache::{CacheId, KmemCache, ObjectLayout, OrderObjects};
pub use config::{SlabConfig, PAGE_OFFSET_L4, PAGE_OFFSET_L5};
pub use events::{SlabEvent, SlabEventKind};
pub use flags::{Gfp, SlabFlags};
pub use kmalloc::{KmallocType, KMALLOC_MAX_CACHE_SIZE, KMALLOC_MAX_SIZE, ZERO_SIZE_PTR};
pub use slabinfo::{CacheStats, SlabMeminfo};

use events::EventRecorder;
use kmalloc::{KMALLOC_SHIFT_HIGH, NR_KMALLOC_TYPES};
use pfnmap::PfnMap;
use slab::Slab;

/// The slab allocator of one simulated machine.
#[derive(Debug, Clone)]
pub struct SlabAllocator {
    pub(crate) config: SlabConfig,
    /// Caches by id; `None` once destroyed.
    pub(crate) caches: Vec<Option<KmemCache>>,
    /// `slab_caches` in creation order (the kernel's list is newest first).
    pub(crate) slab_caches: Vec<u32>,
    /// Slab arena.
    pub(crate) slabs: Vec<Slab>,
    /// Unused arena slots.
    pub(crate) free_slab_ids: Vec<u32>,
    /// pfn → slab / large block.
    pub(crate) pfn_map: PfnMap,
    /// `kmalloc_caches[type][index]`, `u32::MAX` where there is none.
    pub(crate) kmalloc_caches: [[u32; KMALLOC_SHIFT_HIGH as usize + 1]; NR_KMALLOC_TYPES],
    /// The `kmem_cache` and `kmem_cache_node` boot caches.
    pub(crate) kmem_cache: u32,
    pub(crate) kmem_cache_node: u32,
    /// Slab pages by use.
    pub(crate) pages_reclaimable: u64,
    pub(crate) pages_unreclaimable: u64,
    /// Pages and blocks of large kmalloc.
    pub(crate) large_pages: u64,
    pub(crate) large_blocks: u64,
    pub(crate) recorder: EventRecorder,
    /// The CPU allocations and frees run on.
    pub(crate) cpu: u32,
    /// Pages reserved for a compound operation in progress.
    pub(crate) reserved: Vec<alloc::Reserved>,
}

impl SlabAllocator {
    /// The configuration it was built with.
    pub fn config(&self) -> &SlabConfig {
        &self.config
    }

    /// A cache by handle (`None` if destroyed or unknown).
    pub fn cache(&self, id: CacheId) -> Option<&KmemCache> {
        self.caches.get(id.0 as usize).and_then(Option::as_ref)
    }

    /// Live caches in the kernel's `slab_caches` order (newest first, the
    /// order /proc/slabinfo lists them).
    pub fn caches(&self) -> impl Iterator<Item = (CacheId, &KmemCache)> + '_ {
        self.slab_caches
            .iter()
            .rev()
            .filter_map(move |&i| self.caches.get(i as usize).and_then(Option::as_ref).map(|c| (CacheId(i), c)))
    }

    /// Find a live cache by name (or alias name).
    pub fn find_cache(&self, name: &str) -> Option<CacheId> {
        self.caches().find(|(_, c)| c.name == name || c.aliases.iter().any(|a| a == name)).map(|(id, _)| id)
    }

    /// The boot cache `kmem_cache`.
    pub fn kmem_cache_cache(&self) -> CacheId {
        CacheId(self.kmem_cache)
    }

    /// The boot cache `kmem_cache_node`.
    pub fn kmem_cache_node_cache(&self) -> CacheId {
        CacheId(self.kmem_cache_node)
    }

    /// The CPU the next operations run on (`smp_processor_id()`).
    pub fn cpu(&self) -> u32 {
        self.cpu
    }

    /// Run the next operations on `cpu` (below `nr_cpu_ids`): its active
    /// slabs and per-cpu partial lists are used.
    pub fn set_cpu(&mut self, cpu: u32) -> crate::Result<()> {
        if cpu >= self.config.nr_cpu_ids {
            return Err(crate::MmError::OutOfRange {
                what: "cpu",
                value: cpu as u64,
                min: 0,
                max: self.config.nr_cpu_ids as u64,
            });
        }
        self.cpu = cpu;
        Ok(())
    }

    /// Turn the event recorder on or off (events already recorded stay).
    pub fn set_recording(&mut self, on: bool) {
        self.recorder.enabled = on;
    }

    /// Whether events are recorded.
    pub fn is_recording(&self) -> bool {
        self.recorder.enabled
    }

    /// Take the recorded events.
    pub fn drain_events(&mut self) -> Vec<SlabEvent> {
        std::mem::take(&mut self.recorder.events)
    }

    /// The recorded events, oldest first.
    pub fn events(&self) -> &[SlabEvent] {
        &self.recorder.events
    }

    /// Forget the recorded events, keeping the buffer.
    pub fn clear_events(&mut self) {
        self.recorder.events.clear();
    }

    /// The boot line `kmem_cache_init` prints.
    pub fn boot_message(&self) -> String {
        format!(
            "SLUB: HWalign={}, Order={}-{}, MinObjects={}, CPUs={}, Nodes={}",
            self.config.cache_line_size,
            self.config.slub_min_order,
            self.config.slub_max_order,
            self.config.slub_min_objects,
            self.config.nr_cpu_ids,
            self.config.nr_node_ids
        )
    }

    #[inline]
    pub(crate) fn live_cache(&self, id: CacheId) -> crate::Result<&KmemCache> {
        self.cache(id).ok_or_else(|| crate::MmError::invalid("cache", format!("no live cache with id {}", id.0)))
    }
}
