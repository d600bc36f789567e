//! Tests of the slab allocator.

mod basics;
mod errors;
mod merge;
mod partial;
mod prop;

use super::*;
use crate::page_source::BumpPageSource;

/// A booted allocator and its page source.
pub(super) fn boot(cfg: SlabConfig) -> (SlabAllocator, BumpPageSource) {
    let mut src = BumpPageSource::new(0x1000, 0x10_0000);
    let a = SlabAllocator::new(cfg, &mut src).expect("boot");
    (a, src)
}

/// Everything observable, to check that a failed call changed nothing.
pub(super) fn snapshot(a: &SlabAllocator, src: &BumpPageSource) -> String {
    format!("{}\n{src:?}", fingerprint(a))
}

/// The allocator's observable state: caches, lists, live slabs, pfn map,
/// counters, events (not the arena's unused slots or map chunk layout).
pub(super) fn fingerprint(a: &SlabAllocator) -> String {
    let live: Vec<(usize, &slab::Slab)> =
        a.slabs.iter().enumerate().filter(|(_, s)| s.state != slab::SlabState::Unused).collect();
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        a.caches,
        a.slab_caches,
        a.kmalloc_caches,
        (a.pages_reclaimable, a.pages_unreclaimable, a.large_pages, a.large_blocks, &a.recorder),
        live,
        a.pfn_map.entries()
    )
}

/// Assert two snapshots are equal, printing only the first differences.
#[track_caller]
pub(super) fn assert_same(before: &str, after: &str) {
    if before != after {
        let b: Vec<&str> = before.split(", ").collect();
        let a: Vec<&str> = after.split(", ").collect();
        let diffs: Vec<String> = b
            .iter()
            .zip(a.iter())
            .enumerate()
            .filter(|(_, (x, y))| x != y)
            .take(8)
            .map(|(i, (x, y))| format!("#{i}: {x} -> {y}"))
            .collect();
        panic!("state changed ({} vs {} fields): {diffs:?}", b.len(), a.len());
    }
}

/// Pages held by the allocator match the source.
pub(super) fn check_pages(a: &SlabAllocator, src: &BumpPageSource) {
    assert_eq!(a.pages_in_use(), src.in_use, "pages held vs source in_use");
    let slab_pages: u64 = a.all_stats().iter().map(|s| s.pages).sum();
    assert_eq!(slab_pages + a.meminfo().large_kmalloc, a.pages_in_use());
}
