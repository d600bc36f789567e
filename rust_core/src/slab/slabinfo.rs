//! Counters: per-cache statistics (`get_slabinfo`), /proc/slabinfo text
//! (mm/slab_common.c `print_slabinfo_header`, `cache_show`) and the
//! /proc/meminfo slab lines.

use std::fmt::Write;

use super::cache::CacheId;
use super::SlabAllocator;

/// What /proc/slabinfo shows for one cache, plus exact counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheStats {
    /// Cache name.
    pub name: String,
    /// `active_objs` as SLUB reports it: all objects minus the free ones on
    /// the node partial lists (free objects of the cpu slab count as active).
    pub active_objs: u64,
    /// `num_objs`: objects in all slabs.
    pub num_objs: u64,
    /// `objsize`: `s->size`.
    pub objsize: u32,
    /// `objperslab`: objects of an `oo` slab.
    pub objperslab: u32,
    /// `pagesperslab`: `1 << oo order`.
    pub pagesperslab: u32,
    /// `active_slabs` (= num_slabs with SLUB).
    pub active_slabs: u64,
    /// `num_slabs`.
    pub num_slabs: u64,
    /// Objects really in use (allocated and not freed).
    pub inuse_objs: u64,
    /// Slabs on the partial list.
    pub nr_partial: u64,
    /// Full slabs.
    pub nr_full: u64,
    /// Slabs on the per-cpu partial lists (all CPUs).
    pub nr_cpu_partial: u64,
    /// Pages held by the cache's slabs.
    pub pages: u64,
    /// Merge references.
    pub refcount: i32,
}

/// The slab lines of /proc/meminfo, in pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SlabMeminfo {
    /// `SReclaimable`: pages of SLAB_RECLAIM_ACCOUNT caches.
    pub sreclaimable: u64,
    /// `SUnreclaim`: pages of other caches plus large kmalloc blocks.
    pub sunreclaim: u64,
    /// Of `sunreclaim`, pages of large kmalloc blocks.
    pub large_kmalloc: u64,
}

impl SlabMeminfo {
    /// `Slab`: both together.
    pub fn slab(&self) -> u64 {
        self.sreclaimable + self.sunreclaim
    }
}

/// The /proc/slabinfo header lines (SLUB: no statistics columns).
pub const SLABINFO_HEADER: &str = "slabinfo - version: 2.1\n# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n";

impl SlabAllocator {
    /// Statistics of one cache.
    pub fn cache_stats(&self, id: CacheId) -> Option<CacheStats> {
        let c = self.cache(id)?;
        let n = &c.node;
        let pages = {
            // Slabs may be of order oo or min: count them from the slabs
            // only when the two differ.
            if c.oo.order == c.min.order {
                n.nr_slabs << c.oo.order
            } else {
                self.slabs
                    .iter()
                    .filter(|s| s.state != super::slab::SlabState::Unused && s.cache == id.0)
                    .map(|s| s.pages())
                    .sum()
            }
        };
        Some(CacheStats {
            name: c.name.clone(),
            active_objs: n.total_objects - n.partial_free,
            num_objs: n.total_objects,
            objsize: c.layout.size,
            objperslab: c.oo.objects,
            pagesperslab: 1 << c.oo.order,
            active_slabs: n.nr_slabs,
            num_slabs: n.nr_slabs,
            inuse_objs: c.live_objects,
            nr_partial: n.nr_partial,
            nr_full: n.nr_full,
            nr_cpu_partial: c.cpus.iter().map(|p| p.partial_slabs as u64).sum(),
            pages,
            refcount: c.refcount,
        })
    }

    /// Statistics of every live cache, in /proc/slabinfo order.
    pub fn all_stats(&self) -> Vec<CacheStats> {
        self.caches().filter_map(|(id, _)| self.cache_stats(id)).collect()
    }

    /// /proc/slabinfo, byte for byte as SLUB prints it.
    pub fn slabinfo(&self) -> String {
        let mut out = String::with_capacity(SLABINFO_HEADER.len() + 128 * self.slab_caches.len());
        out.push_str(SLABINFO_HEADER);
        for s in self.all_stats() {
            let _ = writeln!(
                out,
                "{:<17} {:>6} {:>6} {:>6} {:>4} {:>4} : tunables {:>4} {:>4} {:>4} : slabdata {:>6} {:>6} {:>6}",
                s.name,
                s.active_objs,
                s.num_objs,
                s.objsize,
                s.objperslab,
                s.pagesperslab,
                0,
                0,
                0,
                s.active_slabs,
                s.num_slabs,
                0
            );
        }
        out
    }

    /// The /proc/meminfo slab counters.
    pub fn meminfo(&self) -> SlabMeminfo {
        SlabMeminfo {
            sreclaimable: self.pages_reclaimable,
            sunreclaim: self.pages_unreclaimable + self.large_pages,
            large_kmalloc: self.large_pages,
        }
    }

    /// Every page the allocator holds from the source (slabs and large blocks).
    pub fn pages_in_use(&self) -> u64 {
        self.pages_reclaimable + self.pages_unreclaimable + self.large_pages
    }

    /// Large kmalloc blocks outstanding.
    pub fn large_blocks(&self) -> u64 {
        self.large_blocks
    }

    /// Live objects of a cache (allocated, not freed), merged users included.
    pub fn live_objects(&self, id: CacheId) -> Option<u64> {
        self.cache(id).map(|c| c.live_objects)
    }
}
