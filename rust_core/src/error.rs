//! The one error type of the core.
//!
//! Every fallible operation returns [`MmError`]. Each variant names the
//! problem precisely; [`MmError::kind`] groups variants into the few
//! categories the Python binding maps to exception classes, so the mapping is
//! written once, at the boundary. An operation that returns an error has
//! changed nothing.

use thiserror::Error;

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, MmError>;

/// Categories of [`MmError`], one per Python exception class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MmErrorKind {
    /// A malformed argument (zero size, bad alignment, unknown name ...).
    InvalidArgument,
    /// An address, pfn, node or zone outside what the machine has.
    OutOfRange,
    /// Freeing something that is already free.
    DoubleFree,
    /// Freeing or touching something that was never handed out.
    NotAllocated,
    /// Freeing with another order/size/cache than the allocation had.
    WrongOrder,
    /// No memory could satisfy the request.
    OutOfMemory,
    /// A fixed-size table (e.g. memblock regions) is full.
    CapacityExceeded,
    /// The object is in a state that forbids the operation (busy cache,
    /// mapping already present, ...).
    InvalidState,
}

/// Everything that can go wrong in the core.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MmError {
    #[error("invalid argument `{field}`: {reason}")]
    InvalidArgument { field: &'static str, reason: String },

    #[error("{what} {value:#x} is out of range [{min:#x}, {max:#x})")]
    OutOfRange { what: &'static str, value: u64, min: u64, max: u64 },

    #[error("no such node {nid}")]
    NoSuchNode { nid: i32 },

    #[error("pfn {pfn:#x} is not in any zone")]
    PfnOutsideZone { pfn: u64 },

    #[error("double free of pfn {pfn:#x} (order {order}): the page is already free")]
    DoubleFree { pfn: u64, order: u32 },

    #[error("free of pfn {pfn:#x}: the page is not the start of an allocated block")]
    NotAllocated { pfn: u64 },

    #[error("free of pfn {pfn:#x} with order {given}, but it was allocated with order {allocated}")]
    WrongOrder { pfn: u64, given: u32, allocated: u32 },

    #[error("out of memory: {request}")]
    OutOfMemory { request: String },

    #[error("{table} is full ({capacity} entries)")]
    CapacityExceeded { table: &'static str, capacity: usize },

    #[error("{0}")]
    InvalidState(String),

    #[error("double free of object {addr:#x} in cache {cache}")]
    ObjectDoubleFree { addr: u64, cache: String },

    #[error("{addr:#x} is not the start of an object in cache {cache}")]
    NotAnObject { addr: u64, cache: String },

    #[error("address {addr:#x} is not mapped")]
    NotMapped { addr: u64 },

    #[error("address {addr:#x} is already mapped")]
    AlreadyMapped { addr: u64 },
}

impl MmError {
    /// The category of this error (one per Python exception class).
    pub fn kind(&self) -> MmErrorKind {
        use MmError::*;
        match self {
            InvalidArgument { .. } => MmErrorKind::InvalidArgument,
            OutOfRange { .. } | NoSuchNode { .. } | PfnOutsideZone { .. } => MmErrorKind::OutOfRange,
            DoubleFree { .. } | ObjectDoubleFree { .. } => MmErrorKind::DoubleFree,
            NotAllocated { .. } | NotAnObject { .. } | NotMapped { .. } => MmErrorKind::NotAllocated,
            WrongOrder { .. } => MmErrorKind::WrongOrder,
            OutOfMemory { .. } => MmErrorKind::OutOfMemory,
            CapacityExceeded { .. } => MmErrorKind::CapacityExceeded,
            InvalidState(_) | AlreadyMapped { .. } => MmErrorKind::InvalidState,
        }
    }

    /// Shorthand for an [`MmError::InvalidArgument`].
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        MmError::InvalidArgument { field, reason: reason.into() }
    }
}
