//! ext2 (revision 1) for myst: a reader, an in-memory writable overlay, and
//! an image builder.
//!
//! * [`Ext2`] opens an image on any [`BlockDevice`] (device blocks of 512 or
//!   4096 bytes, or any power of two), validates it and reads it: [`Ext2::lookup`],
//!   [`Ext2::stat`], [`Ext2::read`], [`Ext2::readdir`], [`Ext2::readlink`].
//!   Every number read from the image is checked before use; bad input gives
//!   an error (or bounded garbage), never a panic or a hang.
//! * The same [`Ext2`] accepts changes ([`Ext2::create`], [`Ext2::write`],
//!   [`Ext2::truncate`], [`Ext2::unlink`], [`Ext2::rename`], ...) that are held
//!   in memory above the image: the image is never modified, and the changes
//!   are gone when the value is dropped.
//! * [`Builder`] is the writer: fill an in-memory model of a tree, then
//!   serialise it as an ext2 image with 4 KiB blocks that `e2fsck -fn`
//!   accepts. File contents stream from a [`FileSource`], so files larger
//!   than memory (and than 4 GiB) work; all-zero blocks become holes.
//!
//! All errors are [`Ext2Error`], which maps onto Linux errno values with
//! [`Ext2Error::errno`].
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod blockdev;
mod builder;
pub mod error;
mod fs;
mod ondisk;
mod types;

#[cfg(test)]
mod tests;

pub use blockdev::{BlockDevice, IoError, MemDevice, Sink};
pub use builder::{BuildOptions, Builder, FileData, FileSource};
pub use error::{Ext2Error, Result};
pub use fs::{Clock, Ext2, NewKind};
pub use types::{
    major, makedev, minor, DirEntry, FileType, Meta, SpecialKind, Stat, StatFs, Timestamp, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK,
    S_IFMT, S_IFREG, S_IFSOCK,
};

/// Name used for the spec's suggested overlay type: the reader and the
/// overlay are one type.
pub type Ext2Fs<D> = Ext2<D>;
