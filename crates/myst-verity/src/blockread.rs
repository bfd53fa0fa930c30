//! The minimal byte-addressed device traits the format crates work over.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

/// Why a device read (or a sink write) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoError {
    /// The request reaches past the end of the device.
    OutOfRange {
        /// First byte asked for.
        offset: u64,
        /// Number of bytes asked for.
        len: u64,
        /// Size of the device.
        size: u64,
    },
    /// The underlying device failed.
    Device {
        /// First byte of the failed request.
        offset: u64,
        /// What went wrong.
        reason: &'static str,
    },
    /// A data block did not match its hash (dm-verity).
    CorruptData {
        /// Index of the data block.
        block: u64,
    },
    /// A hash block did not match the hash one level up (or the root hash).
    CorruptHash {
        /// Tree level; 0 is the level that hashes data blocks.
        level: u32,
        /// Index of the hash block within its level.
        index: u64,
        /// Absolute hash block number counted from the superblock block (as `veritysetup`
        /// counts "hash blocks").
        hash_block: u64,
    },
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            IoError::OutOfRange { offset, len, size } => {
                write!(f, "read of {len} bytes at offset {offset} is beyond the end of the device ({size} bytes)")
            }
            IoError::Device { offset, reason } => {
                write!(f, "device error at offset {offset}: {reason}")
            }
            IoError::CorruptData { block } => {
                write!(f, "verity: data block {block} does not match its hash")
            }
            IoError::CorruptHash { level, index, hash_block } => {
                write!(f, "verity: hash block {hash_block} (level {level}, index {index}) does not match its parent hash")
            }
        }
    }
}

impl core::error::Error for IoError {}

/// Checks that `[offset, offset + len)` lies within a device of `size` bytes.
pub(crate) fn check_range(offset: u64, len: usize, size: u64) -> Result<(), IoError> {
    let err = IoError::OutOfRange { offset, len: len as u64, size };
    let end = offset.checked_add(len as u64).ok_or(err)?;
    if end > size {
        return Err(err);
    }
    Ok(())
}

/// A read-only, byte-addressed device. `read_at` fills all of `buf` or fails; a read past
/// [`BlockRead::len`] fails with [`IoError::OutOfRange`].
pub trait BlockRead {
    /// Size of the device in bytes.
    fn len(&self) -> u64;
    /// Whether the device is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Reads exactly `buf.len()` bytes at `offset`.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError>;
}

impl BlockRead for [u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        check_range(offset, buf.len(), BlockRead::len(self))?;
        let start = offset as usize;
        buf.copy_from_slice(&self[start..start + buf.len()]);
        Ok(())
    }
}

impl BlockRead for Vec<u8> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.as_slice().read_at(offset, buf)
    }
}

impl<T: BlockRead + ?Sized> BlockRead for &T {
    fn len(&self) -> u64 {
        (**self).len()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        (**self).read_at(offset, buf)
    }
}

impl<T: BlockRead + ?Sized> BlockRead for Box<T> {
    fn len(&self) -> u64 {
        (**self).len()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        (**self).read_at(offset, buf)
    }
}

impl<T: BlockRead + ?Sized> BlockRead for Arc<T> {
    fn len(&self) -> u64 {
        (**self).len()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        (**self).read_at(offset, buf)
    }
}

/// Where [`crate::build_tree`] writes the hash area. Offsets are relative to the start of the
/// hash area (the superblock is at offset 0). Writes arrive in no particular order, each at
/// most one block long, and every block of the area is written exactly once.
pub trait HashSink {
    /// Writes `data` at `offset` bytes from the start of the hash area.
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), IoError>;
}

/// An in-memory hash area; grows as needed.
impl HashSink for Vec<u8> {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), IoError> {
        let start = usize::try_from(offset).map_err(|_| IoError::Device { offset, reason: "offset does not fit in memory" })?;
        let end = start.checked_add(data.len()).ok_or(IoError::Device { offset, reason: "offset does not fit in memory" })?;
        if self.len() < end {
            self.resize(end, 0);
        }
        self[start..end].copy_from_slice(data);
        Ok(())
    }
}

impl<T: HashSink + ?Sized> HashSink for &mut T {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), IoError> {
        (**self).write_at(offset, data)
    }
}

#[cfg(all(feature = "std", unix))]
mod file_impls {
    use super::{BlockRead, HashSink, IoError};
    use std::os::unix::fs::FileExt;

    /// A host file as a device (`std` feature, unix only).
    impl BlockRead for std::fs::File {
        fn len(&self) -> u64 {
            self.metadata().map(|m| m.len()).unwrap_or(0)
        }
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
            super::check_range(offset, buf.len(), BlockRead::len(self))?;
            self.read_exact_at(buf, offset).map_err(|_| IoError::Device { offset, reason: "host file read failed" })
        }
    }

    /// Writes the hash area into a host file at a fixed base offset (`std` feature, unix only).
    pub struct FileSink<'a> {
        /// The file the image lives in.
        pub file: &'a std::fs::File,
        /// Where the hash area starts in the file (the verity hash offset).
        pub base: u64,
    }

    impl HashSink for FileSink<'_> {
        fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), IoError> {
            let at = self.base.checked_add(offset).ok_or(IoError::Device { offset, reason: "offset overflow" })?;
            self.file.write_all_at(data, at).map_err(|_| IoError::Device { offset: at, reason: "host file write failed" })
        }
    }
}

#[cfg(all(feature = "std", unix))]
pub use file_impls::FileSink;
