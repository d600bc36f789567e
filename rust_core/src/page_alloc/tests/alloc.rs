use super::*;
use crate::MmError;

fn snapshot(pa: &PageAlloc) -> (Vec<ZoneInfo>, String, u64) {
    (pa.zone_infos(), pa.pagetypeinfo(), pa.totalram_pages())
}

#[test]
fn boot_free_counts_and_deferral() {
    let cfg = PageAllocConfig::default();
    let l = qemu_2g_layout(&cfg);
    let mut pa = PageAlloc::new(&l, &cfg).unwrap();
    assert_eq!(pa.zone_info(0, ZoneType::Dma).unwrap().managed, 3776);
    let free = [(0x100, 0x9f, 0); 0];
    let _ = free;
    let ranges = [(0x100u64, 0x1000u64, 0u32), (0x4000, 0x7ffe0, 0)];
    let total = pa.memblock_free_all(&ranges).unwrap();
    assert_eq!(total, 0xf00 + 0x7ffe0 - 0x4000);
    assert_eq!(pa.totalram_pages(), total);
    // Only pages below the cut 0x10000 are free now.
    assert_eq!(pa.nr_free_pages(), 0xf00 + 0x10000 - 0x4000);
    assert_eq!(pa.zone_info(0, ZoneType::Dma32).unwrap().managed, 0x10000 - 0x4000);
    check_consistency(&pa);
    let late = pa.page_alloc_init_late(&ranges).unwrap();
    assert_eq!(late, 0x7ffe0 - 0x10000);
    assert_eq!(pa.nr_free_pages(), total);
    assert_eq!(pa.zone_info(0, ZoneType::Dma32).unwrap().managed, 0x7ffe0 - 0x4000);
    check_consistency(&pa);
    // Same buddyinfo as freeing everything at once.
    let mut pb = PageAlloc::new(&qemu_2g_layout(&no_defer()), &no_defer()).unwrap();
    pb.memblock_free_all(&ranges).unwrap();
    assert_eq!(pa.buddyinfo(), pb.buddyinfo());
    // Chunking like __free_pages_memory: [0x100,0x1000) = o8 + o9 + 3*o10.
    let dma = pa.zone_info(0, ZoneType::Dma).unwrap();
    assert_eq!(dma.nr_free, vec![0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 3]);
    assert!(pa.memblock_free_all(&ranges).is_err());
}

#[test]
fn split_and_merge() {
    let mut pa = small(&no_defer());
    let before = pa.buddyinfo();
    let descs = pa.nr_block_descriptors();
    let p = pa.alloc_pages(Gfp::GFP_HIGHUSER_MOVABLE, 3, 0, 0).unwrap();
    assert_eq!(p & 7, 0);
    assert_eq!(pa.allocated_order(p).unwrap(), Some(3));
    assert!(!pa.is_free(p).unwrap());
    // The upper halves of the split block went to orders 3..=9.
    let z = pa.zone_info(0, ZoneType::Dma32).unwrap();
    for o in 3..10 {
        assert_eq!(z.nr_free[o], 1, "order {o}");
    }
    check_consistency(&pa);
    pa.free_pages(p, 3, 0).unwrap();
    assert_eq!(pa.buddyinfo(), before);
    check_consistency(&pa);
    assert_eq!(pa.nr_block_descriptors(), descs, "a fully merged block drops its descriptor");
}

#[test]
fn expand_puts_halves_at_head_and_lower_half_is_returned() {
    let mut pa = small(&no_defer());
    let top = pa.free_list(0, ZoneType::Dma32, 10, MigrateType::Movable).unwrap();
    let p = pa.alloc_pages(Gfp::GFP_HIGHUSER_MOVABLE, 9, 0, 0).unwrap();
    assert_eq!(p, top[0]);
    assert_eq!(pa.free_list(0, ZoneType::Dma32, 9, MigrateType::Movable).unwrap(), vec![p + 512]);
}

#[test]
fn zonelist_fallback_and_gfp_zone() {
    let mut pa = small(&no_defer());
    let p = pa.alloc_pages(Gfp::GFP_KERNEL, 10, 0, 0).unwrap();
    assert_eq!(pa.page_zone(p).unwrap().zone_type, ZoneType::Dma32);
    let d = pa.alloc_pages(Gfp::GFP_DMA, 10, 0, 0).unwrap();
    assert_eq!(pa.page_zone(d).unwrap().zone_type, ZoneType::Dma);
    // Exhaust DMA32 with order-10 blocks, then GFP_KERNEL falls to DMA.
    let mut got = Vec::new();
    while let Ok(q) = pa.alloc_pages(Gfp::GFP_KERNEL, 10, 0, 0) {
        got.push(q);
    }
    assert!(got.iter().any(|&q| pa.page_zone(q).unwrap().zone_type == ZoneType::Dma));
    let e = pa.alloc_pages(Gfp::GFP_KERNEL, 10, 0, 0).unwrap_err();
    assert_eq!(e, MmError::OutOfMemory { request: "order-10 GFP_KERNEL on node 0".into() });
    check_consistency(&pa);
}

#[test]
fn typed_errors_leave_state_unchanged() {
    let mut pa = small(&no_defer());
    pa.setup_per_cpu_pageset();
    let p = pa.alloc_pages(Gfp::GFP_KERNEL, 2, 0, 0).unwrap();
    let w = pa.alloc_pages(Gfp::GFP_KERNEL, 10, 0, 0).unwrap();
    let s = snapshot(&pa);
    assert_eq!(pa.free_pages(p, 3, 0), Err(MmError::WrongOrder { pfn: p, given: 3, allocated: 2 }));
    assert_eq!(pa.free_pages(w, 3, 0), Err(MmError::WrongOrder { pfn: w, given: 3, allocated: 10 }));
    assert_eq!(pa.free_pages(p + 1, 0, 0), Err(MmError::NotAllocated { pfn: p + 1 }));
    assert_eq!(pa.free_pages(w + 8, 3, 0), Err(MmError::NotAllocated { pfn: w + 8 }));
    assert_eq!(pa.free_pages(0x50, 0, 0), Err(MmError::NotAllocated { pfn: 0x50 })); // reserved
    assert_eq!(pa.free_pages(0x9_0000, 0, 0), Err(MmError::PfnOutsideZone { pfn: 0x9_0000 }));
    assert_eq!(pa.free_pages(0, 0, 0), Err(MmError::PfnOutsideZone { pfn: 0 }));
    let free_pfn = pa.free_list(0, ZoneType::Dma32, 10, MigrateType::Movable).unwrap()[0];
    assert_eq!(pa.free_pages(free_pfn, 10, 0), Err(MmError::DoubleFree { pfn: free_pfn, order: 10 }));
    assert_eq!(pa.free_pages(free_pfn + 4, 0, 0), Err(MmError::DoubleFree { pfn: free_pfn + 4, order: 0 }));
    assert!(matches!(pa.free_pages(p, 11, 0), Err(MmError::InvalidArgument { .. })));
    assert!(matches!(pa.free_pages(p, 2, 7), Err(MmError::OutOfRange { .. })));
    assert!(matches!(pa.alloc_pages(Gfp::GFP_KERNEL, 11, 0, 0), Err(MmError::InvalidArgument { .. })));
    assert!(matches!(pa.alloc_pages(Gfp::GFP_KERNEL, 0, 5, 0), Err(MmError::NoSuchNode { nid: 5 })));
    assert!(matches!(
        pa.alloc_pages(Gfp::__GFP_DMA | Gfp::__GFP_DMA32, 0, 0, 0),
        Err(MmError::InvalidArgument { .. })
    ));
    assert!(matches!(
        pa.alloc_pages(Gfp::__GFP_MOVABLE | Gfp::__GFP_RECLAIMABLE, 0, 0, 0),
        Err(MmError::InvalidArgument { .. })
    ));
    // Batch with one bad entry frees nothing.
    assert!(pa.free_pages_bulk(&[p, p + 1], 2, 0).is_err());
    assert!(matches!(pa.free_pages_bulk(&[p, p], 2, 0), Err(MmError::DoubleFree { .. })));
    assert_eq!(snapshot(&pa), s);
    pa.free_pages(p, 2, 0).unwrap();
    assert_eq!(pa.free_pages(p, 2, 0), Err(MmError::DoubleFree { pfn: p, order: 2 }));
    // Order-0 page on a pcp list: double free too.
    let q = pa.alloc_pages(Gfp::GFP_KERNEL, 0, 0, 0).unwrap();
    pa.free_pages(q, 0, 0).unwrap();
    assert_eq!(pa.free_pages(q, 0, 0), Err(MmError::DoubleFree { pfn: q, order: 0 }));
    assert!(pa.is_free(q).unwrap());
    check_consistency(&pa);
}

#[test]
fn pcp_batch_and_high() {
    use crate::page_alloc::pcp::{zone_batchsize, zone_highsize};
    assert_eq!(zone_batchsize(499255), 63);
    assert_eq!(zone_batchsize(3840).max(1), 1);
    assert_eq!(zone_highsize(13971, 499255, 63, 0, 1, 1, false), 13971);
    assert_eq!(zone_highsize(107, 3840, 1, 0, 1, 1, false), 107);
    // 4g-2node, 2 cpus one per node.
    assert_eq!(zone_highsize(14025, 0, 63, 0, 1, 2, true), 14025);
    // Node without CPUs: 5.14 splits by 1, 6.1 by all online CPUs.
    assert_eq!(zone_highsize(1000, 0, 1, 0, 0, 4, false), 1000);
    assert_eq!(zone_highsize(1000, 0, 1, 0, 0, 4, true), 250);
}

#[test]
fn pcp_refill_and_drain() {
    let mut pa = small(&no_defer());
    pa.setup_per_cpu_pageset();
    let free0 = pa.nr_free_pages();
    let z = pa.zone_info(0, ZoneType::Dma32).unwrap();
    let batch = z.pagesets[0].2;
    let p = pa.alloc_pages(Gfp::GFP_KERNEL, 0, 0, 0).unwrap();
    assert_eq!(pa.nr_pcp_pages(), batch - 1);
    assert_eq!(pa.nr_free_pages(), free0 - batch);
    pa.free_pages(p, 0, 0).unwrap();
    assert_eq!(pa.nr_pcp_pages(), batch);
    check_consistency(&pa);
    pa.drain_pcp(None).unwrap();
    assert_eq!(pa.nr_pcp_pages(), 0);
    assert_eq!(pa.nr_free_pages(), free0);
    check_consistency(&pa);
}

#[test]
fn pcp_high_triggers_bulk_free() {
    let mut pa = small(&no_defer());
    pa.setup_per_cpu_pageset();
    let high = pa.zone_info(0, ZoneType::Dma32).unwrap().pagesets[0].1;
    let mut v = Vec::new();
    pa.alloc_pages_bulk(Gfp::GFP_KERNEL, 0, (high + 10) as usize, 0, 0, &mut v).unwrap();
    pa.free_pages_bulk(&v, 0, 0).unwrap();
    assert!(pa.nr_pcp_pages() < high);
    check_consistency(&pa);
}

#[test]
fn boot_pageset_passes_through() {
    let mut pa = small(&no_defer());
    let p = pa.alloc_pages(Gfp::GFP_KERNEL, 0, 0, 0).unwrap();
    assert_eq!(pa.nr_pcp_pages(), 0);
    pa.free_pages(p, 0, 0).unwrap();
    assert_eq!(pa.nr_pcp_pages(), 0);
}

#[test]
fn fallback_steals_whole_pageblock() {
    let mut pa = small(&no_defer());
    // All pageblocks are MOVABLE: an unmovable order-0 allocation falls
    // back, takes the largest movable block and claims its pageblock(s).
    let p = pa.alloc_pages(Gfp::GFP_KERNEL, 0, 0, 0).unwrap();
    assert_eq!(pa.pageblock_migratetype(p).unwrap(), MigrateType::Unmovable);
    // The rest of the stolen order-10 block is on unmovable lists now.
    let z = pa.zone_info(0, ZoneType::Dma32).unwrap();
    let unmov: u64 = (0..11).map(|o| z.free_by_type[o][MigrateType::Unmovable as usize] << o).sum();
    assert_eq!(unmov, 1023);
    check_consistency(&pa);
    // Next unmovable allocation is served from the unmovable lists.
    let q = pa.alloc_pages(Gfp::GFP_KERNEL, 0, 0, 0).unwrap();
    assert_eq!(q, p + 1);
    // Freed pages go to their pageblock's list and merge back.
    pa.free_pages(q, 0, 0).unwrap();
    pa.free_pages(p, 0, 0).unwrap();
    let z = pa.zone_info(0, ZoneType::Dma32).unwrap();
    assert_eq!(z.free_by_type[10][MigrateType::Unmovable as usize], 1);
    check_consistency(&pa);
    let s = pa.pagetypeinfo();
    assert!(s.contains("Node 0, zone    DMA32            2           22"), "{s}");
}

#[test]
fn movable_fallback_steals_pageblock_sized_block() {
    let mut pa = small(&no_defer());
    let u = pa.alloc_pages(Gfp::GFP_KERNEL, 0, 0, 0).unwrap();
    let mut mv = Vec::new();
    pa.alloc_pages_bulk(Gfp::GFP_HIGHUSER_MOVABLE, 10, 100, 0, 0, &mut mv).unwrap();
    assert_eq!(mv.len(), 11 + 3);
    // Movable order-0 now falls back to the unmovable order-9 block, which
    // is a whole pageblock: it changes type.
    let m = pa.alloc_pages(Gfp::GFP_HIGHUSER_MOVABLE, 0, 0, 0).unwrap();
    assert_eq!(m & !1023, u & !1023);
    assert_eq!(pa.pageblock_migratetype(m).unwrap(), MigrateType::Movable);
    assert_eq!(pa.pageblock_migratetype(u).unwrap(), MigrateType::Unmovable);
    check_consistency(&pa);
}

#[test]
fn watermarks_and_lowmem_reserve() {
    let cfg = no_defer();
    let mut pa = PageAlloc::new(&qemu_2g_layout(&cfg), &cfg).unwrap();
    pa.memblock_free_all(&[(0x100, 0x1000, 0), (0x4000, 0x7ffe0, 0)]).unwrap();
    // Give the zones the fixture's managed counts: DMA 3840, DMA32 499255.
    let d = 3840 - pa.zone_info(0, ZoneType::Dma).unwrap().managed as i64;
    pa.adjust_managed_page_count(0x200, d).unwrap();
    let d = 499255 - pa.zone_info(0, ZoneType::Dma32).unwrap().managed as i64;
    pa.adjust_managed_page_count(0x5000, d).unwrap();
    pa.setup_per_cpu_pageset();
    let k = pa.init_per_zone_wmark_min();
    // int_sqrt(lowmem_kbytes * 16)
    assert_eq!(k, crate::page_alloc::watermark::int_sqrt((3840 + 499255) * 4 * 16));
    pa.set_min_free_kbytes(45056).unwrap();
    let dma = pa.zone_info(0, ZoneType::Dma).unwrap();
    let dma32 = pa.zone_info(0, ZoneType::Dma32).unwrap();
    let pages_min = 45056 / 4;
    assert_eq!(dma.min, pages_min * 3840 / (3840 + 499255));
    assert_eq!(dma32.min, pages_min * 499255 / (3840 + 499255));
    for z in [&dma, &dma32] {
        let tmp = (z.min / 4).max(z.managed * 10 / 10000);
        assert_eq!((z.low, z.high), (z.min + tmp, z.min + 2 * tmp));
        assert_eq!(z.pagesets[0].1, z.low.max(4 * z.pagesets[0].2));
    }
    assert_eq!((dma32.low, dma32.pagesets[0].2), (dma32.min + dma32.min / 4, 63));
    assert_eq!(dma.protection, vec![0, 499255 / 256, 499255 / 256, 499255 / 256, 499255 / 256]);
    assert_eq!(dma32.protection, vec![0, 0, 0, 0, 0]);
    // GFP_DMA at DMA's watermarks: fine; a GFP_KERNEL that would fall back
    // into DMA is refused by the lowmem reserve.
    assert!(pa.alloc_pages(Gfp::GFP_DMA, 0, 0, 0).is_ok());
}

#[test]
fn watermark_blocks_allocation_then_high_and_atomic_relief() {
    let cfg = PageAllocConfig::uml();
    let l = free_area_init(&FreeAreaInitInput::uml(vec![(0, 0x4000, 0)], 0x64000), &cfg).unwrap();
    let mut pa = PageAlloc::new(&l, &cfg).unwrap();
    pa.memblock_free_all(&[(0x400, 0x4000, 0)]).unwrap();
    pa.set_min_free_kbytes(4 * 2000).unwrap();
    let z = pa.zone_info(0, ZoneType::Normal).unwrap();
    assert_eq!(z.min, 2000);
    let mut n = 0;
    while pa.alloc_pages(Gfp::GFP_KERNEL, 0, 0, 0).is_ok() {
        n += 1;
    }
    let free = pa.nr_free_pages();
    assert!(free <= z.min + 1 && free >= z.min - 1, "stopped at {free} after {n}");
    // __GFP_HIGH halves min; GFP_ATOMIC (HIGH + HARDER) goes further.
    assert!(pa.alloc_pages(Gfp::GFP_KERNEL | Gfp::__GFP_HIGH, 0, 0, 0).is_ok());
    while pa.alloc_pages(Gfp::GFP_KERNEL | Gfp::__GFP_HIGH, 0, 0, 0).is_ok() {}
    assert!(pa.nr_free_pages() <= z.min / 2 + 1);
    assert!(pa.alloc_pages(Gfp::GFP_ATOMIC, 0, 0, 0).is_ok());
    check_consistency(&pa);
}

#[test]
fn thisnode_and_multinode() {
    let regions = vec![(0x100, 0x8000, 0), (0x8000, 0x10000, 1)];
    let cfg = PageAllocConfig { nr_cpus: 2, cpu_to_node: vec![0, 1], ..no_defer() };
    let l = free_area_init(&FreeAreaInitInput::x86_64(regions.clone(), 0), &cfg).unwrap();
    let mut pa = PageAlloc::new(&l, &cfg).unwrap();
    pa.memblock_free_all(&regions).unwrap();
    let p = pa.alloc_pages(Gfp::GFP_KERNEL, 10, 1, 1).unwrap();
    assert_eq!(pa.page_zone(p).unwrap().nid, 1);
    let mut v = Vec::new();
    let n = pa.alloc_pages_bulk(Gfp::GFP_KERNEL | Gfp::__GFP_THISNODE, 10, 1000, 1, 1, &mut v).unwrap();
    assert_eq!(n, 31);
    assert!(v.iter().all(|&q| pa.page_zone(q).unwrap().nid == 1));
    // Without THISNODE it falls back to node 0.
    let q = pa.alloc_pages(Gfp::GFP_KERNEL, 10, 1, 1).unwrap();
    assert_eq!(pa.page_zone(q).unwrap().nid, 0);
    check_consistency(&pa);
}

#[test]
fn free_boot_pages_and_managed() {
    let mut pa = small(&no_defer());
    let t = pa.totalram_pages();
    let f = pa.nr_free_pages();
    assert_eq!(pa.free_boot_pages(0x20, 0x40).unwrap(), 0x20);
    assert_eq!(pa.totalram_pages(), t + 0x20);
    assert_eq!(pa.nr_free_pages(), f + 0x20);
    assert!(matches!(pa.free_boot_pages(0x20, 0x21), Err(MmError::DoubleFree { .. })));
    assert!(pa.free_boot_pages(0x90, 0xa0).is_err()); // crosses a hole
    assert!(matches!(pa.free_boot_pages(0x100, 0x101), Err(MmError::DoubleFree { .. })));
    check_consistency(&pa);
    pa.adjust_managed_page_count(0x200, -10).unwrap();
    assert_eq!(pa.totalram_pages(), t + 0x20 - 10);
    assert!(pa.adjust_managed_page_count(0x200, -(1 << 40)).is_err());
    // the kernel counts a gigantic page in the zone of its first page, even
    // when that zone holds fewer pages (ZONE_NORMAL of 4 MiB below a
    // kernelcore= ZONE_MOVABLE)
    let zone = pa.zone_info(0, ZoneType::Dma).unwrap();
    pa.adjust_managed_page_count(0x200, zone.present as i64 + 1).unwrap();
    assert!(pa.zone_info(0, ZoneType::Dma).unwrap().managed > zone.present);
}

#[test]
fn recorder_records_only_when_on() {
    let mut pa = small(&no_defer());
    let p = pa.alloc_pages(Gfp::GFP_KERNEL, 1, 0, 0).unwrap();
    assert!(pa.drain_events().is_empty());
    pa.set_recording(true);
    pa.free_pages(p, 1, 0).unwrap();
    let q = pa.alloc_pages(Gfp::GFP_KERNEL, 2, 0, 0).unwrap();
    let ev = pa.drain_events();
    assert_eq!(ev.len(), 2);
    assert_eq!((ev[0].kind, ev[0].pfn, ev[0].order), (AllocEventKind::Free, p, 1));
    assert_eq!((ev[1].kind, ev[1].pfn, ev[1].order, ev[1].gfp), (AllocEventKind::Alloc, q, 2, Gfp::GFP_KERNEL));
    assert_eq!(ev[1].zone, ZoneType::Dma32);
}

#[test]
fn gfp_names_and_helpers() {
    assert_eq!(Gfp::GFP_KERNEL.to_string(), "GFP_KERNEL");
    assert_eq!((Gfp::GFP_KERNEL | Gfp::__GFP_ZERO).to_string(), "GFP_KERNEL|__GFP_ZERO");
    assert_eq!(Gfp::GFP_ATOMIC.to_string(), "GFP_ATOMIC");
    assert_eq!(Gfp::GFP_HIGHUSER_MOVABLE.gfp_zone(), Ok(ZoneType::Movable));
    assert_eq!(Gfp::GFP_DMA32.gfp_zone(), Ok(ZoneType::Dma32));
    assert_eq!(Gfp::GFP_USER.gfp_zone(), Ok(ZoneType::Normal));
    assert_eq!(Gfp::GFP_HIGHUSER_MOVABLE.gfp_migratetype(), Ok(MigrateType::Movable));
    assert_eq!((Gfp::GFP_KERNEL | Gfp::__GFP_RECLAIMABLE).gfp_migratetype(), Ok(MigrateType::Reclaimable));
}

#[test]
fn uml_single_zone_allocates() {
    let cfg = PageAllocConfig::uml();
    let p = 0x8000u64;
    let l = free_area_init(&FreeAreaInitInput::uml(vec![(0, p, 0)], 0x60000 + p), &cfg).unwrap();
    let mut pa = PageAlloc::new(&l, &cfg).unwrap();
    pa.memblock_free_all(&[(0x1000, p, 0)]).unwrap();
    // GFP_DMA maps to Normal where there is no DMA zone.
    let a = pa.alloc_pages(Gfp::GFP_DMA, 3, 0, 0).unwrap();
    assert_eq!(pa.page_zone(a).unwrap().zone_type, ZoneType::Normal);
    let b = pa.alloc_pages(Gfp::GFP_KERNEL, 0, 0, 0).unwrap();
    pa.free_pages(a, 3, 0).unwrap();
    pa.free_pages(b, 0, 0).unwrap();
    check_consistency(&pa);
    assert_eq!(pa.nr_free_pages(), p - 0x1000);
}

#[test]
fn merge_likely_buddy_goes_to_tail() {
    let mut pa = small(&no_defer());
    // Take a whole order-10 block as four order-8 pieces A B C D.
    let a = pa.alloc_pages(Gfp::GFP_HIGHUSER_MOVABLE, 8, 0, 0).unwrap();
    let b = pa.alloc_pages(Gfp::GFP_HIGHUSER_MOVABLE, 8, 0, 0).unwrap();
    let c = pa.alloc_pages(Gfp::GFP_HIGHUSER_MOVABLE, 8, 0, 0).unwrap();
    let d = pa.alloc_pages(Gfp::GFP_HIGHUSER_MOVABLE, 8, 0, 0).unwrap();
    assert_eq!((b, c, d), (a + 256, a + 512, a + 768));
    // Another order-8 block X elsewhere on the list head.
    let x = pa.alloc_pages(Gfp::GFP_HIGHUSER_MOVABLE, 8, 0, 0).unwrap();
    let y = pa.alloc_pages(Gfp::GFP_HIGHUSER_MOVABLE, 8, 0, 0).unwrap();
    pa.free_pages(x, 8, 0).unwrap();
    // Free C and D: they merge into an order-9 block whose order-9 buddy
    // (A+B) is allocated: head of the list.
    pa.free_pages(c, 8, 0).unwrap();
    pa.free_pages(d, 8, 0).unwrap();
    assert_eq!(pa.free_list(0, ZoneType::Dma32, 9, MigrateType::Movable).unwrap()[0], c);
    // Free A: its buddy B is allocated, but the order-9 buddy (C+D) is
    // free, so A goes to the tail of the order-8 list.
    pa.free_pages(a, 8, 0).unwrap();
    let l8 = pa.free_list(0, ZoneType::Dma32, 8, MigrateType::Movable).unwrap();
    assert_eq!(*l8.last().unwrap(), a);
    assert_ne!(l8[0], a);
    let _ = y;
    check_consistency(&pa);
}

#[test]
fn atomic_high_order_reserves_highatomic_pageblock() {
    let cfg = PageAllocConfig::uml();
    let l = free_area_init(&FreeAreaInitInput::uml(vec![(0, 0x8000, 0)], 0x68000), &cfg).unwrap();
    let mut pa = PageAlloc::new(&l, &cfg).unwrap();
    pa.memblock_free_all(&[(0x400, 0x8000, 0)]).unwrap();
    // low watermark above what is free: the fast pass fails, the atomic
    // slow pass (min, HIGH|HARDER) succeeds and reserves a pageblock.
    pa.set_min_free_kbytes(4 * 0x6800).unwrap();
    let z = pa.zone_info(0, ZoneType::Normal).unwrap();
    assert!(z.low > pa.nr_free_pages() && z.min < pa.nr_free_pages(), "{z:?}");
    let p = pa.alloc_pages(Gfp::GFP_ATOMIC, 1, 0, 0).unwrap();
    assert_eq!(pa.pageblock_migratetype(p).unwrap(), MigrateType::HighAtomic);
    assert_eq!(pa.zone_info(0, ZoneType::Normal).unwrap().nr_reserved_highatomic, 1024);
    // The rest of that pageblock is on the HighAtomic lists now.
    let z = pa.zone_info(0, ZoneType::Normal).unwrap();
    let ha: u64 = (0..11).map(|o| z.free_by_type[o][MigrateType::HighAtomic as usize] << o).sum();
    assert_eq!(ha, 1022);
    check_consistency(&pa);
    pa.free_pages(p, 1, 0).unwrap();
    check_consistency(&pa);
}

#[test]
fn free_boot_pages_whole_blocks_with_descriptor() {
    let cfg = no_defer();
    let l = free_area_init(&FreeAreaInitInput::x86_64(vec![(0x100, 0x4000, 0)], 0), &cfg).unwrap();
    let mut pa = PageAlloc::new(&l, &cfg).unwrap();
    pa.memblock_free_all(&[(0x1000, 0x1800, 0)]).unwrap();
    // [0x1800, 0x2000) reserved inside a block with a descriptor.
    let f = pa.nr_free_pages();
    pa.free_boot_pages(0x1800, 0x3000).unwrap();
    assert_eq!(pa.nr_free_pages(), f + 0x1800);
    let z = pa.zone_info(0, ZoneType::Dma32).unwrap();
    assert_eq!(z.nr_free[10], 8);
    check_consistency(&pa);
}

#[test]
fn deferred_multinode_then_late_init_matches_undeferred() {
    let regions = vec![(0x1, 0x9f, 0), (0x100, 0x80000, 0), (0x80000, 0xbffe0, 1), (0x100000, 0x140000, 1)];
    let free = vec![(0x100, 0x1000, 0), (0x4000, 0x80000, 0), (0x80000, 0xbffe0, 1), (0x100000, 0x140000, 1)];
    let cfg = PageAllocConfig { nr_cpus: 2, cpu_to_node: vec![0, 1], ..Default::default() };
    let l = free_area_init(&FreeAreaInitInput::x86_64(regions.clone(), 158), &cfg).unwrap();
    let mut pa = PageAlloc::new(&l, &cfg).unwrap();
    pa.memblock_free_all(&free).unwrap();
    assert_eq!(pa.node_info(1).unwrap().first_deferred_pfn, Some(0x108000));
    // Node 1 has DMA32 fully and the first section of Normal.
    assert_eq!(pa.node_info(1).unwrap().nr_free_pages, (0xbffe0 - 0x80000) + 0x8000);
    // Deferred pages cannot be given back before init.
    assert!(matches!(pa.free_boot_pages(0x130000, 0x130001), Err(MmError::InvalidState(_))));
    let p = pa.alloc_pages(Gfp::GFP_KERNEL, 4, 1, 1).unwrap();
    pa.page_alloc_init_late(&free).unwrap();
    pa.free_pages(p, 4, 1).unwrap();
    let cfg2 = PageAllocConfig { deferred_struct_page_init: false, ..cfg.clone() };
    let l2 = free_area_init(&FreeAreaInitInput::x86_64(regions, 158), &cfg2).unwrap();
    let mut pb = PageAlloc::new(&l2, &cfg2).unwrap();
    pb.memblock_free_all(&free).unwrap();
    assert_eq!(pa.buddyinfo(), pb.buddyinfo());
    assert_eq!(pa.totalram_pages(), pb.totalram_pages());
    assert_eq!(pa.meminfo_kb(), pb.meminfo_kb());
    check_consistency(&pa);
}

#[test]
fn reserved_pages_past_the_deferred_cut_go_back_early() {
    // a reservation (say a kernel image KASLR put high) inside node 1's
    // deferred part: its struct pages are set up, so it may be freed
    // before deferred init; the free memory around it may not
    let regions = vec![(0x1, 0x9f, 0), (0x100, 0x80000, 0), (0x80000, 0xbffe0, 1), (0x100000, 0x140000, 1)];
    let free = vec![(0x100, 0x1000, 0), (0x4000, 0x80000, 0), (0x80000, 0xbffe0, 1), (0x100000, 0x120000, 1),
                    (0x121000, 0x140000, 1)];
    let cfg = PageAllocConfig { nr_cpus: 2, cpu_to_node: vec![0, 1], ..Default::default() };
    let l = free_area_init(&FreeAreaInitInput::x86_64(regions.clone(), 158), &cfg).unwrap();
    let mut pa = PageAlloc::new(&l, &cfg).unwrap();
    pa.memblock_free_all(&free).unwrap();
    assert_eq!(pa.node_info(1).unwrap().first_deferred_pfn, Some(0x108000));
    let before = pa.totalram_pages();
    assert_eq!(pa.free_boot_pages(0x120000, 0x121000).unwrap(), 0x1000);
    assert_eq!(pa.totalram_pages(), before + 0x1000);
    // twice is a double free; the deferred free memory beside it is refused by name
    assert!(matches!(pa.free_boot_pages(0x120000, 0x120001), Err(MmError::DoubleFree { .. })));
    let e = pa.free_boot_pages(0x11ffff, 0x120000).unwrap_err();
    assert!(e.to_string().contains("deferred init has not set up"), "{e}");
    pa.page_alloc_init_late(&free).unwrap();
    check_consistency(&pa);
    // the same machine without deferral, the reservation freed after boot
    let cfg2 = PageAllocConfig { deferred_struct_page_init: false, ..cfg.clone() };
    let l2 = free_area_init(&FreeAreaInitInput::x86_64(regions, 158), &cfg2).unwrap();
    let mut pb = PageAlloc::new(&l2, &cfg2).unwrap();
    pb.memblock_free_all(&free).unwrap();
    pb.free_boot_pages(0x120000, 0x121000).unwrap();
    assert_eq!(pa.totalram_pages(), pb.totalram_pages());
    assert_eq!(pa.meminfo_kb().1, pb.meminfo_kb().1);
}

#[test]
fn total_pages_and_recommended_min_free_kbytes() {
    let cfg = PageAllocConfig::default();
    let l = qemu_2g_layout(&cfg);
    let mut pa = PageAlloc::new(&l, &cfg).unwrap();
    assert_eq!(pa.build_all_zonelists(), (1, true, 515808));
    pa.memblock_free_all(&[(0x100, 0x1000, 0), (0x4000, 0x7ffe0, 0)]).unwrap();
    pa.page_alloc_init_late(&[(0x100, 0x1000, 0), (0x4000, 0x7ffe0, 0)]).unwrap();
    let d = 3840 - pa.zone_info(0, ZoneType::Dma).unwrap().managed as i64;
    pa.adjust_managed_page_count(0x200, d).unwrap();
    let d = 499255 - pa.zone_info(0, ZoneType::Dma32).unwrap().managed as i64;
    pa.adjust_managed_page_count(0x5000, d).unwrap();
    pa.init_per_zone_wmark_min();
    // khugepaged: 512*2*2 + 512*2*9 pages = 45056 kB.
    assert_eq!(pa.set_recommended_min_free_kbytes(), 45056);
    assert_eq!(pa.meminfo_kb().0, pa.totalram_pages() * 4);
    // Tiny machine: grouping by mobility off.
    let l = free_area_init(
        &FreeAreaInitInput::uml(vec![(0, 2000, 0)], 0x60000 + 2000),
        &PageAllocConfig::uml(),
    )
    .unwrap();
    assert!(!l.mobility_grouping);
    let mut pa = PageAlloc::new(&l, &PageAllocConfig::uml()).unwrap();
    assert!(!pa.build_all_zonelists().1);
}

#[test]
fn try_paths_match_the_full_ones_and_decline_without_side_effects() {
    let (mut a, mut b) = (small(&no_defer()), small(&no_defer()));
    for order in [0u32, 0, 3, 0, 9] {
        let got = a.try_alloc_pages(Gfp::GFP_KERNEL, order, 0, 0).unwrap();
        assert_eq!(got, b.alloc_pages(Gfp::GFP_KERNEL, order, 0, 0).unwrap());
        assert!(a.try_free_pages(got, order, 0));
        b.free_pages(got, order, 0).unwrap();
        assert_eq!(snapshot(&a), snapshot(&b));
    }
    let p = a.alloc_pages(Gfp::GFP_KERNEL, 2, 0, 0).unwrap();
    let before = snapshot(&a);
    // declined: a bad order, a bad cpu, the wrong order, a double free
    assert_eq!(a.try_alloc_pages(Gfp::GFP_KERNEL, 99, 0, 0), None);
    assert!(!a.try_free_pages(p, 2, 99));
    assert!(!a.try_free_pages(p, 1, 0));
    a.free_pages(p, 2, 0).unwrap();
    let after_free = snapshot(&a);
    assert!(!a.try_free_pages(p, 2, 0));
    assert_eq!(snapshot(&a), after_free);
    assert_ne!(before, after_free);
    // with event recording on they leave the work to the full path
    a.set_recording(true);
    assert_eq!(a.try_alloc_pages(Gfp::GFP_KERNEL, 0, 0, 0), None);
    assert_eq!(snapshot(&a), after_free);
}

/// memmap init makes a pageblock MOVABLE only when it initialises the
/// pageblock's first pfn. A pageblock starting in a hole, or in the deferred
/// part with its first pfn still reserved when deferred init runs, keeps the
/// zeroed bits (UNMOVABLE), and its free pages go to the unmovable lists:
/// the remainder of a percpu unit at the top of a node is where unmovable
/// allocations go first.
#[test]
fn pageblocks_memmap_init_never_started_stay_unmovable() {
    let cfg = PageAllocConfig::default();
    let mut pa = PageAlloc::new(&qemu_2g_layout(&cfg), &cfg).unwrap();
    // Reserved: [0x7da00, 0x7da3e) (a percpu unit) and [0x7dc00, 0x7ffe0).
    let free = [(0x100, 0x1000, 0), (0x4400, 0x7da00, 0), (0x7da3e, 0x7dc00, 0)];
    pa.memblock_free_all(&free).unwrap();
    let cut = pa.node_info(0).unwrap().first_deferred_pfn.unwrap();
    assert_eq!(cut, 0x10000);
    // pfn 0 is a hole: the DMA zone's first pageblock
    assert_eq!(pa.pageblock_migratetype(0x1).unwrap(), MigrateType::Unmovable);
    assert_eq!(pa.pageblock_migratetype(0x200).unwrap(), MigrateType::Movable);
    // early part: reserved first pfns were initialised all the same
    assert_eq!(pa.pageblock_migratetype(0x1000).unwrap(), MigrateType::Movable);
    // the deferred part is uninitialised until page_alloc_init_late
    assert_eq!(pa.pageblock_migratetype(0x20000).unwrap(), MigrateType::Unmovable);
    pa.page_alloc_init_late(&free).unwrap();
    assert_eq!(pa.pageblock_migratetype(0x20000).unwrap(), MigrateType::Movable);
    assert_eq!(pa.pageblock_migratetype(0x7d800).unwrap(), MigrateType::Movable);
    // the percpu unit's pageblock and the wholly reserved ones
    assert_eq!(pa.pageblock_migratetype(0x7da00).unwrap(), MigrateType::Unmovable);
    assert_eq!(pa.pageblock_migratetype(0x7dc00).unwrap(), MigrateType::Unmovable);
    let z = pa.zone_info(0, ZoneType::Dma32).unwrap();
    // the remainder [0x7da3e, 0x7dc00): orders 1, 6, 7, 8 on the unmovable lists
    for o in [1usize, 6, 7, 8] {
        assert_eq!(z.free_by_type[o][MigrateType::Unmovable as usize], 1, "order {o}");
    }
    // 0x7da00..0x7dc00 and 0x7dc00..0x80000 (the zone ends at 0x7ffe0):
    // 1 + 18 uninitialised pageblocks, plus the DMA zone's first one
    let blocks = |pa: &PageAlloc| pa.pagetypeinfo().lines().filter(|l| l.starts_with("Node 0, zone")).map(String::from).collect::<Vec<_>>();
    assert_eq!(blocks(&pa)[0], "Node 0, zone      DMA            1            7            0            0            0 ");
    assert_eq!(blocks(&pa)[1], "Node 0, zone    DMA32           19          997            0            0            0 ");
    // an unmovable order-0 allocation takes the smallest unmovable block
    // (order 1 at 0x7da3e) rather than stealing a movable one
    let p = pa.alloc_pages(Gfp::GFP_KERNEL, 0, 0, 0).unwrap();
    assert!((0x7da3e..0x7dc00).contains(&p), "got {p:#x}");
    // the pageblock keeps its type through descriptor take-over and frees
    pa.free_pages(p, 0, 0).unwrap();
    pa.drain_pcp(None).unwrap();
    assert_eq!(pa.pageblock_migratetype(0x7da00).unwrap(), MigrateType::Unmovable);
    assert_eq!(blocks(&pa)[1], "Node 0, zone    DMA32           19          997            0            0            0 ");
    check_consistency(&pa);
}

/// Requests without a node: the cpu's node by default; under interleave,
/// one node after the other, and a bulk request split evenly (the first
/// shares one larger), each share on the next node.
#[test]
fn memory_policy_picks_the_node_of_requests_without_one() {
    let regions = vec![(0x1, 0x9f, 0), (0x100, 0x80000, 0), (0x80000, 0xbffe0, 1), (0x100000, 0x140000, 1)];
    let cfg = PageAllocConfig { nr_cpus: 2, cpu_to_node: vec![0, 1], deferred_struct_page_init: false, ..Default::default() };
    let l = free_area_init(&FreeAreaInitInput::x86_64(regions, 158), &cfg).unwrap();
    let mut pa = PageAlloc::new(&l, &cfg).unwrap();
    pa.memblock_free_all(&[(0x100, 0x80000, 0), (0x80000, 0xbffe0, 1), (0x100000, 0x140000, 1)]).unwrap();
    let node = |pa: &PageAlloc, p: u64| pa.page_zone(p).unwrap().nid;
    let p = pa.alloc_pages_policy(Gfp::GFP_KERNEL, 0, 1).unwrap();
    assert_eq!(node(&pa, p), 1);
    assert_eq!(pa.local_node(1), Some(1));
    pa.set_mempolicy(MemPolicy::interleave(&[0, 1]).unwrap()).unwrap();
    assert_eq!(pa.local_node(1), None);
    let mut seq = Vec::new();
    for _ in 0..3 {
        let p = pa.alloc_pages_policy(Gfp::GFP_KERNEL, 2, 0).unwrap();
        seq.push(node(&pa, p));
    }
    assert_eq!(seq, [0, 1, 0]);
    let mut out = Vec::new();
    assert_eq!(pa.alloc_pages_bulk_policy(Gfp::GFP_KERNEL, 0, 101, 0, &mut out).unwrap(), 101);
    assert_eq!(out[..51].iter().filter(|&&p| node(&pa, p) == 1).count(), 51);
    assert_eq!(out[51..].iter().filter(|&&p| node(&pa, p) == 0).count(), 50);
    // a refused request leaves the interleave where it was
    assert!(pa.alloc_pages_policy(Gfp::GFP_KERNEL, 0, 7).is_err());
    assert_eq!(pa.policy_node(0), 1);
    assert!(matches!(pa.set_mempolicy(MemPolicy::interleave(&[0, 2]).unwrap()), Err(MmError::NoSuchNode { nid: 2 })));
    check_consistency(&pa);
}

/// A whole max-order block given back after boot (free_reserved_area) whose
/// pageblocks were never initialised goes to the unmovable list, and comes
/// back there when an unmovable top-order allocation takes and frees it.
#[test]
fn a_freed_block_of_uninitialised_pageblocks_stays_unmovable() {
    let cfg = PageAllocConfig::default();
    let mut pa = PageAlloc::new(&qemu_2g_layout(&cfg), &cfg).unwrap();
    let free = [(0x100, 0x1000, 0), (0x4400, 0x7dc00, 0)];
    pa.memblock_free_all(&free).unwrap();
    pa.page_alloc_init_late(&free).unwrap();
    assert_eq!(pa.pageblock_migratetype(0x7dc00).unwrap(), MigrateType::Unmovable);
    let top = |pa: &PageAlloc| pa.zone_info(0, ZoneType::Dma32).unwrap().free_by_type[10];
    let before = top(&pa);
    pa.free_boot_pages(0x7dc00, 0x7e000).unwrap();
    let after = top(&pa);
    assert_eq!(after[MigrateType::Unmovable as usize], before[MigrateType::Unmovable as usize] + 1);
    assert_eq!(after[MigrateType::Movable as usize], before[MigrateType::Movable as usize]);
    let p = pa.alloc_pages(Gfp::GFP_KERNEL, 10, 0, 0).unwrap();
    assert_eq!(p, 0x7dc00);
    pa.free_pages(p, 10, 0).unwrap();
    assert_eq!(top(&pa), after);
    assert_eq!(pa.pageblock_migratetype(0x7de00).unwrap(), MigrateType::Unmovable);
    check_consistency(&pa);
}

/// A q35 machine with 2 GiB below 4 GiB and 2 GiB above, whose 1 GiB
/// gigantic page holds the first section of Normal: at memblock_free_all
/// Normal has no free page, so the first request grows it from the free
/// memory after the page (deferred_grow_zone) instead of falling back.
fn q35_4g_gigantic() -> (PageAlloc, Vec<(u64, u64, u32)>) {
    let regions = vec![(0x1, 0x9f, 0), (0x100, 0x7ffdf, 0), (0x100000, 0x180000, 0)];
    let free = vec![(0x100, 0x1000, 0), (0x4000, 0x7f000, 0), (0x140000, 0x17f000, 0)];
    let cfg = PageAllocConfig::default();
    let l = free_area_init(&FreeAreaInitInput::x86_64(regions, 158), &cfg).unwrap();
    let mut pa = PageAlloc::new(&l, &cfg).unwrap();
    pa.memblock_free_all(&free).unwrap();
    (pa, free)
}

#[test]
fn a_zone_with_no_free_page_grows_by_a_section() {
    let (mut pa, free) = q35_4g_gigantic();
    assert_eq!(pa.node_info(0).unwrap().first_deferred_pfn, Some(0x108000));
    assert_eq!(pa.zone_info(0, ZoneType::Normal).unwrap().nr_free_pages, 0);
    let p = pa.alloc_pages(Gfp::GFP_KERNEL, 0, 0, 0).unwrap();
    // from Normal: the section after the gigantic page, freed whole
    assert!((0x140000..0x148000).contains(&p), "{p:#x}");
    assert_eq!(pa.node_info(0).unwrap().first_deferred_pfn, Some(0x148000));
    let normal = pa.zone_info(0, ZoneType::Normal).unwrap();
    assert_eq!(normal.managed, 0x8000);
    assert_eq!(normal.nr_free_pages + 1, 0x8000);
    // its pageblocks were set up MOVABLE
    assert_eq!(pa.pageblock_migratetype(0x147e00).unwrap(), MigrateType::Movable);
    // deferred init frees only the rest, once
    let late = pa.page_alloc_init_late(&free).unwrap();
    assert_eq!(late, 0x17f000 - 0x148000);
    pa.free_pages(p, 0, 0).unwrap();
    check_consistency(&pa);
    let cfg2 = no_defer();
    let l2 = free_area_init(&FreeAreaInitInput::x86_64(
        vec![(0x1, 0x9f, 0), (0x100, 0x7ffdf, 0), (0x100000, 0x180000, 0)], 158), &cfg2).unwrap();
    let mut pb = PageAlloc::new(&l2, &cfg2).unwrap();
    pb.memblock_free_all(&free).unwrap();
    assert_eq!(pa.totalram_pages(), pb.totalram_pages());
    assert_eq!(pa.zone_info(0, ZoneType::Normal).unwrap().managed,
               pb.zone_info(0, ZoneType::Normal).unwrap().managed);
}

#[test]
fn a_big_request_grows_by_whole_sections_and_an_empty_tail_stops_growth() {
    let (mut pa, free) = q35_4g_gigantic();
    // order 10 needs one section too; free memory runs out at 0x17f000
    pa.alloc_pages(Gfp::GFP_KERNEL, 10, 0, 0).unwrap();
    assert_eq!(pa.node_info(0).unwrap().first_deferred_pfn, Some(0x148000));
    // take the whole of Normal: it grows section by section, then the
    // node has nothing deferred left and requests fall back to DMA32
    let mut got = vec![];
    loop {
        let p = pa.alloc_pages(Gfp::GFP_KERNEL, 10, 0, 0).unwrap();
        got.push(p);
        if p < 0x100000 {
            break;
        }
    }
    assert_eq!(pa.node_info(0).unwrap().first_deferred_pfn, None);
    assert_eq!(pa.page_alloc_init_late(&free).unwrap(), 0);
    check_consistency(&pa);
}

#[test]
fn pcp_high_is_split_over_the_online_cpus_of_the_node() {
    let regions = vec![(0x100, 0x8000, 0), (0x8000, 0x10000, 1)];
    let cfg = PageAllocConfig { nr_cpus: 4, kernel: crate::memblock::KernelVersion::V6_1, ..no_defer() };
    let l = free_area_init(&FreeAreaInitInput::x86_64(regions.clone(), 0), &cfg).unwrap();
    let mut pa = PageAlloc::new(&l, &cfg).unwrap();
    pa.memblock_free_all(&regions).unwrap();
    pa.setup_per_cpu_pageset();
    pa.init_per_zone_wmark_min();
    // (high of cpu 0's list, the zone's low watermark, batch) of node nid's populated zone
    let pcp = |pa: &PageAlloc, nid: u32| {
        let z = pa.zone_infos().into_iter().find(|z| z.nid == nid && z.managed > 0).unwrap();
        (z.pagesets[0].1, z.low, z.pagesets[0].2)
    };
    let split = |low: u64, batch: u64, cpus: u64| (low / cpus).max(batch << 2);
    // until told, every CPU is on node 0 and online: node 1 has none, so all 4
    let (h0, low0, b0) = pcp(&pa, 0);
    let (h1, low1, b1) = pcp(&pa, 1);
    assert_eq!((h0, h1), (split(low0, b0, 4), split(low1, b1, 4)));
    pa.set_cpu_to_node(&[0, 0, 1, 1]).unwrap();
    assert_eq!(pa.nr_online_cpus(), 4);
    assert_eq!((pcp(&pa, 0).0, pcp(&pa, 1).0), (split(low0, b0, 2), split(low1, b1, 2)));
    pa.set_online_cpus(3, &[2, 1]).unwrap();
    assert_eq!((pcp(&pa, 0).0, pcp(&pa, 1).0), (split(low0, b0, 2), split(low1, b1, 1)));
    // a node with no online CPU splits over all of them
    pa.set_online_cpus(2, &[2, 0]).unwrap();
    assert_eq!(pcp(&pa, 1).0, split(low1, b1, 2));
    // zoneinfo shows the online CPUs' pagesets only
    let populated = pa.zone_infos().iter().filter(|z| z.present > 0).count();
    assert_eq!(pa.zoneinfo().matches("\n    cpu: ").count(), 2 * populated);
    // refused, changing nothing
    let before = pa.zoneinfo();
    assert!(pa.set_online_cpus(0, &[]).is_err());
    assert!(pa.set_online_cpus(5, &[]).is_err());
    assert!(pa.set_online_cpus(2, &[1, 1, 1]).is_err());
    assert!(pa.set_cpu_to_node(&[0, 2]).is_err());
    assert!(pa.set_cpu_to_node(&[0, 0, 0, 0, 0]).is_err());
    assert_eq!(pa.zoneinfo(), before);
    check_consistency(&pa);
}

#[test]
fn the_vm_stats_threshold_is_the_last_refreshs() {
    let regions = vec![(0x100, 0x20000, 0)];
    let cfg = PageAllocConfig { nr_cpus: 2, ..no_defer() };
    let l = free_area_init(&FreeAreaInitInput::x86_64(regions.clone(), 0), &cfg).unwrap();
    let mut pa = PageAlloc::new(&l, &cfg).unwrap();
    // under 128 MiB first; the rest comes later, as firmware memory would
    pa.memblock_free_all(&[(0x100, 0x7000, 0)]).unwrap();
    pa.setup_per_cpu_pageset();
    let threshold = |pa: &PageAlloc| -> Vec<String> {
        pa.zoneinfo().lines().filter_map(|l| l.strip_prefix("  vm stats threshold: ").map(str::to_string)).collect()
    };
    assert!(threshold(&pa).iter().all(|t| t == "0")); // not refreshed yet
    pa.init_per_zone_wmark_min();
    // 2 × fls(2 CPUs) × (1 + fls(managed / 128 MiB)): under 128 MiB, 4
    assert!(threshold(&pa).iter().any(|t| t == "4"));
    pa.free_boot_pages(0x7000, 0x20000).unwrap();
    let before = threshold(&pa);
    assert!(before.iter().all(|t| t != "12"));
    // a CPU going offline or online refreshes it: now 2 × 1 × (1 + fls(3))
    pa.set_online_cpus(1, &[1]).unwrap();
    assert!(threshold(&pa).iter().any(|t| t == "6"));
}
