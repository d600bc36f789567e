//! The cases of the kernel's tools/testing/memblock/tests/alloc_helpers_api.c
//! (`memblock_alloc_from()`).

use super::common::*;

#[test]
fn alloc_from_simple_starts_at_aligned_min_addr() {
    both_dirs(|bottom_up| {
        let mut m = setup_dir(bottom_up);
        let min = m.end_of_dram() - SMP;
        let p = m.alloc_from(SZ_16, SMP, min, C).unwrap();
        assert_eq!(p, min);
        assert_regions(m.reserved(), &[(min, SZ_16)]);
        assert_eq!(m.reserved_size(), SZ_16);
    });
}

#[test]
fn alloc_from_misaligned_min_addr_rounds_up() {
    both_dirs(|bottom_up| {
        let mut m = setup_dir(bottom_up);
        let min = m.end_of_dram() - (SMP * 2 - 1);
        let p = m.alloc_from(SZ_32, SMP, min, C).unwrap();
        assert_eq!(p, m.end_of_dram() - SMP);
        assert_regions(m.reserved(), &[(m.end_of_dram() - SMP, SZ_32)]);
    });
}

#[test]
fn alloc_from_top_down_min_addr_too_high_falls_back() {
    let mut m = setup_dir(false);
    let min = m.end_of_dram() - SZ_16;
    let p = m.alloc_from(SZ_32, SMP, min, C).unwrap();
    assert_eq!(p, m.end_of_dram() - SMP);
    assert_regions(m.reserved(), &[(m.end_of_dram() - SMP, SZ_32)]);
}

#[test]
fn alloc_from_top_down_no_space_above_min_addr_falls_back_and_merges() {
    let mut m = setup_dir(false);
    let min = m.end_of_dram() - SMP * 2;
    m.reserve(min, SZ_2, C).unwrap();
    m.alloc_from(SZ_64, SMP, min, C).unwrap();
    assert_regions(m.reserved(), &[(min - SZ_64, SZ_64 + SZ_2)]);
}

#[test]
fn alloc_from_top_down_min_addr_below_memory_is_capped() {
    let mut m = setup_dir(false);
    let start = m.start_of_dram();
    let min = start - SMP * 3;
    m.reserve(start + SZ_64, MEM_SIZE - SZ_64, C).unwrap();
    m.alloc_from(SZ_64, SMP, min, C).unwrap();
    assert_regions(m.reserved(), &[(start, MEM_SIZE)]);
    assert_eq!(m.reserved_size(), MEM_SIZE);
}

#[test]
fn alloc_from_bottom_up_min_addr_too_high_falls_back_to_start() {
    let mut m = setup_dir(true);
    let min = m.end_of_dram() - SZ_8;
    let p = m.alloc_from(SZ_32, SMP, min, C).unwrap();
    assert_eq!(p, m.start_of_dram());
    assert_regions(m.reserved(), &[(m.start_of_dram(), SZ_32)]);
}

#[test]
fn alloc_from_bottom_up_no_space_above_min_addr_falls_back_to_start() {
    let mut m = setup_dir(true);
    let min = m.start_of_dram() + SZ_128;
    let r2_size = m.end_of_dram() - min;
    m.reserve(min - SMP, r2_size, C).unwrap();
    m.alloc_from(SZ_64, SMP, min, C).unwrap();
    assert_regions(m.reserved(), &[(m.start_of_dram(), SZ_64), (min - SMP, r2_size)]);
    assert_eq!(m.reserved_size(), SZ_64 + r2_size);
}

#[test]
fn alloc_from_bottom_up_min_addr_below_memory_is_capped() {
    let mut m = setup_dir(true);
    let start = m.start_of_dram();
    m.alloc_from(SZ_64, SMP, start - SMP * 3, C).unwrap();
    assert_regions(m.reserved(), &[(start, SZ_64)]);
}
