//! Public value types shared by the reader, the overlay and the builder.

use alloc::vec::Vec;

/// A point in time: seconds since the Unix epoch and nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    /// Seconds since 1970-01-01 UTC (may be negative).
    pub sec: i64,
    /// Nanoseconds, `0..1_000_000_000`.
    pub nsec: u32,
}

impl Timestamp {
    /// A timestamp with whole seconds.
    pub const fn from_secs(sec: i64) -> Self {
        Timestamp { sec, nsec: 0 }
    }
}

/// Ownership, permission bits and times of a new node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Meta {
    /// Permission bits (`0o7777`); file-type bits are ignored.
    pub mode: u16,
    /// Owner user id (32-bit).
    pub uid: u32,
    /// Owner group id (32-bit).
    pub gid: u32,
    /// Last access time.
    pub atime: Timestamp,
    /// Last modification time.
    pub mtime: Timestamp,
    /// Last status change time.
    pub ctime: Timestamp,
}

impl Meta {
    /// Meta with the given permission bits and owner, and all times zero.
    pub const fn new(mode: u16, uid: u32, gid: u32) -> Self {
        Meta { mode, uid, gid, atime: Timestamp::from_secs(0), mtime: Timestamp::from_secs(0), ctime: Timestamp::from_secs(0) }
    }

    /// The same meta with all three times set to `t`.
    pub const fn with_times(mut self, t: Timestamp) -> Self {
        self.atime = t;
        self.mtime = t;
        self.ctime = t;
        self
    }
}

/// The type of a directory entry or inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileType {
    /// Not recorded (image without the `filetype` feature) or unknown.
    Unknown,
    /// Regular file.
    Regular,
    /// Directory.
    Dir,
    /// Character device.
    CharDev,
    /// Block device.
    BlockDev,
    /// Named pipe.
    Fifo,
    /// Unix socket.
    Socket,
    /// Symbolic link.
    Symlink,
}

impl FileType {
    /// From the `file_type` byte of a directory entry.
    pub fn from_dirent(v: u8) -> Self {
        match v {
            1 => FileType::Regular,
            2 => FileType::Dir,
            3 => FileType::CharDev,
            4 => FileType::BlockDev,
            5 => FileType::Fifo,
            6 => FileType::Socket,
            7 => FileType::Symlink,
            _ => FileType::Unknown,
        }
    }

    /// The `file_type` byte for a directory entry.
    pub fn to_dirent(self) -> u8 {
        match self {
            FileType::Unknown => 0,
            FileType::Regular => 1,
            FileType::Dir => 2,
            FileType::CharDev => 3,
            FileType::BlockDev => 4,
            FileType::Fifo => 5,
            FileType::Socket => 6,
            FileType::Symlink => 7,
        }
    }

    /// From the type bits of an inode mode.
    pub fn from_mode(mode: u16) -> Self {
        match mode & S_IFMT {
            S_IFREG => FileType::Regular,
            S_IFDIR => FileType::Dir,
            S_IFCHR => FileType::CharDev,
            S_IFBLK => FileType::BlockDev,
            S_IFIFO => FileType::Fifo,
            S_IFSOCK => FileType::Socket,
            S_IFLNK => FileType::Symlink,
            _ => FileType::Unknown,
        }
    }

    /// The type bits of an inode mode (0 for `Unknown`).
    pub fn mode_bits(self) -> u16 {
        match self {
            FileType::Unknown => 0,
            FileType::Regular => S_IFREG,
            FileType::Dir => S_IFDIR,
            FileType::CharDev => S_IFCHR,
            FileType::BlockDev => S_IFBLK,
            FileType::Fifo => S_IFIFO,
            FileType::Socket => S_IFSOCK,
            FileType::Symlink => S_IFLNK,
        }
    }
}

/// File-type mask of a mode.
pub const S_IFMT: u16 = 0o170000;
/// Socket.
pub const S_IFSOCK: u16 = 0o140000;
/// Symbolic link.
pub const S_IFLNK: u16 = 0o120000;
/// Regular file.
pub const S_IFREG: u16 = 0o100000;
/// Block device.
pub const S_IFBLK: u16 = 0o060000;
/// Directory.
pub const S_IFDIR: u16 = 0o040000;
/// Character device.
pub const S_IFCHR: u16 = 0o020000;
/// Named pipe.
pub const S_IFIFO: u16 = 0o010000;

/// The kinds of special file the builder and the overlay can create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpecialKind {
    /// Named pipe.
    Fifo,
    /// Character device.
    CharDev,
    /// Block device.
    BlockDev,
    /// Unix socket.
    Socket,
}

impl SpecialKind {
    /// The matching [`FileType`].
    pub fn file_type(self) -> FileType {
        match self {
            SpecialKind::Fifo => FileType::Fifo,
            SpecialKind::CharDev => FileType::CharDev,
            SpecialKind::BlockDev => FileType::BlockDev,
            SpecialKind::Socket => FileType::Socket,
        }
    }
}

/// What `stat` reports about an inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Inode number.
    pub ino: u32,
    /// Type and permission bits.
    pub mode: u16,
    /// Hard link count.
    pub nlink: u32,
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// Size in bytes.
    pub size: u64,
    /// Allocated space in 512-byte units.
    pub blocks: u64,
    /// Device number (Linux user-space `dev_t` encoding) for device nodes, else 0.
    pub rdev: u64,
    /// Last access time.
    pub atime: Timestamp,
    /// Last modification time.
    pub mtime: Timestamp,
    /// Last status change time.
    pub ctime: Timestamp,
    /// Preferred I/O size (the file system block size).
    pub blksize: u32,
}

impl Stat {
    /// The file type from the mode.
    pub fn file_type(&self) -> FileType {
        FileType::from_mode(self.mode)
    }
}

/// One directory entry as stored on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The name (no `/`, no NUL).
    pub name: Vec<u8>,
    /// The inode it names.
    pub ino: u32,
    /// The type recorded in the entry.
    pub file_type: FileType,
}

/// File-system wide counters, as `statfs` wants them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatFs {
    /// Block size in bytes.
    pub block_size: u32,
    /// Total blocks.
    pub blocks: u64,
    /// Free blocks.
    pub free_blocks: u64,
    /// Total inodes.
    pub inodes: u64,
    /// Free inodes.
    pub free_inodes: u64,
    /// Longest name.
    pub name_max: u32,
}

/// Build a Linux user-space `dev_t` from major and minor numbers.
pub const fn makedev(major: u32, minor: u32) -> u64 {
    let (ma, mi) = (major as u64, minor as u64);
    ((ma & 0xffff_f000) << 32) | ((ma & 0xfff) << 8) | ((mi & 0xffff_ff00) << 12) | (mi & 0xff)
}

/// The major number of a Linux user-space `dev_t`.
pub const fn major(dev: u64) -> u32 {
    (((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff)) as u32
}

/// The minor number of a Linux user-space `dev_t`.
pub const fn minor(dev: u64) -> u32 {
    (((dev >> 12) & 0xffff_ff00) | (dev & 0xff)) as u32
}
