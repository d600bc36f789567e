//! Tests of the page allocator.

mod alloc;
mod layout;
mod prop;
mod scale;
mod views;

use super::*;

/// pfn ranges of the QEMU `-m 2G` boot (memblock memory).
pub(crate) fn qemu_2g_regions() -> Vec<(u64, u64, u32)> {
    vec![(0x1, 0x9f, 0), (0x100, 0x7ffe0, 0)]
}

pub(crate) fn qemu_2g_layout(cfg: &PageAllocConfig) -> ZoneLayout {
    free_area_init(&FreeAreaInitInput::x86_64(qemu_2g_regions(), 158), cfg).unwrap()
}

/// A small machine: DMA [1, 0x1000) and DMA32 [0x1000, 0x4000), all free
/// from 0x100 on, no deferral.
pub(crate) fn small(cfg: &PageAllocConfig) -> PageAlloc {
    let l = free_area_init(&FreeAreaInitInput::x86_64(vec![(0x1, 0x9f, 0), (0x100, 0x4000, 0)], 0), cfg).unwrap();
    let mut pa = PageAlloc::new(&l, cfg).unwrap();
    pa.memblock_free_all(&[(0x100, 0x4000, 0)]).unwrap();
    pa
}

pub(crate) fn no_defer() -> PageAllocConfig {
    PageAllocConfig { deferred_struct_page_init: false, ..Default::default() }
}

/// Internal consistency: per-order counts, NR_FREE_PAGES, list contents.
pub(crate) fn check_consistency(pa: &PageAlloc) {
    for z in &pa.zones {
        let mut sum = 0u64;
        for o in 0..=z.top() {
            let by_type: u64 = z.area.count[o as usize].iter().sum();
            assert_eq!(by_type, z.area.nr_free[o as usize], "order {o} counts");
            sum += z.area.nr_free[o as usize] << o;
            for mt in 0..6u8 {
                let mut n = 0;
                z.area.walk(&z.pt, o, mt, |p| {
                    n += 1;
                    assert_eq!(p & ((1 << o) - 1), 0, "misaligned free block");
                    assert!(z.range_present(p, p + (1 << o)), "free block {p:#x} order {o} outside memory");
                });
                assert_eq!(n, z.area.count[o as usize][mt as usize]);
            }
        }
        assert_eq!(sum, z.nr_free_pages, "sum nr_free<<order == NR_FREE_PAGES");
        let pcp: u64 = z.pcp.iter().map(|p| p.lists.iter().map(|l| l.len() as u64).sum::<u64>()).sum();
        assert_eq!(pcp, z.pcp_pages());
    }
}
