//! Architecture-neutral protection flags of a leaf mapping.

use std::fmt;
use std::ops::Not;

/// Protection and state of a leaf mapping, independent of the ISA. Present
/// and readable are implied by a mapping existing; each format says how
/// every flag is encoded ([`super::FlagEncoding`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PteFlags(u32);

crate::flags::flag_set_ops!(PteFlags);

impl PteFlags {
    /// Writable (x86 `RW`, RISC-V `W`, arm64 `PTE_WRITE` and not `RDONLY`).
    pub const WRITE: PteFlags = PteFlags(1 << 0);
    /// Accessible from user mode (x86 `USER`, RISC-V `U`, arm64 `AP[1]`).
    pub const USER: PteFlags = PteFlags(1 << 1);
    /// Accessed (x86 `A`, RISC-V `A`, arm64 `AF`).
    pub const ACCESSED: PteFlags = PteFlags(1 << 2);
    /// Dirty (x86 `D`, RISC-V `D`, arm64 software `PTE_DIRTY`).
    pub const DIRTY: PteFlags = PteFlags(1 << 3);
    /// Global (x86 `G`, RISC-V `G`, arm64 `nG` clear).
    pub const GLOBAL: PteFlags = PteFlags(1 << 4);
    /// Not executable (x86 `NX` set, RISC-V `X` clear, arm64 `PXN|UXN`).
    pub const NOEXEC: PteFlags = PteFlags(1 << 5);

    /// `PAGE_KERNEL`: what the direct map uses.
    pub const PAGE_KERNEL: PteFlags =
        PteFlags(Self::WRITE.0 | Self::ACCESSED.0 | Self::DIRTY.0 | Self::GLOBAL.0 | Self::NOEXEC.0);
    /// `PAGE_KERNEL_EXEC`.
    pub const PAGE_KERNEL_EXEC: PteFlags = PteFlags(Self::WRITE.0 | Self::ACCESSED.0 | Self::DIRTY.0 | Self::GLOBAL.0);
    /// `PAGE_KERNEL_RO`.
    pub const PAGE_KERNEL_RO: PteFlags = PteFlags(Self::ACCESSED.0 | Self::GLOBAL.0 | Self::NOEXEC.0);

    const NAMES: [(PteFlags, &'static str); 6] = [
        (Self::WRITE, "WRITE"),
        (Self::USER, "USER"),
        (Self::ACCESSED, "ACCESSED"),
        (Self::DIRTY, "DIRTY"),
        (Self::GLOBAL, "GLOBAL"),
        (Self::NOEXEC, "NOEXEC"),
    ];

    /// No flag: present, read-only, kernel, executable, not accessed.
    pub const fn empty() -> Self {
        PteFlags(0)
    }
    /// Every flag.
    pub const fn all() -> Self {
        PteFlags(0x3f)
    }
    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }
    /// Flags from raw bits; `None` when an unknown bit is set.
    pub const fn from_bits(bits: u32) -> Option<Self> {
        if bits & !Self::all().0 == 0 {
            Some(PteFlags(bits))
        } else {
            None
        }
    }
    /// Flags from raw bits, unknown bits dropped.
    pub const fn from_bits_truncate(bits: u32) -> Self {
        PteFlags(bits & Self::all().0)
    }
    /// A flag by its name (`"WRITE"`, `"NOEXEC"`...), case-insensitive.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES.iter().find(|(_, n)| n.eq_ignore_ascii_case(name)).map(|(f, _)| *f)
    }
    /// Names of the set flags.
    pub fn names(self) -> Vec<&'static str> {
        Self::NAMES.iter().filter(|(f, _)| self.contains(*f)).map(|(_, n)| *n).collect()
    }
}

impl Not for PteFlags {
    type Output = PteFlags;
    fn not(self) -> PteFlags {
        PteFlags(!self.0 & Self::all().0)
    }
}

impl fmt::Debug for PteFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("PteFlags(empty)");
        }
        write!(f, "PteFlags({})", self.names().join("|"))
    }
}
