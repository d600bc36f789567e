//! Behaviour beyond the kernel suite's cases: flags, limits, iterators,
//! lookups, version differences, capacity handling and argument checks.

use super::common::*;
use crate::MmErrorKind;

// ------------------------------------------------------------ flags

#[test]
fn mark_and_clear_hotplug_split_and_merge() {
    let mut m = fresh();
    m.add(0, SZ_16M, C).unwrap();
    m.mark_hotplug(SZ_4M, SZ_4M).unwrap();
    assert_regions(m.memory(), &[(0, SZ_4M), (SZ_4M, SZ_4M), (SZ_8M, SZ_8M)]);
    assert_eq!(mem(&m, 1).flags, MemblockFlags::HOTPLUG);
    assert_eq!(m.phys_mem_size(), SZ_16M);
    m.clear_hotplug(0, PHYS_ADDR_MAX).unwrap();
    assert_regions(m.memory(), &[(0, SZ_16M)]);
}

#[test]
fn nomap_memory_is_skipped_by_allocations_and_walks() {
    let mut m = fresh();
    m.add(SZ_1M, SZ_4M, C).unwrap();
    m.mark_nomap(SZ_4M, SZ_1M).unwrap();
    assert!(m.is_memory(SZ_4M));
    assert!(!m.is_map_memory(SZ_4M));
    assert!(m.is_map_memory(SZ_4M - 1));
    let p = m.alloc(SZ_4K, SZ_4K, C).unwrap();
    assert_eq!(p, SZ_4M - SZ_4K);
    let free = m.free_mem_ranges(NUMA_NO_NODE, MemblockFlags::NONE);
    assert_eq!(free, vec![FreeRange { start: SZ_1M, end: SZ_4M - SZ_4K, nid: m.max_numnodes() }]);
    let with_nomap = m.free_mem_ranges(NUMA_NO_NODE, MemblockFlags::NOMAP);
    assert_eq!(with_nomap.len(), 2);
    assert_eq!(m.mem_ranges().len(), 1, "for_each_mem_range skips NOMAP");
    m.clear_nomap(SZ_4M, SZ_1M).unwrap();
    assert_regions(m.memory(), &[(SZ_1M, SZ_4M)]);
}

#[test]
fn movable_node_skips_hotpluggable_memory() {
    let mut m = fresh();
    m.add(SZ_1M, SZ_8M, C).unwrap();
    m.mark_hotplug(SZ_8M, SZ_1M).unwrap();
    assert_eq!(m.alloc(SZ_4K, SZ_4K, C).unwrap(), SZ_8M + SZ_1M - SZ_4K);
    m.set_movable_node(true);
    assert_eq!(m.alloc(SZ_4K, SZ_4K, C).unwrap(), SZ_8M - SZ_4K);
}

#[test]
fn mirror_is_preferred_then_abandoned_5_14() {
    let mut m = Memblock::with_version(KernelVersion::V5_14);
    m.add(SZ_1M, SZ_64M, C).unwrap();
    assert!(!m.system_has_some_mirror());
    m.mark_mirror(SZ_1M, SZ_1M).unwrap();
    assert!(m.system_has_some_mirror());
    assert_eq!(m.alloc(SZ_4K, SZ_4K, C).unwrap(), SZ_2M - SZ_4K);
    assert!(m.log().is_empty());
}

#[test]
fn mark_mirror_needs_kernelcore_mirror_in_6_1() {
    let mut m = Memblock::with_version(KernelVersion::V6_1);
    m.add(SZ_1M, SZ_64M, C).unwrap();
    m.mark_mirror(SZ_1M, SZ_1M).unwrap();
    assert!(!m.system_has_some_mirror());
    assert_eq!(m.memory().len(), 1);
    m.set_mirrored_kernelcore(true);
    m.mark_mirror(SZ_1M, SZ_1M).unwrap();
    assert!(m.system_has_some_mirror());
    assert_eq!(mem(&m, 0).flags, MemblockFlags::MIRROR);
    assert_eq!(m.alloc(SZ_4K, SZ_4K, C).unwrap(), SZ_2M - SZ_4K);
}

#[test]
fn driver_managed_memory_6_1() {
    let mut m = Memblock::with_version(KernelVersion::V6_1);
    m.add(SZ_1M, SZ_1M, C).unwrap();
    m.add_node(SZ_4M, SZ_1M, 0, MemblockFlags::DRIVER_MANAGED, C).unwrap();
    assert_eq!(m.alloc(SZ_4K, SZ_4K, C).unwrap(), SZ_2M - SZ_4K);
    assert_eq!(m.free_mem_ranges(NUMA_NO_NODE, MemblockFlags::DRIVER_MANAGED).len(), 2);
    assert_eq!(m.mem_ranges().len(), 2, "6.1 for_each_mem_range walks driver-managed memory");
}

#[test]
fn flags_unknown_to_5_14_are_rejected() {
    let mut m = Memblock::with_version(KernelVersion::V5_14);
    let e = m.reserve_node(0, SZ_4K, 0, MemblockFlags::DRIVER_MANAGED, C).unwrap_err();
    assert_eq!(e.kind(), MmErrorKind::InvalidArgument);
    let mut m = Memblock::with_version(KernelVersion::V6_1);
    assert!(m.add_node(0, SZ_4K, 0, MemblockFlags(0x100), C).is_err());
    assert!(m.memory().is_empty());
}

// ------------------------------------------------------------ nodes

#[test]
fn set_node_tags_and_merges() {
    let mut m = fresh();
    m.add(0, SZ_4G, C).unwrap();
    m.set_node(0, SZ_2G, 0).unwrap();
    m.set_node(SZ_2G, SZ_2G, 1).unwrap();
    assert_regions(m.memory(), &[(0, SZ_2G), (SZ_2G, SZ_2G)]);
    assert_eq!((mem(&m, 0).nid, mem(&m, 1).nid), (0, 1));
    m.set_node(0, SZ_4G, 0).unwrap();
    assert_regions(m.memory(), &[(0, SZ_4G)]);
}

#[test]
fn node_ids_are_validated() {
    let mut m = fresh();
    assert_eq!(m.add_node(0, SZ_4K, 65, MemblockFlags::NONE, C).unwrap_err().kind(), MmErrorKind::OutOfRange);
    assert!(m.add_node(0, SZ_4K, -2, MemblockFlags::NONE, C).is_err());
    assert!(m.set_node(0, SZ_4K, 1000).is_err());
    m.add_node(0, SZ_4K, 64, MemblockFlags::NONE, C).unwrap();
    m.set_max_numnodes(1024).unwrap();
    m.add_node(SZ_1M, SZ_4K, 1000, MemblockFlags::NONE, C).unwrap();
    assert!(m.set_max_numnodes(3).is_err());
}

#[test]
fn big_machine_with_sixteen_nodes() {
    // 2^52 bytes over 16 nodes of 2^48 bytes each.
    let mut m = Memblock::with_version(KernelVersion::V6_1);
    let node = 1u64 << 48;
    for nid in 0..16u64 {
        m.add_node(nid * node, node, nid as i32, MemblockFlags::NONE, C).unwrap();
    }
    assert_eq!(m.phys_mem_size(), 1 << 52);
    assert_eq!(m.end_of_dram(), 1 << 52);
    let p = m.alloc_node(SZ_1G, SZ_1G, 7, C).unwrap();
    assert_eq!(p, 8 * node - SZ_1G);
    let p = m.alloc_exact_nid_raw(SZ_2M, SZ_2M, 0, MEMBLOCK_ALLOC_ANYWHERE, 0, C).unwrap();
    assert_eq!(p, node - SZ_2M);
    assert_eq!(m.search_pfn_nid(crate::units::pfn_down(p)), Some((0, 0, crate::units::pfn_down(node))));
    assert_eq!(m.mem_pfn_ranges(m.max_numnodes()).len(), 16);
    assert_eq!(m.mem_pfn_ranges(3), vec![PfnRange { start_pfn: (3 * node) >> 12, end_pfn: (4 * node) >> 12, nid: 3 }]);
}

// ------------------------------------------------------------ limits

#[test]
fn enforce_memory_limit_truncates_memory_and_reservations() {
    let mut m = fresh();
    m.add(0, SZ_1G, C).unwrap();
    m.add(SZ_2G, SZ_1G, C).unwrap();
    m.reserve(SZ_2G + SZ_256M, SZ_512M, C).unwrap();
    m.reserve(SZ_16M, SZ_16M, C).unwrap();
    m.enforce_memory_limit(SZ_1G + SZ_512M).unwrap();
    assert_regions(m.memory(), &[(0, SZ_1G), (SZ_2G, SZ_512M)]);
    assert_regions(m.reserved(), &[(SZ_16M, SZ_16M), (SZ_2G + SZ_256M, SZ_256M)]);
    // A limit above the memory size, or 0, changes nothing.
    let before = m.clone();
    m.enforce_memory_limit(SZ_4G).unwrap();
    m.enforce_memory_limit(0).unwrap();
    assert_eq!(m.memory(), before.memory());
    assert_eq!(m.reserved(), before.reserved());
}

#[test]
fn cap_memory_range_keeps_window_and_nomap() {
    let mut m = fresh();
    m.add(0, SZ_4G, C).unwrap();
    m.mark_nomap(SZ_256M, SZ_256M).unwrap();
    m.reserve(SZ_16M, SZ_16M, C).unwrap();
    m.reserve(SZ_1G + SZ_16M, SZ_16M, C).unwrap();
    m.cap_memory_range(SZ_1G, SZ_1G).unwrap();
    assert_regions(m.memory(), &[(SZ_256M, SZ_256M), (SZ_1G, SZ_1G)]);
    assert_regions(m.reserved(), &[(SZ_1G + SZ_16M, SZ_16M)]);
}

#[test]
fn mem_limit_remove_map_keeps_nomap_above_limit() {
    let mut m = fresh();
    m.add(0, SZ_4G, C).unwrap();
    m.mark_nomap(SZ_2G, SZ_256M).unwrap();
    m.mem_limit_remove_map(SZ_1G).unwrap();
    assert_regions(m.memory(), &[(0, SZ_1G), (SZ_2G, SZ_256M)]);
}

#[test]
fn trim_memory_keeps_total_size_of_trimmed_regions_like_the_kernel() {
    let mut m = fresh();
    m.add(SZ_4K + 1, SZ_8K, C).unwrap();
    m.add(SZ_1M, 100, C).unwrap();
    m.trim_memory(SZ_4K).unwrap();
    assert_regions(m.memory(), &[(SZ_8K, SZ_4K)]);
    // The kernel only subtracts removed regions from total_size.
    assert_eq!(m.phys_mem_size(), SZ_8K);
}

// ------------------------------------------------------------ walks and lookups

#[test]
fn free_ranges_walk_memory_minus_reserved_both_ways() {
    let mut m = fresh();
    m.add(SZ_1M, SZ_1M, C).unwrap();
    m.add_node(SZ_4M, SZ_4M, 1, MemblockFlags::NONE, C).unwrap();
    m.reserve(0, SZ_1M + SZ_4K, C).unwrap();
    m.reserve(SZ_4M + SZ_1M, SZ_1M, C).unwrap();
    let mx = m.max_numnodes();
    let up = m.free_mem_ranges(NUMA_NO_NODE, MemblockFlags::NONE);
    assert_eq!(
        up,
        vec![
            FreeRange { start: SZ_1M + SZ_4K, end: SZ_2M, nid: mx },
            FreeRange { start: SZ_4M, end: SZ_4M + SZ_1M, nid: 1 },
            FreeRange { start: SZ_4M + SZ_2M, end: SZ_8M, nid: 1 },
        ]
    );
    let mut down = m.free_mem_ranges_reverse(NUMA_NO_NODE, MemblockFlags::NONE);
    down.reverse();
    assert_eq!(down, up);
    assert_eq!(m.free_mem_ranges(1, MemblockFlags::NONE).len(), 2);
    // MAX_NUMNODES is the deprecated spelling of "any node" there.
    assert_eq!(m.free_mem_ranges(mx, MemblockFlags::NONE), up);
    assert_eq!(m.reserved_ranges().len(), 2);
    assert_eq!(m.mem_ranges().len(), 2);
}

#[test]
fn free_ranges_with_empty_reserved_is_all_memory() {
    let mut m = fresh();
    m.add(SZ_1M, SZ_1M, C).unwrap();
    assert_eq!(m.free_mem_ranges(NUMA_NO_NODE, MemblockFlags::NONE), m.mem_ranges());
    assert!(fresh().free_mem_ranges(NUMA_NO_NODE, MemblockFlags::NONE).is_empty());
}

#[test]
fn mem_pfn_ranges_round_inwards_and_skip_partial_pages() {
    let mut m = fresh();
    m.add(0x100, 0x700, C).unwrap();
    m.add_node(0x1800, 0x4000, 2, MemblockFlags::NONE, C).unwrap();
    let all = m.mem_pfn_ranges(m.max_numnodes());
    assert_eq!(all, vec![PfnRange { start_pfn: 2, end_pfn: 5, nid: 2 }]);
    assert_eq!(m.mem_pfn_ranges(2), all);
    assert!(m.mem_pfn_ranges(1).is_empty());
    assert!(m.mem_pfn_ranges(NUMA_NO_NODE).is_empty(), "NUMA_NO_NODE is not a wildcard here");
}

#[test]
fn lookups() {
    let mut m = fresh();
    assert_eq!((m.start_of_dram(), m.end_of_dram()), (0, 0));
    m.add(SZ_1M, SZ_1M, C).unwrap();
    m.add_node(SZ_4M, SZ_4M, 3, MemblockFlags::NONE, C).unwrap();
    m.reserve(SZ_4M, SZ_4K, C).unwrap();
    assert_eq!((m.start_of_dram(), m.end_of_dram()), (SZ_1M, SZ_8M));
    assert!(m.is_memory(SZ_1M) && m.is_memory(SZ_2M - 1) && !m.is_memory(SZ_2M));
    assert!(m.is_reserved(SZ_4M) && !m.is_reserved(SZ_4M + SZ_4K));
    assert!(m.is_region_memory(SZ_4M, SZ_4M));
    assert!(!m.is_region_memory(SZ_1M, SZ_2M), "spans a hole");
    assert!(!m.is_region_memory(SZ_4M, PHYS_ADDR_MAX));
    assert!(m.is_region_reserved(SZ_4M - SZ_4K, SZ_8K));
    assert!(!m.is_region_reserved(SZ_4M - SZ_4K, SZ_4K));
    assert!(m.is_region_reserved(SZ_4M + 1, 0), "zero-sized probe inside counts, as in the kernel");
    assert_eq!(m.search_pfn_nid(SZ_4M >> 12), Some((3, SZ_4M >> 12, SZ_8M >> 12)));
    assert_eq!(m.search_pfn_nid(SZ_2M >> 12), None);
    assert_eq!(m.search_pfn_nid(u64::MAX), None);
}

#[test]
fn isolate_range_splits_at_both_ends() {
    let mut m = fresh();
    m.add(0, SZ_16M, C).unwrap();
    let (s, e) = m.isolate_range(MemblockTypeKind::Memory, SZ_4M, SZ_4M).unwrap();
    assert_eq!((s, e), (1, 2));
    assert_regions(m.memory(), &[(0, SZ_4M), (SZ_4M, SZ_4M), (SZ_8M, SZ_8M)]);
    assert_eq!(m.isolate_range(MemblockTypeKind::Memory, SZ_32M, SZ_1M).unwrap(), (0, 0));
    assert_eq!(m.isolate_range(MemblockTypeKind::Memory, 0, 0).unwrap(), (0, 0));
}

#[test]
fn find_in_range_node_does_not_reserve() {
    let mut m = fresh();
    m.add(0, SZ_1M, C).unwrap();
    let p = m.find_in_range_node(SZ_4K, SZ_4K, 0, MEMBLOCK_ALLOC_ANYWHERE, NUMA_NO_NODE, MemblockFlags::NONE).unwrap();
    assert_eq!(p, SZ_1M - SZ_4K);
    assert!(m.reserved().is_empty());
    m.set_bottom_up(true);
    let p =
        m.find_in_range_node(SZ_4K, SZ_4K, 0, MEMBLOCK_ALLOC_ACCESSIBLE, NUMA_NO_NODE, MemblockFlags::NONE).unwrap();
    assert_eq!(p, PAGE_SIZE, "the first page is never handed out");
    assert!(m.find_in_range_node(SZ_4K, 0, 0, SZ_1M, NUMA_NO_NODE, MemblockFlags::NONE).is_err());
    assert!(m.find_in_range_node(0, SZ_4K, 0, SZ_1M, NUMA_NO_NODE, MemblockFlags::NONE).is_err());
    assert_eq!(
        m.find_in_range_node(SZ_2M, SZ_4K, 0, SZ_1M, NUMA_NO_NODE, MemblockFlags::NONE).unwrap_err().kind(),
        MmErrorKind::OutOfMemory
    );
}

#[test]
fn phys_alloc_and_try_nid() {
    let mut m = Memblock::with_version(KernelVersion::V6_1);
    m.add_node(0, SZ_1G, 0, MemblockFlags::NONE, C).unwrap();
    m.add_node(SZ_1G, SZ_1G, 1, MemblockFlags::NONE, C).unwrap();
    assert_eq!(m.phys_alloc(SZ_4K, SZ_4K, C).unwrap(), SZ_2G - SZ_4K);
    assert_eq!(m.phys_alloc_try_nid(SZ_4K, SZ_4K, 0).unwrap(), SZ_1G - SZ_4K);
    assert_eq!(m.phys_alloc_try_nid(SZ_4K, SZ_4K, 5).unwrap(), SZ_2G - SZ_8K, "falls back");
    assert!(m.alloc_range_nid(SZ_4K, SZ_4K, 0, SZ_1G, 1, true).is_err());
    assert_eq!(m.alloc_range_nid(SZ_4K, SZ_4K, 0, SZ_1G, 1, false).unwrap(), SZ_1G - SZ_8K);
    m.set_current_limit(SZ_1G);
    assert_eq!(m.phys_alloc(SZ_4K, SZ_4K, C).unwrap(), SZ_1G - SZ_4K * 3);
}

// ------------------------------------------------------------ capacity

#[test]
fn fixed_arrays_refuse_the_129th_region() {
    let mut m = fresh();
    m.set_array_growth(ArrayGrowth::Fixed);
    for i in 0..INIT_MEMBLOCK_REGIONS as u64 {
        m.add(i * SZ_2M, SZ_1M, C).unwrap();
    }
    let before = m.memory().clone();
    let e = m.add(SZ_1G, SZ_1M, C).unwrap_err();
    assert_eq!(e, crate::MmError::CapacityExceeded { table: "memblock.memory", capacity: 128 });
    assert_eq!(m.memory(), &before);
    // Adding inside what exists needs no slot and works.
    m.add(0, SZ_512K, C).unwrap();
    // Like the kernel, filling a hole needs a free slot before merging, and
    // isolating a range needs two.
    assert!(m.add(SZ_1M, SZ_1M, C).is_err());
    assert!(m.mark_hotplug(SZ_4M + SZ_4K, SZ_4K).is_err());
    assert!(m.remove(0, SZ_1M, C).is_err());
    assert_eq!(m.memory(), &before);
}

#[test]
fn unaccounted_growth_doubles_without_reserving() {
    let mut m = fresh();
    m.set_array_growth(ArrayGrowth::Unaccounted);
    for i in 0..300u64 {
        m.reserve(i * SZ_2M, SZ_1M, C).unwrap();
    }
    assert_eq!(m.reserved().len(), 300);
    assert_eq!(m.reserved().max(), 512);
    assert_eq!(m.reserved().array_addr(), None);
}

#[test]
fn hard_cap_on_regions() {
    let mut m = fresh();
    m.set_max_regions(4).unwrap();
    assert!(m.set_max_regions(0).is_err());
    for i in 0..4u64 {
        m.add(i * SZ_2M, SZ_1M, C).unwrap();
    }
    let before = m.memory().clone();
    assert_eq!(m.add(SZ_1G, SZ_1M, C).unwrap_err().kind(), MmErrorKind::CapacityExceeded);
    // Filling a hole between two regions merges them: allowed.
    assert_eq!(m.memory(), &before);
    assert_eq!(m.remove(SZ_4K, SZ_4K, C).unwrap_err().kind(), MmErrorKind::CapacityExceeded);
    assert_eq!(m.memory(), &before);
    m.add(SZ_1M, SZ_1M, C).unwrap();
    assert_eq!(m.memory().len(), 3);
}

#[test]
fn second_doubling_moves_the_array_and_frees_the_first() {
    let mut m = fresh();
    m.add(SZ_1G, SZ_1G, C).unwrap();
    for i in 0..(2 * INIT_MEMBLOCK_REGIONS as u64) {
        m.reserve(i * SZ_2M, SZ_1M, C).unwrap();
    }
    // 256 user regions + the array: the second doubling happened.
    assert_eq!(m.reserved().max(), 512);
    let arr = m.reserved().array_addr().unwrap();
    let size = crate::memblock::page_align(512 * MEMBLOCK_REGION_STRUCT_SIZE);
    // Below the first array, which is freed afterwards.
    assert_eq!(arr, SZ_2G - SZ_8K - size);
    assert!(m.is_region_reserved(arr, size));
    assert_eq!(m.reserved().len(), 257, "old array freed, new one reserved");
    assert_eq!(m.reserved_size(), 256 * SZ_1M + size);
}

// ------------------------------------------------------------ robustness

#[test]
fn extreme_arguments_never_panic() {
    let mut m = fresh();
    m.add(u64::MAX, u64::MAX, C).unwrap();
    assert!(m.memory().is_empty());
    m.add(u64::MAX - 10, u64::MAX, C).unwrap();
    assert_regions(m.memory(), &[(u64::MAX - 10, 10)]);
    m.reserve(0, u64::MAX, C).unwrap();
    assert_regions(m.reserved(), &[(0, u64::MAX)]);
    m.free(u64::MAX - 1, 5, C).unwrap();
    m.remove(0, u64::MAX, C).unwrap();
    assert!(m.memory().is_empty());
    m.mark_nomap(u64::MAX, u64::MAX).unwrap();
    m.set_node(u64::MAX - 1, 100, 0).unwrap();
    m.cap_memory_range(u64::MAX - 1, u64::MAX).unwrap();
    m.enforce_memory_limit(u64::MAX).unwrap();
    m.trim_memory(1 << 63).unwrap();
    let _ = m.alloc(u64::MAX, 1 << 63, C);
    let _ = m.alloc_try_nid(u64::MAX, 1 << 63, u64::MAX, u64::MAX, NUMA_NO_NODE, C);
    m.free(0, u64::MAX, C).unwrap();
    assert!(m.reserved().is_empty());
    m.add(u64::MAX - SZ_1M, SZ_1M, C).unwrap();
    m.set_bottom_up(true);
    let p = m.alloc(SZ_4K, 1 << 63, C);
    assert!(p.is_err());
    let p = m.alloc(SZ_4K, SZ_4K, C).unwrap();
    assert_eq!(p, u64::MAX - SZ_1M + 1);
    m.trim_memory(1 << 63).unwrap();
    assert!(m.memory().is_empty());
}

#[test]
fn doubling_that_fails_half_way_is_undone() {
    let mut m = fresh();
    m.set_max_regions(201).unwrap();
    m.add(SZ_1G, SZ_1G, C).unwrap();
    for i in 0..199u64 {
        m.reserve(i * SZ_2M, SZ_4K, C).unwrap();
    }
    // The reserved array was doubled into the top of memory.
    assert_eq!(m.reserved().len(), 200);
    m.reserve_node(SZ_2G - 3 * SZ_4K, SZ_4K, 0, MemblockFlags::NONE, C).unwrap();
    assert_eq!(m.reserved().len(), 201);
    for i in 0..127u64 {
        m.add(SZ_4G + i * SZ_2M, SZ_1M, C).unwrap();
    }
    assert_eq!(m.memory().len(), 128);
    let before = m.clone();
    // Doubling the memory array needs one more reserved region: over the cap.
    let e = m.add(SZ_8G, SZ_1M, C).unwrap_err();
    assert_eq!(e.kind(), MmErrorKind::CapacityExceeded);
    assert_eq!(m.memory(), before.memory());
    assert_eq!(m.reserved(), before.reserved());
    assert_eq!(m.memory().max(), INIT_MEMBLOCK_REGIONS);
}

// ------------------------------------------------------------ found by the fuzz property

#[test]
fn cap_memory_range_leaves_split_nomap_unmerged_like_the_kernel() {
    let mut m = Memblock::with_version(KernelVersion::V6_1);
    m.add_node(1, u64::MAX, 0, MemblockFlags::NOMAP, C).unwrap();
    m.cap_memory_range(0, 2).unwrap();
    assert_regions(m.memory(), &[(1, 1), (2, u64::MAX - 2)]);
    // The next merging operation fuses the pieces again.
    m.mark_nomap(0, 1).unwrap();
    assert_regions(m.memory(), &[(1, u64::MAX - 1)]);
}

#[test]
fn total_size_left_stale_by_trim_does_not_overflow() {
    let mut m = fresh();
    m.add(0, SZ_64M + 1, C).unwrap();
    m.trim_memory(2).unwrap();
    assert_eq!(m.phys_mem_size(), SZ_64M + 1);
    m.add(0, u64::MAX, C).unwrap();
    assert_regions(m.memory(), &[(0, u64::MAX)]);
    assert_eq!(m.phys_mem_size(), 0, "wraps like the kernel's phys_addr_t");
}

// ------------------------------------------------------------ resumable walk

/// Every range `next_free_range` yields from the start, without changes.
fn walk(m: &Memblock) -> Vec<FreeRange> {
    let mut out = Vec::new();
    let mut cursor = (0, 0);
    while let Some((r, next)) = m.next_free_range(cursor, NUMA_NO_NODE, MemblockFlags::NONE) {
        out.push(r);
        cursor = next;
    }
    out
}

#[test]
fn resumable_walk_matches_the_free_ranges() {
    let mut m = fresh();
    m.add(SZ_1M, SZ_8M, C).unwrap();
    m.add(SZ_16M, SZ_8M, C).unwrap();
    m.reserve(SZ_2M, SZ_1M, C).unwrap();
    m.reserve(SZ_8M, SZ_16M, C).unwrap();
    m.mark_nomap(SZ_4M, SZ_1M).unwrap();
    assert_eq!(walk(&m), m.free_mem_ranges(NUMA_NO_NODE, MemblockFlags::NONE));
    let empty = fresh();
    assert!(walk(&empty).is_empty());
}

#[test]
fn reserving_inside_the_walk_returns_the_rest_again() {
    // memtest reserves a bad block inside the range it was given: the
    // kernel's cursor then points at the gap after the new reservation,
    // which is the rest of the same range
    let mut m = fresh();
    m.add(0, SZ_16M, C).unwrap();
    m.reserve(0, SZ_1M, C).unwrap();
    m.reserve(SZ_8M, SZ_1M, C).unwrap();
    let (first, next) = m.next_free_range((0, 0), NUMA_NO_NODE, MemblockFlags::NONE).unwrap();
    assert_eq!((first.start, first.end), (SZ_1M, SZ_8M));
    m.reserve(SZ_4M, SZ_4K, C).unwrap();
    let (again, next) = m.next_free_range(next, NUMA_NO_NODE, MemblockFlags::NONE).unwrap();
    assert_eq!((again.start, again.end), (SZ_4M + SZ_4K, SZ_8M));
    let (last, next) = m.next_free_range(next, NUMA_NO_NODE, MemblockFlags::NONE).unwrap();
    assert_eq!((last.start, last.end), (SZ_8M + SZ_1M, SZ_16M));
    assert!(m.next_free_range(next, NUMA_NO_NODE, MemblockFlags::NONE).is_none());
}
