//! Busy areas: `vmap_area` (the reserved range, guard page included) and
//! the `vm_struct` describing what lives in it.

use std::fmt;
use std::sync::Arc;

use crate::units::{Pfn, PAGE_SIZE};

/// `vm_struct` flags, with the kernel's values (include/linux/vmalloc.h).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct VmFlags(pub u32);

crate::flags::flag_set_ops!(VmFlags);

impl VmFlags {
    /// `ioremap()` and friends.
    pub const VM_IOREMAP: VmFlags = VmFlags(0x0000_0001);
    /// `vmalloc()`: the area owns its pages.
    pub const VM_ALLOC: VmFlags = VmFlags(0x0000_0002);
    /// `vmap()`: pages owned by the caller.
    pub const VM_MAP: VmFlags = VmFlags(0x0000_0004);
    /// May be mapped to user space (`vmalloc_user()`).
    pub const VM_USERMAP: VmFlags = VmFlags(0x0000_0008);
    /// `dma_alloc_coherent()`.
    pub const VM_DMA_COHERENT: VmFlags = VmFlags(0x0000_0010);
    /// Set while the area is being set up.
    pub const VM_UNINITIALIZED: VmFlags = VmFlags(0x0000_0020);
    /// No trailing guard page.
    pub const VM_NO_GUARD: VmFlags = VmFlags(0x0000_0040);
    /// Huge mappings allowed (6.1: `vmalloc_huge()`; 5.18+).
    pub const VM_ALLOW_HUGE_VMAP: VmFlags = VmFlags(0x0000_0400);

    /// No flag.
    pub const fn empty() -> Self {
        VmFlags(0)
    }
}

impl fmt::Debug for VmFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(u32, &str); 8] = [
            (0x1, "VM_IOREMAP"),
            (0x2, "VM_ALLOC"),
            (0x4, "VM_MAP"),
            (0x8, "VM_USERMAP"),
            (0x10, "VM_DMA_COHERENT"),
            (0x20, "VM_UNINITIALIZED"),
            (0x40, "VM_NO_GUARD"),
            (0x400, "VM_ALLOW_HUGE_VMAP"),
        ];
        let mut first = true;
        for (bit, name) in NAMES {
            if self.0 & bit != 0 {
                if !first {
                    f.write_str(" | ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        let rest = self.0 & !NAMES.iter().fold(0, |a, (b, _)| a | b);
        if rest != 0 || first {
            if !first {
                f.write_str(" | ")?;
            }
            write!(f, "{rest:#x}")?;
        }
        Ok(())
    }
}

/// What lives in a busy area (`struct vm_struct`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmStruct {
    /// First address (`vm->addr`), the area's start.
    pub addr: u64,
    /// Size in bytes, the guard page included (`vm->size`).
    pub size: u64,
    /// `VM_*` flags.
    pub flags: VmFlags,
    /// First pfn of each page the area owns (vmalloc areas): one entry per
    /// `2^page_order` pages.
    pub pages: Vec<Pfn>,
    /// Order of each entry of `pages` (9 for PMD-mapped areas).
    pub page_order: u32,
    /// Base pages the area owns (`vm->nr_pages`), whatever the order.
    pub nr_pages: u64,
    /// Physical address of an ioremap (`vm->phys_addr`), else 0.
    pub phys_addr: u64,
    /// Who asked, as the client named it (what `%pS` prints).
    pub caller: Arc<str>,
    /// Start of the vmalloc area holding the page array, when the array
    /// is bigger than a page (the kernel vmallocs it: "vpages").
    pub pages_area: Option<u64>,
    /// Bytes mapped from `addr` by this module (0 for bare reservations).
    pub mapped: u64,
    /// For a page-array area: the area whose array it holds.
    pub array_of: Option<u64>,
}

impl VmStruct {
    /// `get_vm_area_size()`: the size without the guard page.
    pub fn size_without_guard(&self) -> u64 {
        if self.flags.contains(VmFlags::VM_NO_GUARD) {
            self.size
        } else {
            self.size - PAGE_SIZE
        }
    }
}

/// A busy range of the vmalloc space (`struct vmap_area`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmapArea {
    /// First address.
    pub va_start: u64,
    /// One past the last address (guard page included).
    pub va_end: u64,
    /// What lives there.
    pub vm: VmStruct,
}

impl VmapArea {
    /// Whether `addr` is inside `[va_start, va_end)`.
    pub fn contains(&self, addr: u64) -> bool {
        self.va_start <= addr && addr < self.va_end
    }
}
