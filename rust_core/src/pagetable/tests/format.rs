//! The format description: presets validate, bad descriptions are refused
//! with clear errors, and entries have the real encodings.

use super::common::*;

#[test]
fn presets_validate() {
    for f in all_formats() {
        f.validate().unwrap_or_else(|e| panic!("{}: {e}", f.name));
    }
}

#[test]
fn page_sizes() {
    assert_eq!(PageTableFormat::x86_64_4level().page_sizes(), vec![K4, M2, G1]);
    assert_eq!(PageTableFormat::x86_64_5level().page_sizes(), vec![K4, M2, G1]);
    assert_eq!(PageTableFormat::riscv_sv39().page_sizes(), vec![K4, M2, G1]);
    assert_eq!(PageTableFormat::riscv_sv48().page_sizes(), vec![K4, M2, G1, 512 * G1]);
    assert_eq!(PageTableFormat::arm64_4k_48bit().page_sizes(), vec![K4, M2, G1]);
}

fn expect_invalid(f: PageTableFormat, field: &str) {
    match f.validate() {
        Err(MmError::InvalidArgument { field: got, reason }) => {
            assert!(got.starts_with(field), "wanted {field}, got {got}: {reason}");
            assert!(!reason.is_empty());
        }
        other => panic!("wanted an invalid {field}, got {other:?}"),
    }
    let mut src = source();
    assert!(PageTable::new(f, &mut src).is_err());
    assert_eq!(src.in_use, 0);
}

#[test]
fn bad_descriptions_are_refused() {
    let base = PageTableFormat::x86_64_4level();

    let mut f = base.clone();
    f.levels.clear();
    expect_invalid(f, "levels");

    let mut f = base.clone();
    f.levels[1].index_bits = 10;
    expect_invalid(f, "levels.index_bits");

    let mut f = base.clone();
    f.levels[1].shift = 31;
    expect_invalid(f, "levels.shift");

    let mut f = base.clone();
    f.levels[3].leaf = false;
    expect_invalid(f, "levels.leaf");

    let mut f = base.clone();
    f.levels[2].leaf = false; // pud may hold leaves, pmd not
    expect_invalid(f, "levels.leaf");

    let mut f = base.clone();
    f.va_bits = 47;
    expect_invalid(f, "va_bits");

    let mut f = base.clone();
    f.phys_bits = 64;
    expect_invalid(f, "phys_bits");

    let mut f = base.clone();
    f.entry.valid.value = 0;
    expect_invalid(f, "entry.valid");

    let mut f = base.clone();
    f.entry.pfn_mask = 0x0000_0fff_ffff_f000; // too narrow for 52 bits
    expect_invalid(f, "entry.pfn_mask");

    let mut f = base.clone();
    f.entry.flags[0].when_set = 1 << 8; // WRITE on GLOBAL's bit
    expect_invalid(f, "entry.flags");

    let mut f = base.clone();
    f.entry.flags[5].when_set = 1 << 20; // NX inside the frame
    expect_invalid(f, "entry.flags");

    let mut f = base.clone();
    let dup = f.entry.flags[0];
    f.entry.flags.push(dup);
    expect_invalid(f, "entry.flags");

    // A huge leaf that reads as a table.
    let mut f = base.clone();
    f.entry.huge_bits = x86::PRESENT;
    expect_invalid(f, "entry");

    // arm64 whose block descriptor has the table bit.
    let mut f = PageTableFormat::arm64_4k_48bit();
    f.entry.huge_bits |= arm64::TABLE_BIT;
    expect_invalid(f, "entry");
}

#[test]
fn flag_names() {
    assert_eq!(PteFlags::from_name("noexec"), Some(PteFlags::NOEXEC));
    assert_eq!(PteFlags::from_name("bogus"), None);
    assert_eq!(PteFlags::PAGE_KERNEL.names(), vec!["WRITE", "ACCESSED", "DIRTY", "GLOBAL", "NOEXEC"]);
    assert_eq!(PteFlags::from_bits(0x40), None);
    assert_eq!(format!("{:?}", PteFlags::WRITE | PteFlags::USER), "PteFlags(WRITE|USER)");
}

fn leaf_entry(f: PageTableFormat, virt: u64, phys: u64, size: u64, flags: PteFlags) -> u64 {
    let mut src = source();
    let mut pt = PageTable::new(f, &mut src).unwrap();
    pt.map(&mut src, virt, phys, size, flags).unwrap();
    let t = pt.translate(virt).unwrap();
    assert_eq!((t.phys, t.page_size, t.flags), (phys, size, flags));
    let steps = pt.walk(virt).unwrap();
    assert_eq!(steps.last().unwrap().kind, EntryKind::Leaf);
    assert_eq!(steps.last().unwrap().entry, t.entry);
    t.entry
}

#[test]
fn x86_entry_hex() {
    let f = PageTableFormat::x86_64_4level;
    let k = PteFlags::PAGE_KERNEL;
    let po = PAGE_OFFSET_4LEVEL;
    // __PAGE_KERNEL = P|RW|A|D|G|NX.
    assert_eq!(leaf_entry(f(), po + 0x1234_5000, 0x1234_5000, K4, k), 0x8000_0000_1234_5163);
    // __PAGE_KERNEL_LARGE adds PSE.
    assert_eq!(leaf_entry(f(), po + 0x4020_0000, 0x4020_0000, M2, k), 0x8000_0000_4020_01e3);
    assert_eq!(leaf_entry(f(), po + 0x80_0000_0000, 0x80_0000_0000, G1, k), 0x8000_0080_0000_01e3);
    // PAGE_KERNEL_EXEC: no NX.
    assert_eq!(leaf_entry(f(), po, 0x20_0000, K4, PteFlags::PAGE_KERNEL_EXEC), 0x0000_0000_0020_0163);
    // A user read-only page.
    assert_eq!(leaf_entry(f(), 0x40_0000, 0x5000, K4, PteFlags::USER | PteFlags::ACCESSED), 0x5025);
    // 5-level is the same encoding.
    assert_eq!(leaf_entry(PageTableFormat::x86_64_5level(), PAGE_OFFSET_5LEVEL, 0x1000, K4, k), 0x8000_0000_0000_1163);
}

#[test]
fn x86_table_entries_and_walk() {
    let (mut pt, mut src) = x86();
    let va = PAGE_OFFSET_4LEVEL + 0x1234_5000;
    pt.map(&mut src, va, 0x1234_5000, K4, PteFlags::PAGE_KERNEL).unwrap();
    let steps = pt.walk(va).unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["pgd", "pud", "pmd", "pte"]);
    // pgd_index(0xffff888000000000) = 273, then pud 0, pmd 0x91, pte 0x145.
    let idx: Vec<usize> = steps.iter().map(|s| s.index).collect();
    assert_eq!(idx, [273, 0, 0x91, 0x145]);
    assert_eq!(steps[0].table_pfn, pt.root_pfn());
    for w in steps.windows(2) {
        // Each table entry is _KERNPG_TABLE | the next table's address.
        assert_eq!(w[0].kind, EntryKind::Table);
        assert_eq!(w[0].entry, 0x63 | (w[1].table_pfn << 12));
    }
    assert_eq!(steps[3].entry, 0x8000_0000_1234_5163);
}

#[test]
fn riscv_sv39_leaf_encoding() {
    let f = PageTableFormat::riscv_sv39;
    // PAGE_KERNEL = V|R|W|A|D|G (0xe7), PPN at bit 10.
    let phys = 0x8020_0000u64;
    let e = leaf_entry(f(), 0xffff_ffe0_0020_0000, phys, K4, PteFlags::PAGE_KERNEL);
    assert_eq!(e, ((phys >> 12) << 10) | 0xe7);
    // Executable: X set.
    let e = leaf_entry(f(), 0xffff_ffe0_0000_0000, phys - 0x20_0000, M2, PteFlags::PAGE_KERNEL_EXEC);
    assert_eq!(e, (((phys - 0x20_0000) >> 12) << 10) | 0xef);
    // Read-only user page: V|R|U|A, X set (executable).
    let e = leaf_entry(f(), 0x1000, 0x3000, K4, PteFlags::USER | PteFlags::ACCESSED);
    assert_eq!(e, (3 << 10) | 0x5b);
    // Table entries are V only, with the PPN.
    let mut src = source();
    let mut pt = PageTable::new(f(), &mut src).unwrap();
    pt.map(&mut src, 0x1000, 0x3000, K4, PteFlags::PAGE_KERNEL).unwrap();
    let s = pt.walk(0x1000).unwrap();
    assert_eq!(s.len(), 3);
    assert_eq!(s[0].entry, (s[1].table_pfn << 10) | 1);
    assert_eq!(s[1].entry, (s[2].table_pfn << 10) | 1);
}

#[test]
fn riscv_sv48_walk() {
    let mut src = source();
    let mut pt = PageTable::new(PageTableFormat::riscv_sv48(), &mut src).unwrap();
    pt.map(&mut src, 0xffff_8000_0000_0000, 0x8000_0000, G1, PteFlags::PAGE_KERNEL).unwrap();
    let s = pt.walk(0xffff_8000_0000_1000).unwrap();
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].index, 256);
    assert_eq!(s[1].entry, ((0x8000_0000u64 >> 12) << 10) | 0xe7);
    assert_eq!(pt.translate_phys(0xffff_8000_0000_1234), Some(0x8000_1234));
}

#[test]
fn arm64_descriptors() {
    let f = PageTableFormat::arm64_4k_48bit;
    // PAGE_KERNEL: page | SHARED | AF | WRITE(DBM) | DIRTY | PXN | UXN.
    let page = leaf_entry(f(), 0xffff_0000_0000_0000, 0x4000_0000, K4, PteFlags::PAGE_KERNEL);
    assert_eq!(page, 0x00e8_0000_4000_0703);
    // 2M block: type 0b01.
    let block = leaf_entry(f(), 0xffff_0000_0020_0000, 0x4020_0000, M2, PteFlags::PAGE_KERNEL);
    assert_eq!(block, 0x00e8_0000_4020_0701);
    let block = leaf_entry(f(), 0xffff_0000_4000_0000, 0x8000_0000, G1, PteFlags::PAGE_KERNEL);
    assert_eq!(block, 0x00e8_0000_8000_0701);
    // Kernel read-only executable text: RDONLY, UXN only, nG clear.
    let ro = leaf_entry(f(), 0xffff_0000_0000_0000, 0x4000_0000, K4, PteFlags::ACCESSED | PteFlags::GLOBAL);
    assert_eq!(ro, 0x0040_0000_4000_0783);
    // Non-global: nG set.
    let ng = leaf_entry(f(), 0xffff_0000_0000_1000, 0x2000, K4, PteFlags::ACCESSED | PteFlags::WRITE);
    assert_eq!(ng, 0x0048_0000_0000_2f03);
    // A user (TTBR0) table: zero-extended addresses.
    let mut user = f();
    user.va_form = VaForm::ZeroExtended;
    let e = leaf_entry(user, 0x40_0000, 0x2000, K4, PteFlags::USER | PteFlags::ACCESSED | PteFlags::NOEXEC);
    assert_eq!(e, 0x0060_0000_0000_2fc3);
    // Table descriptors: 0b11 | next-level table address.
    let mut src = source();
    let mut pt = PageTable::new(f(), &mut src).unwrap();
    pt.map(&mut src, 0xffff_0000_0000_1000, 0x2000, K4, PteFlags::PAGE_KERNEL).unwrap();
    assert!(pt.translate(0x1000).is_err()); // a TTBR0 address in a TTBR1 table
    let s = pt.walk(0xffff_0000_0000_1000).unwrap();
    assert_eq!(s.len(), 4);
    for w in s.windows(2) {
        assert_eq!(w[0].entry, 3 | (w[1].table_pfn << 12));
    }
}

#[test]
fn unsupported_flag_is_refused() {
    let mut f = PageTableFormat::x86_64_4level();
    f.entry.flags.retain(|e| e.flag != PteFlags::GLOBAL);
    let mut src = source();
    let mut pt = PageTable::new(f, &mut src).unwrap();
    let e = pt.map(&mut src, 0, 0, K4, PteFlags::GLOBAL).unwrap_err();
    assert!(matches!(e, MmError::InvalidArgument { field: "flags", .. }), "{e}");
    pt.map(&mut src, 0, 0, K4, PteFlags::WRITE).unwrap();
}

#[test]
fn third_party_format_from_plain_data() {
    // A made-up 2-level MMU with 10-bit-wide... no: 8-bit indices, 28-bit
    // addresses, leaves at both levels, zero-extended, frame at bit 8.
    let f = PageTableFormat {
        name: "toy".into(),
        levels: vec![
            LevelFormat { name: "pgd".into(), shift: 20, index_bits: 8, leaf: true },
            LevelFormat { name: "pte".into(), shift: 12, index_bits: 8, leaf: true },
        ],
        va_bits: 28,
        va_form: VaForm::ZeroExtended,
        phys_bits: 40,
        entry: EntryEncoding {
            valid: BitPattern { mask: 1, value: 1 },
            table: BitPattern { mask: 2, value: 0 },
            table_bits: 1,
            page_bits: 3,
            huge_bits: 3,
            pfn_shift: 8,
            pfn_mask: ((1 << 28) - 1) << 8,
            flags: vec![FlagEncoding { flag: PteFlags::WRITE, when_set: 4, when_clear: 0 }],
        },
    };
    let mut src = source();
    let mut pt = PageTable::new(f, &mut src).unwrap();
    pt.map_range(&mut src, 0x10_0000, 0x7f0_0000, 0x30_0000, PteFlags::WRITE, PageSizePolicy::Largest).unwrap();
    let t = pt.translate(0x20_1234).unwrap();
    assert_eq!((t.phys, t.page_size, t.entry), (0x800_1234, 1 << 20, (0x8000 << 8) | 7));
    assert!(pt.translate(0x1000_0000).is_err()); // not canonical (zero-extended)
    pt.check_invariants().unwrap();
}

#[test]
fn presets_by_name() {
    for name in PageTableFormat::PRESETS {
        let f = PageTableFormat::preset(name).unwrap();
        f.validate().unwrap();
    }
    assert_eq!(PageTableFormat::preset("riscv_sv39").unwrap(), PageTableFormat::riscv_sv39());
    assert!(matches!(PageTableFormat::preset("vax"), Err(MmError::InvalidArgument { field: "format", .. })));
}

#[test]
fn x86_5level_walk() {
    let mut src = BumpPageSource::new(0x1000, 0x2000);
    let mut pt = PageTable::new(PageTableFormat::x86_64_5level(), &mut src).unwrap();
    let va = PAGE_OFFSET_5LEVEL + 0x20_0000;
    pt.map(&mut src, va, 0x20_0000, M2, PteFlags::PAGE_KERNEL).unwrap();
    let steps = pt.walk(va).unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["pgd", "p4d", "pud", "pmd"]);
    assert_eq!(steps[0].index, 0x111);
    assert_eq!(steps[0].to_string(), "pgd[273] @ pfn 0x1000: 0x0000000001001063 table");
    assert_eq!(steps[3].to_string(), "pmd[1] @ pfn 0x1003: 0x80000000002001e3 leaf");
    // 57-bit canonical form: 0xff00... is canonical, 0x0100... is not.
    assert!(pt.is_canonical(0xff00_0000_0000_0000));
    assert!(!pt.is_canonical(0x0100_0000_0000_0000));
    assert_eq!(pt.walk(PAGE_OFFSET_5LEVEL + (1 << 48)).unwrap()[0].kind, EntryKind::None);
}
