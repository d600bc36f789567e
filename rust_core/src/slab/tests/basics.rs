//! Layout, order, boot caches, kmalloc size classes, slabinfo format.

use super::{boot, check_pages};
use crate::memblock::KernelVersion;
use crate::slab::cache::{calculate_alignment, calculate_layout, cpu_partial_for, min_partial_for};
use crate::slab::kmalloc::{kmalloc_cache_name, kmalloc_index};
use crate::slab::order::{calculate_order, get_order, OrderParams};
use crate::slab::*;
use crate::MmError;

fn params(cpus: u32) -> OrderParams {
    OrderParams { min_order: 0, max_order: 3, min_objects: 0, nr_cpu_ids: cpus }
}

/// (size, objects, pages) derived by hand from calculate_order of 5.14/6.1.
const KMALLOC_1CPU: [(u32, u32, u32); 13] = [
    (8, 512, 1),
    (16, 256, 1),
    (32, 128, 1),
    (64, 64, 1),
    (96, 42, 1),
    (128, 32, 1),
    (192, 21, 1),
    (256, 16, 1),
    (512, 8, 1),
    (1024, 8, 2),
    (2048, 8, 4),
    (4096, 8, 8),
    (8192, 4, 8),
];
const KMALLOC_2CPU: [(u32, u32, u32); 13] = [
    (8, 512, 1),
    (16, 256, 1),
    (32, 128, 1),
    (64, 64, 1),
    (96, 42, 1),
    (128, 32, 1),
    (192, 21, 1),
    (256, 16, 1),
    (512, 16, 2),
    (1024, 16, 4),
    (2048, 16, 8),
    (4096, 8, 8),
    (8192, 4, 8),
];

#[test]
fn order_of_kmalloc_sizes() {
    for (cpus, table) in [(1, &KMALLOC_1CPU), (2, &KMALLOC_2CPU)] {
        for &(size, objs, pages) in table.iter() {
            let o = calculate_order(size, &params(cpus)).unwrap();
            assert_eq!((4096u32 << o) / size, objs, "size {size} cpus {cpus}");
            assert_eq!(1 << o, pages, "size {size} cpus {cpus}");
        }
    }
    // Many CPUs: min_objects 4*(fls(64)+1) = 32.
    let p = params(64);
    assert_eq!(calculate_order(192, &p), Some(1));
    assert_eq!(calculate_order(1024, &p), Some(3));
    // Too big for slub_max_order: a single object in a higher order.
    assert_eq!(calculate_order(40000, &p), Some(4));
    assert_eq!(calculate_order(0, &p), None);
    assert_eq!(calculate_order(u32::MAX, &p), None);
    assert_eq!(get_order(1), 0);
    assert_eq!(get_order(4097), 1);
    assert_eq!(get_order(8193), 2);
}

#[test]
fn boot_kmalloc_caches_match_derived_slabinfo() {
    for version in [KernelVersion::V5_14, KernelVersion::V6_1] {
        for (cpus, table) in [(1, &KMALLOC_1CPU), (2, &KMALLOC_2CPU)] {
            let mut cfg = SlabConfig::new(version);
            cfg.nr_cpu_ids = cpus;
            let (a, src) = boot(cfg);
            for (i, &(size, objs, pages)) in table.iter().enumerate() {
                let index = kmalloc_index(size as u64);
                for ty in KmallocType::ALL {
                    let id = a.kmalloc_cache(ty, index).unwrap();
                    let s = a.cache_stats(id).unwrap();
                    assert_eq!(s.name, kmalloc_cache_name(ty, index), "{i}");
                    assert_eq!((s.objsize, s.objperslab, s.pagesperslab), (size, objs, pages), "{}", s.name);
                }
            }
            check_pages(&a, &src);
        }
    }
}

#[test]
fn boot_caches_and_order_in_slabinfo() {
    let (a, _src) = boot(SlabConfig::v6_1());
    let names: Vec<String> = a.all_stats().into_iter().map(|s| s.name).collect();
    assert_eq!(names.len(), 2 + 4 * 13);
    assert_eq!(&names[names.len() - 2..], ["kmem_cache_node", "kmem_cache"]);
    let tail: Vec<&str> = names[names.len() - 15..names.len() - 2].iter().map(|s| s.as_str()).collect();
    assert_eq!(
        tail,
        [
            "kmalloc-8k",
            "kmalloc-4k",
            "kmalloc-2k",
            "kmalloc-1k",
            "kmalloc-512",
            "kmalloc-256",
            "kmalloc-192",
            "kmalloc-128",
            "kmalloc-96",
            "kmalloc-64",
            "kmalloc-32",
            "kmalloc-16",
            "kmalloc-8"
        ]
    );
    // 6.1: the DMA caches are created in the type loop, 8 first.
    assert_eq!(names[0], "dma-kmalloc-8k");
    assert_eq!(names[12], "dma-kmalloc-8");
    assert_eq!(names[13], "kmalloc-rcl-8k");
    assert_eq!(names[26], "kmalloc-cg-8k");
    // 5.14: created afterwards in index order: 96, 192, 8, ... 8k.
    let (b, _) = boot(SlabConfig::v5_14());
    let names: Vec<String> = b.all_stats().into_iter().map(|s| s.name).collect();
    assert_eq!(names[0], "dma-kmalloc-8k");
    assert_eq!(names[10], "dma-kmalloc-8");
    assert_eq!(names[11], "dma-kmalloc-192");
    assert_eq!(names[12], "dma-kmalloc-96");

    // Boot metadata: one kmem_cache object per cache, one kmem_cache_node
    // object per cache and node.
    let kc = a.cache_stats(a.kmem_cache_cache()).unwrap();
    assert_eq!((kc.objsize, kc.objperslab, kc.pagesperslab), (256, 16, 1));
    assert_eq!(kc.inuse_objs, 54);
    let kcn = a.cache_stats(a.kmem_cache_node_cache()).unwrap();
    assert_eq!((kcn.objsize, kcn.objperslab, kcn.pagesperslab), (64, 64, 1));
    assert_eq!(kcn.inuse_objs, 54);

    // Two nodes: twice the node objects.
    let mut cfg = SlabConfig::v6_1();
    cfg.nr_node_ids = 2;
    let (c, _) = boot(cfg);
    assert_eq!(c.cache_stats(c.kmem_cache_node_cache()).unwrap().inuse_objs, 108);
}

#[test]
fn config_switches() {
    let mut cfg = SlabConfig::v6_1();
    cfg.zone_dma = false;
    cfg.memcg_kmem = false;
    let (mut a, mut src) = boot(cfg);
    assert_eq!(a.all_stats().len(), 2 + 2 * 13);
    assert_eq!(a.kmalloc_type(Gfp::DMA), KmallocType::Normal);
    assert_eq!(a.kmalloc_type(Gfp::ACCOUNT), KmallocType::Normal);
    assert_eq!(a.kmalloc_type(Gfp::RECLAIMABLE), KmallocType::Reclaim);
    let p = a.kmalloc(&mut src, 64, Gfp::DMA).unwrap();
    assert_eq!(a.live_objects(a.find_cache("kmalloc-64").unwrap()), Some(1));
    a.kfree(&mut src, p).unwrap();

    let mut cfg = SlabConfig::v6_1();
    cfg.memcg_nokmem = true;
    let (a, _) = boot(cfg);
    assert_eq!(a.all_stats().len(), 2 + 3 * 13);
    assert_eq!(a.kmalloc_slab(64, Gfp::ACCOUNT), a.kmalloc_slab(64, Gfp::KERNEL));

    let mut bad = SlabConfig::v6_1();
    bad.slub_max_order = 11;
    let mut src = crate::page_source::BumpPageSource::new(0, 100);
    assert!(SlabAllocator::new(bad, &mut src).is_err());
    let mut bad = SlabConfig::v6_1();
    bad.nr_cpu_ids = 0;
    assert!(SlabAllocator::new(bad, &mut src).is_err());
    // Too few pages to boot: error, and every page given back.
    let mut tiny = crate::page_source::BumpPageSource::new(0, 3);
    assert!(SlabAllocator::new(SlabConfig::v6_1(), &mut tiny).is_err());
    assert_eq!(tiny.in_use, 0);
}

#[test]
fn boot_message_matches_fixture() {
    let (a, _) = boot(SlabConfig::v6_1());
    assert_eq!(a.boot_message(), "SLUB: HWalign=64, Order=0-3, MinObjects=0, CPUs=1, Nodes=1");
}

#[test]
fn alignment_and_limits() {
    assert_eq!(calculate_alignment(SlabFlags::HWCACHE_ALIGN, 0, 20, 64), 32);
    assert_eq!(calculate_alignment(SlabFlags::HWCACHE_ALIGN, 0, 8, 64), 8);
    assert_eq!(calculate_alignment(SlabFlags::HWCACHE_ALIGN, 0, 33, 64), 64);
    assert_eq!(calculate_alignment(SlabFlags::NONE, 0, 33, 64), 8);
    assert_eq!(calculate_alignment(SlabFlags::NONE, 4, 3, 64), 8);
    assert_eq!(calculate_alignment(SlabFlags::NONE, 128, 3, 64), 128);
    assert_eq!(min_partial_for(8), 5);
    assert_eq!(min_partial_for(8192), 6);
    assert_eq!(min_partial_for(1 << 21), 10);
    assert_eq!(min_partial_for(1 << 23), 10);
    assert_eq!(cpu_partial_for(KernelVersion::V5_14, 64, SlabFlags::NONE, 64), (30, 0));
    assert_eq!(cpu_partial_for(KernelVersion::V5_14, 4096, SlabFlags::NONE, 8), (2, 0));
    assert_eq!(cpu_partial_for(KernelVersion::V6_1, 64, SlabFlags::NONE, 64), (120, 4));
    assert_eq!(cpu_partial_for(KernelVersion::V6_1, 1024, SlabFlags::NONE, 8), (24, 6));
    assert_eq!(cpu_partial_for(KernelVersion::V6_1, 64, SlabFlags::RED_ZONE, 64), (0, 0));
}

#[test]
fn object_layouts() {
    use KernelVersion::*;
    let l = calculate_layout(V6_1, 64, 8, SlabFlags::NONE, false).unwrap();
    assert_eq!((l.size, l.inuse, l.offset, l.red_left_pad), (64, 64, 32, 0));
    let l = calculate_layout(V6_1, 12, 8, SlabFlags::NONE, false).unwrap();
    assert_eq!((l.size, l.offset), (16, 0));
    let l = calculate_layout(V6_1, 100, 8, SlabFlags::NONE, false).unwrap();
    assert_eq!((l.size, l.offset), (104, 48));
    // Constructor: free pointer after the object.
    let l = calculate_layout(V5_14, 64, 8, SlabFlags::NONE, true).unwrap();
    assert_eq!((l.size, l.inuse, l.offset), (72, 64, 64));
    // Red zone: a right word, a left pad aligned to align.
    let l = calculate_layout(V5_14, 64, 8, SlabFlags::RED_ZONE, false).unwrap();
    assert_eq!((l.size, l.inuse, l.offset, l.red_left_pad), (88, 72, 32, 8));
    let l = calculate_layout(V5_14, 64, 64, SlabFlags::RED_ZONE, false).unwrap();
    assert_eq!((l.size, l.red_left_pad), (192, 64));
    // Red zone of an object smaller than a word: free pointer outside.
    let l = calculate_layout(V5_14, 4, 8, SlabFlags::RED_ZONE, false).unwrap();
    assert_eq!((l.inuse, l.offset, l.size), (8, 8, 32));
    // Poison: free pointer outside.
    let l = calculate_layout(V5_14, 100, 8, SlabFlags::POISON, false).unwrap();
    assert_eq!((l.size, l.offset), (112, 104));
    // Tracking: 2 tracks of 152 (5.14) or 32 (6.1) bytes.
    let l = calculate_layout(V5_14, 100, 8, SlabFlags::STORE_USER, false).unwrap();
    assert_eq!((l.size, l.offset, l.track_bytes), (408, 48, 304));
    let l = calculate_layout(V6_1, 100, 8, SlabFlags::STORE_USER, false).unwrap();
    assert_eq!((l.size, l.offset, l.track_bytes), (168, 48, 64));
    // 6.1 kmalloc caches with tracking keep the request size: pointer outside, +4.
    let l = calculate_layout(V6_1, 96, 8, SlabFlags::STORE_USER | SlabFlags::KMALLOC, false).unwrap();
    assert_eq!((l.size, l.offset, l.track_bytes), (176, 96, 68));
    let l = calculate_layout(V5_14, 96, 8, SlabFlags::STORE_USER | SlabFlags::KMALLOC, false).unwrap();
    assert_eq!((l.size, l.offset), (400, 48));
    assert!(calculate_layout(V6_1, u32::MAX, 8, SlabFlags::NONE, false).is_none());
}

#[test]
fn slub_debug_applies_to_all_caches() {
    let mut cfg = SlabConfig::v5_14();
    cfg.slub_debug = SlabFlags::RED_ZONE;
    let (mut a, mut src) = boot(cfg);
    let id = a.find_cache("kmalloc-64").unwrap();
    let c = a.cache(id).unwrap();
    // 64 + 8 right red zone + 8 + left pad 64 (natural alignment 64) -> 192.
    assert_eq!(c.size(), 192);
    assert_eq!(c.ksize(), 64);
    let p = a.kmalloc(&mut src, 64, Gfp::KERNEL).unwrap();
    // Objects start after the left red zone.
    assert_eq!((p - PAGE_OFFSET_L4) % 4096, 64);
    assert_eq!(a.ksize(p).unwrap(), 64);
    a.kfree(&mut src, p).unwrap();
    assert!(a.kfree(&mut src, p - 64).is_err());
}

#[test]
fn kmalloc_size_classes() {
    let (mut a, mut src) = boot(SlabConfig::v6_1());
    for (size, name) in [
        (1, "kmalloc-8"),
        (8, "kmalloc-8"),
        (9, "kmalloc-16"),
        (17, "kmalloc-32"),
        (24, "kmalloc-32"),
        (33, "kmalloc-64"),
        (65, "kmalloc-96"),
        (96, "kmalloc-96"),
        (97, "kmalloc-128"),
        (129, "kmalloc-192"),
        (192, "kmalloc-192"),
        (193, "kmalloc-256"),
        (1000, "kmalloc-1k"),
        (8192, "kmalloc-8k"),
    ] {
        let id = a.kmalloc_slab(size, Gfp::KERNEL).unwrap();
        assert_eq!(a.cache(id).unwrap().name, name, "size {size}");
        let p = a.kmalloc(&mut src, size, Gfp::KERNEL).unwrap();
        assert_eq!(a.ksize(p).unwrap(), a.cache(id).unwrap().size() as u64);
    }
    assert_eq!(a.cache(a.kmalloc_slab(64, Gfp::DMA).unwrap()).unwrap().name, "dma-kmalloc-64");
    assert_eq!(a.cache(a.kmalloc_slab(64, Gfp::RECLAIMABLE).unwrap()).unwrap().name, "kmalloc-rcl-64");
    assert_eq!(a.cache(a.kmalloc_slab(64, Gfp::ACCOUNT).unwrap()).unwrap().name, "kmalloc-cg-64");
    assert_eq!(a.cache(a.kmalloc_slab(64, Gfp::DMA | Gfp::RECLAIMABLE).unwrap()).unwrap().name, "dma-kmalloc-64");
    assert_eq!(a.cache(a.kmalloc_slab(64, Gfp::ACCOUNT | Gfp::RECLAIMABLE).unwrap()).unwrap().name, "kmalloc-rcl-64");
    assert_eq!(a.kmalloc_slab(0, Gfp::KERNEL), None);
    assert_eq!(a.kmalloc_slab(8193, Gfp::KERNEL), None);
    assert_eq!(a.kmalloc(&mut src, 0, Gfp::KERNEL).unwrap(), ZERO_SIZE_PTR);
    assert_eq!(a.ksize(ZERO_SIZE_PTR).unwrap(), 0);
    a.kfree(&mut src, ZERO_SIZE_PTR).unwrap();
    a.kfree(&mut src, 0).unwrap();
    check_pages(&a, &src);
}

#[test]
fn addresses_and_lifo() {
    let (mut a, mut src) = boot(SlabConfig::v6_1());
    let c = a.kmem_cache_create(&mut src, "test_obj", 200, 0, SlabFlags::NONE, true).unwrap();
    let before = src.next;
    let p0 = a.kmem_cache_alloc(&mut src, c).unwrap();
    let size = a.cache(c).unwrap().size() as u64;
    let pfn = (p0 - PAGE_OFFSET_L4) / 4096;
    assert!(pfn >= before);
    assert_eq!((p0 - PAGE_OFFSET_L4) % 4096, 0);
    let p1 = a.kmem_cache_alloc(&mut src, c).unwrap();
    assert_eq!(p1, p0 + size);
    a.kmem_cache_free(&mut src, c, p0).unwrap();
    assert_eq!(a.kmem_cache_alloc(&mut src, c).unwrap(), p0);
    // 5-level direct map.
    let mut cfg = SlabConfig::v6_1();
    cfg.page_offset = PAGE_OFFSET_L5;
    let (mut b, mut src) = boot(cfg);
    let p = b.kmalloc(&mut src, 64, Gfp::KERNEL).unwrap();
    assert!(p >= PAGE_OFFSET_L5);
    b.kfree(&mut src, p).unwrap();
}

#[test]
fn large_kmalloc() {
    let (mut a, mut src) = boot(SlabConfig::v6_1());
    let used = src.in_use;
    let p = a.kmalloc(&mut src, 8193, Gfp::KERNEL).unwrap();
    assert_eq!((p - PAGE_OFFSET_L4) % 4096, 0);
    assert_eq!(src.in_use, used + 4);
    assert_eq!(a.ksize(p).unwrap(), 16384);
    assert_eq!(a.meminfo().large_kmalloc, 4);
    assert_eq!(a.large_blocks(), 1);
    check_pages(&a, &src);
    assert!(matches!(a.kfree(&mut src, p + 4096), Err(MmError::NotAnObject { .. })));
    assert!(matches!(a.kfree(&mut src, p + 8), Err(MmError::NotAnObject { .. })));
    a.kfree(&mut src, p).unwrap();
    assert_eq!(src.in_use, used);
    assert_eq!(a.meminfo().large_kmalloc, 0);
    assert!(matches!(a.kfree(&mut src, p), Err(MmError::NotAnObject { .. })));
    let p = a.kmalloc(&mut src, KMALLOC_MAX_SIZE, Gfp::KERNEL).unwrap();
    assert_eq!(a.ksize(p).unwrap(), KMALLOC_MAX_SIZE);
    a.kfree(&mut src, p).unwrap();
    assert!(matches!(a.kmalloc(&mut src, KMALLOC_MAX_SIZE + 1, Gfp::KERNEL), Err(MmError::OutOfMemory { .. })));
    check_pages(&a, &src);
}

#[test]
fn krealloc_rules() {
    let (mut a, mut src) = boot(SlabConfig::v6_1());
    let p = a.kmalloc(&mut src, 40, Gfp::KERNEL).unwrap();
    assert_eq!(a.krealloc(&mut src, p, 64, Gfp::KERNEL).unwrap(), p);
    assert_eq!(a.krealloc(&mut src, p, 10, Gfp::KERNEL).unwrap(), p);
    let q = a.krealloc(&mut src, p, 65, Gfp::KERNEL).unwrap();
    assert_ne!(q, p);
    assert_eq!(a.ksize(q).unwrap(), 96);
    assert!(a.ksize(p).is_err());
    let r = a.krealloc(&mut src, q, 20000, Gfp::KERNEL).unwrap();
    assert_eq!(a.ksize(r).unwrap(), 32768);
    assert_eq!(a.krealloc(&mut src, r, 0, Gfp::KERNEL).unwrap(), ZERO_SIZE_PTR);
    let s = a.krealloc(&mut src, 0, 100, Gfp::KERNEL).unwrap();
    assert_eq!(a.ksize(s).unwrap(), 128);
    a.kfree(&mut src, s).unwrap();
    check_pages(&a, &src);
}

#[test]
fn slabinfo_text_format() {
    let (mut a, mut src) = boot(SlabConfig::v6_1());
    let p = a.kmalloc(&mut src, 8, Gfp::KERNEL).unwrap();
    let text = a.slabinfo();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("slabinfo - version: 2.1"));
    assert_eq!(
        lines.next(),
        Some("# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>")
    );
    let line = text.lines().find(|l| l.starts_with("kmalloc-8 ")).unwrap();
    // One slab of 512 objects, all active (free objects of the cpu slab count).
    assert_eq!(
        line,
        "kmalloc-8            512    512      8  512    1 : tunables    0    0    0 : slabdata      1      1      0"
    );
    let line = text.lines().find(|l| l.starts_with("kmalloc-16 ")).unwrap();
    assert_eq!(
        line,
        "kmalloc-16             0      0     16  256    1 : tunables    0    0    0 : slabdata      0      0      0"
    );
    assert!(text.ends_with('\n'));
    let long = a.kmem_cache_create(&mut src, "a_rather_long_cache_name", 48, 0, SlabFlags::NONE, true).unwrap();
    a.kmem_cache_alloc(&mut src, long).unwrap();
    let text = a.slabinfo();
    assert_eq!(text.lines().nth(2).unwrap().split(' ').next(), Some("a_rather_long_cache_name"));
    a.kfree(&mut src, p).unwrap();
}

#[test]
fn meminfo_reclaimable_split() {
    let (mut a, mut src) = boot(SlabConfig::v6_1());
    let m0 = a.meminfo();
    assert_eq!(m0.sreclaimable, 0);
    assert!(m0.sunreclaim > 0);
    let p = a.kmalloc(&mut src, 100, Gfp::RECLAIMABLE).unwrap();
    assert_eq!(a.meminfo().sreclaimable, 1);
    let c = a.kmem_cache_create(&mut src, "dentry_like", 192, 0, SlabFlags::RECLAIM_ACCOUNT, false).unwrap();
    a.kmem_cache_alloc(&mut src, c).unwrap();
    assert_eq!(a.meminfo().sreclaimable, 2);
    assert_eq!(a.meminfo().slab(), src.in_use);
    a.kfree(&mut src, p).unwrap();
}

#[test]
fn events_recorded_only_when_on() {
    let (mut a, mut src) = boot(SlabConfig::v6_1());
    let p = a.kmalloc(&mut src, 50, Gfp::KERNEL).unwrap();
    a.kfree(&mut src, p).unwrap();
    assert!(a.drain_events().is_empty());
    a.set_recording(true);
    assert!(a.is_recording());
    let p = a.kmalloc(&mut src, 50, Gfp::KERNEL).unwrap();
    let big = a.kmalloc(&mut src, 10000, Gfp::KERNEL).unwrap();
    a.kfree(&mut src, p).unwrap();
    a.kfree(&mut src, big).unwrap();
    let c = a.kmem_cache_create(&mut src, "ev", 24, 0, SlabFlags::NONE, false).unwrap();
    let o = a.kmem_cache_alloc(&mut src, c).unwrap();
    a.kmem_cache_free(&mut src, c, o).unwrap();
    a.kmem_cache_destroy(&mut src, c).unwrap();
    let k64 = a.find_cache("kmalloc-64");
    let ev = a.drain_events();
    assert_eq!(
        ev,
        vec![
            SlabEvent { kind: SlabEventKind::Alloc, cache: k64, addr: p, size: 50 },
            SlabEvent { kind: SlabEventKind::Alloc, cache: None, addr: big, size: 10000 },
            SlabEvent { kind: SlabEventKind::Free, cache: k64, addr: p, size: 64 },
            SlabEvent { kind: SlabEventKind::Free, cache: None, addr: big, size: 16384 },
            SlabEvent { kind: SlabEventKind::Alloc, cache: Some(c), addr: o, size: 24 },
            SlabEvent { kind: SlabEventKind::Free, cache: Some(c), addr: o, size: 24 },
        ]
    );
    a.set_recording(false);
    let p = a.kmalloc(&mut src, 50, Gfp::KERNEL).unwrap();
    a.kfree(&mut src, p).unwrap();
    assert!(a.drain_events().is_empty());
}

#[test]
fn freelist_random_seq_allocations() {
    let mut cfg = SlabConfig::v6_1();
    cfg.freelist_random = true;
    let (mut a, mut src) = boot(cfg);
    let inuse = |a: &SlabAllocator, n: &str| a.live_objects(a.find_cache(n).unwrap()).unwrap();
    // 4 bytes per object of a slab, for each of the 54 boot caches.
    for (name, n) in [
        ("kmalloc-8", 0),
        ("kmalloc-16", 4),
        ("kmalloc-32", 16),
        ("kmalloc-64", 5),
        ("kmalloc-96", 4),
        ("kmalloc-128", 4),
        ("kmalloc-192", 4),
        ("kmalloc-256", 5),
        ("kmalloc-512", 4),
        ("kmalloc-1k", 4),
        ("kmalloc-2k", 4),
        ("kmalloc-4k", 0),
        ("dma-kmalloc-32", 0),
    ] {
        assert_eq!(inuse(&a, name), n, "{name}");
    }
    let c = a.kmem_cache_create(&mut src, "rnd", 512, 0, SlabFlags::NONE, false).unwrap();
    assert_eq!(inuse(&a, "kmalloc-32"), 17);
    // 8-byte objects with slub_min_order 3: 4096 objects, a 16 KiB array (large kmalloc).
    let mut cfg = SlabConfig::v6_1();
    cfg.freelist_random = true;
    cfg.slub_min_order = 3;
    let (mut b, mut src2) = boot(cfg);
    assert!(b.large_blocks() > 0);
    check_pages(&b, &src2);
    let big = b.kmem_cache_create(&mut src2, "tiny_objs", 8, 0, SlabFlags::NONE, false).unwrap();
    let blocks = b.large_blocks();
    b.kmem_cache_destroy(&mut src2, big).unwrap();
    assert_eq!(b.large_blocks(), blocks - 1);
    check_pages(&b, &src2);
    a.kmem_cache_destroy(&mut src, c).unwrap();
    assert_eq!(inuse(&a, "kmalloc-32"), 16);
    check_pages(&a, &src);
}
