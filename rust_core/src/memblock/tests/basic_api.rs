//! The cases of the kernel's tools/testing/memblock/tests/basic_api.c,
//! re-expressed against our API.

use super::common::*;

// ---------------------------------------------------------------- init

#[test]
fn initial_state_has_empty_types_with_kernel_defaults() {
    let m = fresh();
    assert_eq!(m.memory().cnt(), 1, "kernel keeps one dummy entry");
    assert!(m.memory().is_empty());
    assert_eq!(m.memory().max(), INIT_MEMBLOCK_REGIONS);
    assert_eq!(m.memory().name(), "memory");
    assert_eq!(m.reserved().cnt(), 1);
    assert_eq!(m.reserved().max(), INIT_MEMBLOCK_REGIONS);
    assert_eq!(m.reserved().name(), "reserved");
    assert!(!m.bottom_up());
    assert_eq!(m.current_limit(), MEMBLOCK_ALLOC_ANYWHERE);
    let d = mem(&m, 0);
    assert_eq!((d.base, d.size), (0, 0));
}

// ---------------------------------------------------------------- add

#[test]
fn add_simple_creates_one_region() {
    let mut m = fresh();
    m.add(SZ_1G, SZ_4M, C).unwrap();
    assert_eq!((mem(&m, 0).base, mem(&m, 0).size), (SZ_1G, SZ_4M));
    assert_eq!(mem_cnt(&m), 1);
    assert_eq!(m.memory().total_size(), SZ_4M);
}

#[test]
fn add_node_simple_records_nid_and_flags() {
    let mut m = Memblock::with_version(KernelVersion::V6_1);
    m.add_node(SZ_1M, SZ_16M, 1, MemblockFlags::HOTPLUG, C).unwrap();
    let r = mem(&m, 0);
    assert_eq!((r.base, r.size, r.nid, r.flags), (SZ_1M, SZ_16M, 1, MemblockFlags::HOTPLUG));
    assert_eq!(mem_cnt(&m), 1);
    assert_eq!(m.memory().total_size(), SZ_16M);
}

#[test]
fn add_node_with_flags_is_rejected_by_5_14() {
    let mut m = Memblock::with_version(KernelVersion::V5_14);
    let e = m.add_node(SZ_1M, SZ_16M, 1, MemblockFlags::HOTPLUG, C).unwrap_err();
    assert_eq!(e.kind(), crate::MmErrorKind::InvalidArgument);
    assert!(m.memory().is_empty());
    m.add_node(SZ_1M, SZ_16M, 1, MemblockFlags::NONE, C).unwrap();
    assert_eq!(mem(&m, 0).nid, 1);
}

#[test]
fn add_disjoint_creates_two_regions() {
    let mut m = fresh();
    m.add(SZ_1G, SZ_8K, C).unwrap();
    m.add(SZ_1G + SZ_16K, SZ_8K, C).unwrap();
    assert_eq!((mem(&m, 0).base, mem(&m, 0).size), (SZ_1G, SZ_8K));
    assert_eq!((mem(&m, 1).base, mem(&m, 1).size), (SZ_1G + SZ_16K, SZ_8K));
    assert_eq!(mem_cnt(&m), 2);
    assert_eq!(m.memory().total_size(), SZ_16K);
}

#[test]
fn add_overlap_top_merges_from_new_base() {
    let mut m = fresh();
    m.add(SZ_512M, SZ_1G, C).unwrap();
    m.add(SZ_256M, SZ_512M, C).unwrap();
    let total = (SZ_512M - SZ_256M) + SZ_1G;
    assert_eq!((mem(&m, 0).base, mem(&m, 0).size), (SZ_256M, total));
    assert_eq!(mem_cnt(&m), 1);
    assert_eq!(m.memory().total_size(), total);
}

#[test]
fn add_overlap_bottom_merges_from_old_base() {
    let mut m = fresh();
    m.add(SZ_128M, SZ_512M, C).unwrap();
    m.add(SZ_256M, SZ_1G, C).unwrap();
    let total = (SZ_256M - SZ_128M) + SZ_1G;
    assert_eq!((mem(&m, 0).base, mem(&m, 0).size), (SZ_128M, total));
    assert_eq!(mem_cnt(&m), 1);
    assert_eq!(m.memory().total_size(), total);
}

#[test]
fn add_within_existing_changes_nothing() {
    let mut m = fresh();
    m.add(SZ_8M, SZ_32M, C).unwrap();
    m.add(SZ_16M, SZ_1M, C).unwrap();
    assert_eq!((mem(&m, 0).base, mem(&m, 0).size), (SZ_8M, SZ_32M));
    assert_eq!(mem_cnt(&m), 1);
    assert_eq!(m.memory().total_size(), SZ_32M);
}

#[test]
fn add_twice_counts_once() {
    let mut m = fresh();
    m.add(SZ_16K, SZ_2M, C).unwrap();
    m.add(SZ_16K, SZ_2M, C).unwrap();
    assert_eq!(mem_cnt(&m), 1);
    assert_eq!(m.memory().total_size(), SZ_2M);
}

#[test]
fn add_between_two_merges_all_three() {
    let mut m = fresh();
    m.add(SZ_1G, SZ_8K, C).unwrap();
    m.add(SZ_1G + SZ_16K, SZ_8K, C).unwrap();
    m.add(SZ_1G + SZ_8K, SZ_8K, C).unwrap();
    assert_eq!((mem(&m, 0).base, mem(&m, 0).size), (SZ_1G, SZ_8K * 3));
    assert_eq!(mem_cnt(&m), 1);
    assert_eq!(m.memory().total_size(), SZ_8K * 3);
}

#[test]
fn add_near_max_is_capped_at_phys_addr_max() {
    let mut m = fresh();
    let base = PHYS_ADDR_MAX - SZ_1M;
    m.add(base, SZ_2M, C).unwrap();
    assert_eq!((mem(&m, 0).base, mem(&m, 0).size), (base, PHYS_ADDR_MAX - base));
    assert_eq!(mem_cnt(&m), 1);
    assert_eq!(m.memory().total_size(), PHYS_ADDR_MAX - base);
}

#[test]
fn add_many_doubles_memory_array_and_reserves_it() {
    let mut m = fresh();
    m.allow_resize();
    let new_regions_size = crate::memblock::page_align(INIT_MEMBLOCK_REGIONS as u64 * 2 * MEMBLOCK_REGION_STRUCT_SIZE);
    let mut base = MEM_BASE;
    m.add(base, new_regions_size, C).unwrap();
    base += new_regions_size + SZ_64;
    for i in 0..INIT_MEMBLOCK_REGIONS {
        m.add(base, SZ_64, C).unwrap();
        base += SZ_64 * 2;
        assert_eq!(mem_cnt(&m), i + 2);
        assert_eq!(m.memory().total_size(), new_regions_size + (i as u64 + 1) * SZ_64);
    }
    assert_eq!(m.memory().max(), INIT_MEMBLOCK_REGIONS * 2);
    // The doubled array was carved out of the big region and reserved.
    assert_eq!(res_cnt(&m), 1);
    assert_eq!(m.reserved().total_size(), new_regions_size);
    assert_eq!(m.memory().array_addr(), Some(MEM_BASE));

    m.add(SZ_16K, SZ_16K, C).unwrap();
    assert_eq!((mem(&m, 0).base, mem(&m, 0).size), (SZ_16K, SZ_16K));
    assert_eq!(mem_cnt(&m), INIT_MEMBLOCK_REGIONS + 2);
    assert_eq!(m.memory().total_size(), INIT_MEMBLOCK_REGIONS as u64 * SZ_64 + new_regions_size + SZ_16K);
    assert_eq!(m.memory().max(), INIT_MEMBLOCK_REGIONS * 2);
}

#[test]
fn add_zero_size_is_a_no_op() {
    let mut m = fresh();
    m.add(SZ_1M, 0, C).unwrap();
    assert!(m.memory().is_empty());
    assert_eq!(m.phys_mem_size(), 0);
}

// ---------------------------------------------------------------- reserve

#[test]
fn reserve_simple_creates_one_region() {
    let mut m = fresh();
    m.reserve(SZ_2G, SZ_128M, C).unwrap();
    assert_eq!((res(&m, 0).base, res(&m, 0).size), (SZ_2G, SZ_128M));
    assert_eq!(res_cnt(&m), 1);
    assert_eq!(m.reserved_size(), SZ_128M);
}

#[test]
fn reserve_disjoint_creates_two_regions() {
    let mut m = fresh();
    m.reserve(SZ_256M, SZ_16M, C).unwrap();
    m.reserve(SZ_512M, SZ_512M, C).unwrap();
    assert_eq!((res(&m, 0).base, res(&m, 0).size), (SZ_256M, SZ_16M));
    assert_eq!((res(&m, 1).base, res(&m, 1).size), (SZ_512M, SZ_512M));
    assert_eq!(res_cnt(&m), 2);
    assert_eq!(m.reserved_size(), SZ_16M + SZ_512M);
}

#[test]
fn reserve_overlap_top_merges() {
    let mut m = fresh();
    m.reserve(SZ_1G, SZ_1G, C).unwrap();
    m.reserve(SZ_128M, SZ_1G, C).unwrap();
    let total = (SZ_1G - SZ_128M) + SZ_1G;
    assert_eq!((res(&m, 0).base, res(&m, 0).size), (SZ_128M, total));
    assert_eq!(res_cnt(&m), 1);
    assert_eq!(m.reserved_size(), total);
}

#[test]
fn reserve_overlap_bottom_merges() {
    let mut m = fresh();
    m.reserve(SZ_2K, SZ_128K, C).unwrap();
    m.reserve(SZ_128K, SZ_128K, C).unwrap();
    let total = (SZ_128K - SZ_2K) + SZ_128K;
    assert_eq!((res(&m, 0).base, res(&m, 0).size), (SZ_2K, total));
    assert_eq!(res_cnt(&m), 1);
    assert_eq!(m.reserved_size(), total);
}

#[test]
fn reserve_within_existing_changes_nothing() {
    let mut m = fresh();
    m.reserve(SZ_1M, SZ_8M, C).unwrap();
    m.reserve(SZ_2M, SZ_64K, C).unwrap();
    assert_eq!((res(&m, 0).base, res(&m, 0).size), (SZ_1M, SZ_8M));
    assert_eq!(res_cnt(&m), 1);
    assert_eq!(m.reserved_size(), SZ_8M);
}

#[test]
fn reserve_twice_counts_once() {
    let mut m = fresh();
    m.reserve(SZ_16K, SZ_2M, C).unwrap();
    m.reserve(SZ_16K, SZ_2M, C).unwrap();
    assert_eq!(res_cnt(&m), 1);
    assert_eq!(m.reserved_size(), SZ_2M);
}

#[test]
fn reserve_between_two_merges_all_three() {
    let mut m = fresh();
    m.reserve(SZ_1G, SZ_8K, C).unwrap();
    m.reserve(SZ_1G + SZ_16K, SZ_8K, C).unwrap();
    m.reserve(SZ_1G + SZ_8K, SZ_8K, C).unwrap();
    assert_eq!((res(&m, 0).base, res(&m, 0).size), (SZ_1G, SZ_8K * 3));
    assert_eq!(res_cnt(&m), 1);
    assert_eq!(m.reserved_size(), SZ_8K * 3);
}

#[test]
fn reserve_near_max_is_capped() {
    let mut m = fresh();
    let base = PHYS_ADDR_MAX - SZ_1M;
    m.reserve(base, SZ_2M, C).unwrap();
    assert_eq!((res(&m, 0).base, res(&m, 0).size), (base, PHYS_ADDR_MAX - base));
    assert_eq!(res_cnt(&m), 1);
    assert_eq!(m.reserved_size(), PHYS_ADDR_MAX - base);
}

fn new_reserved_regions_size() -> u64 {
    crate::memblock::page_align(INIT_MEMBLOCK_REGIONS as u64 * 2 * MEMBLOCK_REGION_STRUCT_SIZE)
}

#[test]
fn reserve_many_doubles_reserved_array() {
    let mut m = fresh();
    m.allow_resize();
    m.add(MEM_BASE, MEM_SIZE, C).unwrap();
    let mut base = SZ_128K;
    for i in 0..INIT_MEMBLOCK_REGIONS {
        m.reserve(base, MEM_SIZE, C).unwrap();
        assert_eq!(res_cnt(&m), i + 1);
        assert_eq!(m.reserved_size(), (i as u64 + 1) * MEM_SIZE);
        base += MEM_SIZE * 2;
    }
    m.reserve(base, MEM_SIZE, C).unwrap();
    let n = INIT_MEMBLOCK_REGIONS;
    assert_eq!(res_cnt(&m), n + 2);
    assert_eq!(m.reserved_size(), (n as u64 + 1) * MEM_SIZE + new_reserved_regions_size());
    assert_eq!(m.reserved().max(), n * 2);
    // The new array sits at the top of the only memory region.
    let arr = m.reserved().array_addr().unwrap();
    assert_eq!(arr + new_reserved_regions_size(), MEM_BASE + MEM_SIZE);

    m.reserve(SZ_16K, SZ_16K, C).unwrap();
    assert_eq!((res(&m, 0).base, res(&m, 0).size), (SZ_16K, SZ_16K));
    assert_eq!(res_cnt(&m), n + 3);
    assert_eq!(m.reserved_size(), (n as u64 + 1) * MEM_SIZE + new_reserved_regions_size() + SZ_16K);
    assert_eq!(m.reserved().max(), n * 2);
}

fn memory_base(idx: usize) -> u64 {
    SZ_128K + MEM_SIZE * 2 * idx as u64
}

#[test]
fn reserve_129th_block_at_every_position_doubles_array() {
    let n = INIT_MEMBLOCK_REGIONS;
    for skip in 0..=n {
        let mut m = fresh();
        m.allow_resize();
        m.add(MEM_BASE, MEM_SIZE, C).unwrap();
        for i in 0..=n {
            if i == skip {
                continue;
            }
            m.reserve(memory_base(i), MEM_SIZE, C).unwrap();
            let expect = if i < skip { i + 1 } else { i };
            assert_eq!(res_cnt(&m), expect);
            assert_eq!(m.reserved_size(), expect as u64 * MEM_SIZE);
        }
        m.reserve(memory_base(skip), MEM_SIZE, C).unwrap();
        assert_eq!(res_cnt(&m), n + 2, "skip {skip}");
        assert_eq!(m.reserved_size(), (n as u64 + 1) * MEM_SIZE + new_reserved_regions_size());
        assert_eq!(m.reserved().max(), n * 2);

        m.reserve(SZ_16K, SZ_16K, C).unwrap();
        assert_eq!((res(&m, 0).base, res(&m, 0).size), (SZ_16K, SZ_16K));
        assert_eq!(res_cnt(&m), n + 3);
        assert_eq!(m.reserved().max(), n * 2);
    }
}

#[test]
fn reserve_many_new_array_avoids_the_range_being_reserved() {
    let n = INIT_MEMBLOCK_REGIONS;
    let offset = MEM_BASE;
    let at = |idx: usize| offset + MEM_SIZE * 2 * idx as u64;
    for skip in 1..=n + 1 {
        let mut m = fresh();
        m.allow_resize();
        // Memory for the new array, and the memory the 129th region covers.
        m.add(at(0), MEM_SIZE, C).unwrap();
        m.add(at(skip), MEM_SIZE, C).unwrap();
        for i in 1..=n + 1 {
            if i == skip {
                continue;
            }
            m.reserve(at(i), MEM_SIZE, C).unwrap();
            let expect = if i < skip { i } else { i - 1 };
            assert_eq!(res_cnt(&m), expect);
            assert_eq!(m.reserved_size(), expect as u64 * MEM_SIZE);
        }
        m.reserve(at(skip), MEM_SIZE, C).unwrap();
        assert_eq!(res_cnt(&m), n + 2, "skip {skip}");
        assert_eq!(m.reserved_size(), (n as u64 + 1) * MEM_SIZE + new_reserved_regions_size());
        assert_eq!(m.reserved().max(), n * 2);
        // The array came from memory region 0, not from the skipped range.
        assert_eq!(res(&m, 0).end(), at(0) + SZ_32K);
        assert_eq!(res(&m, 0).size, new_reserved_regions_size());

        m.reserve(SZ_16K, SZ_16K, C).unwrap();
        assert_eq!((res(&m, 0).base, res(&m, 0).size), (SZ_16K, SZ_16K));
        assert_eq!(res_cnt(&m), n + 3);
    }
}

// ---------------------------------------------------------------- remove

#[test]
fn remove_simple_drops_first_region() {
    let mut m = fresh();
    m.add(SZ_2K, SZ_4K, C).unwrap();
    m.add(SZ_128K, SZ_4M, C).unwrap();
    m.remove(SZ_2K, SZ_4K, C).unwrap();
    assert_eq!((mem(&m, 0).base, mem(&m, 0).size), (SZ_128K, SZ_4M));
    assert_eq!(mem_cnt(&m), 1);
    assert_eq!(m.memory().total_size(), SZ_4M);
}

#[test]
fn remove_absent_changes_nothing() {
    let mut m = fresh();
    m.add(SZ_512K, SZ_4M, C).unwrap();
    m.remove(SZ_64M, SZ_1G, C).unwrap();
    assert_eq!((mem(&m, 0).base, mem(&m, 0).size), (SZ_512K, SZ_4M));
    assert_eq!(mem_cnt(&m), 1);
    assert_eq!(m.memory().total_size(), SZ_4M);
}

#[test]
fn remove_overlap_top_keeps_upper_part() {
    let mut m = fresh();
    m.add(SZ_32M, SZ_32M, C).unwrap();
    m.remove(SZ_16M, SZ_32M, C).unwrap();
    let total = (SZ_32M + SZ_32M) - (SZ_16M + SZ_32M);
    assert_eq!((mem(&m, 0).base, mem(&m, 0).size), (SZ_16M + SZ_32M, total));
    assert_eq!(mem_cnt(&m), 1);
    assert_eq!(m.memory().total_size(), total);
}

#[test]
fn remove_overlap_bottom_keeps_lower_part() {
    let mut m = fresh();
    m.add(SZ_2M, SZ_64M, C).unwrap();
    m.remove(SZ_32M, SZ_256M, C).unwrap();
    assert_eq!((mem(&m, 0).base, mem(&m, 0).size), (SZ_2M, SZ_32M - SZ_2M));
    assert_eq!(mem_cnt(&m), 1);
    assert_eq!(m.memory().total_size(), SZ_32M - SZ_2M);
}

#[test]
fn remove_within_splits_region() {
    let mut m = fresh();
    m.add(SZ_1M, SZ_32M, C).unwrap();
    m.remove(SZ_16M, SZ_1M, C).unwrap();
    let s1 = SZ_16M - SZ_1M;
    let s2 = (SZ_1M + SZ_32M) - (SZ_16M + SZ_1M);
    assert_eq!((mem(&m, 0).base, mem(&m, 0).size), (SZ_1M, s1));
    assert_eq!((mem(&m, 1).base, mem(&m, 1).size), (SZ_16M + SZ_1M, s2));
    assert_eq!(mem_cnt(&m), 2);
    assert_eq!(m.memory().total_size(), s1 + s2);
}

#[test]
fn remove_only_region_leaves_dummy() {
    let mut m = fresh();
    m.add(SZ_2K, SZ_4K, C).unwrap();
    m.remove(SZ_2K, SZ_4K, C).unwrap();
    assert_eq!((mem(&m, 0).base, mem(&m, 0).size), (0, 0));
    assert_eq!(mem_cnt(&m), 1, "6.1 keeps cnt at 1 for the dummy entry");
    assert!(m.memory().is_empty());
    assert_eq!(m.memory().total_size(), 0);
    assert_eq!(mem(&m, 0).nid, m.max_numnodes(), "emptied dummy gets MAX_NUMNODES");
}

#[test]
fn remove_near_max_is_capped() {
    let mut m = fresh();
    let b1 = PHYS_ADDR_MAX - SZ_2M;
    let b2 = PHYS_ADDR_MAX - SZ_1M;
    m.add(b1, SZ_2M, C).unwrap();
    m.remove(b2, SZ_2M, C).unwrap();
    let total = SZ_2M - (PHYS_ADDR_MAX - b2);
    assert_eq!((mem(&m, 0).base, mem(&m, 0).size), (b1, total));
    assert_eq!(mem_cnt(&m), 1);
    assert_eq!(m.memory().total_size(), total);
}

#[test]
fn remove_overlapping_two_regions_trims_both() {
    let mut m = fresh();
    m.add(SZ_16M, SZ_32M, C).unwrap();
    m.add(SZ_64M, SZ_64M, C).unwrap();
    m.remove(SZ_32M, SZ_64M, C).unwrap();
    let r3_end = SZ_32M + SZ_64M;
    let n1 = SZ_32M - SZ_16M;
    let n2 = (SZ_64M + SZ_64M) - r3_end;
    assert_eq!((mem(&m, 0).base, mem(&m, 0).size), (SZ_16M, n1));
    assert_eq!((mem(&m, 1).base, mem(&m, 1).size), (r3_end, n2));
    assert_eq!(mem_cnt(&m), 2);
    assert_eq!(m.memory().total_size(), n1 + n2);
}

// ---------------------------------------------------------------- free

#[test]
fn free_simple_drops_first_reservation() {
    let mut m = fresh();
    m.reserve(SZ_4M, SZ_1M, C).unwrap();
    m.reserve(SZ_8M, SZ_1M, C).unwrap();
    m.free(SZ_4M, SZ_1M, C).unwrap();
    assert_eq!((res(&m, 0).base, res(&m, 0).size), (SZ_8M, SZ_1M));
    assert_eq!(res_cnt(&m), 1);
    assert_eq!(m.reserved_size(), SZ_1M);
}

#[test]
fn free_absent_changes_nothing() {
    let mut m = fresh();
    m.reserve(SZ_2M, SZ_8K, C).unwrap();
    m.free(SZ_16M, SZ_128M, C).unwrap();
    assert_eq!((res(&m, 0).base, res(&m, 0).size), (SZ_2M, SZ_8K));
    assert_eq!(res_cnt(&m), 1);
    assert_eq!(m.reserved_size(), SZ_8K);
}

#[test]
fn free_overlap_top_keeps_upper_part() {
    let mut m = fresh();
    m.reserve(SZ_8M, SZ_32M, C).unwrap();
    m.free(SZ_1M, SZ_8M, C).unwrap();
    let total = (SZ_8M + SZ_32M) - (SZ_1M + SZ_8M);
    assert_eq!((res(&m, 0).base, res(&m, 0).size), (SZ_1M + SZ_8M, total));
    assert_eq!(res_cnt(&m), 1);
    assert_eq!(m.reserved_size(), total);
}

#[test]
fn free_overlap_bottom_keeps_lower_part() {
    let mut m = fresh();
    m.reserve(SZ_8M, SZ_32M, C).unwrap();
    m.free(SZ_32M, SZ_32M, C).unwrap();
    assert_eq!((res(&m, 0).base, res(&m, 0).size), (SZ_8M, SZ_32M - SZ_8M));
    assert_eq!(res_cnt(&m), 1);
    assert_eq!(m.reserved_size(), SZ_32M - SZ_8M);
}

#[test]
fn free_within_splits_reservation() {
    let mut m = fresh();
    m.reserve(SZ_1M, SZ_8M, C).unwrap();
    m.free(SZ_4M, SZ_1M, C).unwrap();
    let s1 = SZ_4M - SZ_1M;
    let s2 = (SZ_1M + SZ_8M) - (SZ_4M + SZ_1M);
    assert_eq!((res(&m, 0).base, res(&m, 0).size), (SZ_1M, s1));
    assert_eq!((res(&m, 1).base, res(&m, 1).size), (SZ_4M + SZ_1M, s2));
    assert_eq!(res_cnt(&m), 2);
    assert_eq!(m.reserved_size(), s1 + s2);
}

#[test]
fn free_only_region_leaves_dummy() {
    let mut m = fresh();
    m.reserve(SZ_2K, SZ_4K, C).unwrap();
    m.free(SZ_2K, SZ_4K, C).unwrap();
    assert_eq!((res(&m, 0).base, res(&m, 0).size), (0, 0));
    assert_eq!(res_cnt(&m), 1);
    assert!(m.reserved().is_empty());
    assert_eq!(m.reserved_size(), 0);
}

#[test]
fn free_near_max_is_capped() {
    let mut m = fresh();
    let b1 = PHYS_ADDR_MAX - SZ_2M;
    let b2 = PHYS_ADDR_MAX - SZ_1M;
    m.reserve(b1, SZ_2M, C).unwrap();
    m.free(b2, SZ_2M, C).unwrap();
    let total = SZ_2M - (PHYS_ADDR_MAX - b2);
    assert_eq!((res(&m, 0).base, res(&m, 0).size), (b1, total));
    assert_eq!(res_cnt(&m), 1);
    assert_eq!(m.reserved_size(), total);
}

#[test]
fn free_overlapping_two_reservations_trims_both() {
    let mut m = fresh();
    m.reserve(SZ_16M, SZ_32M, C).unwrap();
    m.reserve(SZ_64M, SZ_64M, C).unwrap();
    m.free(SZ_32M, SZ_64M, C).unwrap();
    let r3_end = SZ_32M + SZ_64M;
    assert_eq!((res(&m, 0).base, res(&m, 0).size), (SZ_16M, SZ_16M));
    assert_eq!((res(&m, 1).base, res(&m, 1).size), (r3_end, SZ_128M - r3_end));
    assert_eq!(res_cnt(&m), 2);
    assert_eq!(m.reserved_size(), SZ_16M + SZ_128M - r3_end);
}

// ---------------------------------------------------------------- bottom_up

#[test]
fn set_bottom_up_sets_field() {
    let mut m = fresh();
    m.set_bottom_up(false);
    assert!(!m.bottom_up());
    m.set_bottom_up(true);
    assert!(m.bottom_up());
}

#[test]
fn bottom_up_reads_field() {
    let mut m = fresh();
    m.set_bottom_up(true);
    assert!(m.bottom_up());
    m.set_bottom_up(false);
    assert!(!m.bottom_up());
}

// ---------------------------------------------------------------- trim

const ALIGNMENT: u64 = DEFAULT_SMP_CACHE_BYTES;

#[test]
fn trim_memory_aligned_region_is_untouched() {
    let mut m = fresh();
    m.add(ALIGNMENT, ALIGNMENT * 4, C).unwrap();
    m.trim_memory(ALIGNMENT).unwrap();
    assert_eq!((mem(&m, 0).base, mem(&m, 0).size), (ALIGNMENT, ALIGNMENT * 4));
    assert_eq!(mem_cnt(&m), 1);
}

#[test]
fn trim_memory_removes_region_smaller_than_alignment() {
    let mut m = fresh();
    m.add(ALIGNMENT, ALIGNMENT * 2, C).unwrap();
    m.add(ALIGNMENT * 4, ALIGNMENT - SZ_2, C).unwrap();
    m.trim_memory(ALIGNMENT).unwrap();
    assert_eq!((mem(&m, 0).base, mem(&m, 0).size), (ALIGNMENT, ALIGNMENT * 2));
    assert_eq!(mem_cnt(&m), 1);
}

#[test]
fn trim_memory_unaligned_base_is_rounded_up() {
    let mut m = fresh();
    let off = SZ_2;
    m.add(ALIGNMENT, ALIGNMENT * 2, C).unwrap();
    m.add(ALIGNMENT * 4 + off, ALIGNMENT * 2 - off, C).unwrap();
    m.trim_memory(ALIGNMENT).unwrap();
    assert_eq!((mem(&m, 0).base, mem(&m, 0).size), (ALIGNMENT, ALIGNMENT * 2));
    let r2_base = ALIGNMENT * 4 + off;
    let r2_size = ALIGNMENT * 2 - off;
    assert_eq!((mem(&m, 1).base, mem(&m, 1).size), (r2_base + (ALIGNMENT - off), r2_size - (ALIGNMENT - off)));
    assert_eq!(mem_cnt(&m), 2);
}

#[test]
fn trim_memory_unaligned_end_is_rounded_down() {
    let mut m = fresh();
    let off = SZ_2;
    m.add(ALIGNMENT, ALIGNMENT * 2, C).unwrap();
    m.add(ALIGNMENT * 4, ALIGNMENT * 2 - off, C).unwrap();
    m.trim_memory(ALIGNMENT).unwrap();
    assert_eq!((mem(&m, 0).base, mem(&m, 0).size), (ALIGNMENT, ALIGNMENT * 2));
    assert_eq!((mem(&m, 1).base, mem(&m, 1).size), (ALIGNMENT * 4, ALIGNMENT * 2 - off - (ALIGNMENT - off)));
    assert_eq!(mem_cnt(&m), 2);
}

#[test]
fn trim_memory_rejects_bad_alignment() {
    let mut m = fresh();
    m.add(ALIGNMENT, ALIGNMENT * 4, C).unwrap();
    assert!(m.trim_memory(0).is_err());
    assert!(m.trim_memory(3).is_err());
    assert_eq!(mem(&m, 0).size, ALIGNMENT * 4);
}

// ---------------------------------------------------------------- overlaps

#[test]
fn overlaps_region_far_neighbour_partial_total() {
    let mut m = fresh();
    m.add(SZ_1G, SZ_4M, C).unwrap();
    let ov = |b, s| m.overlaps_region(MemblockTypeKind::Memory, b, s);
    // far away
    assert!(!ov(SZ_1M, SZ_1M));
    assert!(!ov(SZ_2G, SZ_1M));
    // neighbours
    assert!(!ov(SZ_1G - SZ_1M, SZ_1M));
    assert!(!ov(SZ_1G + SZ_4M, SZ_1M));
    // partial
    assert!(ov(SZ_1G - SZ_1M, SZ_2M));
    assert!(ov(SZ_1G + SZ_2M, SZ_2M));
    // total
    assert!(ov(SZ_1G, SZ_4M));
    assert!(ov(SZ_1G - SZ_2M, SZ_8M));
    assert!(ov(SZ_1G + SZ_1M, SZ_1M));
}

// ---------------------------------------------------------------- set_node

#[test]
fn set_node_splits_memory_and_tags_reserved() {
    let mut m = fresh();
    m.allow_resize();
    m.add(MEM_BASE, MEM_SIZE, C).unwrap();
    let start = m.start_of_dram();
    let half = m.phys_mem_size() / 2;
    m.set_node(start, half, 0).unwrap();
    m.set_node(start + half, half, 1).unwrap();
    assert_eq!(mem_cnt(&m), 2);
    assert_eq!((mem(&m, 0).base, mem(&m, 0).size, mem(&m, 0).nid), (start, half, 0));
    assert_eq!((mem(&m, 1).base, mem(&m, 1).size, mem(&m, 1).nid), (start + half, half, 1));

    // 126 reservations, the last one straddling the node boundary.
    for i in 0..125 {
        m.reserve(start + SZ_16 * i, SZ_8, C).unwrap();
    }
    m.reserve(start + half - SZ_8, SZ_16, C).unwrap();

    loop {
        let max_before = m.reserved().max();
        let mems: Vec<_> = m.memory().regions().to_vec();
        for r in mems {
            m.set_node_in(MemblockTypeKind::Reserved, r.base, r.size, r.nid).unwrap();
        }
        if max_before == m.reserved().max() {
            break;
        }
    }
    let regs = m.reserved().regions();
    for (i, r) in regs.iter().enumerate() {
        let expect = if i == regs.len() - 1 { 1 } else { 0 };
        assert_eq!(r.nid, expect, "reserved[{i}] = {r:?}");
    }
}
