//! The cases of the kernel's tools/testing/memblock/tests/alloc_api.c
//! (`memblock_alloc()` and `memblock_alloc_raw()`, top-down and bottom-up).

use super::common::*;

/// `memblock_alloc` or `memblock_alloc_raw`.
fn run_alloc(m: &mut Memblock, raw: bool, size: u64, align: u64) -> crate::Result<PhysAddr> {
    if raw {
        m.alloc_raw(size, align, C)
    } else {
        m.alloc(size, align, C)
    }
}

/// Run a case for both `memblock_alloc` and `memblock_alloc_raw`.
fn both_variants(f: impl Fn(bool)) {
    f(false);
    f(true);
}

#[test]
fn alloc_top_down_simple_takes_end_of_memory() {
    both_variants(|raw| {
        let mut m = setup_dir(false);
        let expected = m.end_of_dram() - SMP;
        let p = run_alloc(&mut m, raw, SZ_2, SMP).unwrap();
        assert_eq!(p, expected);
        assert_regions(m.reserved(), &[(expected, SZ_2)]);
        assert_eq!(m.reserved_size(), SZ_2);
    });
}

#[test]
fn alloc_top_down_disjoint_from_misaligned_reservation() {
    both_variants(|raw| {
        let mut m = setup_dir(false);
        let align = SMP * 2;
        let r1 = (m.end_of_dram() - SZ_2, SZ_2);
        let expected = m.end_of_dram() - align;
        m.reserve(r1.0, r1.1, C).unwrap();
        let p = run_alloc(&mut m, raw, SZ_16, align).unwrap();
        assert_eq!(p, expected);
        assert_regions(m.reserved(), &[(expected, SZ_16), r1]);
        assert_eq!(m.reserved_size(), SZ_2 + SZ_16);
    });
}

#[test]
fn alloc_top_down_before_reservation_merges() {
    both_variants(|raw| {
        let mut m = setup_dir(false);
        let (r1_size, r2_size) = (SMP, SZ_512);
        let total = r1_size + r2_size;
        m.reserve(m.end_of_dram() - total, r1_size, C).unwrap();
        run_alloc(&mut m, raw, r2_size, SMP).unwrap();
        assert_regions(m.reserved(), &[(m.end_of_dram() - total, total)]);
        assert_eq!(m.reserved_size(), total);
    });
}

#[test]
fn alloc_top_down_after_reservation_merges() {
    both_variants(|raw| {
        let mut m = setup_dir(false);
        let r1 = (m.end_of_dram() - SMP, SZ_8);
        m.reserve(r1.0, r1.1, C).unwrap();
        run_alloc(&mut m, raw, SZ_512, SMP).unwrap();
        assert_regions(m.reserved(), &[(r1.0 - SZ_512, SZ_8 + SZ_512)]);
    });
}

#[test]
fn alloc_top_down_second_fit_below_small_gap() {
    both_variants(|raw| {
        let mut m = setup_dir(false);
        let r1 = (m.end_of_dram() - SZ_512, SZ_512);
        let r2 = (r1.0 - SZ_512, SZ_256);
        m.reserve(r1.0, r1.1, C).unwrap();
        m.reserve(r2.0, r2.1, C).unwrap();
        run_alloc(&mut m, raw, SZ_1K, SMP).unwrap();
        assert_regions(m.reserved(), &[(r2.0 - SZ_1K, r2.1 + SZ_1K), r1]);
        assert_eq!(m.reserved_size(), SZ_512 + SZ_256 + SZ_1K);
    });
}

#[test]
fn alloc_in_between_two_reservations_merges_all() {
    both_variants(|raw| {
        both_dirs(|bottom_up| {
            let mut m = setup_dir(bottom_up);
            let gap = SMP;
            let r3_size = SZ_64;
            let rgn_size = (MEM_SIZE - (2 * gap + r3_size)) / 2;
            let r1 = (m.end_of_dram() - (gap + rgn_size), rgn_size);
            let r2 = (m.start_of_dram() + gap, rgn_size);
            m.reserve(r1.0, r1.1, C).unwrap();
            m.reserve(r2.0, r2.1, C).unwrap();
            run_alloc(&mut m, raw, r3_size, SMP).unwrap();
            let total = 2 * rgn_size + r3_size;
            assert_regions(m.reserved(), &[(r1.0 - r2.1 - r3_size, total)]);
        });
    });
}

#[test]
fn alloc_fails_when_all_gaps_are_too_small() {
    both_variants(|raw| {
        both_dirs(|bottom_up| {
            let mut m = setup_dir(bottom_up);
            let (region, gap) = (SZ_1K, SZ_256);
            let mut end = m.start_of_dram();
            while end < m.end_of_dram() {
                m.reserve(end + gap, region, C).unwrap();
                end += gap + region;
            }
            let before = m.reserved().clone();
            let e = run_alloc(&mut m, raw, region, SMP).unwrap_err();
            assert_eq!(e.kind(), crate::MmErrorKind::OutOfMemory);
            assert_eq!(m.reserved(), &before);
        });
    });
}

#[test]
fn alloc_fails_when_all_memory_is_reserved() {
    both_variants(|raw| {
        both_dirs(|bottom_up| {
            let mut m = setup_dir(bottom_up);
            m.reserve(m.start_of_dram(), MEM_SIZE, C).unwrap();
            assert!(run_alloc(&mut m, raw, SZ_256, SMP).is_err());
        });
    });
}

#[test]
fn alloc_fails_when_not_enough_space_is_left() {
    both_variants(|raw| {
        both_dirs(|bottom_up| {
            let mut m = setup_dir(bottom_up);
            m.reserve(m.start_of_dram(), MEM_SIZE - SZ_256, C).unwrap();
            assert!(run_alloc(&mut m, raw, SZ_1K, SMP).is_err());
        });
    });
}

#[test]
fn alloc_takes_exactly_the_space_left() {
    both_variants(|raw| {
        both_dirs(|bottom_up| {
            let mut m = setup_dir(bottom_up);
            m.reserve(m.start_of_dram(), MEM_SIZE - SZ_256, C).unwrap();
            run_alloc(&mut m, raw, SZ_256, SMP).unwrap();
            assert_regions(m.reserved(), &[(m.start_of_dram(), MEM_SIZE)]);
            assert_eq!(m.reserved_size(), MEM_SIZE);
        });
    });
}

#[test]
fn alloc_fails_without_memory() {
    both_variants(|raw| {
        both_dirs(|bottom_up| {
            let mut m = fresh();
            m.set_bottom_up(bottom_up);
            assert!(run_alloc(&mut m, raw, SZ_1K, SMP).is_err());
            let d = res(&m, 0);
            assert_eq!((d.base, d.size), (0, 0));
            assert_eq!(m.reserved_size(), 0);
        });
    });
}

#[test]
fn alloc_fails_when_larger_than_memory() {
    both_variants(|raw| {
        both_dirs(|bottom_up| {
            let mut m = setup_dir(bottom_up);
            assert!(run_alloc(&mut m, raw, MEM_SIZE + SZ_2, SMP).is_err());
            assert!(m.reserved().is_empty());
            assert_eq!(m.reserved_size(), 0);
        });
    });
}

#[test]
fn alloc_bottom_up_simple_takes_start_of_memory() {
    both_variants(|raw| {
        let mut m = setup_dir(true);
        let p = run_alloc(&mut m, raw, SZ_2, SMP).unwrap();
        assert_eq!(p, m.start_of_dram());
        assert_regions(m.reserved(), &[(m.start_of_dram(), SZ_2)]);
        assert_eq!(m.reserved_size(), SZ_2);
    });
}

#[test]
fn alloc_bottom_up_disjoint_from_misaligned_reservation() {
    both_variants(|raw| {
        let mut m = setup_dir(true);
        let align = SMP * 2;
        let r1 = (m.start_of_dram() + SZ_2, SZ_2);
        m.reserve(r1.0, r1.1, C).unwrap();
        let p = run_alloc(&mut m, raw, SZ_16, align).unwrap();
        assert_eq!(p, m.start_of_dram() + align);
        assert_regions(m.reserved(), &[r1, (m.start_of_dram() + align, SZ_16)]);
        assert_eq!(m.reserved_size(), SZ_2 + SZ_16);
    });
}

#[test]
fn alloc_bottom_up_before_reservation_merges() {
    both_variants(|raw| {
        let mut m = setup_dir(true);
        m.reserve(m.start_of_dram() + SZ_512, SZ_128, C).unwrap();
        run_alloc(&mut m, raw, SZ_512, SMP).unwrap();
        assert_regions(m.reserved(), &[(m.start_of_dram(), SZ_512 + SZ_128)]);
    });
}

#[test]
fn alloc_bottom_up_after_reservation_merges() {
    both_variants(|raw| {
        let mut m = setup_dir(true);
        let r1 = (m.start_of_dram() + SMP, SZ_64);
        m.reserve(r1.0, r1.1, C).unwrap();
        run_alloc(&mut m, raw, SZ_512, SMP).unwrap();
        assert_regions(m.reserved(), &[(r1.0, SZ_64 + SZ_512)]);
    });
}

#[test]
fn alloc_bottom_up_second_fit_above_small_gap() {
    both_variants(|raw| {
        let mut m = setup_dir(true);
        let r1 = (m.start_of_dram(), SZ_512);
        let r2 = (r1.0 + r1.1 + SZ_512, SZ_256);
        m.reserve(r1.0, r1.1, C).unwrap();
        m.reserve(r2.0, r2.1, C).unwrap();
        run_alloc(&mut m, raw, SZ_1K, SMP).unwrap();
        assert_regions(m.reserved(), &[r1, (r2.0, r2.1 + SZ_1K)]);
        assert_eq!(m.reserved_size(), SZ_512 + SZ_256 + SZ_1K);
    });
}

// Beyond the kernel suite: argument handling of the allocators.

#[test]
fn alloc_zero_size_is_invalid_and_changes_nothing() {
    let mut m = setup_memblock();
    let e = m.alloc(0, SMP, C).unwrap_err();
    assert_eq!(e.kind(), crate::MmErrorKind::InvalidArgument);
    assert!(m.reserved().is_empty());
}

#[test]
fn alloc_non_power_of_two_align_is_invalid() {
    let mut m = setup_memblock();
    assert_eq!(m.alloc(SZ_64, 3, C).unwrap_err().kind(), crate::MmErrorKind::InvalidArgument);
    assert!(m.reserved().is_empty());
}

#[test]
fn alloc_align_zero_means_smp_cache_bytes() {
    let mut m = setup_memblock();
    let p = m.alloc(SZ_2, 0, C).unwrap();
    assert_eq!(p, m.end_of_dram() - DEFAULT_SMP_CACHE_BYTES);
    m.set_smp_cache_bytes(SZ_128).unwrap();
    let p = m.alloc(SZ_2, 0, C).unwrap();
    assert_eq!(p, m.end_of_dram() - SZ_128);
}

#[test]
fn alloc_never_returns_the_first_page() {
    let mut m = fresh();
    m.add(0, PAGE_SIZE * 2, C).unwrap();
    m.set_bottom_up(true);
    assert_eq!(m.alloc(SZ_64, SZ_64, C).unwrap(), PAGE_SIZE);
    let mut m = fresh();
    m.add(0, PAGE_SIZE, C).unwrap();
    assert!(m.alloc(SZ_64, SZ_64, C).is_err());
}

#[test]
fn alloc_respects_current_limit() {
    let mut m = fresh();
    m.add(SZ_1M, SZ_16M, C).unwrap();
    m.set_current_limit(SZ_2M);
    let p = m.alloc(SZ_4K, SZ_4K, C).unwrap();
    assert_eq!(p, SZ_2M - SZ_4K);
    // An explicit upper bound above current_limit is capped too.
    let p = m.alloc_try_nid(SZ_4K, SZ_4K, 0, SZ_8M, NUMA_NO_NODE, C).unwrap();
    assert_eq!(p, SZ_2M - SZ_8K);
}

#[test]
fn alloc_low_stays_below_arch_low_address_limit() {
    let mut m = fresh();
    m.add(SZ_2G, SZ_4G, C).unwrap();
    let p = m.alloc_low(SZ_4K, SZ_4K, C).unwrap();
    // The limit is used as an exclusive end, so the top page below 4 GiB is lost.
    assert_eq!(p, 0xffff_e000);
    assert!(p + SZ_4K <= 0x1_0000_0000);
    m.set_arch_low_address_limit(SZ_2G + SZ_1M);
    let p = m.alloc_low(SZ_4K, SZ_4K, C).unwrap();
    assert_eq!(p, SZ_2G + SZ_1M - SZ_4K);
}
