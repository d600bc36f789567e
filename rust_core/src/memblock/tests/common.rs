//! Shared helpers of the memblock tests (the role of the kernel suite's
//! tests/common.c).
#![allow(dead_code)]

pub use crate::memblock::*;
pub use crate::units::{PhysAddr, PAGE_SIZE};

pub const SZ_1: u64 = 1;
pub const SZ_2: u64 = 2;
pub const SZ_4: u64 = 4;
pub const SZ_8: u64 = 8;
pub const SZ_16: u64 = 16;
pub const SZ_32: u64 = 32;
pub const SZ_64: u64 = 64;
pub const SZ_128: u64 = 128;
pub const SZ_256: u64 = 256;
pub const SZ_512: u64 = 512;
pub const SZ_1K: u64 = 1 << 10;
pub const SZ_2K: u64 = 2 << 10;
pub const SZ_4K: u64 = 4 << 10;
pub const SZ_8K: u64 = 8 << 10;
pub const SZ_16K: u64 = 16 << 10;
pub const SZ_32K: u64 = 32 << 10;
pub const SZ_64K: u64 = 64 << 10;
pub const SZ_128K: u64 = 128 << 10;
pub const SZ_256K: u64 = 256 << 10;
pub const SZ_512K: u64 = 512 << 10;
pub const SZ_1M: u64 = 1 << 20;
pub const SZ_2M: u64 = 2 << 20;
pub const SZ_4M: u64 = 4 << 20;
pub const SZ_8M: u64 = 8 << 20;
pub const SZ_16M: u64 = 16 << 20;
pub const SZ_32M: u64 = 32 << 20;
pub const SZ_64M: u64 = 64 << 20;
pub const SZ_128M: u64 = 128 << 20;
pub const SZ_256M: u64 = 256 << 20;
pub const SZ_512M: u64 = 512 << 20;
pub const SZ_1G: u64 = 1 << 30;
pub const SZ_2G: u64 = 2 << 30;
pub const SZ_4G: u64 = 4 << 30;
pub const SZ_8G: u64 = 8 << 30;

/// `SMP_CACHE_BYTES` as the kernel's user-space test build sees it (the
/// asm-generic 32-byte cache line); some cases depend on that exact value.
pub const SMP: u64 = 32;

/// Caller string used by the tests.
pub const C: &str = "test";

/// `MEM_SIZE` of the kernel suite: the simulated memory.
pub const MEM_SIZE: u64 = SZ_32K;

/// Base of the simulated physical memory. The kernel suite mallocs a buffer;
/// we place ours at a fixed, page-aligned address.
pub const MEM_BASE: PhysAddr = SZ_1G;

pub fn mb() -> Memblock {
    Memblock::new()
}

/// `reset_memblock_regions()` + `reset_memblock_attributes()`.
pub fn fresh() -> Memblock {
    Memblock::new()
}

/// `setup_memblock()`: one memory region of `MEM_SIZE` at `MEM_BASE`.
pub fn setup_memblock() -> Memblock {
    let mut m = fresh();
    m.add(MEM_BASE, MEM_SIZE, C).unwrap();
    m
}

/// `setup_memblock()` with a chosen direction.
pub fn setup_dir(bottom_up: bool) -> Memblock {
    let mut m = setup_memblock();
    m.set_bottom_up(bottom_up);
    m
}

/// Run a case top-down then bottom-up (`run_top_down` / `run_bottom_up`).
pub fn both_dirs(f: impl Fn(bool)) {
    f(false);
    f(true);
}

/// Assert a type's regions as `(base, size)` pairs.
pub fn assert_regions(t: &MemblockType, expect: &[(u64, u64)]) {
    let got: Vec<(u64, u64)> = t.regions().iter().map(|r| (r.base, r.size)).collect();
    assert_eq!(got, expect, "{} regions", t.name());
}

pub fn rgn(m: &Memblock, kind: MemblockTypeKind, i: usize) -> MemblockRegion {
    m.region_type(kind).region(i).expect("region index")
}
pub fn mem(m: &Memblock, i: usize) -> MemblockRegion {
    rgn(m, MemblockTypeKind::Memory, i)
}
pub fn res(m: &Memblock, i: usize) -> MemblockRegion {
    rgn(m, MemblockTypeKind::Reserved, i)
}
pub fn mem_cnt(m: &Memblock) -> usize {
    m.memory().cnt()
}
pub fn res_cnt(m: &Memblock) -> usize {
    m.reserved().cnt()
}

/// `NUMA_NODES` of the kernel suite.
pub const NUMA_NODES: usize = 8;

/// `node_fractions[]` of alloc_nid_api.c / alloc_exact_nid_api.c: the share
/// of `MEM_SIZE` each node gets, in basis points.
pub const NODE_FRACTIONS: [u64; NUMA_NODES] = [2500, 625, 1250, 1250, 625, 625, 2500, 625];

/// `setup_numa_memblock()`: `MEM_SIZE` split into `NUMA_NODES` nodes, each
/// flagged HOTPLUG unless `movable_node` is on (6.1 rules: flags on add).
pub fn setup_numa_memblock(fracs: &[u64; NUMA_NODES], movable_node: bool) -> Memblock {
    let mut m = Memblock::with_version(KernelVersion::V6_1);
    m.set_movable_node(movable_node);
    let flags = if movable_node { MemblockFlags::NONE } else { MemblockFlags::HOTPLUG };
    let mut base = MEM_BASE;
    for (i, frac) in fracs.iter().enumerate() {
        let size = MEM_SIZE * frac / 10_000;
        m.add_node(base, size, i as i32, flags, C).unwrap();
        base += size;
    }
    m
}

/// `setup_numa_memblock(node_fractions)` with a direction.
pub fn numa_dir(bottom_up: bool) -> Memblock {
    let mut m = setup_numa_memblock(&NODE_FRACTIONS, false);
    m.set_bottom_up(bottom_up);
    m
}
