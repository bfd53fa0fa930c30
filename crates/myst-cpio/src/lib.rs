//! Reader and writer for CPIO archives in the SVR4 "newc" format (magic `070701`), the format
//! of Linux initramfs images and of myst root file systems.
//!
//! # Format
//!
//! An archive is a sequence of entries. Each entry is a 110-byte ASCII header (the magic and
//! thirteen 8-digit hexadecimal fields), the path name with its terminating NUL, zero padding
//! up to a multiple of four bytes (counted from the start of the archive), the file data
//! (file contents, or the target of a symbolic link) and again zero padding to four bytes. The
//! archive ends with an entry named `TRAILER!!!`.
//!
//! The CRC variant (magic `070702`, `cpio -H crc`) is read as well; the checksum of a regular
//! file (the 32-bit sum of its data bytes) is verified.
//!
//! # Reading
//!
//! [`parse`] returns every entry up to the trailer, with path names normalised (see
//! [`Entry::name`]) and hard links resolved (see [`Entry::hardlink_of`]). [`Reader`] is the
//! underlying iterator, which does no normalisation beyond the name and no hard-link grouping.
//! Neither ever panics or allocates more than a small constant per input byte.
//!
//! Path names are reported as they are in the archive apart from the leading `./` or `/`:
//! components such as `..` are *not* rejected here, so a consumer that unpacks onto a host
//! file system must check them itself.
//!
//! # Writing
//!
//! [`Writer`] builds an archive in memory; [`StreamWriter`] writes to any [`Sink`] (a closure
//! through [`FnSink`], or with the `std` feature any `std::io::Write` through `IoSink`), and
//! can stream a large file's contents in pieces. Both produce what GNU `cpio -i -H newc`
//! reads.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod error;
mod read;
mod write;

pub use error::CpioError;
pub use read::{parse, Entry, FileType, Reader};
#[cfg(any(test, feature = "std"))]
pub use write::IoSink;
pub use write::{FnSink, Sink, StreamWriter, WriteError, Writer};

/// Magic of a newc header.
pub const MAGIC_NEWC: &[u8; 6] = b"070701";
/// Magic of a newc header with a data checksum (`cpio -H crc`).
pub const MAGIC_CRC: &[u8; 6] = b"070702";
/// Size of a newc header, magic included.
pub const HEADER_LEN: usize = 110;
/// Name of the entry that ends an archive.
pub const TRAILER_NAME: &[u8] = b"TRAILER!!!";
/// Longest accepted path name in bytes, not counting the terminating NUL.
pub const MAX_NAME_LEN: usize = 4096;

/// Mask of the file-type bits of a mode.
pub const S_IFMT: u32 = 0o170_000;
/// Socket.
pub const S_IFSOCK: u32 = 0o140_000;
/// Symbolic link.
pub const S_IFLNK: u32 = 0o120_000;
/// Regular file.
pub const S_IFREG: u32 = 0o100_000;
/// Block device.
pub const S_IFBLK: u32 = 0o060_000;
/// Directory.
pub const S_IFDIR: u32 = 0o040_000;
/// Character device.
pub const S_IFCHR: u32 = 0o020_000;
/// Named pipe.
pub const S_IFIFO: u32 = 0o010_000;
/// Mask of the permission bits of a mode (including set-uid, set-gid and sticky).
pub const S_IPERM: u32 = 0o7777;

/// Rounds `n` up to a multiple of four, or `None` on overflow.
fn align4(n: usize) -> Option<usize> {
    n.checked_add(3).map(|v| v & !3)
}

/// Returns `name` without leading `./` and `/` components and without trailing `/`;
/// an empty result (the archive root) becomes `.`.
pub fn normalize_name(name: &[u8]) -> &[u8] {
    let mut n = name;
    loop {
        if let Some(rest) = n.strip_prefix(b"/") {
            n = rest;
        } else if let Some(rest) = n.strip_prefix(b"./") {
            n = rest;
        } else {
            break;
        }
    }
    while let Some(rest) = n.strip_suffix(b"/") {
        n = rest;
    }
    if n.is_empty() {
        b"."
    } else {
        n
    }
}

#[cfg(test)]
mod tests;
