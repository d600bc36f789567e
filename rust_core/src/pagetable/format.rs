//! The description of a page-table format, as plain data.
//!
//! A [`PageTableFormat`] says everything the engine needs to know about an
//! MMU: the levels (index bits, shift, whether a level may hold a leaf), the
//! virtual and physical address widths, and how an entry is encoded
//! ([`EntryEncoding`]). Every field is public and plain, so a format can be
//! written down by a third party (or built from Python dicts) without Rust
//! code; [`PageTableFormat::validate`] checks it and explains what is wrong.
//! The built-in formats ([`PageTableFormat::x86_64_4level`] ...) are built
//! from the same data.

use crate::error::{MmError, Result};
use crate::units::PAGE_SHIFT;

use super::flags::PteFlags;

/// Maximum number of levels a format may have.
pub const MAX_LEVELS: usize = 6;
/// Maximum index bits of one level: a table is one 4 KiB page of 8-byte
/// entries.
pub const MAX_INDEX_BITS: u32 = 9;

/// One level of the tree, from the root (index 0) to the last level.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LevelFormat {
    /// The kernel's name for an entry of this level: `pgd`, `p4d`, `pud`,
    /// `pmd`, `pte`.
    pub name: String,
    /// Lowest virtual-address bit of this level's index.
    pub shift: u32,
    /// Number of index bits (the table has `1 << index_bits` entries).
    pub index_bits: u32,
    /// Whether an entry of this level may be a leaf (a page of
    /// `1 << shift` bytes). Always true for the last level.
    pub leaf: bool,
}

/// How the virtual addresses outside the translated bits must look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VaForm {
    /// Bits above `va_bits - 1` are copies of bit `va_bits - 1` (x86_64,
    /// RISC-V).
    SignExtended,
    /// Bits above `va_bits - 1` are zero (e.g. an arm64 TTBR0 / user table).
    ZeroExtended,
    /// Bits above `va_bits - 1` are ones (an arm64 TTBR1 / kernel table such
    /// as `swapper_pg_dir`: 0xffff_0000_0000_0000 and up with 48 bits).
    OnesExtended,
}

/// A bit pattern test: an entry matches when `raw & mask == value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BitPattern {
    pub mask: u64,
    pub value: u64,
}

impl BitPattern {
    /// Whether `raw` matches.
    #[inline(always)]
    pub const fn matches(&self, raw: u64) -> bool {
        raw & self.mask == self.value
    }
}

/// How one [`PteFlags`] flag is encoded in a leaf entry: when the flag is on,
/// `when_set` is or-ed in; when it is off, `when_clear` is. Decoding: the
/// flag is on when `raw & (when_set | when_clear) == when_set`.
///
/// x86 `NX`: `when_set = 1 << 63`, `when_clear = 0`. RISC-V has an X
/// (execute) bit instead, so `NOEXEC` is `when_set = 0`, `when_clear = X`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlagEncoding {
    /// The flag (exactly one bit of [`PteFlags`]).
    pub flag: PteFlags,
    pub when_set: u64,
    pub when_clear: u64,
}

/// The bit encoding of entries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EntryEncoding {
    /// Matches every present entry (table or leaf); never matches 0.
    pub valid: BitPattern,
    /// Among present entries of a level that is not the last, matches the
    /// table (next-level pointer) entries; the others are leaves. x86:
    /// `PSE` clear; arm64: table bit set; RISC-V: `R|W|X` all clear.
    pub table: BitPattern,
    /// Bits of a table entry besides the frame (x86 `_KERNPG_TABLE`).
    pub table_bits: u64,
    /// Bits of a leaf of the last level besides frame and flags (x86 `P`,
    /// arm64 page descriptor type and shareability, RISC-V `V|R`).
    pub page_bits: u64,
    /// Bits of a leaf of a higher level ("huge": x86 `P|PSE`, arm64 block).
    pub huge_bits: u64,
    /// Where the frame number sits: the entry holds
    /// `(phys >> PAGE_SHIFT) << pfn_shift`, within `pfn_mask`.
    pub pfn_shift: u32,
    /// The bits of the entry that hold the frame number.
    pub pfn_mask: u64,
    /// How each supported flag is encoded; a flag not listed cannot be used
    /// with this format.
    pub flags: Vec<FlagEncoding>,
}

/// A page-table format, as plain data (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageTableFormat {
    /// A name for messages (`"x86_64 4-level"`).
    pub name: String,
    /// Levels from the root down; the last must have `shift == PAGE_SHIFT`.
    pub levels: Vec<LevelFormat>,
    /// Number of translated virtual-address bits.
    pub va_bits: u32,
    /// Form of the untranslated high bits.
    pub va_form: VaForm,
    /// Number of physical-address bits.
    pub phys_bits: u32,
    /// Entry encoding.
    pub entry: EntryEncoding,
}

fn level(name: &str, shift: u32, leaf: bool) -> LevelFormat {
    LevelFormat { name: name.to_string(), shift, index_bits: 9, leaf }
}

fn flag(flag: PteFlags, when_set: u64, when_clear: u64) -> FlagEncoding {
    FlagEncoding { flag, when_set, when_clear }
}

/// x86 entry bits (`_PAGE_BIT_*` of arch/x86/include/asm/pgtable_types.h).
pub mod x86 {
    pub const PRESENT: u64 = 1 << 0;
    pub const RW: u64 = 1 << 1;
    pub const USER: u64 = 1 << 2;
    pub const PWT: u64 = 1 << 3;
    pub const PCD: u64 = 1 << 4;
    pub const ACCESSED: u64 = 1 << 5;
    pub const DIRTY: u64 = 1 << 6;
    /// `_PAGE_PSE`: a leaf above the pte level.
    pub const PSE: u64 = 1 << 7;
    pub const GLOBAL: u64 = 1 << 8;
    pub const NX: u64 = 1 << 63;
    /// `_KERNPG_TABLE`: how the kernel links a lower table.
    pub const KERNPG_TABLE: u64 = PRESENT | RW | ACCESSED | DIRTY;
    /// `__PHYSICAL_MASK_SHIFT`.
    pub const PHYSICAL_MASK_SHIFT: u32 = 52;
}

/// RISC-V entry bits (arch/riscv/include/asm/pgtable-bits.h).
pub mod riscv {
    pub const V: u64 = 1 << 0;
    pub const R: u64 = 1 << 1;
    pub const W: u64 = 1 << 2;
    pub const X: u64 = 1 << 3;
    pub const U: u64 = 1 << 4;
    pub const G: u64 = 1 << 5;
    pub const A: u64 = 1 << 6;
    pub const D: u64 = 1 << 7;
    /// `_PAGE_PFN_SHIFT`.
    pub const PFN_SHIFT: u32 = 10;
    /// The PPN field: 44 bits from bit 10.
    pub const PFN_MASK: u64 = ((1u64 << 44) - 1) << PFN_SHIFT;
}

/// arm64 descriptor bits (arch/arm64/include/asm/pgtable-hwdef.h and
/// pgtable-prot.h).
pub mod arm64 {
    pub const VALID: u64 = 1 << 0;
    /// Table bit: set in table and page descriptors, clear in blocks.
    pub const TABLE_BIT: u64 = 1 << 1;
    pub const TYPE_TABLE: u64 = 3;
    pub const TYPE_PAGE: u64 = 3;
    pub const TYPE_SECT: u64 = 1;
    /// `PTE_USER`: AP\[1\].
    pub const USER: u64 = 1 << 6;
    /// `PTE_RDONLY`: AP\[2\].
    pub const RDONLY: u64 = 1 << 7;
    /// `PTE_SHARED`: inner shareable.
    pub const SHARED: u64 = 3 << 8;
    pub const AF: u64 = 1 << 10;
    pub const NG: u64 = 1 << 11;
    /// `PTE_DBM`, which the kernel uses as `PTE_WRITE`.
    pub const DBM: u64 = 1 << 51;
    pub const PXN: u64 = 1 << 53;
    pub const UXN: u64 = 1 << 54;
    /// Software `PTE_DIRTY`.
    pub const DIRTY: u64 = 1 << 55;
    /// Output address bits 47:12 of a 4K-granule 48-bit descriptor.
    pub const OA_MASK: u64 = ((1u64 << 48) - 1) & !((1u64 << 12) - 1);
}

impl PageTableFormat {
    /// x86_64 with 4-level paging: 48-bit virtual addresses, 4K/2M/1G pages,
    /// 52-bit physical addresses. Table entries are `_KERNPG_TABLE`.
    pub fn x86_64_4level() -> Self {
        Self::x86_64_with_levels(
            "x86_64 4-level",
            vec![level("pgd", 39, false), level("pud", 30, true), level("pmd", 21, true), level("pte", 12, true)],
            48,
        )
    }

    /// x86_64 with 5-level paging (LA57): 57-bit virtual addresses.
    pub fn x86_64_5level() -> Self {
        Self::x86_64_with_levels(
            "x86_64 5-level",
            vec![
                level("pgd", 48, false),
                level("p4d", 39, false),
                level("pud", 30, true),
                level("pmd", 21, true),
                level("pte", 12, true),
            ],
            57,
        )
    }

    fn x86_64_with_levels(name: &str, levels: Vec<LevelFormat>, va_bits: u32) -> Self {
        use x86::*;
        PageTableFormat {
            name: name.to_string(),
            levels,
            va_bits,
            va_form: VaForm::SignExtended,
            phys_bits: PHYSICAL_MASK_SHIFT,
            entry: EntryEncoding {
                valid: BitPattern { mask: PRESENT, value: PRESENT },
                table: BitPattern { mask: PSE, value: 0 },
                table_bits: KERNPG_TABLE,
                page_bits: PRESENT,
                huge_bits: PRESENT | PSE,
                pfn_shift: PAGE_SHIFT,
                pfn_mask: ((1u64 << PHYSICAL_MASK_SHIFT) - 1) & !((1u64 << PAGE_SHIFT) - 1),
                flags: vec![
                    flag(PteFlags::WRITE, RW, 0),
                    flag(PteFlags::USER, USER, 0),
                    flag(PteFlags::ACCESSED, ACCESSED, 0),
                    flag(PteFlags::DIRTY, DIRTY, 0),
                    flag(PteFlags::GLOBAL, GLOBAL, 0),
                    flag(PteFlags::NOEXEC, NX, 0),
                ],
            },
        }
    }

    /// RISC-V Sv39: 39-bit virtual addresses, 3 levels, 4K/2M/1G pages.
    pub fn riscv_sv39() -> Self {
        Self::riscv_with_levels(
            "riscv Sv39",
            vec![level("pgd", 30, true), level("pmd", 21, true), level("pte", 12, true)],
            39,
        )
    }

    /// RISC-V Sv48: 48-bit virtual addresses, 4 levels, 4K/2M/1G/512G pages.
    pub fn riscv_sv48() -> Self {
        Self::riscv_with_levels(
            "riscv Sv48",
            vec![level("pgd", 39, true), level("pud", 30, true), level("pmd", 21, true), level("pte", 12, true)],
            48,
        )
    }

    fn riscv_with_levels(name: &str, levels: Vec<LevelFormat>, va_bits: u32) -> Self {
        use riscv::*;
        PageTableFormat {
            name: name.to_string(),
            levels,
            va_bits,
            va_form: VaForm::SignExtended,
            phys_bits: 56,
            entry: EntryEncoding {
                valid: BitPattern { mask: V, value: V },
                table: BitPattern { mask: R | W | X, value: 0 },
                table_bits: V,
                page_bits: V | R,
                huge_bits: V | R,
                pfn_shift: PFN_SHIFT,
                pfn_mask: PFN_MASK,
                flags: vec![
                    flag(PteFlags::WRITE, W, 0),
                    flag(PteFlags::USER, U, 0),
                    flag(PteFlags::ACCESSED, A, 0),
                    flag(PteFlags::DIRTY, D, 0),
                    flag(PteFlags::GLOBAL, G, 0),
                    flag(PteFlags::NOEXEC, 0, X),
                ],
            },
        }
    }

    /// arm64 with the 4K granule and 48-bit virtual addresses: 4 levels,
    /// 4K pages and 2M/1G blocks (no level-0 blocks). The table is a kernel
    /// (TTBR1) table: addresses are 0xffff_0000_0000_0000 and up
    /// ([`VaForm::OnesExtended`]); set `va_form` to
    /// [`VaForm::ZeroExtended`] for a user (TTBR0) table. Leaves are normal
    /// memory (`AttrIndx` 0), inner shareable. Write permission is the
    /// kernel's `PTE_WRITE` (DBM) with `PTE_RDONLY` clear; execute is seen
    /// from the kernel: executable = `UXN` only, non-executable = `PXN|UXN`.
    pub fn arm64_4k_48bit() -> Self {
        use arm64::*;
        PageTableFormat {
            name: "arm64 4K 48-bit".to_string(),
            levels: vec![
                level("pgd", 39, false),
                level("pud", 30, true),
                level("pmd", 21, true),
                level("pte", 12, true),
            ],
            va_bits: 48,
            va_form: VaForm::OnesExtended,
            phys_bits: 48,
            entry: EntryEncoding {
                valid: BitPattern { mask: VALID, value: VALID },
                table: BitPattern { mask: TABLE_BIT, value: TABLE_BIT },
                table_bits: TYPE_TABLE,
                page_bits: TYPE_PAGE | SHARED,
                huge_bits: TYPE_SECT | SHARED,
                pfn_shift: PAGE_SHIFT,
                pfn_mask: OA_MASK,
                flags: vec![
                    flag(PteFlags::WRITE, DBM, RDONLY),
                    flag(PteFlags::USER, USER, 0),
                    flag(PteFlags::ACCESSED, AF, 0),
                    flag(PteFlags::DIRTY, DIRTY, 0),
                    flag(PteFlags::GLOBAL, 0, NG),
                    flag(PteFlags::NOEXEC, PXN | UXN, UXN),
                ],
            },
        }
    }

    /// Names of the built-in formats, for [`PageTableFormat::preset`].
    pub const PRESETS: [&'static str; 5] =
        ["x86_64_4level", "x86_64_5level", "riscv_sv39", "riscv_sv48", "arm64_4k_48bit"];

    /// A built-in format by name (one of [`PageTableFormat::PRESETS`]).
    pub fn preset(name: &str) -> Result<Self> {
        match name {
            "x86_64_4level" => Ok(Self::x86_64_4level()),
            "x86_64_5level" => Ok(Self::x86_64_5level()),
            "riscv_sv39" => Ok(Self::riscv_sv39()),
            "riscv_sv48" => Ok(Self::riscv_sv48()),
            "arm64_4k_48bit" => Ok(Self::arm64_4k_48bit()),
            _ => Err(MmError::invalid("format", format!("unknown format {name:?}; known: {:?}", Self::PRESETS))),
        }
    }

    /// Page size in bytes of leaves at `level` (`None` for a bad level).
    pub fn page_size(&self, level: usize) -> Option<u64> {
        self.levels.get(level).and_then(|l| 1u64.checked_shl(l.shift))
    }

    /// The page sizes this format can map, smallest first.
    pub fn page_sizes(&self) -> Vec<u64> {
        let mut v: Vec<u64> =
            (0..self.levels.len()).filter(|&l| self.levels[l].leaf).filter_map(|l| self.page_size(l)).collect();
        v.sort_unstable();
        v
    }

    /// Check that the description is consistent and usable; the error says
    /// which field is wrong and why.
    pub fn validate(&self) -> Result<()> {
        let n = self.levels.len();
        if n == 0 || n > MAX_LEVELS {
            return Err(MmError::invalid("levels", format!("{n} levels; a format has 1..={MAX_LEVELS}")));
        }
        for (i, l) in self.levels.iter().enumerate() {
            if l.index_bits == 0 || l.index_bits > MAX_INDEX_BITS {
                return Err(MmError::invalid(
                    "levels.index_bits",
                    format!("level {i} ({}) has {} index bits; must be 1..={MAX_INDEX_BITS}", l.name, l.index_bits),
                ));
            }
        }
        let last = &self.levels[n - 1];
        if last.shift != PAGE_SHIFT {
            return Err(MmError::invalid(
                "levels.shift",
                format!(
                    "the last level ({}) has shift {}; it must be PAGE_SHIFT ({PAGE_SHIFT})",
                    last.name, last.shift
                ),
            ));
        }
        if !last.leaf {
            return Err(MmError::invalid("levels.leaf", format!("the last level ({}) must hold leaves", last.name)));
        }
        for i in 0..n - 1 {
            let (hi, lo) = (&self.levels[i], &self.levels[i + 1]);
            if Some(hi.shift) != lo.shift.checked_add(lo.index_bits) {
                return Err(MmError::invalid(
                    "levels.shift",
                    format!(
                        "level {i} ({}) has shift {} but level {} ({}) covers bits {}..{}",
                        hi.name,
                        hi.shift,
                        i + 1,
                        lo.name,
                        lo.shift,
                        lo.shift.saturating_add(lo.index_bits)
                    ),
                ));
            }
            if hi.leaf && !lo.leaf {
                return Err(MmError::invalid(
                    "levels.leaf",
                    format!(
                        "level {i} ({}) holds leaves but the lower level {} ({}) does not",
                        hi.name,
                        i + 1,
                        lo.name
                    ),
                ));
            }
        }
        let top = self.levels[0].shift.saturating_add(self.levels[0].index_bits);
        if self.va_bits != top || self.va_bits > 63 {
            return Err(MmError::invalid(
                "va_bits",
                format!("va_bits is {} but the levels translate bits 12..{top} (at most 63)", self.va_bits),
            ));
        }
        if self.phys_bits <= PAGE_SHIFT || self.phys_bits > 63 {
            return Err(MmError::invalid("phys_bits", format!("{} is not in {}..=63", self.phys_bits, PAGE_SHIFT + 1)));
        }
        self.validate_entry()
    }

    fn validate_entry(&self) -> Result<()> {
        let e = &self.entry;
        if e.valid.value == 0 || e.valid.value & !e.valid.mask != 0 {
            return Err(MmError::invalid(
                "entry.valid",
                "value must be non-zero (an empty entry is not present) and inside mask",
            ));
        }
        if e.table.value & !e.table.mask != 0 {
            return Err(MmError::invalid("entry.table", "value must be inside mask"));
        }
        let pfn_bits = self.phys_bits - PAGE_SHIFT;
        let max_pfn = (1u64 << pfn_bits) - 1;
        if e.pfn_shift >= 64 || max_pfn.leading_zeros() < e.pfn_shift {
            return Err(MmError::invalid(
                "entry.pfn_shift",
                format!("{pfn_bits} frame bits at bit {} do not fit in 64 bits", e.pfn_shift),
            ));
        }
        if (max_pfn << e.pfn_shift) & !e.pfn_mask != 0 {
            return Err(MmError::invalid(
                "entry.pfn_mask",
                format!("{:#x} cannot hold {pfn_bits} frame bits shifted by {}", e.pfn_mask, e.pfn_shift),
            ));
        }
        let structural = e.valid.mask | e.table.mask | e.table_bits | e.page_bits | e.huge_bits;
        if structural & e.pfn_mask != 0 {
            return Err(MmError::invalid("entry.pfn_mask", "overlaps the valid/table/leaf bits"));
        }
        let mut seen = PteFlags::empty();
        let mut used = 0u64;
        for f in &e.flags {
            if f.flag.bits().count_ones() != 1 || !PteFlags::all().contains(f.flag) {
                return Err(MmError::invalid("entry.flags", format!("{:?} is not a single flag", f.flag)));
            }
            if seen.contains(f.flag) {
                return Err(MmError::invalid("entry.flags", format!("{:?} is encoded twice", f.flag)));
            }
            seen |= f.flag;
            let bits = f.when_set | f.when_clear;
            if f.when_set == f.when_clear {
                return Err(MmError::invalid(
                    "entry.flags",
                    format!("{:?}: when_set and when_clear are equal", f.flag),
                ));
            }
            if bits & used != 0 || bits & e.pfn_mask != 0 || bits & (e.page_bits | e.huge_bits | e.valid.mask) != 0 {
                return Err(MmError::invalid(
                    "entry.flags",
                    format!("{:?} uses bits {bits:#x} that another flag, the frame or the leaf/valid bits use", f.flag),
                ));
            }
            used |= bits;
        }
        // Encode/decode round trip of every flag combination, both leaf
        // kinds, the smallest and largest frames.
        let enc = super::entry::Encoder::new(self);
        let supported = seen;
        let mut combo = 0u32;
        loop {
            let flags = PteFlags::from_bits_truncate(combo) & supported;
            for pfn in [0, max_pfn] {
                for huge in [false, true] {
                    let raw = enc.leaf(pfn, flags, huge);
                    if !e.valid.matches(raw) {
                        return Err(MmError::invalid("entry", format!("a leaf {raw:#x} does not match `valid`")));
                    }
                    if huge && e.table.matches(raw) {
                        return Err(MmError::invalid(
                            "entry.huge_bits",
                            format!("a huge leaf {raw:#x} ({flags:?}) would be read as a table"),
                        ));
                    }
                    if enc.pfn(raw) != pfn || enc.flags(raw) != flags {
                        return Err(MmError::invalid(
                            "entry",
                            format!("leaf {raw:#x} ({flags:?}) does not decode back"),
                        ));
                    }
                }
                let t = enc.table(pfn);
                if !e.valid.matches(t) || !e.table.matches(t) || enc.pfn(t) != pfn {
                    return Err(MmError::invalid("entry.table_bits", format!("a table entry {t:#x} is not read back")));
                }
            }
            if combo == PteFlags::all().bits() {
                break;
            }
            combo += 1;
        }
        Ok(())
    }
}
