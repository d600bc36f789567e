//! The cases of the kernel's tools/testing/memblock/tests/alloc_nid_api.c
//! (`memblock_alloc_try_nid()`, `memblock_alloc_try_nid_raw()` and, where
//! the suite runs them too, `memblock_alloc_exact_nid_raw()`).

use super::common::*;

/// The allocator under test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Variant {
    TryNid,
    TryNidRaw,
    ExactNidRaw,
}

pub(super) const ALL_VARIANTS: [Variant; 3] = [Variant::TryNid, Variant::TryNidRaw, Variant::ExactNidRaw];

pub(super) fn run_nid(
    m: &mut Memblock,
    v: Variant,
    size: u64,
    align: u64,
    min: u64,
    max: u64,
    nid: i32,
) -> crate::Result<PhysAddr> {
    match v {
        Variant::TryNid => m.alloc_try_nid(size, align, min, max, nid, C),
        Variant::TryNidRaw => m.alloc_try_nid_raw(size, align, min, max, nid, C),
        Variant::ExactNidRaw => m.alloc_exact_nid_raw(size, align, min, max, nid, C),
    }
}

/// Run a case for every allocator variant.
fn each_variant(f: impl Fn(Variant)) {
    for v in ALL_VARIANTS {
        f(v);
    }
}

fn one_region(m: &Memblock, base: u64, size: u64) {
    assert_regions(m.reserved(), &[(base, size)]);
    assert_eq!(m.reserved_size(), size);
}

// ------------------------------------------------------------ range checks

#[test]
fn alloc_nid_top_down_simple_ends_at_max_addr() {
    each_variant(|v| {
        let mut m = setup_dir(false);
        let min = m.start_of_dram() + SMP * 2;
        let max = min + SZ_512;
        run_nid(&mut m, v, SZ_128, SMP, min, max, NUMA_NO_NODE).unwrap();
        one_region(&m, max - SZ_128, SZ_128);
    });
}

#[test]
fn alloc_nid_top_down_end_misaligned_rounds_down() {
    each_variant(|v| {
        let mut m = setup_dir(false);
        let min = m.start_of_dram() + SMP * 2;
        let max = min + SZ_512 + SZ_2;
        run_nid(&mut m, v, SZ_128, SMP, min, max, NUMA_NO_NODE).unwrap();
        one_region(&m, max - SZ_128 - SZ_2, SZ_128);
        assert!(res(&m, 0).end() < max);
    });
}

#[test]
fn alloc_nid_exact_address_fills_range() {
    each_variant(|v| {
        both_dirs(|bu| {
            let mut m = setup_dir(bu);
            let min = m.start_of_dram() + SMP;
            let max = min + SZ_1K;
            run_nid(&mut m, v, SZ_1K, SMP, min, max, NUMA_NO_NODE).unwrap();
            one_region(&m, min, SZ_1K);
        });
    });
}

#[test]
fn alloc_nid_top_down_narrow_range_drops_min_addr() {
    each_variant(|v| {
        let mut m = setup_dir(false);
        let min = m.start_of_dram() + SZ_512;
        let max = min + SMP;
        run_nid(&mut m, v, SZ_256, SMP, min, max, NUMA_NO_NODE).unwrap();
        one_region(&m, max - SZ_256, SZ_256);
    });
}

#[test]
fn alloc_nid_low_max_fails() {
    each_variant(|v| {
        both_dirs(|bu| {
            let mut m = setup_dir(bu);
            let min = m.start_of_dram();
            let max = min + SMP;
            assert!(run_nid(&mut m, v, SZ_1K, SMP, min, max, NUMA_NO_NODE).is_err());
            assert!(m.reserved().is_empty());
        });
    });
}

#[test]
fn alloc_nid_min_reserved_merges_with_region_below() {
    each_variant(|v| {
        both_dirs(|bu| {
            let mut m = setup_dir(bu);
            let max = m.end_of_dram();
            let min = max - SZ_64;
            let rbase = min - SZ_128;
            m.reserve(rbase, SZ_128, C).unwrap();
            run_nid(&mut m, v, SZ_64, SMP, min, max, NUMA_NO_NODE).unwrap();
            one_region(&m, rbase, SZ_128 + SZ_64);
        });
    });
}

#[test]
fn alloc_nid_max_reserved_merges_with_region_above() {
    each_variant(|v| {
        both_dirs(|bu| {
            let mut m = setup_dir(bu);
            let max = m.end_of_dram() - SZ_64;
            let min = max - SZ_128;
            m.reserve(max, SZ_64, C).unwrap();
            run_nid(&mut m, v, SZ_128, SMP, min, max, NUMA_NO_NODE).unwrap();
            one_region(&m, min, SZ_128 + SZ_64);
        });
    });
}

#[test]
fn alloc_nid_top_down_reserved_with_space_merges_with_upper() {
    each_variant(|v| {
        let mut m = setup_dir(false);
        let r1 = (m.end_of_dram() - SMP * 2, SMP);
        let r2 = (r1.0 - (SZ_64 + SMP + SZ_128), SZ_128);
        let (min, max) = (r2.0 + r2.1, r1.0);
        m.reserve(r1.0, r1.1, C).unwrap();
        m.reserve(r2.0, r2.1, C).unwrap();
        run_nid(&mut m, v, SZ_64, SMP, min, max, NUMA_NO_NODE).unwrap();
        assert_regions(m.reserved(), &[r2, (max - SZ_64, r1.1 + SZ_64)]);
        assert_eq!(m.reserved_size(), r1.1 + r2.1 + SZ_64);
    });
}

#[test]
fn alloc_nid_reserved_full_merge_fills_exact_gap() {
    each_variant(|v| {
        both_dirs(|bu| {
            let mut m = setup_dir(bu);
            let r1 = (m.end_of_dram() - SMP * 2, SMP);
            let r2 = (r1.0 - (SZ_64 + SZ_128), SZ_128);
            let (min, max) = (r2.0 + r2.1, r1.0);
            m.reserve(r1.0, r1.1, C).unwrap();
            m.reserve(r2.0, r2.1, C).unwrap();
            run_nid(&mut m, v, SZ_64, SMP, min, max, NUMA_NO_NODE).unwrap();
            one_region(&m, r2.0, r1.1 + r2.1 + SZ_64);
        });
    });
}

#[test]
fn alloc_nid_top_down_reserved_no_space_goes_below_lower_region() {
    each_variant(|v| {
        let mut m = setup_dir(false);
        let r1 = (m.end_of_dram() - SMP * 2, SMP);
        let r2 = (r1.0 - (SZ_128 + SMP), SZ_128);
        let (min, max) = (r2.0 + r2.1, r1.0);
        m.reserve(r1.0, r1.1, C).unwrap();
        m.reserve(r2.0, r2.1, C).unwrap();
        run_nid(&mut m, v, SZ_256, SMP, min, max, NUMA_NO_NODE).unwrap();
        assert_regions(m.reserved(), &[(r2.0 - SZ_256, r2.1 + SZ_256), r1]);
        assert_eq!(m.reserved_size(), r1.1 + r2.1 + SZ_256);
    });
}

#[test]
fn alloc_nid_reserved_all_fails() {
    each_variant(|v| {
        both_dirs(|bu| {
            let mut m = setup_dir(bu);
            let r1 = (m.end_of_dram() - SMP, SMP);
            let r2 = (m.start_of_dram(), MEM_SIZE - (SMP + SMP));
            let (min, max) = (r2.0 + r2.1, r1.0);
            m.reserve(r1.0, r1.1, C).unwrap();
            m.reserve(r2.0, r2.1, C).unwrap();
            assert!(run_nid(&mut m, v, SZ_256, SMP, min, max, NUMA_NO_NODE).is_err());
        });
    });
}

#[test]
fn alloc_nid_top_down_cap_max_to_end_of_memory() {
    each_variant(|v| {
        let mut m = setup_dir(false);
        let min = m.end_of_dram() - SZ_1K;
        let max = m.end_of_dram() + SZ_256;
        run_nid(&mut m, v, SZ_256, SMP, min, max, NUMA_NO_NODE).unwrap();
        one_region(&m, m.end_of_dram() - SZ_256, SZ_256);
    });
}

#[test]
fn alloc_nid_top_down_cap_min_below_memory() {
    each_variant(|v| {
        let mut m = setup_dir(false);
        let min = m.start_of_dram() - SZ_256;
        let max = m.end_of_dram();
        run_nid(&mut m, v, SZ_1K, SMP, min, max, NUMA_NO_NODE).unwrap();
        one_region(&m, m.end_of_dram() - SZ_1K, SZ_1K);
    });
}

#[test]
fn alloc_nid_bottom_up_simple_starts_at_min_addr() {
    each_variant(|v| {
        let mut m = setup_dir(true);
        let min = m.start_of_dram() + SMP * 2;
        let max = min + SZ_512;
        run_nid(&mut m, v, SZ_128, SMP, min, max, NUMA_NO_NODE).unwrap();
        one_region(&m, min, SZ_128);
        assert!(res(&m, 0).end() < max);
    });
}

#[test]
fn alloc_nid_bottom_up_start_misaligned_rounds_up() {
    each_variant(|v| {
        let mut m = setup_dir(true);
        let min = m.start_of_dram() + SZ_2;
        let max = min + SZ_512;
        run_nid(&mut m, v, SZ_128, SMP, min, max, NUMA_NO_NODE).unwrap();
        one_region(&m, min + (SMP - SZ_2), SZ_128);
    });
}

#[test]
fn alloc_nid_bottom_up_narrow_range_drops_min_addr() {
    each_variant(|v| {
        let mut m = setup_dir(true);
        let min = m.start_of_dram() + SZ_512;
        let max = min + SMP;
        run_nid(&mut m, v, SZ_256, SMP, min, max, NUMA_NO_NODE).unwrap();
        one_region(&m, m.start_of_dram(), SZ_256);
    });
}

#[test]
fn alloc_nid_bottom_up_reserved_with_space_merges_with_lower() {
    each_variant(|v| {
        let mut m = setup_dir(true);
        let r1 = (m.end_of_dram() - SMP * 2, SMP);
        let r2 = (r1.0 - (SZ_64 + SMP + SZ_128), SZ_128);
        let (min, max) = (r2.0 + r2.1, r1.0);
        m.reserve(r1.0, r1.1, C).unwrap();
        m.reserve(r2.0, r2.1, C).unwrap();
        run_nid(&mut m, v, SZ_64, SMP, min, max, NUMA_NO_NODE).unwrap();
        assert_regions(m.reserved(), &[(r2.0, r2.1 + SZ_64), (max, r1.1)]);
    });
}

#[test]
fn alloc_nid_bottom_up_reserved_no_space_goes_to_start() {
    each_variant(|v| {
        let mut m = setup_dir(true);
        let r1 = (m.end_of_dram() - SMP * 2, SMP);
        let r2 = (r1.0 - (SZ_128 + SMP), SZ_128);
        let (min, max) = (r2.0 + r2.1, r1.0);
        m.reserve(r1.0, r1.1, C).unwrap();
        m.reserve(r2.0, r2.1, C).unwrap();
        run_nid(&mut m, v, SZ_256, SMP, min, max, NUMA_NO_NODE).unwrap();
        assert_regions(m.reserved(), &[(m.start_of_dram(), SZ_256), r2, r1]);
        assert_eq!(m.reserved_size(), r1.1 + r2.1 + SZ_256);
    });
}

#[test]
fn alloc_nid_bottom_up_cap_max_starts_at_min_addr() {
    each_variant(|v| {
        let mut m = setup_dir(true);
        let min = m.start_of_dram() + SZ_1K;
        let max = m.end_of_dram() + SZ_256;
        run_nid(&mut m, v, SZ_256, SMP, min, max, NUMA_NO_NODE).unwrap();
        one_region(&m, min, SZ_256);
    });
}

#[test]
fn alloc_nid_bottom_up_cap_min_starts_at_memory() {
    each_variant(|v| {
        let mut m = setup_dir(true);
        let min = m.start_of_dram();
        let max = m.end_of_dram() - SZ_256;
        run_nid(&mut m, v, SZ_1K, SMP, min, max, NUMA_NO_NODE).unwrap();
        one_region(&m, m.start_of_dram(), SZ_1K);
    });
}

// ------------------------------------------------------------- NUMA checks
//
// The suite runs these for memblock_alloc_try_nid() and its _raw variant;
// memblock_alloc_exact_nid_raw() has its own NUMA cases (alloc_exact_nid_api).

const NUMA_VARIANTS: [Variant; 2] = [Variant::TryNid, Variant::TryNidRaw];

fn each_numa_variant(f: impl Fn(Variant)) {
    for v in NUMA_VARIANTS {
        f(v);
    }
}

#[test]
fn alloc_nid_numa_top_down_simple_ends_at_requested_node_end() {
    each_numa_variant(|v| {
        let mut m = numa_dir(false);
        let req = mem(&m, 3);
        let size = req.size / SZ_4;
        let (min, max) = (m.start_of_dram(), m.end_of_dram());
        run_nid(&mut m, v, size, SMP, min, max, 3).unwrap();
        one_region(&m, req.end() - size, size);
    });
}

#[test]
fn alloc_nid_numa_bottom_up_simple_starts_at_requested_node() {
    each_numa_variant(|v| {
        let mut m = numa_dir(true);
        let req = mem(&m, 3);
        let size = req.size / SZ_4;
        let (min, max) = (m.start_of_dram(), m.end_of_dram());
        run_nid(&mut m, v, size, SMP, min, max, 3).unwrap();
        one_region(&m, req.base, size);
    });
}

#[test]
fn alloc_nid_numa_small_node_falls_back_to_any_node() {
    each_numa_variant(|v| {
        for (bu, exp) in [(false, 6), (true, 0)] {
            let mut m = numa_dir(bu);
            let req = mem(&m, 1);
            let exp_node = mem(&m, exp);
            let size = SZ_2 * req.size;
            let (min, max) = (m.start_of_dram(), m.end_of_dram());
            run_nid(&mut m, v, size, SMP, min, max, 1).unwrap();
            let base = if bu { exp_node.base } else { exp_node.end() - size };
            one_region(&m, base, size);
        }
    });
}

#[test]
fn alloc_nid_numa_node_reserved_falls_back_to_any_node() {
    each_numa_variant(|v| {
        for (bu, exp) in [(false, 6), (true, 0)] {
            let mut m = numa_dir(bu);
            let req = mem(&m, 2);
            let exp_node = mem(&m, exp);
            let size = req.size;
            let (min, max) = (m.start_of_dram(), m.end_of_dram());
            m.reserve(req.base, req.size, C).unwrap();
            run_nid(&mut m, v, size, SMP, min, max, 2).unwrap();
            let new = if bu { (exp_node.base, size) } else { (exp_node.end() - size, size) };
            let expect = if bu { vec![new, (req.base, req.size)] } else { vec![(req.base, req.size), new] };
            assert_regions(m.reserved(), &expect);
            assert_eq!(m.reserved_size(), size + req.size);
        }
    });
}

#[test]
fn alloc_nid_numa_part_reserved_node_still_serves() {
    each_numa_variant(|v| {
        for bu in [false, true] {
            let mut m = numa_dir(bu);
            let req = mem(&m, 4);
            let r1 = (req.base, req.size / SZ_2);
            let size = r1.1 / SZ_4;
            let (min, max) = (m.start_of_dram(), m.end_of_dram());
            m.reserve(r1.0, r1.1, C).unwrap();
            run_nid(&mut m, v, size, SMP, min, max, 4).unwrap();
            if bu {
                assert_regions(m.reserved(), &[(req.base, r1.1 + size)]);
            } else {
                assert_regions(m.reserved(), &[r1, (req.end() - size, size)]);
            }
            assert_eq!(m.reserved_size(), size + r1.1);
        }
    });
}

#[test]
fn alloc_nid_numa_part_reserved_without_contiguous_room_falls_back() {
    each_numa_variant(|v| {
        for (bu, exp) in [(false, NUMA_NODES - 1), (true, 0)] {
            let mut m = numa_dir(bu);
            let req = mem(&m, 4);
            let exp_node = mem(&m, exp);
            let size = req.size / SZ_2;
            let r1 = (req.base + size / SZ_2, size);
            let (min, max) = (m.start_of_dram(), m.end_of_dram());
            m.reserve(r1.0, r1.1, C).unwrap();
            run_nid(&mut m, v, size, SMP, min, max, 4).unwrap();
            if bu {
                assert_regions(m.reserved(), &[(exp_node.base, size), r1]);
            } else {
                assert_regions(m.reserved(), &[r1, (exp_node.end() - size, size)]);
            }
            assert_eq!(m.reserved_size(), size + r1.1);
        }
    });
}

#[test]
fn alloc_nid_numa_split_range_low_drops_min_addr_in_requested_node() {
    each_numa_variant(|v| {
        for bu in [false, true] {
            let mut m = numa_dir(bu);
            let req = mem(&m, 2);
            let min = req.end() - SZ_256;
            let max = min + SZ_512;
            run_nid(&mut m, v, SZ_512, SMP, min, max, 2).unwrap();
            let base = if bu { req.base } else { req.end() - SZ_512 };
            one_region(&m, base, SZ_512);
        }
    });
}

#[test]
fn alloc_nid_numa_split_range_high_falls_back_to_previous_or_first_node() {
    each_numa_variant(|v| {
        for (bu, exp) in [(false, 2), (true, 0)] {
            let mut m = numa_dir(bu);
            let req = mem(&m, 3);
            let exp_node = mem(&m, exp);
            let min = if bu { req.base - SZ_256 } else { exp_node.end() - SZ_256 };
            let max = min + SZ_512;
            run_nid(&mut m, v, SZ_512, SMP, min, max, 3).unwrap();
            let base = if bu { exp_node.base } else { exp_node.end() - SZ_512 };
            one_region(&m, base, SZ_512);
        }
    });
}

#[test]
fn alloc_nid_numa_no_overlap_split_uses_requested_node() {
    each_numa_variant(|v| {
        for bu in [false, true] {
            let mut m = numa_dir(bu);
            let req = mem(&m, 2);
            let node2 = mem(&m, 6);
            let min = node2.base - SZ_256;
            let max = min + SZ_512;
            run_nid(&mut m, v, SZ_512, SMP, min, max, 2).unwrap();
            let base = if bu { req.base } else { req.end() - SZ_512 };
            one_region(&m, base, SZ_512);
        }
    });
}

#[test]
fn alloc_nid_numa_no_overlap_low_and_high_fall_back_within_range() {
    each_numa_variant(|v| {
        for nid_req in [0, 7] {
            for bu in [false, true] {
                let mut m = numa_dir(bu);
                let min_node = mem(&m, 2);
                let max_node = mem(&m, 5);
                let (min, max) = (min_node.base, max_node.end());
                run_nid(&mut m, v, SZ_64, SMP, min, max, nid_req).unwrap();
                let base = if bu { min } else { max - SZ_64 };
                one_region(&m, base, SZ_64);
            }
        }
    });
}

#[test]
fn alloc_nid_numa_large_region_fails() {
    each_numa_variant(|v| {
        both_dirs(|bu| {
            let mut m = numa_dir(bu);
            let (min, max) = (m.start_of_dram(), m.end_of_dram());
            assert!(run_nid(&mut m, v, MEM_SIZE / SZ_2, SMP, min, max, 3).is_err());
            assert!(m.reserved().is_empty());
        });
    });
}

#[test]
fn alloc_nid_numa_reserved_full_merge() {
    each_numa_variant(|v| {
        both_dirs(|bu| {
            let mut m = numa_dir(bu);
            let req = mem(&m, 6);
            let next = mem(&m, 7);
            let size = req.size;
            let r1 = (next.base, SZ_128);
            let r2 = (r1.0 - (size + SZ_128), SZ_128);
            let (min, max) = (r2.0 + r2.1, r1.0);
            m.reserve(r1.0, r1.1, C).unwrap();
            m.reserve(r2.0, r2.1, C).unwrap();
            run_nid(&mut m, v, size, SMP, min, max, 6).unwrap();
            let total = r1.1 + r2.1 + size;
            one_region(&m, r2.0, total);
            assert!(res(&m, 0).base <= req.base && req.end() <= res(&m, 0).end());
        });
    });
}

#[test]
fn alloc_nid_numa_split_all_reserved_fails() {
    each_numa_variant(|v| {
        both_dirs(|bu| {
            let mut m = numa_dir(bu);
            let next = mem(&m, 7);
            let r2 = (next.base + SZ_128, m.end_of_dram() - (next.base + SZ_128));
            let r1 = (m.start_of_dram(), MEM_SIZE - (r2.1 + SZ_256));
            let (min, max) = (r1.0 + r1.1, r2.0);
            m.reserve(r1.0, r1.1, C).unwrap();
            m.reserve(r2.0, r2.1, C).unwrap();
            assert!(run_nid(&mut m, v, SZ_256, SMP, min, max, NUMA_NO_NODE).is_err());
        });
    });
}

#[test]
fn alloc_node_lands_on_requested_nid() {
    both_dirs(|bu| {
        let mut m = numa_dir(bu);
        let req = mem(&m, 2);
        let p = m.alloc_node(SZ_512, SMP, 2, C).unwrap();
        assert_eq!(req.nid, 2);
        assert!(req.base <= p && p + SZ_512 <= req.end());
    });
}

#[test]
fn alloc_nid_numa_cases_hold_with_movable_node() {
    // The suite's `--movable-node` run: nodes are added without HOTPLUG and
    // movable_node is on, so nothing is skipped and results are unchanged.
    for bu in [false, true] {
        let mut m = setup_numa_memblock(&NODE_FRACTIONS, true);
        m.set_bottom_up(bu);
        let req = mem(&m, 3);
        assert_eq!(req.flags, MemblockFlags::NONE);
        let size = req.size / SZ_4;
        let (min, max) = (m.start_of_dram(), m.end_of_dram());
        run_nid(&mut m, Variant::TryNid, size, SMP, min, max, 3).unwrap();
        one_region(&m, if bu { req.base } else { req.end() - size }, size);
    }
    // With movable_node on and every node hotpluggable, nothing is usable.
    let mut m = setup_numa_memblock(&NODE_FRACTIONS, false);
    m.set_movable_node(true);
    let (min, max) = (m.start_of_dram(), m.end_of_dram());
    assert!(run_nid(&mut m, Variant::TryNid, SZ_64, SMP, min, max, 3).is_err());
}
