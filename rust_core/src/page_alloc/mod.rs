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

pub mod buddy;
pub mod config;
pub mod events;
mod free_area;
pub mod free_area_init;
pub mod gfp;
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
pub use migratetype::MigrateType;
