//! Property tests: random operation sequences checked against a byte-level
//! model of memory and reservations, and arbitrary arguments against panics.
//! (Failures are not persisted to a file; cases found that way are kept as
//! unit tests in `features.rs`.)

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::common::*;

/// Size of the modelled address space in bytes.
const SPACE: u64 = 1024;

#[derive(Debug, Clone)]
enum Op {
    Add(u64, u64),
    AddNode(u64, u64, i32),
    Reserve(u64, u64),
    Remove(u64, u64),
    Free(u64, u64),
    SetNode(u64, u64, i32),
    MarkHotplug(u64, u64),
    ClearHotplug(u64, u64),
}

fn op() -> impl Strategy<Value = Op> {
    let range = (0..SPACE, 0..=SPACE / 4);
    prop_oneof![
        range.clone().prop_map(|(b, s)| Op::Add(b, s)),
        (range.clone(), 0..3i32).prop_map(|((b, s), n)| Op::AddNode(b, s, n)),
        range.clone().prop_map(|(b, s)| Op::Reserve(b, s)),
        range.clone().prop_map(|(b, s)| Op::Remove(b, s)),
        range.clone().prop_map(|(b, s)| Op::Free(b, s)),
        (range.clone(), 0..3i32).prop_map(|((b, s), n)| Op::SetNode(b, s, n)),
        range.clone().prop_map(|(b, s)| Op::MarkHotplug(b, s)),
        range.prop_map(|(b, s)| Op::ClearHotplug(b, s)),
    ]
}

/// What each byte is: memory `(nid, flags)` and reserved `nid`.
#[derive(Clone, Default, PartialEq, Debug)]
struct Model {
    memory: BTreeMap<u64, (i32, MemblockFlags)>,
    reserved: BTreeMap<u64, i32>,
}

impl Model {
    fn apply(&mut self, op: &Op, max_nid: i32) {
        match *op {
            Op::Add(b, s) => (b..b + s).for_each(|a| {
                self.memory.entry(a).or_insert((max_nid, MemblockFlags::NONE));
            }),
            Op::AddNode(b, s, n) => (b..b + s).for_each(|a| {
                self.memory.entry(a).or_insert((n, MemblockFlags::NONE));
            }),
            Op::Reserve(b, s) => (b..b + s).for_each(|a| {
                self.reserved.entry(a).or_insert(max_nid);
            }),
            Op::Remove(b, s) => (b..b + s).for_each(|a| {
                self.memory.remove(&a);
            }),
            Op::Free(b, s) => (b..b + s).for_each(|a| {
                self.reserved.remove(&a);
            }),
            Op::SetNode(b, s, n) => (b..b + s).for_each(|a| {
                if let Some(v) = self.memory.get_mut(&a) {
                    v.0 = n;
                }
            }),
            Op::MarkHotplug(b, s) => (b..b + s).for_each(|a| {
                if let Some(v) = self.memory.get_mut(&a) {
                    v.1 |= MemblockFlags::HOTPLUG;
                }
            }),
            Op::ClearHotplug(b, s) => (b..b + s).for_each(|a| {
                if let Some(v) = self.memory.get_mut(&a) {
                    v.1 = v.1.without(MemblockFlags::HOTPLUG);
                }
            }),
        }
    }
}

fn run(m: &mut Memblock, op: &Op) -> crate::Result<()> {
    match *op {
        Op::Add(b, s) => m.add(b, s, C),
        Op::AddNode(b, s, n) => m.add_node(b, s, n, MemblockFlags::NONE, C),
        Op::Reserve(b, s) => m.reserve(b, s, C),
        Op::Remove(b, s) => m.remove(b, s, C),
        Op::Free(b, s) => m.free(b, s, C),
        Op::SetNode(b, s, n) => m.set_node(b, s, n),
        Op::MarkHotplug(b, s) => m.mark_hotplug(b, s),
        Op::ClearHotplug(b, s) => m.clear_hotplug(b, s),
    }
}

/// Sorted, disjoint, non-empty, fully merged, and `total_size` consistent.
fn check_type(t: &MemblockType) {
    let rs = t.regions();
    for r in rs {
        assert!(r.size > 0, "{}: empty region {r:?}", t.name());
    }
    for w in rs.windows(2) {
        assert!(w[0].end() <= w[1].base, "{}: overlap/unsorted {w:?}", t.name());
        let mergeable = w[0].end() == w[1].base && w[0].nid == w[1].nid && w[0].flags == w[1].flags;
        assert!(!mergeable, "{}: unmerged neighbours {w:?}", t.name());
    }
    assert_eq!(t.total_size(), rs.iter().map(|r| r.size).sum::<u64>(), "{} total_size", t.name());
    assert_eq!(t.cnt(), rs.len().max(1));
}

fn check_against(m: &Memblock, model: &Model) {
    check_type(m.memory());
    check_type(m.reserved());
    let mut mem = BTreeMap::new();
    for r in m.memory().regions() {
        for a in r.base..r.end() {
            mem.insert(a, (r.nid, r.flags));
        }
    }
    assert_eq!(mem, model.memory, "memory bytes");
    let mut res = BTreeMap::new();
    for r in m.reserved().regions() {
        for a in r.base..r.end() {
            res.insert(a, r.nid);
        }
    }
    assert_eq!(res, model.reserved, "reserved bytes");
    assert_eq!(m.phys_mem_size(), model.memory.len() as u64);
    assert_eq!(m.reserved_size(), model.reserved.len() as u64);

    // Free ranges: memory minus reserved, ascending, disjoint; the reverse
    // walk is the same list backwards.
    let free = m.free_mem_ranges(NUMA_NO_NODE, MemblockFlags::NONE);
    let mut bytes = Vec::new();
    for w in free.windows(2) {
        assert!(w[0].end <= w[1].start, "free ranges unsorted {w:?}");
    }
    for f in &free {
        assert!(f.start < f.end);
        bytes.extend(f.start..f.end);
    }
    let expect: Vec<u64> = model.memory.keys().copied().filter(|a| !model.reserved.contains_key(a)).collect();
    assert_eq!(bytes, expect, "free bytes");
    let mut rev = m.free_mem_ranges_reverse(NUMA_NO_NODE, MemblockFlags::NONE);
    rev.reverse();
    assert_eq!(rev, free);

    // Point lookups.
    for a in (0..SPACE).step_by(7) {
        assert_eq!(m.is_memory(a), model.memory.contains_key(&a));
        assert_eq!(m.is_reserved(a), model.reserved.contains_key(&a));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_match_byte_model(ops in prop::collection::vec(op(), 1..40)) {
        let mut m = fresh();
        let mut model = Model::default();
        let max_nid = m.max_numnodes();
        for op in &ops {
            run(&mut m, op).unwrap();
            model.apply(op, max_nid);
            check_against(&m, &model);
        }
    }

    #[test]
    fn failed_operations_change_nothing(ops in prop::collection::vec(op(), 1..40), cap in 1usize..6) {
        let mut m = fresh();
        m.set_max_regions(cap).unwrap();
        let mut model = Model::default();
        let max_nid = m.max_numnodes();
        for op in &ops {
            let before = m.clone();
            match run(&mut m, op) {
                Ok(()) => model.apply(op, max_nid),
                Err(e) => {
                    prop_assert_eq!(e.kind(), crate::MmErrorKind::CapacityExceeded);
                    prop_assert_eq!(m.memory(), before.memory());
                    prop_assert_eq!(m.reserved(), before.reserved());
                }
            }
            prop_assert!(m.memory().len() <= cap && m.reserved().len() <= cap);
            check_against(&m, &model);
        }
    }
}

// ------------------------------------------------------------ allocation

/// Pages in the allocation model.
const PAGES: u64 = 64;

fn page_ranges() -> impl Strategy<Value = Vec<(u64, u64)>> {
    prop::collection::vec((0..PAGES * PAGE_SIZE, 1..8 * PAGE_SIZE), 0..8)
}

/// Highest (top-down) or lowest (bottom-up) `align`ed address `p` with
/// `[p, p + size)` inside one free interval, `p >= PAGE_SIZE`, end <= limit.
fn brute_force(free: &[(u64, u64)], size: u64, align: u64, limit: u64, bottom_up: bool) -> Option<u64> {
    let fits = |p: u64| p >= PAGE_SIZE && p + size <= limit && free.iter().any(|&(s, e)| s <= p && p + size <= e);
    let top = (PAGES + 8) * PAGE_SIZE;
    let mut cands = (0..=top / align).map(|k| k * align);
    if bottom_up {
        cands.find(|&p| fits(p))
    } else {
        cands.rev().find(|&p| fits(p))
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn allocation_picks_the_extreme_fitting_block(
        mem_ranges in page_ranges(),
        res_ranges in page_ranges(),
        size in 1u64..3 * PAGE_SIZE,
        align_shift in 3u32..14,
        bottom_up in any::<bool>(),
        limit_pages in 1u64..PAGES + 16,
    ) {
        let align = 1u64 << align_shift;
        let mut m = fresh();
        for &(b, s) in &mem_ranges {
            m.add(b, s, C).unwrap();
        }
        for &(b, s) in &res_ranges {
            m.reserve(b, s, C).unwrap();
        }
        m.set_bottom_up(bottom_up);
        let limit = limit_pages * PAGE_SIZE;
        m.set_current_limit(limit);
        // Maximal free intervals (all memory shares one nid and no flags).
        let free: Vec<(u64, u64)> = m.free_mem_ranges(NUMA_NO_NODE, MemblockFlags::NONE)
            .iter().map(|f| (f.start, f.end)).collect();
        let expect = brute_force(&free, size, align, limit, bottom_up);
        let reserved_before = m.reserved_size();
        match m.alloc(size, align, C) {
            Ok(p) => {
                prop_assert_eq!(Some(p), expect);
                prop_assert_eq!(p % align, 0);
                prop_assert!(m.is_region_memory(p, size));
                prop_assert_eq!(m.reserved_size(), reserved_before + size);
            }
            Err(e) => {
                prop_assert_eq!(e.kind(), crate::MmErrorKind::OutOfMemory);
                prop_assert_eq!(expect, None);
                prop_assert_eq!(m.reserved_size(), reserved_before);
            }
        }
    }
}

// ------------------------------------------------------------ no panics

#[derive(Debug, Clone)]
enum AnyOp {
    Add(u64, u64),
    AddNode(u64, u64, i32, u32),
    Reserve(u64, u64),
    ReserveNode(u64, u64, i32, u32),
    Remove(u64, u64),
    Free(u64, u64),
    SetNode(u64, u64, i32),
    Flag(u8, u64, u64),
    Trim(u64),
    Enforce(u64),
    Cap(u64, u64),
    RemoveMap(u64),
    Alloc(u8, u64, u64, u64, u64, i32),
    Limit(u64),
    BottomUp(bool),
}

fn edge_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        0..SZ_64K,
        Just(0u64),
        Just(u64::MAX),
        (0..64u32).prop_map(|s| 1u64 << s),
        (0..64u32).prop_map(|s| u64::MAX - (1u64 << s) + 1),
    ]
}

fn any_op() -> impl Strategy<Value = AnyOp> {
    let nid = -3..70i32;
    prop_oneof![
        (edge_u64(), edge_u64()).prop_map(|(b, s)| AnyOp::Add(b, s)),
        (edge_u64(), edge_u64(), nid.clone(), 0..32u32).prop_map(|(b, s, n, f)| AnyOp::AddNode(b, s, n, f)),
        (edge_u64(), edge_u64()).prop_map(|(b, s)| AnyOp::Reserve(b, s)),
        (edge_u64(), edge_u64(), nid.clone(), 0..32u32).prop_map(|(b, s, n, f)| AnyOp::ReserveNode(b, s, n, f)),
        (edge_u64(), edge_u64()).prop_map(|(b, s)| AnyOp::Remove(b, s)),
        (edge_u64(), edge_u64()).prop_map(|(b, s)| AnyOp::Free(b, s)),
        (edge_u64(), edge_u64(), nid.clone()).prop_map(|(b, s, n)| AnyOp::SetNode(b, s, n)),
        (0..6u8, edge_u64(), edge_u64()).prop_map(|(k, b, s)| AnyOp::Flag(k, b, s)),
        edge_u64().prop_map(AnyOp::Trim),
        edge_u64().prop_map(AnyOp::Enforce),
        (edge_u64(), edge_u64()).prop_map(|(b, s)| AnyOp::Cap(b, s)),
        edge_u64().prop_map(AnyOp::RemoveMap),
        (0..12u8, edge_u64(), edge_u64(), edge_u64(), edge_u64(), nid)
            .prop_map(|(k, s, a, lo, hi, n)| AnyOp::Alloc(k, s, a, lo, hi, n)),
        edge_u64().prop_map(AnyOp::Limit),
        any::<bool>().prop_map(AnyOp::BottomUp),
    ]
}

fn run_any(m: &mut Memblock, op: &AnyOp) -> crate::Result<()> {
    match *op {
        AnyOp::Add(b, s) => m.add(b, s, C),
        AnyOp::AddNode(b, s, n, f) => m.add_node(b, s, n, MemblockFlags(f), C),
        AnyOp::Reserve(b, s) => m.reserve(b, s, C),
        AnyOp::ReserveNode(b, s, n, f) => m.reserve_node(b, s, n, MemblockFlags(f), C),
        AnyOp::Remove(b, s) => m.remove(b, s, C),
        AnyOp::Free(b, s) => m.free(b, s, C),
        AnyOp::SetNode(b, s, n) => m.set_node(b, s, n),
        AnyOp::Flag(k, b, s) => match k {
            0 => m.mark_hotplug(b, s),
            1 => m.clear_hotplug(b, s),
            2 => m.mark_mirror(b, s),
            3 => m.mark_nomap(b, s),
            4 => m.clear_nomap(b, s),
            _ => m.isolate_range(MemblockTypeKind::Reserved, b, s).map(|_| ()),
        },
        AnyOp::Trim(a) => m.trim_memory(a),
        AnyOp::Enforce(l) => m.enforce_memory_limit(l),
        AnyOp::Cap(b, s) => m.cap_memory_range(b, s),
        AnyOp::RemoveMap(l) => m.mem_limit_remove_map(l),
        AnyOp::Alloc(k, s, a, lo, hi, n) => {
            let r = match k {
                0 => m.alloc(s, a, C),
                1 => m.alloc_raw(s, a, C),
                2 => m.alloc_from(s, a, lo, C),
                3 => m.alloc_low(s, a, C),
                4 => m.alloc_node(s, a, n, C),
                5 => m.alloc_try_nid(s, a, lo, hi, n, C),
                6 => m.alloc_try_nid_raw(s, a, lo, hi, n, C),
                7 => m.alloc_exact_nid_raw(s, a, lo, hi, n, C),
                8 => m.phys_alloc(s, a, C),
                9 => m.phys_alloc_range(s, a, lo, hi, C),
                10 => m.phys_alloc_try_nid(s, a, n),
                _ => m.find_in_range_node(s, a, lo, hi, n, MemblockFlags::NONE),
            };
            if let Ok(p) = r {
                // Whatever was handed out lies in memory, aligned.
                assert!(m.is_region_memory(p, s.max(1)) || k == 11);
            }
            r.map(|_| ())
        }
        AnyOp::Limit(l) => {
            m.set_current_limit(l);
            Ok(())
        }
        AnyOp::BottomUp(b) => {
            m.set_bottom_up(b);
            Ok(())
        }
    }
}

/// Sorted and disjoint; merged too unless an operation that splits without
/// merging (isolation, `cap_memory_range`) ran, as in the kernel.
fn check_shape(t: &MemblockType, merged: bool) {
    let rs = t.regions();
    for r in rs {
        assert!(r.size > 0 && r.base.checked_add(r.size).is_some(), "{r:?}");
    }
    for w in rs.windows(2) {
        assert!(w[0].end() <= w[1].base, "{w:?}");
        if merged {
            assert!(!(w[0].end() == w[1].base && w[0].nid == w[1].nid && w[0].flags == w[1].flags), "{w:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_arguments_never_panic_and_keep_tables_sound(
        ops in prop::collection::vec(any_op(), 1..30),
        v61 in any::<bool>(),
        cap in 1usize..300,
    ) {
        let mut m = Memblock::with_version(if v61 { KernelVersion::V6_1 } else { KernelVersion::V5_14 });
        m.set_debug(true);
        m.set_max_regions(cap).unwrap();
        let mut trimmed = false;
        let (mut mem_split, mut res_split) = (false, false);
        for op in &ops {
            let before = m.clone();
            let res = run_any(&mut m, op);
            match op {
                AnyOp::Trim(_) => trimmed = true,
                AnyOp::Cap(..) | AnyOp::RemoveMap(_) => mem_split = true,
                AnyOp::Flag(5, ..) => res_split = true,
                _ => {}
            }
            if res.is_err() {
                prop_assert_eq!(m.memory(), before.memory());
                prop_assert_eq!(m.reserved(), before.reserved());
            }
            check_shape(m.memory(), !mem_split);
            check_shape(m.reserved(), !res_split);
            prop_assert!(m.memory().len() <= cap && m.reserved().len() <= cap);
            if !trimmed {
                prop_assert_eq!(m.phys_mem_size(), m.memory().regions().iter().map(|r| r.size).sum::<u64>());
            }
            prop_assert_eq!(m.reserved_size(), m.reserved().regions().iter().map(|r| r.size).sum::<u64>());
            let _ = m.dump_lines();
            let _ = m.free_mem_ranges(NUMA_NO_NODE, MemblockFlags::NONE);
            let _ = m.mem_pfn_ranges(m.max_numnodes());
        }
    }
}
