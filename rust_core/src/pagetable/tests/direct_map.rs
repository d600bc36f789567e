//! The x86_64 direct map: `split_mem_range()` planning and
//! `kernel_physical_mapping_init()` mapping.

use super::common::*;

const PO: u64 = PAGE_OFFSET_4LEVEL;
const MASK: u32 = PAGE_SIZE_MASK_2M_1G;
const B2M: u32 = 1 << PG_LEVEL_2M;
const B1G: u32 = 1 << PG_LEVEL_1G;

fn mr(start: u64, end: u64, mask: u32) -> MapRange {
    MapRange { start, end, page_size_mask: mask }
}

#[test]
fn split_into_five() {
    let (s, e) = (M2 / 2, 3 * G1 + 5 * M2 / 2 + 3 * K4);
    let plan = split_mem_range(s, e, MASK, &[(s, e)]).unwrap();
    assert_eq!(
        plan,
        [
            mr(s, M2, 0),
            mr(M2, G1, B2M),
            mr(G1, 3 * G1, B2M | B1G),
            mr(3 * G1, 3 * G1 + 2 * M2, B2M),
            mr(3 * G1 + 2 * M2, e, 0),
        ]
    );
    assert_eq!(plan[0].to_string(), " [mem 0x00100000-0x001fffff] page size 4K");
    assert_eq!(plan[2].to_string(), " [mem 0x40000000-0xbfffffff] page size 1G");
    // Without gbpages the 1G middle is 2M and merges with its neighbours.
    let plan = split_mem_range(s, e, B2M, &[(s, e)]).unwrap();
    assert_eq!(plan, [mr(s, M2, 0), mr(M2, 3 * G1 + 2 * M2, B2M), mr(3 * G1 + 2 * M2, e, 0)]);
    // Only 4K: one range.
    assert_eq!(split_mem_range(s, e, 0, &[(s, e)]).unwrap(), [mr(s, e, 0)]);
    // Unaligned ends are cut down to pages.
    assert_eq!(split_mem_range(0x1001, 0x3fff, 0, &[]).unwrap(), [mr(0x1000, 0x3000, 0)]);
    assert_eq!(split_mem_range(0x1000, 0x1000, MASK, &[]).unwrap(), []);
}

#[test]
fn adjust_promotes_when_the_neighbourhood_is_ram() {
    let (s, e) = (M2 / 2, 3 * G1 + 5 * M2 / 2 + 3 * K4);
    // All of [0, 4G) is RAM: every piece may use 1G, so they merge.
    let plan = split_mem_range(s, e, MASK, &[(0, 2 * G1), (2 * G1, 4 * G1)]).unwrap();
    assert_eq!(plan, [mr(s, e, B2M | B1G)]);
    // RAM to 3G + 4M exactly: the 4K tail's 2M neighbourhood is RAM.
    let ram = [(0, 3 * G1 + 4 * M2)];
    let plan = split_mem_range(s, e, MASK, &ram).unwrap();
    assert_eq!(plan, [mr(s, 3 * G1, B2M | B1G), mr(3 * G1, e, B2M)]);
    // Promotion needs one RAM range: a hole at 4K breaks it.
    let plan = split_mem_range(s, e, MASK, &[(0, K4), (2 * K4, 4 * G1)]).unwrap();
    assert_eq!(plan[0], mr(s, M2, 0));
    // A mask without 1G never promotes to 1G.
    let plan = split_mem_range(s, e, B2M, &[(0, 4 * G1)]).unwrap();
    assert_eq!(plan, [mr(s, e, B2M)]);
}

#[test]
fn bad_plans_are_refused() {
    assert!(split_mem_range(2 * G1, G1, MASK, &[]).is_err());
    assert!(split_mem_range(0, 1 << 53, MASK, &[]).is_err());
    assert!(split_mem_range(0, G1, 1 << 1, &[]).is_err());
    let (mut pt, mut src) = x86();
    assert!(pt.kernel_physical_mapping_init(&mut src, &mr(0, G1, 1), PO, PteFlags::PAGE_KERNEL).is_err());
    assert!(pt
        .kernel_physical_mapping_init(&mut src, &mr(0, G1, 0), 0x0000_8000_0000_0000, PteFlags::PAGE_KERNEL)
        .is_err());
    // RISC-V Sv39 has 2M and 1G but the direct-map helper wants x86's levels
    // only in shape: pud then pmd then pte. Sv39 has them (pgd=1G, pmd, pte).
    let mut s2 = source();
    let mut sv39 = PageTable::new(PageTableFormat::riscv_sv39(), &mut s2).unwrap();
    sv39.kernel_physical_mapping_init(&mut s2, &mr(0, 4 * M2, B2M), 0xffff_ffd8_0000_0000, PteFlags::PAGE_KERNEL)
        .unwrap();
    assert_eq!(sv39.leaf_counts_total().count(M2), 4);
    assert_eq!(pt.page_table_pages(), 1);
}

/// A QEMU-like e820: low RAM, the PCI hole below 4G, RAM up to 9G.
const E820_RAM: [(u64, u64); 3] = [(0x1000, 0x9f000), (0x10_0000, 0xbffe_0000), (0x1_0000_0000, 0x2_4000_0000)];

fn boot_direct_map() -> (PageTable, BumpPageSource) {
    let (mut pt, mut src) = x86();
    // init_mem_mapping(): the ISA range first, whatever it holds, then
    // each RAM range.
    pt.init_memory_mapping(&mut src, 0, 0x10_0000, MASK, &E820_RAM, PO, PteFlags::PAGE_KERNEL).unwrap();
    for &(s, e) in &E820_RAM {
        pt.init_memory_mapping(&mut src, s, e, MASK, &E820_RAM, PO, PteFlags::PAGE_KERNEL).unwrap();
    }
    (pt, src)
}

#[test]
fn direct_map_of_a_qemu_like_machine() {
    let (pt, _src) = boot_direct_map();
    pt.check_invariants().unwrap();
    let c = pt.leaf_counts(PO, 64 * G1).unwrap();
    // 4K: ISA 256 + [1M, 2M) 256 + [0xbfe00000, 0xbffe0000) 480.
    // 2M: [2M, 1G) 511 + [2G, 0xbfe00000) 511. 1G: [1G, 2G) + [4G, 9G).
    assert_eq!((c.count(K4), c.count(M2), c.count(G1)), (992, 1022, 6));
    assert_eq!(
        c.meminfo_lines(),
        ["DirectMap4k:        3968 kB", "DirectMap2M:     2093056 kB", "DirectMap1G:     6291456 kB"]
    );
    // pgd, pud, pmd tables for [0, 1G) and [2G, 3G), pte tables for
    // [0, 2M) and [0xbfe00000, 0xc0000000).
    assert_eq!(pt.page_table_pages(), 1 + 1 + 2 + 2);
    for &(s, e) in &E820_RAM {
        for p in [s, e - 1, (s + e) / 2] {
            assert_eq!(pt.translate_phys(PO + p), Some(p));
        }
    }
    // The ISA hole is mapped (the kernel maps all of the first 1M), the PCI
    // hole is not.
    assert_eq!(pt.translate_phys(PO + 0xa0000), Some(0xa0000));
    assert_eq!(pt.translate_phys(PO + 0xbffe_0000), None);
    assert_eq!(pt.translate_phys(PO + 0xf000_0000), None);
    let t = pt.translate(PO + 0x4000_0000).unwrap();
    assert_eq!((t.page_size, t.entry), (G1, 0x8000_0000_4000_01e3));
}

#[test]
fn huge_leaf_covers_the_rounded_range_like_the_kernel() {
    // The plan says 1G for [1M, 1G + 3M) because [0, 2G) is RAM, so the pud
    // leaves map [0, 2G) whole, including [0, 1M) outside the range.
    let (mut pt, mut src) = x86();
    let plan = pt
        .init_memory_mapping(&mut src, 0x10_0000, G1 + 3 * M2 / 2, MASK, &[(0, 2 * G1)], PO, PteFlags::PAGE_KERNEL)
        .unwrap();
    assert_eq!(plan, [mr(0x10_0000, G1 + 3 * M2 / 2, B2M | B1G)]);
    assert_eq!(pt.leaf_counts_total().count(G1), 2);
    assert_eq!(pt.translate_phys(PO + 0x1000), Some(0x1000));
    assert_eq!(pt.translate_phys(PO + 2 * G1 - 1), Some(2 * G1 - 1));
    // Mapping again over it changes nothing (existing leaves are kept).
    let tables = pt.page_table_pages();
    pt.init_memory_mapping(&mut src, 0x20_0000, 0x40_0000, 0, &[], PO, PteFlags::PAGE_KERNEL).unwrap();
    assert_eq!((pt.page_table_pages(), pt.leaf_counts_total().count(K4)), (tables, 0));
}

#[test]
fn direct_map_failure_rolls_back() {
    let (mut pt, src0) = x86();
    let mut src = FailingSource { inner: src0, left: 4 };
    pt.init_memory_mapping(&mut src, 0, 0x10_0000, MASK, &E820_RAM, PO, PteFlags::PAGE_KERNEL).unwrap();
    let before = snapshot(&pt, &[PO, PO + 0xbfe0_0000, PO + 4 * G1]);
    let in_use = src.inner.in_use;
    let plan = plan_direct_map(&E820_RAM, MASK, &E820_RAM).unwrap();
    for left in 0..2 {
        src.left = left;
        assert!(pt.map_plan(&mut src, &plan, PO, PteFlags::PAGE_KERNEL).is_err());
        assert_eq!(snapshot(&pt, &[PO, PO + 0xbfe0_0000, PO + 4 * G1]), before);
        assert_eq!(src.inner.in_use, in_use);
    }
    src.left = 100;
    pt.map_plan(&mut src, &plan, PO, PteFlags::PAGE_KERNEL).unwrap();
    assert_eq!(pt.leaf_counts_total().count(G1), 6);
}

#[test]
fn a_terabyte_with_1g_and_with_2m_pages() {
    let tb = 1u64 << 40;
    let (mut pt, mut src) = x86();
    pt.init_memory_mapping(&mut src, 0, tb, MASK, &[(0, tb)], PO, PteFlags::PAGE_KERNEL).unwrap();
    assert_eq!(pt.leaf_counts_total().count(G1), 1024);
    assert_eq!(pt.page_table_pages(), 1 + 2);
    let (mut pt, mut src) = x86();
    pt.init_memory_mapping(&mut src, 0, tb, B2M, &[(0, tb)], PO, PteFlags::PAGE_KERNEL).unwrap();
    assert_eq!(pt.leaf_counts_total().count(M2), 1 << 19);
    assert_eq!(pt.page_table_pages(), 1 + 2 + 1024);
    assert_eq!(pt.translate_phys(PO + tb - 1), Some(tb - 1));
}
