use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone)]
enum Op {
    Alloc { gfp: u8, order: u32, cpu: u32 },
    Free { idx: usize, cpu: u32 },
    BadFree { pfn: u64, order: u32 },
    Bulk { gfp: u8, order: u32, n: usize },
    FreeBulk { n: usize },
    Drain,
    InitLate,
}

fn gfp_of(i: u8) -> Gfp {
    match i % 6 {
        0 => Gfp::GFP_KERNEL,
        1 => Gfp::GFP_HIGHUSER_MOVABLE,
        2 => Gfp::GFP_KERNEL | Gfp::__GFP_RECLAIMABLE,
        3 => Gfp::GFP_ATOMIC,
        4 => Gfp::GFP_DMA,
        _ => Gfp::GFP_DMA32 | Gfp::__GFP_MOVABLE,
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (any::<u8>(), prop_oneof![3 => 0u32..=2, 1 => 0u32..=10], 0u32..2)
            .prop_map(|(gfp, order, cpu)| Op::Alloc { gfp, order, cpu }),
        4 => (any::<usize>(), 0u32..2).prop_map(|(idx, cpu)| Op::Free { idx, cpu }),
        1 => (0u64..0x5000, 0u32..12).prop_map(|(pfn, order)| Op::BadFree { pfn, order }),
        1 => (any::<u8>(), 0u32..4, 1usize..40).prop_map(|(gfp, order, n)| Op::Bulk { gfp, order, n }),
        1 => (1usize..20).prop_map(|n| Op::FreeBulk { n }),
        1 => Just(Op::Drain),
        1 => Just(Op::InitLate),
    ]
}

/// Two nodes with deferred init: node 0 [0x100, 0x14000) cut 0x10000,
/// node 1 [0x14000, 0x24000) cut 0x20000.
fn two_nodes_deferred() -> (PageAlloc, Vec<(u64, u64, u32)>) {
    let regions = vec![(0x1, 0x9f, 0), (0x100, 0x14000, 0), (0x14000, 0x24000, 1)];
    let cfg = PageAllocConfig { nr_cpus: 2, cpu_to_node: vec![0, 1], ..Default::default() };
    let l = free_area_init(&FreeAreaInitInput::x86_64(regions, 0), &cfg).unwrap();
    assert_eq!(l.nodes[0].first_deferred_pfn, Some(0x10000));
    assert_eq!(l.nodes[1].first_deferred_pfn, Some(0x20000));
    let mut pa = PageAlloc::new(&l, &cfg).unwrap();
    let free = vec![(0x100, 0x14000, 0), (0x14000, 0x24000, 1)];
    pa.memblock_free_all(&free).unwrap();
    (pa, free)
}

fn run(ops: Vec<Op>, pcp: bool, wmarks: bool) {
    run_on(ops, pcp, wmarks, false)
}

fn run_on(ops: Vec<Op>, pcp: bool, wmarks: bool, multinode: bool) {
    let cfg = PageAllocConfig { nr_cpus: 2, ..no_defer() };
    let (mut pa, late) = if multinode {
        let (pa, free) = two_nodes_deferred();
        (pa, Some(free))
    } else {
        (small(&cfg), None)
    };
    let mut late = late;
    let nodes = pa.nr_nodes();
    if pcp {
        pa.setup_per_cpu_pageset();
    }
    if wmarks {
        pa.init_per_zone_wmark_min();
    }
    let mut total = pa.nr_free_pages();
    let mut initial = pa.buddyinfo();
    // model: head pfn -> order
    let mut model: BTreeMap<u64, u32> = BTreeMap::new();
    let mut allocated_pages = 0u64;
    let add = |model: &mut BTreeMap<u64, u32>, pa: &PageAlloc, p: u64, o: u32| {
        let end = p + (1 << o);
        // no overlap with neighbours
        if let Some((&q, &qo)) = model.range(..=p).next_back() {
            assert!(q + (1 << qo) <= p, "overlap {q:#x}/{qo} with {p:#x}/{o}");
        }
        if let Some((&q, _)) = model.range(p..).next() {
            assert!(q >= end, "overlap {p:#x}/{o} with {q:#x}");
        }
        assert_eq!(p & ((1 << o) - 1), 0);
        assert!(pa.is_present(p) && pa.is_present(end - 1));
        assert_eq!(pa.page_zone(p).unwrap(), pa.page_zone(end - 1).unwrap());
        assert_eq!(pa.allocated_order(p).unwrap(), Some(o));
        model.insert(p, o);
    };
    for op in ops {
        match op {
            Op::Alloc { gfp, order, cpu } => {
                let g = gfp_of(gfp);
                if let Ok(p) = pa.alloc_pages(g, order, cpu % nodes, cpu) {
                    add(&mut model, &pa, p, order);
                    allocated_pages += 1 << order;
                    if g == Gfp::GFP_DMA {
                        assert_eq!(pa.page_zone(p).unwrap().zone_type, ZoneType::Dma);
                    }
                }
            }
            Op::Free { idx, cpu } => {
                if model.is_empty() {
                    continue;
                }
                let (&p, &o) = model.iter().nth(idx % model.len()).unwrap();
                pa.free_pages(p, o, cpu).unwrap();
                model.remove(&p);
                allocated_pages -= 1 << o;
                assert_eq!(pa.free_pages(p, o, cpu).map_err(|e| e.kind()), Err(crate::MmErrorKind::DoubleFree));
            }
            Op::BadFree { pfn, order } => {
                if model.get(&pfn) == Some(&order) {
                    continue;
                }
                let before = (pa.zone_infos(), pa.pagetypeinfo());
                assert!(pa.free_pages(pfn, order, 0).is_err());
                assert_eq!((pa.zone_infos(), pa.pagetypeinfo()), before);
            }
            Op::Bulk { gfp, order, n } => {
                let mut v = Vec::new();
                let got = pa.alloc_pages_bulk(gfp_of(gfp), order, n, 0, 1, &mut v).unwrap();
                assert_eq!(got, v.len());
                for p in v {
                    add(&mut model, &pa, p, order);
                    allocated_pages += 1 << order;
                }
            }
            Op::FreeBulk { n } => {
                let Some((&_, &o)) = model.iter().next() else { continue };
                let v: Vec<u64> = model.iter().filter(|e| *e.1 == o).take(n).map(|e| *e.0).collect();
                pa.free_pages_bulk(&v, o, 1).unwrap();
                for p in v {
                    model.remove(&p);
                    allocated_pages -= 1 << o;
                }
            }
            Op::Drain => pa.drain_pcp(None).unwrap(),
            Op::InitLate => {
                if let Some(free) = late.take() {
                    let n = pa.page_alloc_init_late(&free).unwrap();
                    assert_eq!(n, 0x8000);
                    total += n;
                    // The reference for the final state: everything free.
                    let (mut fresh, _) = two_nodes_deferred();
                    fresh.page_alloc_init_late(&free).unwrap();
                    initial = fresh.buddyinfo();
                }
            }
        }
        assert_eq!(pa.nr_free_pages() + pa.nr_pcp_pages() + allocated_pages, total);
        check_consistency(&pa);
    }
    let all: Vec<(u64, u32)> = model.iter().map(|(&p, &o)| (p, o)).collect();
    for (p, o) in all {
        pa.free_pages(p, o, 0).unwrap();
    }
    pa.drain_pcp(None).unwrap();
    assert_eq!(pa.nr_free_pages(), total);
    assert_eq!(pa.buddyinfo(), initial);
    assert_eq!(pa.totalram_pages(), if multinode { 0x24000 - 0x100 } else { 0x4000 - 0x100 });
    check_consistency(&pa);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_ops_match_model(ops in proptest::collection::vec(op(), 1..200), pcp in any::<bool>(), wm in any::<bool>()) {
        run(ops, pcp, wm);
    }

    #[test]
    fn random_ops_two_nodes_deferred(ops in proptest::collection::vec(op(), 1..150), pcp in any::<bool>()) {
        run_on(ops, pcp, false, true);
    }
}

/// Zone counters, buddyinfo, pagetypeinfo, free and pcp lists, page
/// states, pageblock types.
type FullState = (Vec<ZoneInfo>, String, String, Vec<Vec<u64>>, Vec<u16>, Vec<u8>);

/// Everything observable, and the per-page states.
fn full_state(pa: &PageAlloc) -> FullState {
    let mut lists = Vec::new();
    let mut st = Vec::new();
    let mut pb = Vec::new();
    for z in &pa.zones {
        for o in 0..=z.top() {
            for mt in 0..6u8 {
                let mut v = Vec::new();
                z.area.walk(&z.pt, o, mt, |p| v.push(p));
                lists.push(v);
            }
        }
        for c in &z.pcp {
            for l in &c.lists {
                lists.push(l.iter().copied().collect());
            }
            lists.push(vec![c.count, c.free_factor as u64]);
        }
        for p in z.start_pfn..z.end_pfn {
            st.push(z.pt.state(p));
            pb.push(z.pt.pb_mt(p));
        }
    }
    (pa.zone_infos(), pa.buddyinfo(), pa.pagetypeinfo(), lists, st, pb)
}

/// The bulk calls give exactly what the same calls one by one give.
fn bulk_matches_one_by_one(prefix: Vec<Op>, gfp: u8, n: usize, wm: bool, rot: usize, shuffle: u64) {
    let cfg = PageAllocConfig { nr_cpus: 2, ..no_defer() };
    let mk = || {
        let mut pa = small(&cfg);
        pa.setup_per_cpu_pageset();
        if wm {
            pa.init_per_zone_wmark_min();
        }
        pa
    };
    let (mut a, mut b) = (mk(), mk());
    let mut held: Vec<(u64, u32)> = Vec::new();
    for op in prefix {
        match op {
            Op::Alloc { gfp, order, cpu } => {
                let g = gfp_of(gfp);
                let r = a.alloc_pages(g, order, 0, cpu);
                assert_eq!(r, b.alloc_pages(g, order, 0, cpu));
                if let Ok(p) = r {
                    held.push((p, order));
                }
            }
            Op::Free { idx, cpu } if !held.is_empty() => {
                let (p, o) = held.swap_remove(idx % held.len());
                a.free_pages(p, o, cpu).unwrap();
                b.free_pages(p, o, cpu).unwrap();
            }
            Op::Drain => {
                a.drain_pcp(None).unwrap();
                b.drain_pcp(None).unwrap();
            }
            _ => {}
        }
    }
    assert_eq!(full_state(&a), full_state(&b));
    let g = gfp_of(gfp);
    let mut va = Vec::new();
    a.alloc_pages_bulk(g, 0, n, 0, 1, &mut va).unwrap();
    let mut vb = Vec::new();
    for _ in 0..n {
        match b.alloc_pages(g, 0, 0, 1) {
            Ok(p) => vb.push(p),
            Err(_) => break,
        }
    }
    if va != vb { let i = va.iter().zip(&vb).position(|(x, y)| x != y); panic!("DIFF len {} {} first {:?} {:?} {:?}", va.len(), vb.len(), i, i.map(|i| &va[i.saturating_sub(3)..(i+3).min(va.len())]), i.map(|i| &vb[i.saturating_sub(3)..(i+3).min(vb.len())])); }
    assert_eq!(full_state(&a), full_state(&b));
    // free them (and some order-0 pages held before) in a scrambled order
    let mut f = va.clone();
    f.extend(held.iter().filter(|h| h.1 == 0).map(|h| h.0));
    if !f.is_empty() {
        let r = rot % f.len();
        f.rotate_left(r);
    }
    let mut x = shuffle | 1;
    if shuffle % 3 == 0 {
        f.sort_unstable();
    }
    for i in (1..f.len()).rev().filter(|_| shuffle % 3 == 2) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        f.swap(i, (x % (i as u64 + 1)) as usize);
    }
    // an invalid batch changes nothing
    if let Some(&p) = f.first() {
        let mut bad = f.clone();
        bad.push(p);
        let before = full_state(&a);
        assert!(matches!(a.free_pages_bulk(&bad, 0, 0), Err(crate::MmError::DoubleFree { .. })));
        assert_eq!(full_state(&a), before);
        bad.pop();
        bad.push(0x3fff_0000);
        assert!(a.free_pages_bulk(&bad, 0, 0).is_err());
        assert_eq!(full_state(&a), before);
    }
    a.free_pages_bulk(&f, 0, 0).unwrap();
    for &p in &f {
        b.free_pages(p, 0, 0).unwrap();
    }
    assert_eq!(full_state(&a), full_state(&b));
    a.drain_pcp(None).unwrap();
    b.drain_pcp(None).unwrap();
    assert_eq!(full_state(&a), full_state(&b));
    check_consistency(&a);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 120, ..ProptestConfig::default() })]

    #[test]
    fn bulk_order0_matches_one_by_one(
        prefix in proptest::collection::vec(op(), 0..120),
        gfp in any::<u8>(),
        n in prop_oneof![1usize..300, 300usize..20000],
        wm in any::<bool>(),
        rot in any::<usize>(),
        shuffle in any::<u64>(),
    ) {
        bulk_matches_one_by_one(prefix, gfp, n, wm, rot, shuffle);
    }
}

proptest! {
    /// The pcp ring behaves as a `VecDeque`.
    #[test]
    fn pcp_list_is_a_deque(ops in proptest::collection::vec((0u8..5, any::<u64>()), 0..400)) {
        let mut a = super::super::pcp::PcpList::default();
        let mut b = std::collections::VecDeque::new();
        for (op, v) in ops {
            match op {
                0 => { a.push_front(v); b.push_front(v); }
                1 => { a.push_back(v); b.push_back(v); }
                2 => prop_assert_eq!(a.pop_front(), b.pop_front()),
                4 => {
                    let n = (v % 150) as usize;
                    a.push_back_run(v, n);
                    b.extend((0..n as u64).map(|k| v.wrapping_add(k)));
                }
                _ => prop_assert_eq!(a.pop_back(), b.pop_back()),
            }
            prop_assert_eq!(a.len(), b.len());
            prop_assert_eq!(a.front().copied(), b.front().copied());
            prop_assert_eq!(a.front_mut().map(|x| *x), b.back().copied().and(b.front().copied()));
            prop_assert_eq!(a.back_mut().map(|x| *x), b.back().copied());
            prop_assert_eq!(a.iter().copied().collect::<Vec<_>>(), b.iter().copied().collect::<Vec<_>>());
        }
    }
}
