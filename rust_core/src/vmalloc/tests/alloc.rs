//! vmalloc/vfree, vmap/vunmap, ioremap, reservations: placement, errors,
//! huge mappings, accounting.

use super::common::*;
use crate::error::MmErrorKind;
use crate::memblock::KernelVersion;
use crate::error::Result;
use crate::page_source::{BumpPageSource, PageSource, PageUse};
use crate::units::Pfn;
use crate::pagetable::{PageTable, PageTableFormat, PteFlags};
use crate::units::PAGE_SIZE;
use crate::vmalloc::{VmFlags, VmallocEventKind, VmallocRequest, VmallocSpace, PMD_SIZE};

const K4: u64 = PAGE_SIZE;

#[test]
fn placement_lowest_fit_and_guard_page() {
    let (mut vs, mut pt, mut src) = setup(KernelVersion::V5_14);
    let a = vs.vmalloc(&mut pt, &mut src, 3 * K4, 1, "a").unwrap();
    let b = vs.vmalloc(&mut pt, &mut src, 5000, 1, "b").unwrap(); // 2 pages
    let c = vs.vmalloc(&mut pt, &mut src, K4, 1, "c").unwrap();
    assert_eq!(a, START);
    assert_eq!(b, START + 4 * K4); // after a's guard page
    assert_eq!(c, START + 7 * K4);
    let va = vs.find_vmap_area(a + 3 * K4).unwrap();
    assert_eq!((va.va_start, va.va_end, va.vm.size, va.vm.nr_pages), (a, a + 4 * K4, 4 * K4, 3));
    assert!(pt.translate_phys(a + 3 * K4).is_none(), "guard page not mapped");
    assert_eq!(vs.find_vm_area(b).unwrap().size, 3 * K4);
    assert!(vs.find_vm_area(b + K4).is_none());
    assert!(vs.find_vmap_area(START + 100 * K4).is_none());
    // Freeing a leaves a 4-page hole: a 2-page area goes there (lowest
    // fit), a 4-page one does not fit (4 + guard) and goes to the end.
    vs.vfree(&mut pt, &mut src, a).unwrap();
    let d = vs.vmalloc(&mut pt, &mut src, 4 * K4, 1, "d").unwrap();
    assert_eq!(d, START + 9 * K4);
    let e = vs.vmalloc(&mut pt, &mut src, 2 * K4, 1, "e").unwrap();
    assert_eq!(e, START);
    // 1 page left in the hole: too small for a page and its guard ...
    let f = vs.vmalloc(&mut pt, &mut src, K4, 1, "f").unwrap();
    assert_eq!(f, START + 14 * K4);
    // ... but exactly right for a guardless one.
    let ng = vs.get_vm_area(K4, VmFlags::VM_NO_GUARD, "ng").unwrap();
    assert_eq!(ng, START + 3 * K4);
    // Alignment: the lowest 64 KiB-aligned fit.
    let g = vs.vmalloc(&mut pt, &mut src, K4, 0x1_0000, "g").unwrap();
    assert_eq!(g, START + 0x1_0000);
    let h = vs.vmalloc(&mut pt, &mut src, K4, 0x4000, "h").unwrap();
    assert_eq!(h, START + 0x1_4000);
    // Free the 64 KiB-aligned one: a 16 KiB-aligned request takes its place.
    vs.vfree(&mut pt, &mut src, g).unwrap();
    let i = vs.vmalloc(&mut pt, &mut src, K4, 0x4000, "i").unwrap();
    assert_eq!(i, START + 0x1_0000);
    check_mappings(&vs, &pt);
    vs.free_space().check().unwrap();
    // VM_NO_GUARD: no guard page.
    let r = vs.get_vm_area(2 * K4, VmFlags::VM_ALLOC | VmFlags::VM_NO_GUARD, "r").unwrap();
    assert_eq!(vs.find_vm_area(r).unwrap().size, 2 * K4);
    // Bad arguments.
    assert_eq!(vs.vmalloc(&mut pt, &mut src, 0, 1, "z").unwrap_err().kind(), MmErrorKind::InvalidArgument);
    assert_eq!(vs.vmalloc(&mut pt, &mut src, K4, 3, "z").unwrap_err().kind(), MmErrorKind::InvalidArgument);
}

#[test]
fn sub_range_and_ioremap_alignment() {
    let (mut vs, mut pt, mut src) = setup(KernelVersion::V5_14);
    let lo = START + 0x10_0000;
    let req = VmallocRequest { range: Some((lo, lo + 0x4000)), ..VmallocRequest::new(K4, "x") };
    assert_eq!(vs.vmalloc_node_range(&mut pt, &mut src, &req).unwrap(), lo);
    assert_eq!(vs.vmalloc_node_range(&mut pt, &mut src, &req).unwrap(), lo + 2 * K4);
    let e = vs.vmalloc_node_range(&mut pt, &mut src, &req).unwrap_err();
    assert_eq!(e.kind(), MmErrorKind::OutOfMemory);
    // VM_IOREMAP areas are aligned to their size rounded up to a power of two.
    let _a = vs.get_vm_area(K4, VmFlags::empty(), "pad").unwrap();
    let io = vs.get_vm_area(3 * K4, VmFlags::VM_IOREMAP, "io").unwrap();
    assert_eq!(io % 0x4000, 0);
    assert_eq!(io, START + 0x4000);
}

#[test]
fn exhaustion_of_space_changes_nothing() {
    let mut src = BumpPageSource::new(0x1000, 0x10_0000);
    let mut pt = PageTable::new(PageTableFormat::x86_64_4level(), &mut src).unwrap();
    let mut vs = VmallocSpace::new(START, START + 16 * K4).unwrap();
    let a = vs.vmalloc(&mut pt, &mut src, 7 * K4, 1, "a").unwrap();
    let _b = vs.vmalloc(&mut pt, &mut src, 5 * K4, 1, "b").unwrap();
    // 2 pages left: 1 page + guard fits, 2 pages + guard do not.
    let before = snapshot(&vs, &pt, src.in_use);
    let e = vs.vmalloc(&mut pt, &mut src, 2 * K4, 1, "c").unwrap_err();
    assert_eq!(e.kind(), MmErrorKind::OutOfMemory);
    assert_eq!(snapshot(&vs, &pt, src.in_use), before);
    let e = vs.vmalloc(&mut pt, &mut src, u64::MAX - 10, 1, "c").unwrap_err();
    assert_eq!(e.kind(), MmErrorKind::OutOfMemory);
    assert_eq!(snapshot(&vs, &pt, src.in_use), before);
    let c = vs.vmalloc(&mut pt, &mut src, K4, 1, "c").unwrap();
    assert_eq!(c, START + 14 * K4);
    assert!(vs.free_space().is_empty());
    vs.vfree(&mut pt, &mut src, a).unwrap();
    assert_eq!(vs.vmalloc(&mut pt, &mut src, 7 * K4, 1, "a").unwrap(), a);
}

#[test]
fn exhaustion_of_pages_changes_nothing() {
    let inner = BumpPageSource::new(0x1000, 0x10_0000);
    let mut src = Picky { inner, max_order: 0, budget: 1 << 20 };
    let mut pt = PageTable::new(PageTableFormat::x86_64_4level(), &mut src).unwrap();
    let mut vs = VmallocSpace::x86_64_4level();
    let _a = vs.vmalloc(&mut pt, &mut src, 4 * K4, 1, "a").unwrap();
    // Not enough pages for the data.
    src.budget = 10;
    let before = snapshot(&vs, &pt, src.inner.in_use);
    let e = vs.vmalloc(&mut pt, &mut src, 11 * K4, 1, "b").unwrap_err();
    assert_eq!(e.kind(), MmErrorKind::OutOfMemory);
    assert_eq!(snapshot(&vs, &pt, src.inner.in_use), before);
    // Enough for the data, not for the page tables a new 2 MiB region
    // needs: mapping fails half-way and is undone.
    let far = START + 0x4000_0000;
    let req = VmallocRequest { range: Some((far, far + 0x10_0000)), ..VmallocRequest::new(10 * K4, "c") };
    let e = vs.vmalloc_node_range(&mut pt, &mut src, &req).unwrap_err();
    assert_eq!(e.kind(), MmErrorKind::OutOfMemory);
    assert_eq!(snapshot(&vs, &pt, src.inner.in_use), before);
    // A page array area (1024 pages) fails as a whole too.
    src.budget = 1000;
    let e = vs.vmalloc(&mut pt, &mut src, 1024 * K4, 1, "d").unwrap_err();
    assert_eq!(e.kind(), MmErrorKind::OutOfMemory);
    assert_eq!(snapshot(&vs, &pt, src.inner.in_use), before);
    // totalram_pages: refused up front.
    vs.set_totalram_pages(Some(100));
    src.budget = 1 << 20;
    assert_eq!(vs.vmalloc(&mut pt, &mut src, 101 * K4, 1, "e").unwrap_err().kind(), MmErrorKind::OutOfMemory);
    assert_eq!(snapshot(&vs, &pt, src.inner.in_use), before);
}

#[test]
fn free_errors() {
    let (mut vs, mut pt, mut src) = setup(KernelVersion::V5_14);
    let a = vs.vmalloc(&mut pt, &mut src, 2 * K4, 1, "a").unwrap();
    let m = vs.vmap(&mut pt, &mut src, &[0x5000, 0x5001], VmFlags::VM_MAP, "m").unwrap();
    let r = vs.get_vm_area(K4, VmFlags::VM_IOREMAP, "r").unwrap();
    let before = snapshot(&vs, &pt, src.in_use);
    let kind = |r: crate::Result<()>| r.unwrap_err().kind();
    // Not a vmalloc address / not an area start / never allocated.
    assert_eq!(kind(vs.vfree(&mut pt, &mut src, 0xffff_8880_0000_0000)), MmErrorKind::NotAllocated);
    assert_eq!(kind(vs.vfree(&mut pt, &mut src, a + K4)), MmErrorKind::NotAllocated);
    assert_eq!(kind(vs.vfree(&mut pt, &mut src, START + 0x100_0000)), MmErrorKind::NotAllocated);
    assert_eq!(kind(vs.vunmap(&mut pt, &mut src, a + K4)), MmErrorKind::NotAllocated);
    // Wrong kind of area.
    assert_eq!(kind(vs.vfree(&mut pt, &mut src, m)), MmErrorKind::InvalidState);
    assert_eq!(kind(vs.vunmap(&mut pt, &mut src, a)), MmErrorKind::InvalidState);
    assert_eq!(kind(vs.free_vm_area(&mut pt, &mut src, a)), MmErrorKind::InvalidState);
    assert_eq!(kind(vs.iounmap(&mut pt, &mut src, a)), MmErrorKind::InvalidState);
    assert_eq!(snapshot(&vs, &pt, src.in_use), before);
    // vfree(NULL) is a no-op.
    vs.vfree(&mut pt, &mut src, 0).unwrap();
    // Double frees.
    vs.vfree(&mut pt, &mut src, a).unwrap();
    let mid = snapshot(&vs, &pt, src.in_use);
    assert_eq!(kind(vs.vfree(&mut pt, &mut src, a)), MmErrorKind::DoubleFree);
    vs.vunmap(&mut pt, &mut src, m).unwrap();
    assert_eq!(kind(vs.vunmap(&mut pt, &mut src, m)), MmErrorKind::DoubleFree);
    vs.free_vm_area(&mut pt, &mut src, r).unwrap();
    assert_eq!(kind(vs.free_vm_area(&mut pt, &mut src, r)), MmErrorKind::DoubleFree);
    assert_ne!(snapshot(&vs, &pt, src.in_use), mid);
    // Once the address is handed out again, it is a live area again.
    let b = vs.vmalloc(&mut pt, &mut src, K4, 1, "b").unwrap();
    assert_eq!(b, a);
    vs.vfree(&mut pt, &mut src, b).unwrap();
    // The mapping taken away behind vfree's back: NotMapped, nothing changed.
    let c = vs.vmalloc(&mut pt, &mut src, 2 * K4, 1, "c").unwrap();
    pt.unmap_range(&mut src, c, K4).unwrap();
    let before = snapshot(&vs, &pt, src.in_use);
    assert_eq!(kind(vs.vfree(&mut pt, &mut src, c)), MmErrorKind::NotAllocated);
    assert_eq!(snapshot(&vs, &pt, src.in_use), before);
    assert_eq!(vs.nr_areas(), 1);
}

#[test]
fn huge_mappings_6_1() {
    let (mut vs, mut pt, mut src) = setup(KernelVersion::V6_1);
    let _pad = vs.vmalloc(&mut pt, &mut src, K4, 1, "pad").unwrap();
    let h = vs.vmalloc_huge(&mut pt, &mut src, 3 << 20, "huge").unwrap();
    assert_eq!(h % PMD_SIZE, 0);
    assert_eq!(h, START + PMD_SIZE);
    let vm = vs.find_vm_area(h).unwrap().clone();
    assert_eq!((vm.size, vm.nr_pages, vm.page_order, vm.pages.len()), (4 * PMD_SIZE / 2 + K4, 1024, 9, 2));
    for off in [0, K4, PMD_SIZE - K4, PMD_SIZE, 2 * PMD_SIZE - K4] {
        let t = pt.translate(h + off).unwrap();
        assert_eq!(t.page_size, PMD_SIZE);
        assert_eq!(t.flags, PteFlags::PAGE_KERNEL);
        assert_eq!(t.phys >> 12, vm.pages[(off / PMD_SIZE) as usize] + (off % PMD_SIZE) / K4);
    }
    assert!(pt.translate_phys(h + 2 * PMD_SIZE).is_none(), "guard page");
    assert_eq!(vs.vmalloc_used_kb(), 4 + 4096 + 8, "1024 entries: a 2-page array area");
    assert_eq!(pt.leaf_counts_total().count(PMD_SIZE), 2);
    check_mappings(&vs, &pt);
    // Below PMD_SIZE: base pages.
    let s = vs.vmalloc_huge(&mut pt, &mut src, PMD_SIZE - K4, "small").unwrap();
    assert_eq!(vs.find_vm_area(s).unwrap().page_order, 0);
    vs.vfree(&mut pt, &mut src, h).unwrap();
    vs.vfree(&mut pt, &mut src, s).unwrap();
    assert_eq!(pt.leaf_counts_total().count(PMD_SIZE), 0);
    assert_eq!(vs.vmalloc_used_kb(), 4);
}

#[test]
fn huge_falls_back_to_base_pages() {
    // 5.14: no huge vmalloc on x86.
    let (mut vs, mut pt, mut src) = setup(KernelVersion::V5_14);
    let h = vs.vmalloc_huge(&mut pt, &mut src, PMD_SIZE, "huge").unwrap();
    let vm = vs.find_vm_area(h).unwrap();
    assert_eq!((vm.page_order, vm.nr_pages, h), (0, 512, START));
    assert_eq!(pt.translate(h).unwrap().page_size, K4);
    // 6.1, but the source has no order-9 pages.
    let inner = BumpPageSource::new(0x1000, 0x10_0000);
    let mut src = Picky { inner, max_order: 0, budget: 1 << 20 };
    let mut pt = PageTable::new(PageTableFormat::x86_64_4level(), &mut src).unwrap();
    let mut vs = VmallocSpace::x86_64_4level().with_version(KernelVersion::V6_1);
    let h = vs.vmalloc_huge(&mut pt, &mut src, PMD_SIZE + 1, "huge").unwrap();
    let vm = vs.find_vm_area(h).unwrap();
    assert_eq!((vm.page_order, vm.nr_pages, vm.size), (0, 513, PMD_SIZE + 2 * K4));
    check_mappings(&vs, &pt);
}

#[test]
fn vmap_ioremap_and_reservations() {
    let (mut vs, mut pt, mut src) = setup(KernelVersion::V6_1);
    let pfns = [0x9000, 0x7000, 0x8123];
    let m = vs.vmap(&mut pt, &mut src, &pfns, VmFlags::VM_MAP, "m").unwrap();
    for (i, p) in pfns.iter().enumerate() {
        assert_eq!(vs.vmalloc_to_pfn(&pt, m + i as u64 * K4).unwrap(), *p);
    }
    assert_eq!(vs.vmalloc_used_kb(), 0, "vmap pages are the caller's");
    let io = vs.ioremap(&mut pt, &mut src, 0xfed0_0010, 0x400, "hpet_enable+0xef/0x46d").unwrap();
    assert_eq!(io & 0xfff, 0x10);
    assert_eq!(pt.translate_phys(io).unwrap(), 0xfed0_0010);
    let line = vs.vmallocinfo_line(vs.find_vm_area(io & !0xfff).unwrap());
    assert!(line.ends_with("   8192 hpet_enable+0xef/0x46d phys=0x00000000fed00000 ioremap"), "{line}");
    let r = vs.get_vm_area(5 * K4, VmFlags::VM_ALLOC | VmFlags::VM_NO_GUARD, "pcpu_get_vm_areas+0x0/0x1080").unwrap();
    assert!(pt.translate_phys(r).is_none());
    // Errors leave nothing behind.
    let before = snapshot(&vs, &pt, src.in_use);
    let kind = |r: crate::Result<u64>| r.unwrap_err().kind();
    assert_eq!(kind(vs.vmap(&mut pt, &mut src, &[], VmFlags::VM_MAP, "x")), MmErrorKind::InvalidArgument);
    assert_eq!(kind(vs.vmap(&mut pt, &mut src, &[1, 2], VmFlags::VM_ALLOC, "x")), MmErrorKind::InvalidArgument);
    assert_eq!(kind(vs.vmap(&mut pt, &mut src, &[1, 2, u64::MAX >> 4], VmFlags::VM_MAP, "x")), MmErrorKind::InvalidArgument);
    assert_eq!(kind(vs.ioremap(&mut pt, &mut src, 0x1000, 0, "x")), MmErrorKind::InvalidArgument);
    assert_eq!(kind(vs.ioremap(&mut pt, &mut src, u64::MAX - 5, 0x10, "x")), MmErrorKind::InvalidArgument);
    assert_eq!(snapshot(&vs, &pt, src.in_use), before);
    assert_eq!(vs.vmalloc_to_pfn(&pt, 0x1000).unwrap_err().kind(), MmErrorKind::OutOfRange);
    assert_eq!(vs.vmalloc_to_pfn(&pt, r).unwrap_err().kind(), MmErrorKind::NotAllocated);
    vs.vunmap(&mut pt, &mut src, m).unwrap();
    assert!(pt.translate_phys(m).is_none());
    vs.iounmap(&mut pt, &mut src, io).unwrap();
    vs.free_vm_area(&mut pt, &mut src, r).unwrap();
    // only the page tables are left: vunmap keeps them
    assert_eq!(vs.nr_areas(), 0);
    assert_eq!(src.in_use, pt.page_table_pages());
}

#[test]
fn page_array_area_vpages() {
    let (mut vs, mut pt, mut src) = setup(KernelVersion::V6_1);
    let a = vs.vmalloc(&mut pt, &mut src, 1024 * K4, 1, "pcpu_create_chunk+0x167/0x1b0").unwrap();
    assert_eq!(vs.nr_areas(), 2);
    let vm = vs.find_vm_area(a).unwrap();
    let arr = vm.pages_area.unwrap();
    assert_eq!(arr, a + 1025 * K4, "reserved after the area");
    let avm = vs.find_vm_area(arr).unwrap();
    assert_eq!((avm.size, avm.nr_pages, avm.array_of), (3 * K4, 2, Some(a)));
    assert_eq!(vs.nr_vmalloc_pages(), 1026);
    let info = vs.vmallocinfo();
    let lines: Vec<&str> = info.lines().collect();
    assert!(lines[0].ends_with(" 4198400 pcpu_create_chunk+0x167/0x1b0 pages=1024 vmalloc vpages N0=1024"), "{}", lines[0]);
    assert!(lines[1].ends_with("   12288 pcpu_create_chunk+0x167/0x1b0 pages=2 vmalloc N0=2"), "{}", lines[1]);
    // The array's area belongs to its owner.
    assert_eq!(vs.vfree(&mut pt, &mut src, arr).unwrap_err().kind(), MmErrorKind::InvalidState);
    // 512 pages: the array fits a page, no extra area.
    let b = vs.vmalloc(&mut pt, &mut src, 512 * K4, 1, "b").unwrap();
    assert!(vs.find_vm_area(b).unwrap().pages_area.is_none());
    vs.vfree(&mut pt, &mut src, a).unwrap();
    vs.vfree(&mut pt, &mut src, b).unwrap();
    assert_eq!((vs.nr_areas(), vs.nr_vmalloc_pages(), src.in_use), (0, 0, pt.page_table_pages()));
}

#[test]
fn accounting_returns_to_baseline() {
    for version in [KernelVersion::V5_14, KernelVersion::V6_1] {
        let (mut vs, mut pt, mut src) = setup(version);
        let base = (src.in_use, pt.page_table_pages());
        let whole = vs.free_space().extents();
        let mut live = Vec::new();
        for i in 0..40u64 {
            let size = (i % 7 + 1) * K4 + i * 100;
            live.push(vs.vmalloc(&mut pt, &mut src, size, 1 << (12 + i % 3), "x").unwrap());
        }
        let h = vs.vmalloc_huge(&mut pt, &mut src, 5 << 20, "h").unwrap();
        let big = vs.vmalloc_node(&mut pt, &mut src, 600 * K4, Some(0), "big").unwrap();
        let u = vs.vmalloc_user(&mut pt, &mut src, K4, "u").unwrap();
        assert!(vs.vmallocinfo_line(vs.find_vm_area(u).unwrap()).ends_with(" vmalloc user N0=1"));
        let m = vs.vmap(&mut pt, &mut src, &[0x42, 0x43], VmFlags::VM_MAP, "m").unwrap();
        check_mappings(&vs, &pt);
        let used: u64 = vs.areas().map(|va| va.vm.nr_pages).sum();
        assert_eq!(vs.nr_vmalloc_pages(), used);
        assert_eq!(src.in_use - base.0 - (pt.page_table_pages() - base.1), used);
        for (i, a) in live.iter().enumerate() {
            if i % 2 == 0 {
                vs.vfree(&mut pt, &mut src, *a).unwrap();
            }
        }
        vs.free_space().check().unwrap();
        for (i, a) in live.iter().enumerate() {
            if i % 2 == 1 {
                vs.vfree(&mut pt, &mut src, *a).unwrap();
            }
        }
        vs.vfree(&mut pt, &mut src, h).unwrap();
        vs.vfree(&mut pt, &mut src, big).unwrap();
        vs.vfree(&mut pt, &mut src, u).unwrap();
        vs.vunmap(&mut pt, &mut src, m).unwrap();
        // the data pages are back; the page tables stay, and serve again
        let tables = pt.page_table_pages();
        assert!(tables > base.1);
        assert_eq!(src.in_use - tables, base.0 - base.1);
        let again = vs.vmalloc(&mut pt, &mut src, 8 * K4, 1, "again").unwrap();
        assert_eq!(pt.page_table_pages(), tables);
        vs.vfree(&mut pt, &mut src, again).unwrap();
        assert_eq!((vs.nr_areas(), vs.nr_vmalloc_pages(), vs.vmalloc_used_kb()), (0, 0, 0));
        assert_eq!(vs.free_space().extents(), whole);
    }
}

#[test]
fn event_recorder() {
    let (mut vs, mut pt, mut src) = setup(KernelVersion::V6_1);
    let a = vs.vmalloc(&mut pt, &mut src, K4, 1, "quiet").unwrap();
    assert!(vs.events().is_empty());
    vs.set_event_recording(true);
    let b = vs.vmalloc(&mut pt, &mut src, 1024 * K4, 1, "big").unwrap();
    let _ = vs.vmalloc(&mut pt, &mut src, u64::MAX, 1, "fails");
    vs.vfree(&mut pt, &mut src, b).unwrap();
    vs.vfree(&mut pt, &mut src, a).unwrap();
    let ev = vs.take_events();
    let brief: Vec<_> = ev.iter().map(|e| (e.kind, e.size, e.nr_pages, &*e.caller)).collect();
    use VmallocEventKind::*;
    assert_eq!(
        brief,
        vec![
            (Alloc, 3 * K4, 2, "big"),
            (Alloc, 1025 * K4, 1024, "big"),
            (Free, 1025 * K4, 1024, "big"),
            (Free, 3 * K4, 2, "big"),
            (Free, 2 * K4, 1, "quiet"),
        ]
    );
    assert_eq!(ev[1].addr, b);
    assert!(vs.events().is_empty());
}

#[test]
fn five_level_space() {
    let mut src = BumpPageSource::new(0x1000, 0x10_0000);
    let mut pt = PageTable::new(PageTableFormat::x86_64_5level(), &mut src).unwrap();
    let mut vs = VmallocSpace::x86_64_5level();
    let a = vs.vmalloc(&mut pt, &mut src, 2 * K4, 1, "a").unwrap();
    assert_eq!(a, 0xffa0_0000_0000_0000);
    assert_eq!(pt.walk(a).unwrap().len(), 5);
    // The 5-level space is not canonical with 4 levels: mapping fails,
    // and nothing is left behind.
    let mut pt4 = PageTable::new(PageTableFormat::x86_64_4level(), &mut src).unwrap();
    let before = snapshot(&vs, &pt4, src.in_use);
    assert_eq!(vs.vmalloc(&mut pt4, &mut src, K4, 1, "b").unwrap_err().kind(), MmErrorKind::InvalidArgument);
    assert_eq!(snapshot(&vs, &pt4, src.in_use), before);
    assert!(VmallocSpace::new(START + 1, START + 0x10_0000).is_err());
    assert!(VmallocSpace::new(START, START + K4).is_err());
}

#[test]
fn space_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<VmallocSpace>();
}

/// x86's module space as an added range: only requests naming it go
/// there, vmalloc_to_pfn reads it, and bad ranges are refused.
#[test]
fn added_range_holds_only_the_areas_that_name_it() {
    const MODULES_VADDR: u64 = 0xffff_ffff_c000_0000;
    const MODULES_END: u64 = 0xffff_ffff_ff00_0000;
    let (mut vs, mut pt, mut src) = setup(KernelVersion::V6_1);
    let bad = [
        (MODULES_VADDR + 1, MODULES_END),          // not page aligned
        (MODULES_VADDR, MODULES_VADDR + K4),       // no room for a guard
        (START, START + 0x10_0000),                // inside the vmalloc space
    ];
    for (s, e) in bad {
        assert_eq!(vs.add_range(s, e).unwrap_err().kind(), MmErrorKind::InvalidArgument, "{s:#x}");
    }
    vs.add_range(MODULES_VADDR, MODULES_END).unwrap();
    assert_eq!(vs.add_range(MODULES_VADDR + 0x1000_0000, MODULES_END).unwrap_err().kind(), MmErrorKind::InvalidArgument);
    assert_eq!(vs.extra_ranges(), &[(MODULES_VADDR, MODULES_END)]);
    // a plain vmalloc stays in the vmalloc space
    assert_eq!(vs.vmalloc(&mut pt, &mut src, K4, 1, "v").unwrap(), START);
    let req = VmallocRequest { range: Some((MODULES_VADDR, MODULES_END)), ..VmallocRequest::new(3 * K4, "module_alloc") };
    let m = vs.vmalloc_node_range(&mut pt, &mut src, &req).unwrap();
    assert_eq!(m, MODULES_VADDR);
    assert!(vs.is_vmalloc_or_module_addr(m) && !vs.is_vmalloc_addr(m));
    check_mappings(&vs, &pt);
    // a range straddling both is refused, and changes nothing
    let before = snapshot(&vs, &pt, src.in_use);
    let req = VmallocRequest { range: Some((START, MODULES_END)), ..VmallocRequest::new(K4, "x") };
    assert_eq!(vs.vmalloc_node_range(&mut pt, &mut src, &req).unwrap_err().kind(), MmErrorKind::OutOfRange);
    assert_eq!(snapshot(&vs, &pt, src.in_use), before);
    // the module area is listed after the vmalloc ones and freed like them
    let info = vs.vmallocinfo();
    assert!(info.lines().last().unwrap().starts_with("0xffffffffc0000000-0xffffffffc0004000"), "{info}");
    vs.vfree(&mut pt, &mut src, m).unwrap();
    assert_eq!(vs.vmalloc_node_range(&mut pt, &mut src, &VmallocRequest { range: Some((MODULES_VADDR, MODULES_END)), ..VmallocRequest::new(K4, "m") }).unwrap(), MODULES_VADDR);
}

/// Order-0 pages come through the source's bulk entry point in requests of
/// at most 100 (vm_area_alloc_pages); a short answer ends the bulk part and
/// the rest are asked one by one.
#[test]
fn order0_pages_come_in_bulk_requests_of_100() {
    struct Counting {
        inner: BumpPageSource,
        bulk: Vec<usize>,
        singles: usize,
        short_after: usize,
    }
    impl PageSource for Counting {
        fn alloc_pages(&mut self, order: u32, nid: Option<i32>, usage: PageUse) -> Result<Pfn> {
            if usage == PageUse::Vmalloc {
                self.singles += 1;
            }
            self.inner.alloc_pages(order, nid, usage)
        }
        fn free_pages(&mut self, pfn: Pfn, order: u32, usage: PageUse) -> Result<()> {
            self.inner.free_pages(pfn, order, usage)
        }
        fn alloc_pages_bulk(&mut self, count: usize, nid: Option<i32>, usage: PageUse, out: &mut Vec<Pfn>) -> Result<usize> {
            self.bulk.push(count);
            let n = if self.bulk.len() > self.short_after { count / 2 } else { count };
            for _ in 0..n {
                out.push(self.inner.alloc_pages(0, nid, usage)?);
            }
            Ok(n)
        }
    }
    let mut src = Counting { inner: BumpPageSource::new(0x1000, 0x10_0000), bulk: vec![], singles: 0, short_after: usize::MAX };
    let mut pt = PageTable::new(PageTableFormat::x86_64_4level(), &mut src).unwrap();
    let mut vs = VmallocSpace::x86_64_4level();
    vs.vmalloc(&mut pt, &mut src, 250 * K4, 1, "a").unwrap();
    assert_eq!((src.bulk.clone(), src.singles), (vec![100, 100, 50], 0));
    src.bulk.clear();
    src.short_after = 1;
    vs.vmalloc(&mut pt, &mut src, 250 * K4, 1, "b").unwrap();
    assert_eq!((src.bulk.clone(), src.singles), (vec![100, 100], 100));
    check_mappings(&vs, &pt);
}
