//! Which kernel's rules to follow where Linux 5.14 and 6.1 differ.

/// The simulated kernel version (the "profile"). Every part of the core
/// that behaves differently between the two takes it from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KernelVersion {
    /// Linux 5.14 (the project default).
    #[default]
    V5_14,
    /// Linux 6.1.
    V6_1,
}
