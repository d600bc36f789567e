use super::*;

#[test]
fn qemu_2g_zone_ranges_and_sizes() {
    let l = qemu_2g_layout(&PageAllocConfig::default());
    let r: Vec<_> = l.zone_ranges.iter().map(|z| (z.zone_type, z.start_pfn, z.end_pfn)).collect();
    assert_eq!(
        r,
        vec![
            (ZoneType::Dma, 0x1, 0x1000),
            (ZoneType::Dma32, 0x1000, 0x7ffe0),
            (ZoneType::Normal, 0x7ffe0, 0x7ffe0),
            (ZoneType::Device, 0x7ffe0, 0x7ffe0),
        ]
    );
    assert!(l.zone_ranges[2].is_empty());
    let n = &l.nodes[0];
    assert_eq!((n.start_pfn, n.end_pfn), (0x1, 0x7ffe0));
    let dma = &n.zones[0];
    assert_eq!((dma.spanned, dma.present, dma.absent), (4095, 3998, 97));
    assert_eq!(dma.memmap_pages, 64);
    assert_eq!(dma.managed_estimate, 3776);
    let dma32 = &n.zones[1];
    assert_eq!((dma32.start_pfn, dma32.spanned, dma32.present), (0x1000, 520160, 520160));
    assert_eq!(dma32.memmap_pages, 8128);
    assert_eq!(dma32.managed_estimate, 520160 - 8128);
    assert_eq!(l.total_pages, 515808);
    assert!(l.mobility_grouping);
    assert_eq!(l.nr_kernel_pages, 515808);
    assert_eq!(l.nr_all_pages, 515808);
}

#[test]
fn qemu_2g_unavailable_ranges() {
    let l = qemu_2g_layout(&PageAllocConfig::default());
    let u: Vec<_> = l.unavailable.iter().map(|u| (u.nid, u.zone_type, u.pages)).collect();
    assert_eq!(u, vec![(0, ZoneType::Dma, 1), (0, ZoneType::Dma, 97), (0, ZoneType::Dma32, 32)]);
}

#[test]
fn qemu_2g_deferred_cut() {
    let l = qemu_2g_layout(&PageAllocConfig::default());
    assert_eq!(l.nodes[0].first_deferred_pfn, Some(0x10000));
    let l = qemu_2g_layout(&no_defer());
    assert_eq!(l.nodes[0].first_deferred_pfn, None);
    // 6.1 with early_page_ext never defers; 5.14 ignores the flag.
    let cfg = PageAllocConfig { early_page_ext: true, ..PageAllocConfig::linux_6_1() };
    assert_eq!(qemu_2g_layout(&cfg).nodes[0].first_deferred_pfn, None);
    let cfg = PageAllocConfig { early_page_ext: true, ..Default::default() };
    assert_eq!(qemu_2g_layout(&cfg).nodes[0].first_deferred_pfn, Some(0x10000));
}

#[test]
fn qemu_256m_not_deferred() {
    // DMA32 ends at 0xffe0, before the first section-aligned pfn past 32768.
    let l = free_area_init(
        &FreeAreaInitInput::x86_64(vec![(0x1, 0x9f, 0), (0x100, 0xffe0, 0)], 158),
        &PageAllocConfig::default(),
    )
    .unwrap();
    assert_eq!(l.nodes[0].first_deferred_pfn, None);
}

#[test]
fn memmap_hole_skips_empty_section_and_defer_skips_hole() {
    // 1g-memmap: memmap=128M$0x10000000 makes 0x10000-0x17fff a hole that is
    // a whole empty section; the deferred cut lands at 0x18000.
    let regions = vec![(0x1, 0x9f, 0), (0x100, 0x10000, 0), (0x18000, 0x3ffe0, 0)];
    let l = free_area_init(&FreeAreaInitInput::x86_64(regions, 158), &PageAllocConfig::default()).unwrap();
    let u: Vec<_> = l.unavailable.iter().map(|u| (u.zone_type, u.pages)).collect();
    assert_eq!(u, vec![(ZoneType::Dma, 1), (ZoneType::Dma, 97), (ZoneType::Dma32, 32)]);
    assert_eq!(l.nodes[0].first_deferred_pfn, Some(0x18000));
    // present uses calc_memmap_size's "present" branch? spanned 0x3efe0 vs
    // present 0x36fe0: 0x36fe0 + 0x36fe/16... not > so spanned is used.
    let z = &l.nodes[0].zones[1];
    assert_eq!(z.present, 0x3efe0 - 0x8000);
}

#[test]
fn q35_3g_normal_hole() {
    // Normal gets the 33 pfns of the hole that lie in a present section.
    let regions = vec![(0x1, 0x9f, 0), (0x100, 0x7ffdf, 0), (0x100000, 0x140000, 0)];
    let l = free_area_init(&FreeAreaInitInput::x86_64(regions, 158), &PageAllocConfig::default()).unwrap();
    let u: Vec<_> = l.unavailable.iter().map(|u| (u.zone_type, u.pages)).collect();
    assert_eq!(u, vec![(ZoneType::Dma, 1), (ZoneType::Dma, 97), (ZoneType::Normal, 33)]);
    assert_eq!(l.nodes[0].first_deferred_pfn, Some(0x108000));
    assert_eq!(l.total_pages, 773855);
}

#[test]
fn two_nodes_cuts() {
    // 4g-2node: node 0 [0x1, 0x80000), node 1 [0x80000, 0xbffe0) + above 4G.
    let regions = vec![(0x1, 0x9f, 0), (0x100, 0x80000, 0), (0x80000, 0xbffe0, 1), (0x100000, 0x140000, 1)];
    let l = free_area_init(&FreeAreaInitInput::x86_64(regions, 158), &PageAllocConfig::default()).unwrap();
    assert_eq!(l.nodes[0].first_deferred_pfn, Some(0x10000));
    assert_eq!(l.nodes[1].first_deferred_pfn, Some(0x108000));
    let u: Vec<_> = l.unavailable.iter().map(|u| (u.nid, u.zone_type, u.pages)).collect();
    assert_eq!(u, vec![(0, ZoneType::Dma, 1), (0, ZoneType::Dma, 97), (1, ZoneType::Normal, 32)]);
    assert_eq!(l.total_pages, 1031904);
}

#[test]
fn uml_flatmem() {
    // UML mem=32M-ish: P pages, Total = P - ceil(P*64/4096), no tail line.
    let p = 0x266f2u64;
    let l = free_area_init(
        &FreeAreaInitInput::uml(vec![(0, p, 0)], (0x60000000 >> 12) + p),
        &PageAllocConfig::uml(),
    )
    .unwrap();
    assert_eq!(l.total_pages, p - (p * 64).div_ceil(4096));
    assert!(l.unavailable.is_empty());
    assert_eq!(l.nodes[0].first_deferred_pfn, None);
    assert_eq!(l.nodes[0].zones[0].spanned, p);
}

#[test]
fn bad_inputs_are_errors() {
    let cfg = PageAllocConfig::default();
    let mut i = FreeAreaInitInput::x86_64(vec![(0x100, 0x80, 0)], 0);
    assert!(free_area_init(&i, &cfg).is_err());
    i.regions = vec![(0x100, 0x200, 0), (0x150, 0x300, 0)];
    assert!(free_area_init(&i, &cfg).is_err());
    i.regions = vec![(0x100, 0x200, 3)];
    assert!(matches!(free_area_init(&i, &cfg), Err(crate::MmError::NoSuchNode { .. })));
    let bad = PageAllocConfig { pageblock_order: 11, ..Default::default() };
    assert!(free_area_init(&FreeAreaInitInput::x86_64(qemu_2g_regions(), 0), &bad).is_err());
    let mut m = FreeAreaInitInput::x86_64(qemu_2g_regions(), 0);
    m.movable.kernelcore_percent = Some(101);
    assert!(free_area_init(&m, &cfg).is_err());
}

fn movable_layout(regions: Vec<(u64, u64, u32)>, f: impl FnOnce(&mut MovableZoneConfig)) -> ZoneLayout {
    let mut input = FreeAreaInitInput::x86_64(regions, 158);
    f(&mut input.movable);
    free_area_init(&input, &PageAllocConfig::default()).unwrap()
}

fn spans(l: &ZoneLayout, nid: usize) -> Vec<(ZoneType, u64, u64, u64)> {
    l.nodes[nid].zones.iter().map(|z| (z.zone_type, z.start_pfn, z.spanned, z.present)).collect()
}

#[test]
fn movablecore_takes_the_top_of_the_highest_zone() {
    // QEMU -m 2G, movablecore=512M: 131072 pages (a multiple of 1024) leave
    // 524158 - 131072 = 393086 kernel pages; DMA's 3998 count below DMA32,
    // the rest of DMA32 is walked from 0x1000 and rounded up to MAX_ORDER.
    let l = movable_layout(qemu_2g_regions(), |m| m.movablecore_pages = Some(131072));
    assert_eq!(l.movable_zone_start, vec![(0, 0x60000)]);
    let z = spans(&l, 0);
    assert_eq!(z[1], (ZoneType::Dma32, 0x1000, 0x5f000, 0x5f000));
    assert_eq!(z[3], (ZoneType::Movable, 0x60000, 0x1ffe0, 0x1ffe0));
    // deferral moves to ZONE_MOVABLE, the node's last zone: DMA32 is whole
    assert_eq!(l.nodes[0].first_deferred_pfn, Some(0x68000));
    // the tail hole of the section belongs to ZONE_MOVABLE now
    assert_eq!(l.unavailable.last().map(|u| (u.zone_type, u.pages)), Some((ZoneType::Movable, 32)));
    assert_eq!(l.total_pages, qemu_2g_layout(&PageAllocConfig::default()).total_pages);
}

#[test]
fn kernelcore_below_the_normal_zone_moves_all_of_it() {
    // QEMU -m 4G: 3 GiB below 4 GiB, 1 GiB above; kernelcore=1G is met by
    // DMA and DMA32, so ZONE_MOVABLE starts where Normal does.
    let regions = vec![(0x1, 0x9f, 0), (0x100, 0xbffe0, 0), (0x100000, 0x140000, 0)];
    let l = movable_layout(regions, |m| m.kernelcore_pages = Some(0x40000));
    assert_eq!(l.movable_zone_start, vec![(0, 0x100000)]);
    let z = spans(&l, 0);
    assert_eq!((z[2].1, z[2].2, z[2].3), (0, 0, 0), "Normal is empty");
    assert_eq!(z[3], (ZoneType::Movable, 0x100000, 0x40000, 0x40000));
}

#[test]
fn kernelcore_is_spread_over_the_nodes() {
    // Node 0: 3 GiB below 4 GiB and 1 GiB of Normal; node 1: 4 GiB of
    // Normal. kernelcore=50% asks 2097022 * 50 / 100 = 1048511 pages, 524255
    // a node. Node 0's low memory (786302 pages) more than covers its share
    // but only counts as kernel memory; node 1 then needs 262209 / 2 =
    // 131104 (pfn 0x160020). A second pass with one node gives the 131105
    // still missing to node 0's Normal memory (pfn 0x120021). Both round up
    // to MAX_ORDER blocks.
    let regions = vec![(0x1, 0x9f, 0), (0x100, 0xbffe0, 0), (0x100000, 0x140000, 0), (0x140000, 0x240000, 1)];
    let l = movable_layout(regions, |m| m.kernelcore_percent = Some(50));
    assert_eq!(l.movable_zone_start, vec![(0, 0x120400), (1, 0x160400)]);
    let z0 = spans(&l, 0);
    assert_eq!(z0[2], (ZoneType::Normal, 0x100000, 0x20400, 0x20400));
    assert_eq!(z0[3], (ZoneType::Movable, 0x120400, 0x1fc00, 0x1fc00));
    let z1 = spans(&l, 1);
    assert_eq!(z1[2], (ZoneType::Normal, 0x140000, 0x20400, 0x20400));
    assert_eq!(z1[3], (ZoneType::Movable, 0x160400, 0xdfc00, 0xdfc00));
}

#[test]
fn no_movable_zone_when_kernelcore_covers_everything_or_movable_node() {
    let l = movable_layout(qemu_2g_regions(), |m| m.kernelcore_pages = Some(1 << 30));
    assert!(l.movable_zone_start.is_empty());
    let l = movable_layout(qemu_2g_regions(), |m| {
        m.movable_node = true;
        m.kernelcore_pages = Some(1);
    });
    assert!(l.movable_zone_start.is_empty());
    assert_eq!(l, qemu_2g_layout(&PageAllocConfig::default()));
}

#[test]
fn kernelcore_mirror_makes_each_nodes_memory_from_4g_movable() {
    // The mix5 real boot: node 0 below 1 GiB, node 1 from 1 GiB with its
    // second range at 4 GiB. Nothing is mirrored, so node 1 is movable from
    // 4 GiB; node 0 has no range there and no ZONE_MOVABLE. movablecore= is
    // ignored beside kernelcore=mirror.
    let regions = vec![(0x1, 0x9f, 0), (0x100, 0x40000, 0), (0x40000, 0xbffe0, 1), (0x100000, 0x140000, 1)];
    let l = movable_layout(regions.clone(), |m| {
        m.mirror = true;
        m.movablecore_pages = Some(0x1000);
    });
    assert_eq!(l.movable_zone_start, vec![(1, 0x100000)]);
    let z1 = spans(&l, 1);
    assert_eq!(z1[2].2, 0, "Normal is empty: it starts where Movable does");
    assert_eq!(z1[3], (ZoneType::Movable, 0x100000, 0x40000, 0x40000));
    // the hole before 4 GiB is reported in the zone memmap_init is in: Movable
    assert_eq!(l.unavailable.last().map(|u| (u.nid, u.zone_type, u.pages)), Some((1, ZoneType::Movable, 32)));
    // movable_node wins over kernelcore=mirror
    let l = movable_layout(regions, |m| {
        m.mirror = true;
        m.movable_node = true;
    });
    assert!(l.movable_zone_start.is_empty());
}

#[test]
fn kernelcore_mirror_refuses_a_normal_zone_overlapping_movable() {
    // one range crosses 4 GiB, a later one starts at 6 GiB: the kernel's
    // ZONE_NORMAL would span 4 GiB..8 GiB with nothing present, leaving
    // 4..5 GiB in no zone
    let mut input = FreeAreaInitInput::x86_64(vec![(0x100, 0x140000, 0), (0x180000, 0x200000, 0)], 0);
    input.movable.mirror = true;
    let err = free_area_init(&input, &PageAllocConfig::default()).unwrap_err();
    assert!(err.to_string().contains("kernelcore=mirror"), "{err}");
    // all memory below 4 GiB: nothing movable
    let l = movable_layout(qemu_2g_regions(), |m| m.mirror = true);
    assert!(l.movable_zone_start.is_empty());
}

#[test]
fn movable_node_makes_each_node_movable_from_its_hotpluggable_memory() {
    // node 1 has 4..6 GiB hotpluggable, from a region starting off a
    // MAX_ORDER boundary; node 0 none. kernelcore= is ignored.
    let regions = vec![(0x1, 0x9f, 0), (0x100, 0xbffe0, 0), (0x100000, 0x140000, 1), (0x140000, 0x180000, 1)];
    let l = movable_layout(regions.clone(), |m| {
        m.movable_node = true;
        m.kernelcore_pages = Some(1);
        m.hotplug_regions = vec![(0x140001, 1)];
    });
    assert_eq!(l.movable_zone_start, vec![(1, 0x140400)]);
    let z1 = spans(&l, 1);
    assert_eq!(z1[2], (ZoneType::Normal, 0x100000, 0x40400, 0x40400));
    assert_eq!(z1[3], (ZoneType::Movable, 0x140400, 0x3fc00, 0x3fc00));
    // nothing hotpluggable: nothing moves
    let l = movable_layout(regions, |m| m.movable_node = true);
    assert!(l.movable_zone_start.is_empty());
}
