//! On-disk layout of ext2: offsets, constants and little-endian accessors.
//!
//! Written from the ext2 revision 1 layout (superblock at byte 1024, 32-byte
//! group descriptors, 128-byte base inode with the Linux `osd2` fields,
//! directory entries with a `file_type` byte).

use crate::types::{major, makedev, minor, Timestamp, S_IFLNK, S_IFMT, S_IFREG};
use alloc::vec;
use alloc::vec::Vec;

pub(crate) const SUPERBLOCK_OFFSET: u64 = 1024;
pub(crate) const SUPERBLOCK_SIZE: usize = 1024;
pub(crate) const EXT2_MAGIC: u16 = 0xEF53;
pub(crate) const ROOT_INO: u32 = 2;
pub(crate) const GOOD_OLD_FIRST_INO: u32 = 11;
pub(crate) const GOOD_OLD_INODE_SIZE: usize = 128;
pub(crate) const DESC_SIZE: usize = 32;
pub(crate) const NDIR_BLOCKS: usize = 12;
pub(crate) const IND_BLOCK: usize = 12;
pub(crate) const DIND_BLOCK: usize = 13;
pub(crate) const TIND_BLOCK: usize = 14;
pub(crate) const LINK_MAX: u32 = 32000;
pub(crate) const NAME_MAX: usize = 255;
/// Longest symlink target (PATH_MAX without the NUL).
pub(crate) const SYMLINK_MAX: usize = 4095;
/// Targets shorter than this live in `i_block` ("fast" symlinks).
pub(crate) const FAST_SYMLINK_MAX: usize = 59;
/// Extra inode space used for nanosecond timestamps in large inodes.
pub(crate) const EXTRA_ISIZE: u16 = 32;

// Compatible features (informational only).
pub(crate) const COMPAT_SPARSE_SUPER2: u32 = 0x0200;

// Incompatible features.
pub(crate) const INCOMPAT_FILETYPE: u32 = 0x0002;
pub(crate) const INCOMPAT_FLEX_BG: u32 = 0x0200;
/// What the reader understands.
pub(crate) const INCOMPAT_SUPPORTED: u32 = INCOMPAT_FILETYPE | INCOMPAT_FLEX_BG;

// Read-only compatible features.
pub(crate) const RO_COMPAT_SPARSE_SUPER: u32 = 0x0001;
pub(crate) const RO_COMPAT_LARGE_FILE: u32 = 0x0002;
pub(crate) const RO_COMPAT_HUGE_FILE: u32 = 0x0008;
pub(crate) const RO_COMPAT_EXTRA_ISIZE: u32 = 0x0040;
pub(crate) const RO_COMPAT_BIGALLOC: u32 = 0x0200;
/// Read-only features under which the in-memory overlay may still write
/// (the ones whose on-disk meaning it keeps right).
pub(crate) const RO_COMPAT_WRITABLE: u32 = RO_COMPAT_SPARSE_SUPER
    | RO_COMPAT_LARGE_FILE
    | 0x0004 /* btree_dir, never used */
    | RO_COMPAT_EXTRA_ISIZE;

const INCOMPAT_NAMES: &[(u32, &str)] = &[
    (0x0001, "compression"),
    (0x0002, "filetype"),
    (0x0004, "needs_recovery"),
    (0x0008, "journal_dev"),
    (0x0010, "meta_bg"),
    (0x0040, "extent"),
    (0x0080, "64bit"),
    (0x0100, "mmp"),
    (0x0200, "flex_bg"),
    (0x0400, "ea_inode"),
    (0x1000, "dirdata"),
    (0x2000, "metadata_csum_seed"),
    (0x4000, "large_dir"),
    (0x8000, "inline_data"),
    (0x10000, "encrypt"),
    (0x20000, "casefold"),
];

/// Name of the lowest incompatible feature bit set in `bits`.
pub(crate) fn incompat_name(bits: u32) -> &'static str {
    for &(bit, name) in INCOMPAT_NAMES {
        if bits & bit != 0 {
            return name;
        }
    }
    "unknown incompatible feature"
}

// Inode flags.
pub(crate) const INDEX_FL: u32 = 0x0000_1000;
pub(crate) const HUGE_FILE_FL: u32 = 0x0004_0000;
pub(crate) const EXTENTS_FL: u32 = 0x0008_0000;
pub(crate) const INLINE_DATA_FL: u32 = 0x1000_0000;

#[inline]
pub(crate) fn le16(b: &[u8], off: usize) -> u16 {
    match b.get(off..off + 2) {
        Some(s) => u16::from_le_bytes([s[0], s[1]]),
        None => 0,
    }
}

#[inline]
pub(crate) fn le32(b: &[u8], off: usize) -> u32 {
    match b.get(off..off + 4) {
        Some(s) => u32::from_le_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}

#[inline]
pub(crate) fn put16(b: &mut [u8], off: usize, v: u16) {
    if let Some(s) = b.get_mut(off..off + 2) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}

#[inline]
pub(crate) fn put32(b: &mut [u8], off: usize, v: u32) {
    if let Some(s) = b.get_mut(off..off + 4) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}

/// Superblock field offsets.
pub(crate) mod sb {
    pub const INODES_COUNT: usize = 0;
    pub const BLOCKS_COUNT: usize = 4;
    pub const R_BLOCKS_COUNT: usize = 8;
    pub const FREE_BLOCKS: usize = 12;
    pub const FREE_INODES: usize = 16;
    pub const FIRST_DATA_BLOCK: usize = 20;
    pub const LOG_BLOCK_SIZE: usize = 24;
    pub const LOG_FRAG_SIZE: usize = 28;
    pub const BLOCKS_PER_GROUP: usize = 32;
    pub const FRAGS_PER_GROUP: usize = 36;
    pub const INODES_PER_GROUP: usize = 40;
    pub const MTIME: usize = 44;
    pub const WTIME: usize = 48;
    pub const MAX_MNT_COUNT: usize = 54;
    pub const MAGIC: usize = 56;
    pub const STATE: usize = 58;
    pub const ERRORS: usize = 60;
    pub const LASTCHECK: usize = 64;
    pub const CREATOR_OS: usize = 72;
    pub const REV_LEVEL: usize = 76;
    pub const FIRST_INO: usize = 84;
    pub const INODE_SIZE: usize = 88;
    pub const BLOCK_GROUP_NR: usize = 90;
    pub const FEATURE_COMPAT: usize = 92;
    pub const FEATURE_INCOMPAT: usize = 96;
    pub const FEATURE_RO_COMPAT: usize = 100;
    pub const UUID: usize = 104;
    pub const VOLUME_NAME: usize = 120;
    pub const RESERVED_GDT_BLOCKS: usize = 206;
    pub const MKFS_TIME: usize = 264;
    pub const MIN_EXTRA_ISIZE: usize = 348;
    pub const WANT_EXTRA_ISIZE: usize = 350;
    pub const BACKUP_BGS: usize = 0x24C;
}

/// Group descriptor field offsets.
pub(crate) mod gd {
    pub const BLOCK_BITMAP: usize = 0;
    pub const INODE_BITMAP: usize = 4;
    pub const INODE_TABLE: usize = 8;
    pub const FREE_BLOCKS: usize = 12;
    pub const FREE_INODES: usize = 14;
    pub const USED_DIRS: usize = 16;
}

/// Inode field offsets.
pub(crate) mod ino {
    pub const MODE: usize = 0;
    pub const UID: usize = 2;
    pub const SIZE: usize = 4;
    pub const ATIME: usize = 8;
    pub const CTIME: usize = 12;
    pub const MTIME: usize = 16;
    pub const DTIME: usize = 20;
    pub const GID: usize = 24;
    pub const LINKS: usize = 26;
    pub const BLOCKS: usize = 28;
    pub const FLAGS: usize = 32;
    pub const BLOCK: usize = 40;
    pub const FILE_ACL: usize = 104;
    pub const SIZE_HIGH: usize = 108;
    pub const BLOCKS_HIGH: usize = 116;
    pub const UID_HIGH: usize = 120;
    pub const GID_HIGH: usize = 122;
    pub const EXTRA_ISIZE: usize = 128;
    pub const CTIME_EXTRA: usize = 132;
    pub const MTIME_EXTRA: usize = 136;
    pub const ATIME_EXTRA: usize = 140;
    pub const CRTIME: usize = 144;
    pub const CRTIME_EXTRA: usize = 148;
}

/// Does group `g` hold a superblock backup?
pub(crate) fn group_has_super(g: u64, sparse: bool, backup_bgs: Option<[u32; 2]>) -> bool {
    if g == 0 {
        return true;
    }
    if let Some(bgs) = backup_bgs {
        return g == u64::from(bgs[0]) || g == u64::from(bgs[1]);
    }
    if !sparse || g == 1 {
        return true;
    }
    for base in [3u64, 5, 7] {
        let mut p = base;
        while p < g {
            p = match p.checked_mul(base) {
                Some(v) => v,
                None => break,
            };
        }
        if p == g {
            return true;
        }
    }
    false
}

/// Record length needed by a directory entry with a name of `len` bytes.
#[inline]
pub(crate) const fn rec_len_for(len: usize) -> usize {
    (8 + len + 3) & !3
}

/// A decoded directory entry header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawDirent {
    pub ino: u32,
    pub rec_len: usize,
    pub name_len: usize,
    pub ftype: u8,
}

/// Parse the entry at `off` of a directory block, validating it fits.
pub(crate) fn parse_dirent(block: &[u8], off: usize, filetype: bool) -> Option<RawDirent> {
    if off.checked_add(8)? > block.len() {
        return None;
    }
    let ino = le32(block, off);
    let rec_len = usize::from(le16(block, off + 4));
    let (name_len, ftype) = if filetype { (usize::from(block[off + 6]), block[off + 7]) } else { (usize::from(le16(block, off + 6)), 0) };
    if rec_len < 8 || rec_len % 4 != 0 || off + rec_len > block.len() {
        return None;
    }
    if name_len > NAME_MAX || 8 + name_len > rec_len {
        return None;
    }
    Some(RawDirent { ino, rec_len, name_len, ftype })
}

/// Write a directory entry header and name at `off`.
pub(crate) fn write_dirent(block: &mut [u8], off: usize, ino: u32, rec_len: usize, name: &[u8], ftype: u8) {
    put32(block, off, ino);
    put16(block, off + 4, rec_len as u16);
    block[off + 6] = name.len() as u8;
    block[off + 7] = ftype;
    block[off + 8..off + 8 + name.len()].copy_from_slice(name);
}

/// Encode a time into the 32-bit base field and the ext4 "extra" field.
pub(crate) fn encode_time(t: Timestamp) -> (u32, u32) {
    let base = t.sec as i32;
    let epoch = ((t.sec - i64::from(base)) >> 32) as u32 & 3;
    let nsec = t.nsec.min(999_999_999);
    (base as u32, epoch | (nsec << 2))
}

/// Decode a base time and an optional extra field.
pub(crate) fn decode_time(base: u32, extra: Option<u32>) -> Timestamp {
    let mut sec = i64::from(base as i32);
    let mut nsec = 0;
    if let Some(x) = extra {
        sec += i64::from(x & 3) << 32;
        nsec = (x >> 2).min(999_999_999);
    }
    Timestamp { sec, nsec }
}

/// Encode a device number the way Linux stores it in `i_block[0..2]`.
pub(crate) fn encode_dev(rdev: u64) -> (u32, u32) {
    let (ma, mi) = (major(rdev), minor(rdev));
    if ma < 256 && mi < 256 {
        ((ma << 8) | mi, 0)
    } else {
        (0, (mi & 0xff) | ((ma & 0xfff) << 8) | ((mi & !0xff) << 12))
    }
}

/// Decode a device number from `i_block[0]`/`i_block[1]`.
pub(crate) fn decode_dev(b0: u32, b1: u32) -> u64 {
    if b0 != 0 {
        makedev((b0 >> 8) & 0xff, b0 & 0xff)
    } else {
        makedev((b1 & 0xfff00) >> 8, (b1 & 0xff) | ((b1 >> 12) & 0xfff00))
    }
}

/// An inode as raw bytes, with typed accessors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Inode {
    pub raw: Vec<u8>,
}

impl Inode {
    pub fn zeroed(size: usize) -> Self {
        Inode { raw: vec![0; size.max(GOOD_OLD_INODE_SIZE)] }
    }

    pub fn mode(&self) -> u16 {
        le16(&self.raw, ino::MODE)
    }
    pub fn set_mode(&mut self, m: u16) {
        put16(&mut self.raw, ino::MODE, m)
    }
    pub fn is_dir(&self) -> bool {
        self.mode() & S_IFMT == crate::types::S_IFDIR
    }
    pub fn is_reg(&self) -> bool {
        self.mode() & S_IFMT == S_IFREG
    }
    pub fn is_symlink(&self) -> bool {
        self.mode() & S_IFMT == S_IFLNK
    }
    pub fn uid(&self) -> u32 {
        u32::from(le16(&self.raw, ino::UID)) | (u32::from(le16(&self.raw, ino::UID_HIGH)) << 16)
    }
    pub fn gid(&self) -> u32 {
        u32::from(le16(&self.raw, ino::GID)) | (u32::from(le16(&self.raw, ino::GID_HIGH)) << 16)
    }
    pub fn set_uid(&mut self, v: u32) {
        put16(&mut self.raw, ino::UID, v as u16);
        put16(&mut self.raw, ino::UID_HIGH, (v >> 16) as u16);
    }
    pub fn set_gid(&mut self, v: u32) {
        put16(&mut self.raw, ino::GID, v as u16);
        put16(&mut self.raw, ino::GID_HIGH, (v >> 16) as u16);
    }
    /// Size; the high half counts only for regular files.
    pub fn size(&self) -> u64 {
        let lo = u64::from(le32(&self.raw, ino::SIZE));
        if self.is_reg() {
            lo | (u64::from(le32(&self.raw, ino::SIZE_HIGH)) << 32)
        } else {
            lo
        }
    }
    pub fn set_size(&mut self, v: u64) {
        put32(&mut self.raw, ino::SIZE, v as u32);
        if self.is_reg() {
            put32(&mut self.raw, ino::SIZE_HIGH, (v >> 32) as u32);
        }
    }
    pub fn links(&self) -> u16 {
        le16(&self.raw, ino::LINKS)
    }
    pub fn set_links(&mut self, v: u16) {
        put16(&mut self.raw, ino::LINKS, v)
    }
    pub fn blocks_lo(&self) -> u32 {
        le32(&self.raw, ino::BLOCKS)
    }
    pub fn set_blocks_lo(&mut self, v: u32) {
        put32(&mut self.raw, ino::BLOCKS, v)
    }
    pub fn blocks_high(&self) -> u16 {
        le16(&self.raw, ino::BLOCKS_HIGH)
    }
    pub fn flags(&self) -> u32 {
        le32(&self.raw, ino::FLAGS)
    }
    pub fn set_flags(&mut self, v: u32) {
        put32(&mut self.raw, ino::FLAGS, v)
    }
    pub fn file_acl(&self) -> u32 {
        le32(&self.raw, ino::FILE_ACL)
    }
    pub fn block(&self, i: usize) -> u32 {
        le32(&self.raw, ino::BLOCK + 4 * i)
    }
    pub fn set_block(&mut self, i: usize, v: u32) {
        put32(&mut self.raw, ino::BLOCK + 4 * i, v)
    }
    pub fn block_bytes(&self) -> &[u8] {
        &self.raw[ino::BLOCK..ino::BLOCK + 60]
    }
    pub fn block_bytes_mut(&mut self) -> &mut [u8] {
        &mut self.raw[ino::BLOCK..ino::BLOCK + 60]
    }
    pub fn set_dtime(&mut self, v: u32) {
        put32(&mut self.raw, ino::DTIME, v)
    }

    fn extra_isize(&self) -> usize {
        if self.raw.len() <= GOOD_OLD_INODE_SIZE {
            return 0;
        }
        let v = usize::from(le16(&self.raw, ino::EXTRA_ISIZE));
        v.min(self.raw.len() - GOOD_OLD_INODE_SIZE)
    }

    fn has_extra(&self, off: usize) -> bool {
        off + 4 <= GOOD_OLD_INODE_SIZE + self.extra_isize()
    }

    /// Set `i_extra_isize` for a fresh inode if the inode has room.
    pub fn init_extra(&mut self, want: u16) {
        if self.raw.len() >= GOOD_OLD_INODE_SIZE + usize::from(want) && want >= 4 {
            put16(&mut self.raw, ino::EXTRA_ISIZE, want);
        }
    }

    fn time(&self, base: usize, extra: usize) -> Timestamp {
        let x = if self.has_extra(extra) { Some(le32(&self.raw, extra)) } else { None };
        decode_time(le32(&self.raw, base), x)
    }

    fn set_time(&mut self, base: usize, extra: usize, t: Timestamp) {
        let (b, x) = encode_time(t);
        put32(&mut self.raw, base, b);
        if self.has_extra(extra) {
            put32(&mut self.raw, extra, x);
        }
    }

    pub fn atime(&self) -> Timestamp {
        self.time(ino::ATIME, ino::ATIME_EXTRA)
    }
    pub fn mtime(&self) -> Timestamp {
        self.time(ino::MTIME, ino::MTIME_EXTRA)
    }
    pub fn ctime(&self) -> Timestamp {
        self.time(ino::CTIME, ino::CTIME_EXTRA)
    }
    pub fn set_atime(&mut self, t: Timestamp) {
        self.set_time(ino::ATIME, ino::ATIME_EXTRA, t)
    }
    pub fn set_mtime(&mut self, t: Timestamp) {
        self.set_time(ino::MTIME, ino::MTIME_EXTRA, t)
    }
    pub fn set_ctime(&mut self, t: Timestamp) {
        self.set_time(ino::CTIME, ino::CTIME_EXTRA, t)
    }
    pub fn set_crtime(&mut self, t: Timestamp) {
        self.set_time(ino::CRTIME, ino::CRTIME_EXTRA, t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_super_groups() {
        let has: Vec<u64> = (0..100).filter(|&g| group_has_super(g, true, None)).collect();
        assert_eq!(has, [0, 1, 3, 5, 7, 9, 25, 27, 49, 81]);
        assert!(group_has_super(42, false, None));
        assert!(group_has_super(7, true, Some([1, 7])));
        assert!(!group_has_super(3, true, Some([1, 7])));
    }

    #[test]
    fn time_roundtrip() {
        for sec in [0i64, 1, -1, 0x7fff_ffff, -0x8000_0000, 0x8000_0000, 0x3_0000_0000] {
            let t = Timestamp { sec, nsec: 123 };
            let (b, x) = encode_time(t);
            assert_eq!(decode_time(b, Some(x)), t, "{sec}");
        }
    }

    #[test]
    fn dev_roundtrip() {
        for (ma, mi) in [(1, 3), (0, 0), (255, 255), (256, 1), (4095, 1 << 19), (8, 300)] {
            let d = makedev(ma, mi);
            let (a, b) = encode_dev(d);
            assert_eq!(decode_dev(a, b), d, "{ma}:{mi}");
        }
        assert_eq!(encode_dev(makedev(1, 3)), (0x103, 0));
    }
}
