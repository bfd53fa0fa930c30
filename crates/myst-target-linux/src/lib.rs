//! The linux target: runs the myst kernel and the application in one host process.
//!
//! It isolates nothing from the host, but it decides nothing either: every application
//! syscall is caught by the entry gate ([`gate`]) and handed to the kernel, which reaches
//! the host only through the [`Tcall`] calls implemented in [`host`].
//!
//! `unsafe` is confined to `gate` (assembly, signal frames, fs/gs switching), `region`
//! (mapping and copying application memory) and `host` (FFI); every block carries a
//! `// SAFETY:` line.

pub mod gate;
pub mod heap;
pub mod host;
pub mod probe;
pub mod region;
pub mod vdso;

pub use heap::SharedHeap;
pub use host::LinuxTarget;
pub use probe::{probe, HostSupport};
