//! Exact text of the `memblock=debug` trace and of `__memblock_dump_all()`,
//! checked against the format strings of mm/memblock.c (5.14 / 6.1).

use super::common::*;

fn dbg_mb(v: KernelVersion) -> Memblock {
    let mut m = Memblock::with_version(v);
    m.set_debug(true);
    m
}

#[test]
fn debug_off_logs_nothing() {
    let mut m = fresh();
    m.add(SZ_1M, SZ_1M, "a").unwrap();
    m.reserve(SZ_1M, SZ_4K, "b").unwrap();
    m.alloc(SZ_4K, SZ_4K, "c").unwrap();
    m.memblock_dump_all();
    assert!(m.log().is_empty());
}

#[test]
fn range_operations_trace_6_1() {
    let mut m = dbg_mb(KernelVersion::V6_1);
    m.add(0x100000, 0x7ff00000, "setup_arch+0x5a0/0xb90").unwrap();
    m.add_node(0x1_0000_0000, 0x1_0000_0000, 1, MemblockFlags::HOTPLUG, "numa_init+0x10/0x20").unwrap();
    m.reserve(0x1000, 0x1000, "CALLER").unwrap();
    m.free(0x1000, 0x1000, "CALLER").unwrap();
    m.remove(0x1_0000_0000, 0x1000, "arm64_memblock_init+0x1c/0x2a8").unwrap();
    m.reserve_node(0x2000, 0x2000, 0, MemblockFlags::NONE, "x").unwrap();
    assert_eq!(
        m.take_log(),
        vec![
            "memblock_add: [0x0000000000100000-0x000000007fffffff] setup_arch+0x5a0/0xb90",
            "memblock_add_node: [0x0000000100000000-0x00000001ffffffff] nid=1 flags=1 numa_init+0x10/0x20",
            "memblock_reserve: [0x0000000000001000-0x0000000000001fff] CALLER",
            "memblock_phys_free: [0x0000000000001000-0x0000000000001fff] CALLER",
            "memblock_remove: [0x0000000100000000-0x0000000100000fff] arm64_memblock_init+0x1c/0x2a8",
            "__memblock_reserve: [0x0000000000002000-0x0000000000003fff] nid=0 flags=0 x",
        ]
    );
    assert!(m.log().is_empty());
}

#[test]
fn range_operations_trace_5_14() {
    let mut m = dbg_mb(KernelVersion::V5_14);
    m.add_node(0x1_0000_0000, 0x1000, 1, MemblockFlags::NONE, "c").unwrap();
    m.reserve(0x1000, 0x1000, "c").unwrap();
    m.free(0x1000, 0x1000, "c").unwrap();
    assert_eq!(
        m.take_log(),
        vec![
            "memblock_add_node: [0x0000000100000000-0x0000000100000fff] nid=1 c",
            "memblock_reserve: [0x0000000000001000-0x0000000000001fff] c",
            "memblock_free: [0x0000000000001000-0x0000000000001fff] c",
        ]
    );
}

#[test]
fn zero_size_trace_wraps_end_like_the_kernel() {
    let mut m = dbg_mb(KernelVersion::V6_1);
    m.add(0x1000, 0, "c").unwrap();
    m.reserve(0, 0, "c").unwrap();
    assert_eq!(
        m.take_log(),
        vec![
            "memblock_add: [0x0000000000001000-0x0000000000000fff] c",
            "memblock_reserve: [0x0000000000000000-0xffffffffffffffff] c",
        ]
    );
}

#[test]
fn allocation_trace_6_1() {
    let mut m = Memblock::with_version(KernelVersion::V6_1);
    m.add(0, SZ_1G, "c").unwrap();
    m.set_debug(true);
    let p = m.alloc_try_nid(4096, 0x1000, 0, 0, NUMA_NO_NODE, "CALLER").unwrap();
    assert_eq!(p, SZ_1G - 0x1000);
    let q = m.phys_alloc_range(8192, 0x2000, 0x1000, 0x100000, "early_init+0x1/0x2").unwrap();
    assert_eq!(q, 0x100000 - 0x2000);
    m.alloc_try_nid_raw(64, 0, SZ_1M, SZ_2M, 0, "r").unwrap();
    m.alloc_exact_nid_raw(64, 64, 0, MEMBLOCK_ALLOC_ANYWHERE, NUMA_NO_NODE, "e").unwrap();
    assert_eq!(
        m.take_log(),
        vec![
            "memblock_alloc_try_nid: 4096 bytes align=0x1000 nid=-1 from=0x0000000000000000 max_addr=0x0000000000000000 CALLER",
            "memblock_reserve: [0x000000003ffff000-0x000000003fffffff] memblock_alloc_range_nid",
            "memblock_phys_alloc_range: 8192 bytes align=0x2000 from=0x0000000000001000 max_addr=0x0000000000100000 early_init+0x1/0x2",
            "memblock_reserve: [0x00000000000fe000-0x00000000000fffff] memblock_alloc_range_nid",
            "memblock_alloc_try_nid_raw: 64 bytes align=0x0 nid=0 from=0x0000000000100000 max_addr=0x0000000000200000 r",
            "memblock_reserve: [0x00000000001fffc0-0x00000000001fffff] memblock_alloc_range_nid",
            "memblock_alloc_exact_nid_raw: 64 bytes align=0x40 nid=-1 from=0x0000000000000000 max_addr=0xffffffffffffffff e",
            "memblock_reserve: [0x000000003fffefc0-0x000000003fffefff] memblock_alloc_range_nid",
        ]
    );
}

#[test]
fn helper_allocators_trace_as_alloc_try_nid() {
    let mut m = Memblock::with_version(KernelVersion::V6_1);
    m.add(0, SZ_8G, "c").unwrap();
    m.set_debug(true);
    m.alloc(64, 64, "a").unwrap();
    m.alloc_from(64, 64, SZ_1M, "b").unwrap();
    m.alloc_low(64, 64, "c").unwrap();
    m.alloc_node(64, 64, 1, "d").unwrap();
    let lines: Vec<String> = m.take_log().into_iter().filter(|l| !l.starts_with("memblock_reserve")).collect();
    assert_eq!(
        lines,
        vec![
            "memblock_alloc_try_nid: 64 bytes align=0x40 nid=-1 from=0x0000000000000000 max_addr=0x0000000000000000 a",
            "memblock_alloc_try_nid: 64 bytes align=0x40 nid=-1 from=0x0000000000100000 max_addr=0x0000000000000000 b",
            "memblock_alloc_try_nid: 64 bytes align=0x40 nid=-1 from=0x0000000000000000 max_addr=0x00000000ffffffff c",
            "memblock_alloc_try_nid: 64 bytes align=0x40 nid=1 from=0x0000000000000000 max_addr=0x0000000000000000 d",
        ]
    );
}

#[test]
fn failed_allocation_is_still_traced() {
    let mut m = dbg_mb(KernelVersion::V6_1);
    assert!(m.alloc(SZ_4K, SZ_4K, "c").is_err());
    assert_eq!(
        m.take_log(),
        vec!["memblock_alloc_try_nid: 4096 bytes align=0x1000 nid=-1 from=0x0000000000000000 max_addr=0x0000000000000000 c"]
    );
}

#[test]
fn invalid_arguments_are_rejected_before_tracing() {
    let mut m = dbg_mb(KernelVersion::V6_1);
    assert!(m.alloc(0, SZ_4K, "c").is_err());
    assert!(m.alloc(SZ_4K, 3, "c").is_err());
    assert!(m.add_node(0, SZ_4K, 99, MemblockFlags::NONE, "c").is_err());
    assert!(m.log().is_empty());
}

#[test]
fn mirror_fallback_warning_is_logged_without_debug() {
    let mut m = Memblock::with_version(KernelVersion::V5_14);
    m.add(SZ_1M, SZ_64M, C).unwrap();
    m.mark_mirror(SZ_1M, SZ_1M).unwrap();
    m.reserve(SZ_1M, SZ_1M, C).unwrap();
    let p = m.alloc(SZ_4K, SZ_4K, C).unwrap();
    assert_eq!(p, SZ_1M + SZ_64M - SZ_4K);
    assert_eq!(m.take_log(), vec!["Could not allocate 0x0000000000001000 bytes of mirrored memory"]);
}

#[test]
fn array_doubling_trace() {
    let mut m = fresh();
    m.add(MEM_BASE, MEM_SIZE, C).unwrap();
    let mut base = SZ_128K;
    for _ in 0..INIT_MEMBLOCK_REGIONS {
        m.reserve(base, MEM_SIZE, C).unwrap();
        base += MEM_SIZE * 2;
    }
    m.set_debug(true);
    m.reserve(base, MEM_SIZE, "c").unwrap();
    assert_eq!(
        m.take_log(),
        vec![
            format!("memblock_reserve: [{:#018x}-{:#018x}] c", base, base + MEM_SIZE - 1),
            "memblock: reserved is doubled to 256 at [0x0000000040006000-0x00000000400077ff]".to_string(),
            "memblock_reserve: [0x0000000040006000-0x0000000040007fff] memblock_double_array".to_string(),
        ]
    );
}

#[test]
fn failed_doubling_logs_error_and_changes_nothing() {
    let mut m = fresh();
    let mut base = SZ_128K;
    for _ in 0..INIT_MEMBLOCK_REGIONS {
        m.reserve(base, SZ_4K, C).unwrap();
        base += SZ_8K;
    }
    let before = m.reserved().clone();
    let e = m.reserve(base, SZ_4K, C).unwrap_err();
    assert_eq!(e.kind(), crate::MmErrorKind::OutOfMemory);
    assert_eq!(m.reserved(), &before);
    assert_eq!(m.take_log(), vec!["memblock: Failed to double reserved array from 128 to 256 entries !"]);
}

// ------------------------------------------------------------------ dump

#[test]
fn dump_of_boot_state_shows_dummy_entries_on_node_0() {
    let m = fresh();
    assert_eq!(
        m.dump_text(),
        "MEMBLOCK configuration:\n\
         \x20memory size = 0x0000000000000000 reserved size = 0x0000000000000000\n\
         \x20memory.cnt  = 0x1\n\
         \x20memory[0x0]\t[0x0000000000000000-0xffffffffffffffff], 0x0000000000000000 bytes on node 0 flags: 0x0\n\
         \x20reserved.cnt  = 0x1\n\
         \x20reserved[0x0]\t[0x0000000000000000-0xffffffffffffffff], 0x0000000000000000 bytes on node 0 flags: 0x0\n"
    );
}

#[test]
fn dump_of_emptied_type_has_no_node() {
    let mut m = fresh();
    m.reserve(SZ_1M, SZ_4K, C).unwrap();
    m.free(SZ_1M, SZ_4K, C).unwrap();
    let lines = m.dump_lines();
    assert_eq!(lines[4], " reserved.cnt  = 0x1");
    assert_eq!(
        lines[5],
        " reserved[0x0]\t[0x0000000000000000-0xffffffffffffffff], 0x0000000000000000 bytes flags: 0x0"
    );
}

#[test]
fn dump_of_populated_memblock() {
    let mut m = Memblock::with_version(KernelVersion::V6_1);
    m.add(0x1000, 0x9e000, C).unwrap();
    m.add_node(0x100000, 0x7ff00000, 0, MemblockFlags::NONE, C).unwrap();
    m.mark_nomap(0x7000_0000, 0x1000_0000).unwrap();
    m.reserve(0x1000000, 0x2000000, C).unwrap();
    m.reserve_node(0x9000, 0x1000, 0, MemblockFlags::NONE, C).unwrap();
    m.set_debug(true);
    m.memblock_dump_all();
    assert_eq!(
        m.take_log(),
        vec![
            "MEMBLOCK configuration:",
            " memory size = 0x000000007ff9e000 reserved size = 0x0000000002001000",
            " memory.cnt  = 0x3",
            " memory[0x0]\t[0x0000000000001000-0x000000000009efff], 0x000000000009e000 bytes flags: 0x0",
            " memory[0x1]\t[0x0000000000100000-0x000000006fffffff], 0x000000006ff00000 bytes on node 0 flags: 0x0",
            " memory[0x2]\t[0x0000000070000000-0x000000007fffffff], 0x0000000010000000 bytes on node 0 flags: 0x4",
            " reserved.cnt  = 0x2",
            " reserved[0x0]\t[0x0000000000009000-0x0000000000009fff], 0x0000000000001000 bytes on node 0 flags: 0x0",
            " reserved[0x1]\t[0x0000000001000000-0x0000000002ffffff], 0x0000000002000000 bytes flags: 0x0",
        ]
    );
}

#[test]
fn dump_indexes_are_hex() {
    let mut m = fresh();
    for i in 0..17u64 {
        m.add(i * SZ_2M, SZ_1M, C).unwrap();
    }
    let lines = m.dump_lines();
    assert_eq!(lines[2], " memory.cnt  = 0x11");
    assert!(lines[3 + 16]
        .starts_with(" memory[0x10]\t[0x0000000002000000-0x00000000020fffff], 0x0000000000100000 bytes flags: 0x0"));
}
