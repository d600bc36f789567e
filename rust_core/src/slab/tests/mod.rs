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
    format!("{a:?}\n{src:?}")
}

/// Pages held by the allocator match the source.
pub(super) fn check_pages(a: &SlabAllocator, src: &BumpPageSource) {
    assert_eq!(a.pages_in_use(), src.in_use, "pages held vs source in_use");
    let slab_pages: u64 = a.all_stats().iter().map(|s| s.pages).sum();
    assert_eq!(slab_pages + a.meminfo().large_kmalloc, a.pages_in_use());
}
