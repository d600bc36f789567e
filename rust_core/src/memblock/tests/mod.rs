//! Tests of the memblock module: the kernel's tools/testing/memblock cases
//! re-expressed, format checks, and property tests against a page model.

mod common;
