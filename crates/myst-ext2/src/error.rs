//! The crate's error type, mapping onto Linux errno values.

use crate::blockdev::IoError;
use core::fmt;

/// Linux errno values used by [`Ext2Error::errno`].
pub mod errno {
    /// Operation not permitted.
    pub const EPERM: i32 = 1;
    /// No such file or directory.
    pub const ENOENT: i32 = 2;
    /// I/O error.
    pub const EIO: i32 = 5;
    /// Out of memory.
    pub const ENOMEM: i32 = 12;
    /// Device or resource busy.
    pub const EBUSY: i32 = 16;
    /// File exists.
    pub const EEXIST: i32 = 17;
    /// Cross-device link.
    pub const EXDEV: i32 = 18;
    /// Not a directory.
    pub const ENOTDIR: i32 = 20;
    /// Is a directory.
    pub const EISDIR: i32 = 21;
    /// Invalid argument.
    pub const EINVAL: i32 = 22;
    /// File too large.
    pub const EFBIG: i32 = 27;
    /// No space left on device.
    pub const ENOSPC: i32 = 28;
    /// Read-only file system.
    pub const EROFS: i32 = 30;
    /// Too many links.
    pub const EMLINK: i32 = 31;
    /// File name too long.
    pub const ENAMETOOLONG: i32 = 36;
    /// Directory not empty.
    pub const ENOTEMPTY: i32 = 39;
    /// Too many levels of symbolic links (used for directory loops).
    pub const ELOOP: i32 = 40;
    /// Structure needs cleaning (corrupted file system).
    pub const EUCLEAN: i32 = 117;
}

/// Everything that can go wrong reading, changing or building an ext2 image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ext2Error {
    /// The block device failed.
    Io(IoError),
    /// The superblock magic is not 0xEF53.
    BadMagic,
    /// The image uses an incompatible feature this crate cannot read.
    UnsupportedFeature(&'static str),
    /// The on-disk structures are inconsistent (what was wrong is named).
    Corrupt(&'static str),
    /// The image (or device) is smaller than the file system it holds.
    Truncated {
        /// Bytes the file system needs.
        need: u64,
        /// Bytes the device has.
        have: u64,
    },
    /// Image size given to the builder is too small.
    TooSmall {
        /// Size asked for, in bytes.
        size: u64,
        /// Smallest size that fits, in bytes.
        need: u64,
    },
    /// No such file or directory.
    NotFound,
    /// The name already exists.
    Exists,
    /// A path component or target is not a directory.
    NotDir,
    /// A directory where a non-directory is required.
    IsDir,
    /// The directory is not empty.
    NotEmpty,
    /// No free blocks or inodes left.
    NoSpace,
    /// An invalid argument (what was wrong is named).
    Invalid(&'static str),
    /// A name longer than 255 bytes or a symlink target longer than 4095.
    NameTooLong,
    /// A link or rename across file systems.
    CrossDevice,
    /// Too many hard links (or subdirectories).
    TooManyLinks,
    /// The file would exceed the largest size ext2 can map.
    FileTooBig,
    /// Writes are not possible on this image (unknown read-only feature).
    ReadOnly,
    /// The operation is not permitted (e.g. a hard link to a directory).
    NotPermitted,
    /// A directory loop was found while walking parents.
    Loop,
}

impl Ext2Error {
    /// The Linux errno value for this error (positive).
    pub fn errno(&self) -> i32 {
        use errno::*;
        match self {
            Ext2Error::Io(_) => EIO,
            Ext2Error::BadMagic => EINVAL,
            Ext2Error::UnsupportedFeature(_) => EINVAL,
            Ext2Error::Corrupt(_) => EIO,
            Ext2Error::Truncated { .. } => EIO,
            Ext2Error::TooSmall { .. } => ENOSPC,
            Ext2Error::NotFound => ENOENT,
            Ext2Error::Exists => EEXIST,
            Ext2Error::NotDir => ENOTDIR,
            Ext2Error::IsDir => EISDIR,
            Ext2Error::NotEmpty => ENOTEMPTY,
            Ext2Error::NoSpace => ENOSPC,
            Ext2Error::Invalid(_) => EINVAL,
            Ext2Error::NameTooLong => ENAMETOOLONG,
            Ext2Error::CrossDevice => EXDEV,
            Ext2Error::TooManyLinks => EMLINK,
            Ext2Error::FileTooBig => EFBIG,
            Ext2Error::ReadOnly => EROFS,
            Ext2Error::NotPermitted => EPERM,
            Ext2Error::Loop => ELOOP,
        }
    }
}

impl From<IoError> for Ext2Error {
    fn from(e: IoError) -> Self {
        Ext2Error::Io(e)
    }
}

impl fmt::Display for Ext2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ext2Error::Io(e) => write!(f, "{e}"),
            Ext2Error::BadMagic => write!(f, "not an ext2 file system (bad superblock magic)"),
            Ext2Error::UnsupportedFeature(name) => {
                write!(f, "unsupported ext2 feature: {name}")
            }
            Ext2Error::Corrupt(what) => write!(f, "corrupted ext2 file system: {what}"),
            Ext2Error::Truncated { need, have } => write!(f, "truncated image: file system needs {need} bytes, device has {have}"),
            Ext2Error::TooSmall { size, need } => {
                write!(f, "image size {size} too small, need at least {need}")
            }
            Ext2Error::NotFound => write!(f, "no such file or directory"),
            Ext2Error::Exists => write!(f, "file exists"),
            Ext2Error::NotDir => write!(f, "not a directory"),
            Ext2Error::IsDir => write!(f, "is a directory"),
            Ext2Error::NotEmpty => write!(f, "directory not empty"),
            Ext2Error::NoSpace => write!(f, "no space left on device"),
            Ext2Error::Invalid(what) => write!(f, "invalid argument: {what}"),
            Ext2Error::NameTooLong => write!(f, "file name too long"),
            Ext2Error::CrossDevice => write!(f, "cross-device link"),
            Ext2Error::TooManyLinks => write!(f, "too many links"),
            Ext2Error::FileTooBig => write!(f, "file too large"),
            Ext2Error::ReadOnly => write!(f, "read-only file system"),
            Ext2Error::NotPermitted => write!(f, "operation not permitted"),
            Ext2Error::Loop => write!(f, "directory loop"),
        }
    }
}

impl core::error::Error for Ext2Error {}

/// Shorthand result type.
pub type Result<T, E = Ext2Error> = core::result::Result<T, E>;
