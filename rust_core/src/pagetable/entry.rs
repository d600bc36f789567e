//! Entry encode/decode for one format, precomputed for speed.

use super::flags::PteFlags;
use super::format::{BitPattern, PageTableFormat};
use crate::units::Pfn;

/// What an entry is, as the engine reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// Not present.
    None,
    /// Points to a table of the next level.
    Table,
    /// Maps a page of this level's size.
    Leaf,
}

/// The entry encoding of a format, compiled: the bits every flag
/// combination sets are looked up in a table.
#[derive(Debug, Clone)]
pub struct Encoder {
    pub(crate) valid: BitPattern,
    pub(crate) table: BitPattern,
    table_bits: u64,
    page_bits: u64,
    huge_bits: u64,
    pfn_shift: u32,
    pfn_mask: u64,
    /// Bits or-ed in for each flag combination.
    set_bits: [u64; 64],
    /// (flag, mask, value when on) of each supported flag; unused slots
    /// are (no flag, 0, 0), which always match and add nothing.
    decode: [(PteFlags, u64, u64); 6],
    /// Flags the format can encode.
    pub(crate) supported: PteFlags,
    /// Flags the CPU honours (x86's `__supported_pte_mask`): the others are
    /// left out of every leaf written.
    pub(crate) enabled: PteFlags,
}

impl Encoder {
    /// Compile `f`'s encoding (it need not be validated; garbage in gives
    /// garbage out, never a panic).
    pub fn new(f: &PageTableFormat) -> Self {
        let e = &f.entry;
        let mut supported = PteFlags::empty();
        let mut decode = [(PteFlags::empty(), 0, 0); 6];
        let mut ndecode = 0;
        for fe in &e.flags {
            supported |= fe.flag;
            if ndecode < decode.len() {
                decode[ndecode] = (fe.flag, fe.when_set | fe.when_clear, fe.when_set);
                ndecode += 1;
            }
        }
        let mut set_bits = [0u64; 64];
        for (combo, slot) in set_bits.iter_mut().enumerate() {
            let flags = PteFlags::from_bits_truncate(combo as u32);
            let mut bits = 0;
            for fe in &e.flags {
                bits |= if flags.contains(fe.flag) { fe.when_set } else { fe.when_clear };
            }
            *slot = bits;
        }
        Encoder {
            valid: e.valid,
            table: e.table,
            table_bits: e.table_bits,
            page_bits: e.page_bits,
            huge_bits: e.huge_bits,
            pfn_shift: e.pfn_shift.min(63),
            pfn_mask: e.pfn_mask,
            set_bits,
            decode,
            supported,
            enabled: PteFlags::all(),
        }
    }

    /// The frame field of `pfn`.
    #[inline(always)]
    pub fn pfn_field(&self, pfn: Pfn) -> u64 {
        (pfn << self.pfn_shift) & self.pfn_mask
    }

    /// A leaf mapping `pfn` with `flags`; `huge` for levels above the last.
    #[inline(always)]
    pub fn leaf(&self, pfn: Pfn, flags: PteFlags, huge: bool) -> u64 {
        let base = if huge { self.huge_bits } else { self.page_bits };
        base | self.set_bits[((flags & self.enabled).bits() & 63) as usize] | self.pfn_field(pfn)
    }

    /// A table entry pointing at the table in page `pfn`.
    #[inline(always)]
    pub fn table(&self, pfn: Pfn) -> u64 {
        self.table_bits | self.pfn_field(pfn)
    }

    /// The frame number in `raw`.
    #[inline(always)]
    pub fn pfn(&self, raw: u64) -> Pfn {
        (raw & self.pfn_mask) >> self.pfn_shift
    }

    /// Whether `raw` is present.
    #[inline(always)]
    pub fn is_valid(&self, raw: u64) -> bool {
        self.valid.matches(raw)
    }

    /// The flags of leaf `raw`.
    #[inline]
    pub fn flags(&self, raw: u64) -> PteFlags {
        // Branch-free over all six slots: a kept flag's bits, or none.
        let mut bits = 0u32;
        for &(flag, mask, on) in &self.decode {
            bits |= flag.bits() & ((raw & mask == on) as u32).wrapping_neg();
        }
        PteFlags::from_bits_truncate(bits)
    }

    /// What `raw` is at a level (`last`: the last level, where every present
    /// entry is a leaf).
    #[inline]
    pub fn kind(&self, raw: u64, last: bool) -> EntryKind {
        if !self.valid.matches(raw) {
            EntryKind::None
        } else if !last && self.table.matches(raw) {
            EntryKind::Table
        } else {
            EntryKind::Leaf
        }
    }
}
