//! Migrate types (`enum migratetype`) and the fallback order (`fallbacks[]`).

/// A migrate type. The numbering is the kernel's with CONFIG_CMA and
/// CONFIG_MEMORY_ISOLATION both available; CMA is only *shown* when the
/// profile enables it (see [`crate::page_alloc::PageAllocConfig::cma`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
#[repr(u8)]
pub enum MigrateType {
    Unmovable = 0,
    Movable = 1,
    Reclaimable = 2,
    HighAtomic = 3,
    Cma = 4,
    Isolate = 5,
}

/// Number of slots in per-migratetype arrays.
pub const NR_MT: usize = 6;
/// MIGRATE_PCPTYPES: the types that have per-cpu lists.
pub const MIGRATE_PCPTYPES: usize = 3;

impl MigrateType {
    pub const ALL: [MigrateType; NR_MT] = [
        MigrateType::Unmovable,
        MigrateType::Movable,
        MigrateType::Reclaimable,
        MigrateType::HighAtomic,
        MigrateType::Cma,
        MigrateType::Isolate,
    ];

    /// The name /proc/pagetypeinfo prints.
    pub const fn name(self) -> &'static str {
        match self {
            MigrateType::Unmovable => "Unmovable",
            MigrateType::Movable => "Movable",
            MigrateType::Reclaimable => "Reclaimable",
            MigrateType::HighAtomic => "HighAtomic",
            MigrateType::Cma => "CMA",
            MigrateType::Isolate => "Isolate",
        }
    }

    #[inline]
    pub(crate) const fn from_index(i: u8) -> MigrateType {
        match i {
            0 => MigrateType::Unmovable,
            1 => MigrateType::Movable,
            2 => MigrateType::Reclaimable,
            3 => MigrateType::HighAtomic,
            4 => MigrateType::Cma,
            _ => MigrateType::Isolate,
        }
    }

    /// The migrate types that exist in a profile, in kernel order.
    pub fn types(cma: bool) -> Vec<MigrateType> {
        MigrateType::ALL.iter().copied().filter(|m| cma || *m != MigrateType::Cma).collect()
    }
}

/// The order in which other free lists are raided when a type's own lists
/// are empty (the kernel's `fallbacks[]`, pcp types only).
pub(crate) const fn fallbacks(mt: MigrateType) -> &'static [MigrateType] {
    match mt {
        MigrateType::Unmovable => &[MigrateType::Reclaimable, MigrateType::Movable],
        MigrateType::Movable => &[MigrateType::Reclaimable, MigrateType::Unmovable],
        MigrateType::Reclaimable => &[MigrateType::Unmovable, MigrateType::Movable],
        _ => &[],
    }
}
