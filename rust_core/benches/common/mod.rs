//! Set-up shared by the benchmarks.

use mmsvc_core::page_alloc::{free_area_init, FreeAreaInitInput, PageAlloc, PageAllocConfig};

/// QEMU -m 2G, everything from 0x4000 free, pcp and watermarks set up.
pub fn machine_2g() -> PageAlloc {
    let cfg = PageAllocConfig { deferred_struct_page_init: false, ..Default::default() };
    let regions = vec![(0x1, 0x9f, 0), (0x100, 0x7ffe0, 0)];
    let l = free_area_init(&FreeAreaInitInput::x86_64(regions, 158), &cfg).unwrap();
    let mut pa = PageAlloc::new(&l, &cfg).unwrap();
    pa.memblock_free_all(&[(0x100, 0x1000, 0), (0x4000, 0x7ffe0, 0)]).unwrap();
    pa.build_all_zonelists();
    pa.setup_per_cpu_pageset();
    pa.init_per_zone_wmark_min();
    pa
}
