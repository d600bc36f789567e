//! Tests of the vmalloc space.

mod alloc;
mod common;
mod info;
mod prop;
mod tree;
