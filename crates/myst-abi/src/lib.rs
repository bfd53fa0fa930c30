//! The Linux x86-64 application binary interface as myst sees it: syscall numbers, `Errno`,
//! flag constants and the `#[repr(C)]`-layout structures the kernel copies to and from
//! application memory. Structures are encoded explicitly into little-endian byte arrays
//! (`to_bytes`) so that the kernel never needs `unsafe` to marshal them.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod consts;
pub mod errno;
pub mod nr;
pub mod structs;

pub use errno::Errno;
