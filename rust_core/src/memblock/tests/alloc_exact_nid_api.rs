//! The NUMA cases of the kernel's
//! tools/testing/memblock/tests/alloc_exact_nid_api.c
//! (`memblock_alloc_exact_nid_raw()`: never falls back to another node). Its
//! range cases are the alloc_nid ones, run there with every variant.

use super::alloc_nid_api::{run_nid, Variant};
use super::common::*;

const V: Variant = Variant::ExactNidRaw;

fn one_region(m: &Memblock, base: u64, size: u64) {
    assert_regions(m.reserved(), &[(base, size)]);
    assert_eq!(m.reserved_size(), size);
}

#[test]
fn exact_nid_numa_simple_uses_requested_node() {
    for bu in [false, true] {
        let mut m = numa_dir(bu);
        let req = mem(&m, 3);
        let size = req.size / SZ_4;
        let (min, max) = (m.start_of_dram(), m.end_of_dram());
        run_nid(&mut m, V, size, SMP, min, max, 3).unwrap();
        one_region(&m, if bu { req.base } else { req.end() - size }, size);
    }
}

#[test]
fn exact_nid_numa_part_reserved_node_still_serves() {
    for bu in [false, true] {
        let mut m = numa_dir(bu);
        let req = mem(&m, 4);
        let r1 = (req.base, req.size / SZ_2);
        let size = r1.1 / SZ_4;
        let (min, max) = (m.start_of_dram(), m.end_of_dram());
        m.reserve(r1.0, r1.1, C).unwrap();
        run_nid(&mut m, V, size, SMP, min, max, 4).unwrap();
        if bu {
            assert_regions(m.reserved(), &[(req.base, r1.1 + size)]);
        } else {
            assert_regions(m.reserved(), &[r1, (req.end() - size, size)]);
        }
        assert_eq!(m.reserved_size(), r1.1 + size);
    }
}

#[test]
fn exact_nid_numa_split_range_low_drops_min_addr() {
    for bu in [false, true] {
        let mut m = numa_dir(bu);
        let req = mem(&m, 2);
        let min = req.end() - SZ_256;
        run_nid(&mut m, V, SZ_512, SMP, min, min + SZ_512, 2).unwrap();
        one_region(&m, if bu { req.base } else { req.end() - SZ_512 }, SZ_512);
    }
}

#[test]
fn exact_nid_numa_no_overlap_split_drops_min_addr() {
    for bu in [false, true] {
        let mut m = numa_dir(bu);
        let req = mem(&m, 2);
        let min = mem(&m, 6).base - SZ_256;
        run_nid(&mut m, V, SZ_512, SMP, min, min + SZ_512, 2).unwrap();
        one_region(&m, if bu { req.base } else { req.end() - SZ_512 }, SZ_512);
    }
}

#[test]
fn exact_nid_numa_no_overlap_low_drops_min_addr_to_reach_node() {
    for bu in [false, true] {
        let mut m = numa_dir(bu);
        let req = mem(&m, 0);
        let (min, max) = (mem(&m, 2).base, mem(&m, 5).end());
        run_nid(&mut m, V, SZ_64, SMP, min, max, 0).unwrap();
        one_region(&m, if bu { req.base } else { req.end() - SZ_64 }, SZ_64);
    }
}

#[test]
fn exact_nid_numa_small_node_fails() {
    both_dirs(|bu| {
        let mut m = numa_dir(bu);
        let size = SZ_2 * mem(&m, 1).size;
        let (min, max) = (m.start_of_dram(), m.end_of_dram());
        assert!(run_nid(&mut m, V, size, SMP, min, max, 1).is_err());
        assert!(m.reserved().is_empty());
    });
}

#[test]
fn exact_nid_numa_node_reserved_fails() {
    both_dirs(|bu| {
        let mut m = numa_dir(bu);
        let req = mem(&m, 2);
        let (min, max) = (m.start_of_dram(), m.end_of_dram());
        m.reserve(req.base, req.size, C).unwrap();
        assert!(run_nid(&mut m, V, req.size, SMP, min, max, 2).is_err());
        assert_regions(m.reserved(), &[(req.base, req.size)]);
    });
}

#[test]
fn exact_nid_numa_part_reserved_without_room_fails() {
    both_dirs(|bu| {
        let mut m = numa_dir(bu);
        let req = mem(&m, 4);
        let size = req.size / SZ_2;
        let (min, max) = (m.start_of_dram(), m.end_of_dram());
        m.reserve(req.base + size / SZ_2, size, C).unwrap();
        assert!(run_nid(&mut m, V, size, SMP, min, max, 4).is_err());
    });
}

#[test]
fn exact_nid_numa_split_range_high_fails() {
    both_dirs(|bu| {
        let mut m = numa_dir(bu);
        let min = mem(&m, 3).base - SZ_256;
        assert!(run_nid(&mut m, V, SZ_512, SMP, min, min + SZ_512, 3).is_err());
    });
}

#[test]
fn exact_nid_numa_no_overlap_high_fails() {
    both_dirs(|bu| {
        let mut m = numa_dir(bu);
        let (min, max) = (mem(&m, 2).base, mem(&m, 5).end());
        assert!(run_nid(&mut m, V, SZ_64, SMP, min, max, 7).is_err());
    });
}

#[test]
fn exact_nid_numa_large_region_fails() {
    both_dirs(|bu| {
        let mut m = numa_dir(bu);
        let (min, max) = (m.start_of_dram(), m.end_of_dram());
        assert!(run_nid(&mut m, V, MEM_SIZE / SZ_2, SMP, min, max, 3).is_err());
    });
}

#[test]
fn exact_nid_numa_reserved_full_merge() {
    both_dirs(|bu| {
        let mut m = numa_dir(bu);
        let req = mem(&m, 6);
        let size = req.size;
        let r1 = (mem(&m, 7).base, SZ_128);
        let r2 = (r1.0 - (size + SZ_128), SZ_128);
        m.reserve(r1.0, r1.1, C).unwrap();
        m.reserve(r2.0, r2.1, C).unwrap();
        run_nid(&mut m, V, size, SMP, r2.0 + r2.1, r1.0, 6).unwrap();
        one_region(&m, r2.0, size + SZ_256);
    });
}

#[test]
fn exact_nid_numa_split_all_reserved_fails() {
    both_dirs(|bu| {
        let mut m = numa_dir(bu);
        let next = mem(&m, 7);
        let r2 = (next.base + SZ_128, m.end_of_dram() - (next.base + SZ_128));
        let r1 = (m.start_of_dram(), MEM_SIZE - (r2.1 + SZ_256));
        m.reserve(r1.0, r1.1, C).unwrap();
        m.reserve(r2.0, r2.1, C).unwrap();
        assert!(run_nid(&mut m, V, SZ_256, SMP, r1.0 + r1.1, r2.0, NUMA_NO_NODE).is_err());
    });
}
