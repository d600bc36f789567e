//! Nodes, zones and the buddy allocator (mm/page_alloc.c).
//!
//! The module is split the way the kernel's concepts are:
//!
//! * [`gfp`]: GFP flags, `gfp_zone`, `gfp_migratetype`.
//! * [`migratetype`]: migrate types and the fallback table.
//! * [`config`]: [`PageAllocConfig`], the plain-data knobs of a profile.
//! * [`free_area_init`]: the pure layout computation of `free_area_init`
//!   (zone ranges, node spans, present/absent/managed, unavailable ranges,
//!   deferred-init cut, "Total pages").
//! * `pages`: the sparse per-page state (only split/allocated max-order
//!   blocks carry per-page descriptors).
//! * `free_area`: per-order, per-migratetype free lists; the top order is
//!   kept as runs of whole blocks.
//! * `zone`: one zone's buddy operations (split, merge, fallback, stealing).
//! * `pcp`: per-cpu order-0 lists.
//! * `watermark`: min/low/high, lowmem_reserve, `zone_watermark_ok`.
//! * [`buddy`]: [`PageAlloc`], nodes and zonelists, boot frees, runtime API.
//! * [`views`]: /proc/buddyinfo, /proc/pagetypeinfo, /proc/zoneinfo text.

//!
//! # Sparse state
//!
//! Host memory does not grow with simulated RAM. Per zone, a lazily zeroed
//! table holds one `u32` per max-order block (untouched table pages are
//! never resident). Only blocks that were split, partly freed or carry a
//! non-default pageblock type get a descriptor (per-page state, free-list
//! links, pageblock types) from flat arenas with a recycling pool; a block
//! that merges back into one free max-order block with default pageblock
//! types drops its descriptor. Top-order free lists are deques of runs of
//! consecutive blocks (the kernel only ever takes their heads; stealing
//! takes the head too), so a 2 TiB node freed at boot is a single run.
//!
//! # Batches
//!
//! `alloc_pages_bulk` and `free_pages_bulk` (order 0) give exactly the
//! state that the same calls one by one give (a proptest compares every
//! list, counter and page state), only cheaper: a pcp refill
//! (`rmqueue_bulk`) carves whole blocks instead of splitting page by page,
//! calls that only pop a pcp list are served from it in one go, a batch is
//! validated with one lookup per page (a mark bit catches duplicates, and
//! an invalid batch changes nothing), and a pcp drain frees each stretch
//! of pages that forms an aligned block as that block (the merges it
//! would go through one page at a time cancel out).
//!
//! # Differences from the kernel (documented choices)
//!
//! * pcp lists cache order-0 pages only (5.13+ also caches orders 1-3 and
//!   the THP order).
//! * No reclaim, compaction, kswapd, watermark boosting, page isolation,
//!   CMA areas, shuffling or `unreserve_highatomic_pageblock`; a request
//!   failing the low- then min-watermark pass is `OutOfMemory`.
//! * `free_boot_pages` puts pages straight into the buddy lists in aligned
//!   chunks (the kernel's `free_reserved_area` frees page by page through
//!   the pcp lists); the merged result is the same after a drain.
//! * Boot chunks that straddle a zone boundary are split at the boundary.
//! * Deferred pages count in `totalram_pages` at `memblock_free_all` and in
//!   zone `managed` when `page_alloc_init_late` frees them (as the kernel).
//! * Zonelists order nodes local first, then `nid+1, nid+2, ...` (no
//!   distance table). Interleaved node spans are rejected.
//! * kernelcore=/movablecore= are rejected for now (the input has room).

pub mod buddy;
pub mod config;
pub mod events;
mod free_area;
pub mod free_area_init;
pub mod gfp;
pub mod mempolicy;
pub mod migratetype;
mod pages;
mod pcp;
pub mod views;
mod watermark;
mod zone;

#[cfg(test)]
mod tests;

pub use buddy::{NodeInfo, PageAlloc, ZoneId, ZoneInfo};
pub use config::{KernelVersion, PageAllocConfig};
pub use events::{AllocEvent, AllocEventKind};
pub use free_area_init::{
    free_area_init, FreeAreaInitInput, MovableZoneConfig, NodeLayout, UnavailableRange,
    ZoneLayout, ZoneRange, ZoneSizes, ZoneType,
};
pub use gfp::Gfp;
pub use mempolicy::MemPolicy;
pub use migratetype::MigrateType;
