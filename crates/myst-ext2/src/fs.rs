//! The ext2 reader and its in-memory writable overlay.
//!
//! The image is never written. Every change lands in a map of copied
//! ("dirty") file-system blocks keyed by block number; reads look there
//! first and fall back to the device. New blocks and inodes come from the
//! image's own bitmaps, which are themselves just cached blocks, so the
//! overlay can never hand out more space than the image has free.

use crate::blockdev::{BlockDevice, IoError, Sink};
use crate::error::{Ext2Error, Result};
use crate::ondisk::*;
use crate::types::*;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;

/// Clock used by the overlay to stamp changes.
pub type Clock = Box<dyn Fn() -> Timestamp + Send + Sync>;

#[derive(Debug, Clone, Copy)]
struct Group {
    block_bitmap: u64,
    inode_bitmap: u64,
    inode_table: u64,
    free_blocks: u32,
    free_inodes: u32,
    used_dirs: u32,
}

/// What to create with [`Ext2::create`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewKind<'a> {
    /// An empty regular file.
    File,
    /// An empty directory.
    Dir,
    /// A symbolic link to the given target.
    Symlink(&'a [u8]),
    /// A named pipe.
    Fifo,
    /// A Unix socket.
    Socket,
    /// A character device with the given `dev_t`.
    CharDev(u64),
    /// A block device with the given `dev_t`.
    BlockDev(u64),
}

impl NewKind<'_> {
    fn file_type(&self) -> FileType {
        match self {
            NewKind::File => FileType::Regular,
            NewKind::Dir => FileType::Dir,
            NewKind::Symlink(_) => FileType::Symlink,
            NewKind::Fifo => FileType::Fifo,
            NewKind::Socket => FileType::Socket,
            NewKind::CharDev(_) => FileType::CharDev,
            NewKind::BlockDev(_) => FileType::BlockDev,
        }
    }
}

/// Per-call cache of indirect blocks read from the device, one per tree level.
#[derive(Default)]
struct MapCache {
    slots: [(u64, Vec<u8>); 3],
}

/// Where a directory entry lives.
#[derive(Debug, Clone, Copy)]
struct EntryLoc {
    pb: u64,
    off: usize,
    prev: Option<usize>,
    ino: u32,
}

/// An ext2 file system over a read-only block device, with an in-memory
/// copy-on-write overlay for changes.
pub struct Ext2<D> {
    dev: D,
    dev_bs: usize,
    dev_blocks: u64,
    bs: usize,
    sbraw: Vec<u8>,
    blocks_count: u64,
    inodes_count: u32,
    fdb: u64,
    bpg: u64,
    ipg: u32,
    isz: usize,
    first_ino: u32,
    ro_compat: u32,
    filetype: bool,
    groups: Vec<Group>,
    gdt_start: u64,
    reserved: Vec<(u64, u64)>,
    free_blocks: u64,
    free_inodes: u64,
    dirty: BTreeMap<u64, Box<[u8]>>,
    writable: bool,
    clock: Option<Clock>,
    pins: BTreeMap<u32, u32>,
    alloc_hint: u64,
    want_extra: u16,
}

impl<D> core::fmt::Debug for Ext2<D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ext2")
            .field("block_size", &self.bs)
            .field("blocks", &self.blocks_count)
            .field("inodes", &self.inodes_count)
            .field("groups", &self.groups.len())
            .field("dirty_blocks", &self.dirty.len())
            .field("writable", &self.writable)
            .finish()
    }
}

fn dev_read<D: BlockDevice>(dev: &D, dbs: usize, dblocks: u64, off: u64, buf: &mut [u8]) -> Result<()> {
    let end = off.checked_add(buf.len() as u64).ok_or(Ext2Error::Io(IoError::new("read beyond end of device")))?;
    if end > dblocks.saturating_mul(dbs as u64) {
        return Err(Ext2Error::Io(IoError::new("read beyond end of device")));
    }
    let dbs64 = dbs as u64;
    if off % dbs64 == 0 && buf.len() % dbs == 0 {
        let first = off / dbs64;
        for (i, chunk) in buf.chunks_mut(dbs).enumerate() {
            dev.read_block(first + i as u64, chunk)?;
        }
        return Ok(());
    }
    let mut tmp = vec![0u8; dbs];
    let mut done = 0usize;
    while done < buf.len() {
        let pos = off + done as u64;
        let db = pos / dbs64;
        let o = (pos % dbs64) as usize;
        dev.read_block(db, &mut tmp)?;
        let n = (dbs - o).min(buf.len() - done);
        buf[done..done + n].copy_from_slice(&tmp[o..o + n]);
        done += n;
    }
    Ok(())
}

fn validate_name(name: &[u8]) -> Result<()> {
    if name.is_empty() {
        return Err(Ext2Error::NotFound);
    }
    if name.len() > NAME_MAX {
        return Err(Ext2Error::NameTooLong);
    }
    if name.contains(&b'/') || name.contains(&0) {
        return Err(Ext2Error::Invalid("name contains '/' or NUL"));
    }
    Ok(())
}

fn is_dot_or_dotdot(name: &[u8]) -> bool {
    name == b"." || name == b".."
}

fn find_free_bit(bm: &[u8], from: u64, count: u64, ok: impl Fn(u64) -> bool) -> Option<u64> {
    let count = count.min(bm.len() as u64 * 8);
    let mut bit = from;
    while bit < count {
        let byte = bm[(bit / 8) as usize];
        if byte == 0xff {
            bit = (bit / 8 + 1) * 8;
            continue;
        }
        if byte & (1 << (bit % 8)) == 0 && ok(bit) {
            return Some(bit);
        }
        bit += 1;
    }
    None
}

impl<D: BlockDevice> Ext2<D> {
    /// Open and validate an ext2 file system on `dev`.
    ///
    /// Checks the magic, block size, group and inode counts against each
    /// other and against the device size, the group descriptors, and the
    /// incompatible features (an unknown one is an error naming it). Unknown
    /// read-only features make the overlay refuse writes with `EROFS`.
    pub fn open(dev: D) -> Result<Self> {
        let dbs = dev.block_size();
        if dbs == 0 || !dbs.is_power_of_two() || dbs > (1 << 20) {
            return Err(Ext2Error::Invalid("device block size is not a power of two"));
        }
        let dblocks = dev.num_blocks();
        let dev_bytes = dblocks.saturating_mul(dbs as u64);
        if dev_bytes < SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE as u64 {
            return Err(Ext2Error::Truncated { need: SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE as u64, have: dev_bytes });
        }
        let mut sbraw = vec![0u8; SUPERBLOCK_SIZE];
        dev_read(&dev, dbs, dblocks, SUPERBLOCK_OFFSET, &mut sbraw)?;
        if le16(&sbraw, sb::MAGIC) != EXT2_MAGIC {
            return Err(Ext2Error::BadMagic);
        }
        let rev = le32(&sbraw, sb::REV_LEVEL);
        if rev > 1 {
            return Err(Ext2Error::UnsupportedFeature("revision level above 1"));
        }
        let log = le32(&sbraw, sb::LOG_BLOCK_SIZE);
        if log == 6 {
            // 64 KiB directory records need an encoding this crate lacks.
            return Err(Ext2Error::UnsupportedFeature("65536-byte blocks"));
        }
        if log > 6 {
            return Err(Ext2Error::Corrupt("block size out of range"));
        }
        let bs = 1024usize << log;
        let (compat, incompat, ro_compat) = if rev == 0 {
            (0, 0, 0)
        } else {
            (le32(&sbraw, sb::FEATURE_COMPAT), le32(&sbraw, sb::FEATURE_INCOMPAT), le32(&sbraw, sb::FEATURE_RO_COMPAT))
        };
        let unsupported = incompat & !INCOMPAT_SUPPORTED;
        if unsupported != 0 {
            return Err(Ext2Error::UnsupportedFeature(incompat_name(unsupported)));
        }
        if ro_compat & RO_COMPAT_BIGALLOC != 0 {
            return Err(Ext2Error::UnsupportedFeature("bigalloc"));
        }
        let blocks_count = u64::from(le32(&sbraw, sb::BLOCKS_COUNT));
        let fdb = u64::from(le32(&sbraw, sb::FIRST_DATA_BLOCK));
        if fdb != u64::from(bs == 1024) {
            return Err(Ext2Error::Corrupt("first data block does not match block size"));
        }
        if blocks_count <= fdb + 2 {
            return Err(Ext2Error::Corrupt("block count too small"));
        }
        let bpg = u64::from(le32(&sbraw, sb::BLOCKS_PER_GROUP));
        if bpg == 0 || bpg > 8 * bs as u64 || bpg % 8 != 0 {
            return Err(Ext2Error::Corrupt("blocks per group out of range"));
        }
        let ipg = le32(&sbraw, sb::INODES_PER_GROUP);
        if ipg == 0 || u64::from(ipg) > 8 * bs as u64 {
            return Err(Ext2Error::Corrupt("inodes per group out of range"));
        }
        let isz = if rev == 0 { GOOD_OLD_INODE_SIZE } else { usize::from(le16(&sbraw, sb::INODE_SIZE)) };
        if isz < GOOD_OLD_INODE_SIZE || !isz.is_power_of_two() || isz > bs {
            return Err(Ext2Error::Corrupt("inode size out of range"));
        }
        let ngroups = (blocks_count - fdb).div_ceil(bpg);
        let inodes_count = u64::from(le32(&sbraw, sb::INODES_COUNT));
        if inodes_count != ngroups * u64::from(ipg) {
            return Err(Ext2Error::Corrupt("inode count does not match group count"));
        }
        let inodes_count = inodes_count as u32;
        let first_ino = if rev == 0 { GOOD_OLD_FIRST_INO } else { le32(&sbraw, sb::FIRST_INO) };
        if first_ino < GOOD_OLD_FIRST_INO || first_ino >= inodes_count {
            return Err(Ext2Error::Corrupt("first inode out of range"));
        }
        let fs_bytes = blocks_count * bs as u64;
        if fs_bytes > dev_bytes {
            return Err(Ext2Error::Truncated { need: fs_bytes, have: dev_bytes });
        }
        let itb = (u64::from(ipg) * isz as u64).div_ceil(bs as u64); // inode table blocks
        let gdt_start = fdb + 1;
        let gdt_blocks = (ngroups * DESC_SIZE as u64).div_ceil(bs as u64);
        if gdt_start + gdt_blocks > blocks_count {
            return Err(Ext2Error::Corrupt("group descriptors beyond end of file system"));
        }
        let mut groups = Vec::with_capacity(ngroups as usize);
        let mut blk = vec![0u8; bs];
        let per_block = (bs / DESC_SIZE) as u64;
        for g in 0..ngroups {
            if g % per_block == 0 {
                dev_read(&dev, dbs, dblocks, (gdt_start + g / per_block) * bs as u64, &mut blk)?;
            }
            let o = (g % per_block) as usize * DESC_SIZE;
            let grp = Group {
                block_bitmap: u64::from(le32(&blk, o + gd::BLOCK_BITMAP)),
                inode_bitmap: u64::from(le32(&blk, o + gd::INODE_BITMAP)),
                inode_table: u64::from(le32(&blk, o + gd::INODE_TABLE)),
                free_blocks: u32::from(le16(&blk, o + gd::FREE_BLOCKS)),
                free_inodes: u32::from(le16(&blk, o + gd::FREE_INODES)),
                used_dirs: u32::from(le16(&blk, o + gd::USED_DIRS)),
            };
            let inside = |b: u64| b >= fdb && b < blocks_count;
            if !inside(grp.block_bitmap) || !inside(grp.inode_bitmap) || !inside(grp.inode_table) || grp.inode_table + itb > blocks_count {
                return Err(Ext2Error::Corrupt("group descriptor points outside the file system"));
            }
            groups.push(grp);
        }
        let sparse = ro_compat & RO_COMPAT_SPARSE_SUPER != 0;
        let backup_bgs =
            if compat & COMPAT_SPARSE_SUPER2 != 0 { Some([le32(&sbraw, sb::BACKUP_BGS), le32(&sbraw, sb::BACKUP_BGS + 4)]) } else { None };
        let res_gdt = if rev == 0 { 0 } else { u64::from(le16(&sbraw, sb::RESERVED_GDT_BLOCKS)) };
        let mut reserved = Vec::with_capacity(groups.len() * 4);
        for (g, grp) in groups.iter().enumerate() {
            let g = g as u64;
            if group_has_super(g, sparse, backup_bgs) {
                let start = fdb + g * bpg;
                let end = (start + 1 + gdt_blocks + res_gdt).min(blocks_count);
                reserved.push((start, end));
            }
            reserved.push((grp.block_bitmap, grp.block_bitmap + 1));
            reserved.push((grp.inode_bitmap, grp.inode_bitmap + 1));
            reserved.push((grp.inode_table, grp.inode_table + itb));
        }
        reserved.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(reserved.len());
        for (s, e) in reserved {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        let writable = ro_compat & !RO_COMPAT_WRITABLE == 0;
        let free_blocks = u64::from(le32(&sbraw, sb::FREE_BLOCKS)).min(blocks_count);
        let free_inodes = u64::from(le32(&sbraw, sb::FREE_INODES)).min(u64::from(inodes_count));
        let want_extra = {
            let w = le16(&sbraw, sb::WANT_EXTRA_ISIZE).max(le16(&sbraw, sb::MIN_EXTRA_ISIZE));
            let w = if w == 0 { EXTRA_ISIZE } else { w };
            if usize::from(w) + GOOD_OLD_INODE_SIZE <= isz && w % 4 == 0 {
                w
            } else if isz >= GOOD_OLD_INODE_SIZE + usize::from(EXTRA_ISIZE) {
                EXTRA_ISIZE
            } else {
                0
            }
        };
        Ok(Ext2 {
            dev,
            dev_bs: dbs,
            dev_blocks: dblocks,
            bs,
            sbraw,
            blocks_count,
            inodes_count,
            fdb,
            bpg,
            ipg,
            isz,
            first_ino,
            ro_compat,
            filetype: incompat & INCOMPAT_FILETYPE != 0,
            groups,
            gdt_start,
            reserved: merged,
            free_blocks,
            free_inodes,
            dirty: BTreeMap::new(),
            writable,
            clock: None,
            pins: BTreeMap::new(),
            alloc_hint: 0,
            want_extra,
        })
    }

    // ----- general information -------------------------------------------

    /// The root directory's inode number (2).
    pub fn root_ino(&self) -> u32 {
        ROOT_INO
    }

    /// File-system block size in bytes.
    pub fn block_size(&self) -> usize {
        self.bs
    }

    /// The volume UUID.
    pub fn uuid(&self) -> [u8; 16] {
        let mut u = [0u8; 16];
        u.copy_from_slice(&self.sbraw[sb::UUID..sb::UUID + 16]);
        u
    }

    /// The volume label (up to 16 bytes, without trailing NULs).
    pub fn volume_name(&self) -> Vec<u8> {
        let v = &self.sbraw[sb::VOLUME_NAME..sb::VOLUME_NAME + 16];
        let n = v.iter().position(|&b| b == 0).unwrap_or(16);
        v[..n].to_vec()
    }

    /// Whether the overlay accepts changes (false for images with read-only
    /// features it does not maintain).
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// Number of blocks held in memory by the overlay.
    pub fn dirty_blocks(&self) -> usize {
        self.dirty.len()
    }

    /// Set the clock used to stamp changed inodes (default: time zero).
    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = Some(clock);
    }

    /// The underlying device.
    pub fn device(&self) -> &D {
        &self.dev
    }

    /// Counters for `statfs`.
    pub fn statfs(&self) -> StatFs {
        StatFs {
            block_size: self.bs as u32,
            blocks: self.blocks_count,
            free_blocks: self.free_blocks,
            inodes: u64::from(self.inodes_count),
            free_inodes: self.free_inodes,
            name_max: NAME_MAX as u32,
        }
    }

    fn now(&self) -> Timestamp {
        match &self.clock {
            Some(c) => c(),
            None => Timestamp::default(),
        }
    }

    // ----- block access ----------------------------------------------------

    fn check_blk(&self, b: u32) -> Result<u64> {
        let b = u64::from(b);
        if b < self.fdb || b >= self.blocks_count {
            return Err(Ext2Error::Corrupt("block number out of range"));
        }
        Ok(b)
    }

    fn is_reserved(&self, b: u64) -> bool {
        let i = self.reserved.partition_point(|&(s, _)| s <= b);
        i > 0 && b < self.reserved[i - 1].1
    }

    fn read_block_dev(&self, b: u64, buf: &mut [u8]) -> Result<()> {
        if b >= self.blocks_count {
            return Err(Ext2Error::Corrupt("block number out of range"));
        }
        dev_read(&self.dev, self.dev_bs, self.dev_blocks, b * self.bs as u64, buf)
    }

    fn read_block(&self, b: u64, buf: &mut [u8]) -> Result<()> {
        match self.dirty.get(&b) {
            Some(d) => {
                buf.copy_from_slice(d);
                Ok(())
            }
            None => self.read_block_dev(b, buf),
        }
    }

    fn with_block<R>(&self, b: u64, f: impl FnOnce(&[u8]) -> R) -> Result<R> {
        match self.dirty.get(&b) {
            Some(d) => Ok(f(d)),
            None => {
                let mut v = vec![0u8; self.bs];
                self.read_block_dev(b, &mut v)?;
                Ok(f(&v))
            }
        }
    }

    fn block_mut(&mut self, b: u64) -> Result<&mut [u8]> {
        if !self.dirty.contains_key(&b) {
            let mut v = vec![0u8; self.bs].into_boxed_slice();
            self.read_block_dev(b, &mut v)?;
            self.dirty.insert(b, v);
        }
        self.dirty.get_mut(&b).map(|v| &mut v[..]).ok_or(Ext2Error::Corrupt("block cache inconsistency"))
    }

    fn block_zeroed(&mut self, b: u64) {
        self.dirty.insert(b, vec![0u8; self.bs].into_boxed_slice());
    }

    // ----- inodes -------------------------------------------------------------

    fn inode_loc(&self, ino: u32) -> Result<(u64, usize)> {
        if ino == 0 || ino > self.inodes_count {
            return Err(Ext2Error::Invalid("inode number out of range"));
        }
        let idx = ino - 1;
        let g = (idx / self.ipg) as usize;
        let i = u64::from(idx % self.ipg);
        let grp = self.groups.get(g).ok_or(Ext2Error::Invalid("inode number out of range"))?;
        let byte = i * self.isz as u64;
        Ok((grp.inode_table + byte / self.bs as u64, (byte % self.bs as u64) as usize))
    }

    fn read_inode(&self, ino: u32) -> Result<Inode> {
        let (b, off) = self.inode_loc(ino)?;
        let isz = self.isz;
        self.with_block(b, |d| Inode { raw: d[off..off + isz].to_vec() })
    }

    fn write_inode(&mut self, ino: u32, inode: &Inode) -> Result<()> {
        let (b, off) = self.inode_loc(ino)?;
        let isz = self.isz;
        let blk = self.block_mut(b)?;
        blk[off..off + isz].copy_from_slice(&inode.raw[..isz]);
        Ok(())
    }

    fn is_fast_symlink(&self, inode: &Inode) -> bool {
        if !inode.is_symlink() || inode.flags() & INLINE_DATA_FL != 0 {
            return false;
        }
        let ea = if inode.file_acl() != 0 { (self.bs / 512) as u32 } else { 0 };
        inode.size() <= FAST_SYMLINK_MAX as u64 && inode.blocks_lo() == ea
    }

    /// Does this inode's `i_block` hold block pointers?
    fn has_block_map(&self, inode: &Inode) -> bool {
        inode.is_reg() || inode.is_dir() || (inode.is_symlink() && !self.is_fast_symlink(inode))
    }

    fn stat_of(&self, ino: u32, inode: &Inode) -> Stat {
        let mode = inode.mode();
        let ft = FileType::from_mode(mode);
        let rdev = if matches!(ft, FileType::CharDev | FileType::BlockDev) { decode_dev(inode.block(0), inode.block(1)) } else { 0 };
        let mut blocks = u64::from(inode.blocks_lo());
        if self.ro_compat & RO_COMPAT_HUGE_FILE != 0 {
            blocks |= u64::from(inode.blocks_high()) << 32;
            if inode.flags() & HUGE_FILE_FL != 0 {
                blocks = blocks.saturating_mul((self.bs / 512) as u64);
            }
        }
        Stat {
            ino,
            mode,
            nlink: u32::from(inode.links()),
            uid: inode.uid(),
            gid: inode.gid(),
            size: inode.size(),
            blocks,
            rdev,
            atime: inode.atime(),
            mtime: inode.mtime(),
            ctime: inode.ctime(),
            blksize: self.bs as u32,
        }
    }

    /// Status of an inode.
    pub fn stat(&self, ino: u32) -> Result<Stat> {
        let inode = self.read_inode(ino)?;
        Ok(self.stat_of(ino, &inode))
    }

    // ----- block mapping ----------------------------------------------------

    fn ptrs_per_block(&self) -> u64 {
        (self.bs / 4) as u64
    }

    /// Largest number of logical blocks the indirect scheme can map.
    fn max_lblks(&self) -> u64 {
        let p = self.ptrs_per_block();
        NDIR_BLOCKS as u64 + p + p * p + p * p * p
    }

    /// Largest file size the overlay accepts.
    fn max_file_size(&self) -> u64 {
        self.max_lblks().saturating_mul(self.bs as u64)
    }

    fn lblk_path(&self, lblk: u64) -> Option<(usize, [usize; 3], usize)> {
        let p = self.ptrs_per_block();
        if lblk < NDIR_BLOCKS as u64 {
            return Some((lblk as usize, [0; 3], 0));
        }
        let mut l = lblk - NDIR_BLOCKS as u64;
        if l < p {
            return Some((IND_BLOCK, [l as usize, 0, 0], 1));
        }
        l -= p;
        if l < p * p {
            return Some((DIND_BLOCK, [(l / p) as usize, (l % p) as usize, 0], 2));
        }
        l -= p * p;
        if l < p * p * p {
            return Some((TIND_BLOCK, [(l / (p * p)) as usize, ((l / p) % p) as usize, (l % p) as usize], 3));
        }
        None
    }

    fn check_mappable(&self, inode: &Inode) -> Result<()> {
        if inode.flags() & (EXTENTS_FL | INLINE_DATA_FL) != 0 {
            return Err(Ext2Error::Corrupt("inode uses extents or inline data"));
        }
        Ok(())
    }

    fn read_ptr(&self, b: u64, idx: usize, level: usize, cache: &mut MapCache) -> Result<u32> {
        if let Some(d) = self.dirty.get(&b) {
            return Ok(le32(d, idx * 4));
        }
        let slot = &mut cache.slots[level];
        if slot.0 != b || slot.1.len() != self.bs {
            slot.1.resize(self.bs, 0);
            slot.0 = u64::MAX;
            self.read_block_dev(b, &mut slot.1)?;
            slot.0 = b;
        }
        Ok(le32(&slot.1, idx * 4))
    }

    fn bmap(&self, inode: &Inode, lblk: u64, cache: &mut MapCache) -> Result<Option<u64>> {
        let Some((slot, path, depth)) = self.lblk_path(lblk) else {
            return Ok(None);
        };
        let mut ptr = inode.block(slot);
        for (level, &idx) in path.iter().enumerate().take(depth) {
            if ptr == 0 {
                return Ok(None);
            }
            let b = self.check_blk(ptr)?;
            ptr = self.read_ptr(b, idx, level, cache)?;
        }
        if ptr == 0 {
            return Ok(None);
        }
        Ok(Some(self.check_blk(ptr)?))
    }

    fn read_data(&self, inode: &Inode, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let size = inode.size();
        if offset >= size || buf.is_empty() {
            return Ok(0);
        }
        self.check_mappable(inode)?;
        let n = (size - offset).min(buf.len() as u64) as usize;
        let bs = self.bs as u64;
        let mut cache = MapCache::default();
        let mut done = 0usize;
        while done < n {
            let pos = offset + done as u64;
            let lblk = pos / bs;
            let boff = (pos % bs) as usize;
            let chunk = (self.bs - boff).min(n - done);
            let dst = &mut buf[done..done + chunk];
            match self.bmap(inode, lblk, &mut cache)? {
                None => dst.fill(0),
                Some(pb) if chunk == self.bs => self.read_block(pb, dst)?,
                Some(pb) => self.with_block(pb, |d| dst.copy_from_slice(&d[boff..boff + chunk]))?,
            }
            done += chunk;
        }
        Ok(n)
    }

    /// Read from a regular file at `offset`; returns the bytes read (0 at or
    /// past the end). Holes read as zeros.
    pub fn read(&self, ino: u32, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let inode = self.read_inode(ino)?;
        if inode.is_dir() {
            return Err(Ext2Error::IsDir);
        }
        if !inode.is_reg() {
            return Err(Ext2Error::Invalid("not a regular file"));
        }
        self.read_data(&inode, offset, buf)
    }

    /// The target of a symbolic link.
    pub fn readlink(&self, ino: u32) -> Result<Vec<u8>> {
        let inode = self.read_inode(ino)?;
        if !inode.is_symlink() {
            return Err(Ext2Error::Invalid("not a symbolic link"));
        }
        let size = inode.size();
        if self.is_fast_symlink(&inode) {
            return Ok(inode.block_bytes()[..size as usize].to_vec());
        }
        if size > SYMLINK_MAX as u64 || size >= self.bs as u64 {
            return Err(Ext2Error::Corrupt("symbolic link too long"));
        }
        let mut v = vec![0u8; size as usize];
        self.check_mappable(&inode)?;
        match self.bmap(&inode, 0, &mut MapCache::default())? {
            Some(pb) => self.with_block(pb, |d| v.copy_from_slice(&d[..size as usize]))?,
            None => return Err(Ext2Error::Corrupt("symbolic link without data block")),
        }
        Ok(v)
    }

    // ----- directories ------------------------------------------------------

    fn dir_nblocks(&self, dir: &Inode) -> Result<u64> {
        let n = dir.size().div_ceil(self.bs as u64);
        if n > self.blocks_count {
            return Err(Ext2Error::Corrupt("directory larger than the file system"));
        }
        Ok(n)
    }

    /// Walk the entries of a directory. The callback gets the physical block,
    /// the offset, the previous entry's offset in the same block, the header
    /// and the name; returning `true` stops the walk.
    fn dir_walk<F>(&self, dir: &Inode, mut f: F) -> Result<()>
    where
        F: FnMut(u64, usize, Option<usize>, &RawDirent, &[u8]) -> bool,
    {
        self.check_mappable(dir)?;
        let nblocks = self.dir_nblocks(dir)?;
        let mut cache = MapCache::default();
        let mut buf = vec![0u8; self.bs];
        for lblk in 0..nblocks {
            let Some(pb) = self.bmap(dir, lblk, &mut cache)? else {
                continue;
            };
            self.read_block(pb, &mut buf)?;
            let mut off = 0usize;
            let mut prev = None;
            while off < self.bs {
                let de = parse_dirent(&buf, off, self.filetype).ok_or(Ext2Error::Corrupt("bad directory entry"))?;
                if de.ino > self.inodes_count {
                    return Err(Ext2Error::Corrupt("directory entry inode out of range"));
                }
                let name = &buf[off + 8..off + 8 + de.name_len];
                if f(pb, off, prev, &de, name) {
                    return Ok(());
                }
                prev = Some(off);
                off += de.rec_len;
            }
        }
        Ok(())
    }

    fn find_entry(&self, dir: &Inode, name: &[u8]) -> Result<Option<EntryLoc>> {
        let mut found = None;
        self.dir_walk(dir, |pb, off, prev, de, n| {
            if de.ino != 0 && n == name {
                found = Some(EntryLoc { pb, off, prev, ino: de.ino });
                true
            } else {
                false
            }
        })?;
        Ok(found)
    }

    fn dir_inode(&self, ino: u32) -> Result<Inode> {
        let inode = self.read_inode(ino)?;
        if !inode.is_dir() {
            return Err(Ext2Error::NotDir);
        }
        Ok(inode)
    }

    /// All entries of a directory, including `.` and `..`, in disk order.
    pub fn readdir(&self, ino: u32) -> Result<Vec<DirEntry>> {
        let dir = self.dir_inode(ino)?;
        let mut out = Vec::new();
        self.dir_walk(&dir, |_, _, _, de, name| {
            if de.ino != 0 {
                out.push(DirEntry {
                    name: name.to_vec(),
                    ino: de.ino,
                    file_type: if self.filetype { FileType::from_dirent(de.ftype) } else { FileType::Unknown },
                });
            }
            false
        })?;
        Ok(out)
    }

    /// Look a name up in a directory.
    pub fn lookup_in(&self, dir_ino: u32, name: &[u8]) -> Result<u32> {
        if name.len() > NAME_MAX {
            return Err(Ext2Error::NameTooLong);
        }
        if name.is_empty() {
            return Err(Ext2Error::NotFound);
        }
        let dir = self.dir_inode(dir_ino)?;
        match self.find_entry(&dir, name)? {
            Some(e) => Ok(e.ino),
            None => Err(Ext2Error::NotFound),
        }
    }

    /// Resolve a path from the root (a leading `/` is optional; `.` and `..`
    /// are looked up like any name). Symbolic links are not followed.
    pub fn lookup(&self, path: &[u8]) -> Result<u32> {
        let mut ino = ROOT_INO;
        for comp in path.split(|&c| c == b'/') {
            if comp.is_empty() {
                continue;
            }
            ino = self.lookup_in(ino, comp)?;
        }
        Ok(ino)
    }

    // ----- the overlay: allocation -------------------------------------------

    fn check_writable(&self) -> Result<()> {
        if self.writable {
            Ok(())
        } else {
            Err(Ext2Error::ReadOnly)
        }
    }

    fn group_blocks(&self, g: usize) -> u64 {
        let start = self.fdb + g as u64 * self.bpg;
        self.bpg.min(self.blocks_count.saturating_sub(start))
    }

    fn alloc_block(&mut self) -> Result<u64> {
        let ng = self.groups.len();
        if ng == 0 {
            return Err(Ext2Error::NoSpace);
        }
        let hint = self.alloc_hint.max(self.fdb).min(self.blocks_count - 1);
        let start_g = (((hint - self.fdb) / self.bpg) as usize).min(ng - 1);
        for i in 0..=ng {
            let g = (start_g + i) % ng;
            if self.groups[g].free_blocks == 0 {
                continue;
            }
            let gstart = self.fdb + g as u64 * self.bpg;
            let count = self.group_blocks(g);
            let from = if i == 0 { hint.saturating_sub(gstart).min(count) } else { 0 };
            let bb = self.groups[g].block_bitmap;
            let found = self.with_block(bb, |bm| find_free_bit(bm, from, count, |bit| !self.is_reserved(gstart + bit)))?;
            match found {
                Some(bit) => {
                    let bm = self.block_mut(bb)?;
                    bm[(bit / 8) as usize] |= 1 << (bit % 8);
                    let grp = &mut self.groups[g];
                    grp.free_blocks = grp.free_blocks.saturating_sub(1);
                    self.free_blocks = self.free_blocks.saturating_sub(1);
                    let b = gstart + bit;
                    self.alloc_hint = b + 1;
                    self.block_zeroed(b);
                    return Ok(b);
                }
                None if from == 0 => self.groups[g].free_blocks = 0,
                None => {}
            }
        }
        Err(Ext2Error::NoSpace)
    }

    /// Free a block; returns whether it was in use. Blocks outside the data
    /// area or belonging to metadata are never touched.
    fn free_block(&mut self, b: u64) -> Result<bool> {
        if b < self.fdb || b >= self.blocks_count || self.is_reserved(b) {
            return Ok(false);
        }
        let g = ((b - self.fdb) / self.bpg) as usize;
        let bit = (b - self.fdb) % self.bpg;
        let Some(grp) = self.groups.get(g) else {
            return Ok(false);
        };
        let bb = grp.block_bitmap;
        self.dirty.remove(&b);
        let bm = self.block_mut(bb)?;
        let byte = &mut bm[(bit / 8) as usize];
        let mask = 1u8 << (bit % 8);
        if *byte & mask == 0 {
            return Ok(false);
        }
        *byte &= !mask;
        let grp = &mut self.groups[g];
        grp.free_blocks = grp.free_blocks.saturating_add(1);
        self.free_blocks = (self.free_blocks + 1).min(self.blocks_count);
        Ok(true)
    }

    fn block_in_use(&self, b: u64) -> Result<bool> {
        if b < self.fdb || b >= self.blocks_count {
            return Ok(false);
        }
        let g = ((b - self.fdb) / self.bpg) as usize;
        let bit = (b - self.fdb) % self.bpg;
        let bb = self.groups[g].block_bitmap;
        self.with_block(bb, |bm| bm[(bit / 8) as usize] & (1 << (bit % 8)) != 0)
    }

    fn alloc_inode(&mut self, is_dir: bool, goal_group: usize) -> Result<u32> {
        let ng = self.groups.len();
        for i in 0..ng {
            let g = (goal_group + i) % ng;
            if self.groups[g].free_inodes == 0 {
                continue;
            }
            let ib = self.groups[g].inode_bitmap;
            let base = g as u64 * u64::from(self.ipg);
            let first = u64::from(self.first_ino);
            let found = self.with_block(ib, |bm| find_free_bit(bm, 0, u64::from(self.ipg), |bit| base + bit + 1 >= first))?;
            match found {
                Some(bit) => {
                    let bm = self.block_mut(ib)?;
                    bm[(bit / 8) as usize] |= 1 << (bit % 8);
                    let grp = &mut self.groups[g];
                    grp.free_inodes = grp.free_inodes.saturating_sub(1);
                    if is_dir {
                        grp.used_dirs = grp.used_dirs.saturating_add(1);
                    }
                    self.free_inodes = self.free_inodes.saturating_sub(1);
                    return Ok((base + bit + 1) as u32);
                }
                None => self.groups[g].free_inodes = 0,
            }
        }
        Err(Ext2Error::NoSpace)
    }

    fn free_inode_bit(&mut self, ino: u32, was_dir: bool) -> Result<()> {
        if ino < self.first_ino || ino > self.inodes_count {
            return Ok(());
        }
        let idx = ino - 1;
        let g = (idx / self.ipg) as usize;
        let bit = u64::from(idx % self.ipg);
        let ib = self.groups[g].inode_bitmap;
        let bm = self.block_mut(ib)?;
        let byte = &mut bm[(bit / 8) as usize];
        let mask = 1u8 << (bit % 8);
        if *byte & mask == 0 {
            return Ok(());
        }
        *byte &= !mask;
        let grp = &mut self.groups[g];
        grp.free_inodes = grp.free_inodes.saturating_add(1);
        if was_dir {
            grp.used_dirs = grp.used_dirs.saturating_sub(1);
        }
        self.free_inodes = (self.free_inodes + 1).min(u64::from(self.inodes_count));
        Ok(())
    }

    fn add_iblocks(&self, inode: &mut Inode, nblocks: i64) -> Result<()> {
        let per = (self.bs / 512) as i64;
        let cur = i64::from(inode.blocks_lo());
        let new = cur + nblocks * per;
        if new > i64::from(u32::MAX) {
            return Err(Ext2Error::FileTooBig);
        }
        inode.set_blocks_lo(new.max(0) as u32);
        Ok(())
    }

    /// Check a block pointer found in a map before writing through it.
    fn check_write_blk(&self, b: u32) -> Result<u64> {
        let b = self.check_blk(b)?;
        if self.is_reserved(b) {
            return Err(Ext2Error::Corrupt("block pointer into metadata"));
        }
        Ok(b)
    }

    /// Map `lblk`, allocating data and indirect blocks as needed. Returns the
    /// physical block and whether it is new (zero-filled).
    fn bmap_alloc(&mut self, inode: &mut Inode, lblk: u64) -> Result<(u64, bool)> {
        self.check_mappable(inode)?;
        let (slot, path, depth) = self.lblk_path(lblk).ok_or(Ext2Error::FileTooBig)?;
        // Refuse early if i_blocks cannot grow by the worst case.
        if u64::from(inode.blocks_lo()) + (depth as u64 + 1) * (self.bs / 512) as u64 > u64::from(u32::MAX) {
            return Err(Ext2Error::FileTooBig);
        }
        let mut is_new = false;
        let mut cur = match inode.block(slot) {
            0 => {
                let b = self.alloc_block()?;
                inode.set_block(slot, b as u32);
                self.add_iblocks(inode, 1)?;
                is_new = true;
                b
            }
            p => self.check_write_blk(p)?,
        };
        for &idx in path.iter().take(depth) {
            let e = self.with_block(cur, |d| le32(d, idx * 4))?;
            cur = if e == 0 {
                let b = self.alloc_block()?;
                let parent = self.block_mut(cur)?;
                put32(parent, idx * 4, b as u32);
                self.add_iblocks(inode, 1)?;
                is_new = true;
                b
            } else {
                is_new = false;
                self.check_write_blk(e)?
            };
        }
        Ok((cur, is_new))
    }

    /// Free a whole (sub)tree at `depth` (0 = data block). A block already
    /// free is not descended into, which bounds the work on looping maps.
    fn free_tree_all(&mut self, b: u64, depth: usize) -> Result<u64> {
        if depth == 0 {
            return Ok(u64::from(self.free_block(b)?));
        }
        if !self.block_in_use(b)? || self.is_reserved(b) {
            return Ok(0);
        }
        let entries = self.with_block(b, |d| d.to_vec())?;
        let mut freed = u64::from(self.free_block(b)?);
        for i in 0..self.bs / 4 {
            let e = le32(&entries, i * 4);
            if e == 0 {
                continue;
            }
            if let Ok(c) = self.check_blk(e) {
                freed += self.free_tree_all(c, depth - 1)?;
            }
        }
        Ok(freed)
    }

    /// Free the part of the tree rooted at `b` (covering logical blocks from
    /// `base`, `depth` levels of indirection) that lies at or after `from`.
    /// Returns (blocks freed, whether `b` itself was freed).
    fn free_tree_from(&mut self, b: u64, depth: usize, base: u64, from: u64) -> Result<(u64, bool)> {
        if base >= from {
            return Ok((self.free_tree_all(b, depth)?, true));
        }
        if depth == 0 {
            return Ok((0, false));
        }
        let p = self.ptrs_per_block();
        let child_span = p.pow(depth as u32 - 1);
        let mut entries = self.with_block(b, |d| d.to_vec())?;
        let mut freed = 0;
        let mut changed = false;
        for i in 0..p as usize {
            let cbase = base + i as u64 * child_span;
            if cbase + child_span <= from {
                continue;
            }
            let e = le32(&entries, i * 4);
            if e == 0 {
                continue;
            }
            match self.check_blk(e) {
                Ok(c) => {
                    let (n, gone) = self.free_tree_from(c, depth - 1, cbase, from)?;
                    freed += n;
                    if gone {
                        put32(&mut entries, i * 4, 0);
                        changed = true;
                    }
                }
                Err(_) => {
                    put32(&mut entries, i * 4, 0);
                    changed = true;
                }
            }
        }
        if entries.iter().all(|&x| x == 0) {
            freed += u64::from(self.free_block(b)?);
            return Ok((freed, true));
        }
        if changed && !self.is_reserved(b) {
            self.block_mut(b)?.copy_from_slice(&entries);
        }
        Ok((freed, false))
    }

    /// Free every block mapping logical block `from` or later.
    fn free_from(&mut self, inode: &mut Inode, from: u64) -> Result<()> {
        self.check_mappable(inode)?;
        let mut freed = 0u64;
        for slot in 0..NDIR_BLOCKS {
            if slot as u64 >= from && inode.block(slot) != 0 {
                if let Ok(b) = self.check_blk(inode.block(slot)) {
                    freed += u64::from(self.free_block(b)?);
                }
                inode.set_block(slot, 0);
            }
        }
        let p = self.ptrs_per_block();
        let trees = [
            (IND_BLOCK, 1usize, NDIR_BLOCKS as u64, p),
            (DIND_BLOCK, 2, NDIR_BLOCKS as u64 + p, p * p),
            (TIND_BLOCK, 3, NDIR_BLOCKS as u64 + p + p * p, p * p * p),
        ];
        for (slot, depth, base, span) in trees {
            if base + span <= from {
                continue;
            }
            let ptr = inode.block(slot);
            if ptr == 0 {
                continue;
            }
            match self.check_blk(ptr) {
                Ok(b) => {
                    let (n, gone) = self.free_tree_from(b, depth, base, from)?;
                    freed += n;
                    if gone {
                        inode.set_block(slot, 0);
                    }
                }
                Err(_) => inode.set_block(slot, 0),
            }
        }
        self.add_iblocks(inode, -(freed as i64))?;
        if from == 0 {
            inode.set_blocks_lo(if inode.file_acl() != 0 { inode.blocks_lo().min((self.bs / 512) as u32) } else { 0 });
        }
        Ok(())
    }

    /// Release an inode with no links left: its blocks and its bitmap bit.
    fn evict(&mut self, ino: u32) -> Result<()> {
        let mut inode = self.read_inode(ino)?;
        let was_dir = inode.is_dir();
        if self.has_block_map(&inode) {
            self.free_from(&mut inode, 0)?;
        }
        let now = self.now();
        inode.set_links(0);
        inode.set_size(0);
        // A zero dtime on a released inode reads as "still in use" to fsck.
        inode.set_dtime((now.sec as u32).max(1));
        inode.block_bytes_mut().fill(0);
        self.write_inode(ino, &inode)?;
        self.free_inode_bit(ino, was_dir)
    }

    fn maybe_evict(&mut self, ino: u32) -> Result<()> {
        if self.pins.get(&ino).copied().unwrap_or(0) == 0 {
            let inode = self.read_inode(ino)?;
            if inode.links() == 0 {
                self.evict(ino)?;
            }
        }
        Ok(())
    }

    /// Note that an inode is open: it survives its last unlink until
    /// [`Ext2::release`].
    pub fn acquire(&mut self, ino: u32) -> Result<()> {
        self.inode_loc(ino)?;
        *self.pins.entry(ino).or_insert(0) += 1;
        Ok(())
    }

    /// Drop one [`Ext2::acquire`]; an unlinked inode is freed with its last
    /// reference.
    pub fn release(&mut self, ino: u32) -> Result<()> {
        let Some(n) = self.pins.get_mut(&ino) else {
            return Ok(());
        };
        *n -= 1;
        if *n == 0 {
            self.pins.remove(&ino);
            if self.writable {
                self.maybe_evict(ino)?;
            }
        }
        Ok(())
    }

    // ----- the overlay: directory entries --------------------------------------

    fn add_entry(&mut self, dir: &mut Inode, name: &[u8], ino: u32, ft: FileType) -> Result<()> {
        let need = rec_len_for(name.len());
        let mut slot = None;
        self.dir_walk(dir, |pb, off, _, de, _| {
            let used = if de.ino == 0 { 0 } else { rec_len_for(de.name_len) };
            if de.rec_len >= used + need {
                slot = Some((pb, off, used, de.rec_len));
                true
            } else {
                false
            }
        })?;
        let ftb = if self.filetype { ft.to_dirent() } else { 0 };
        match slot {
            Some((pb, off, used, rec)) => {
                if self.is_reserved(pb) {
                    return Err(Ext2Error::Corrupt("directory block in metadata"));
                }
                let blk = self.block_mut(pb)?;
                if used == 0 {
                    write_dirent(blk, off, ino, rec, name, ftb);
                } else {
                    put16(blk, off + 4, used as u16);
                    write_dirent(blk, off + used, ino, rec - used, name, ftb);
                }
            }
            None => {
                let lblk = self.dir_nblocks(dir)?;
                let (pb, _) = self.bmap_alloc(dir, lblk)?;
                let bs = self.bs;
                let blk = self.block_mut(pb)?;
                blk.fill(0);
                write_dirent(blk, 0, ino, bs, name, ftb);
                dir.set_size((lblk + 1) * bs as u64);
            }
        }
        dir.set_flags(dir.flags() & !INDEX_FL);
        Ok(())
    }

    fn remove_entry(&mut self, dir: &mut Inode, loc: &EntryLoc) -> Result<()> {
        if self.is_reserved(loc.pb) {
            return Err(Ext2Error::Corrupt("directory block in metadata"));
        }
        let blk = self.block_mut(loc.pb)?;
        match loc.prev {
            Some(p) => {
                let merged = usize::from(le16(blk, p + 4)) + usize::from(le16(blk, loc.off + 4));
                put16(blk, p + 4, merged as u16);
            }
            None => put32(blk, loc.off, 0),
        }
        dir.set_flags(dir.flags() & !INDEX_FL);
        Ok(())
    }

    fn set_entry_ino(&mut self, loc: &EntryLoc, ino: u32, ft: FileType) -> Result<()> {
        if self.is_reserved(loc.pb) {
            return Err(Ext2Error::Corrupt("directory block in metadata"));
        }
        let ftb = if self.filetype { ft.to_dirent() } else { 0 };
        let filetype = self.filetype;
        let blk = self.block_mut(loc.pb)?;
        put32(blk, loc.off, ino);
        if filetype {
            blk[loc.off + 7] = ftb;
        }
        Ok(())
    }

    fn dir_is_empty(&self, dir: &Inode) -> Result<bool> {
        let mut empty = true;
        self.dir_walk(dir, |_, _, _, de, name| {
            if de.ino != 0 && !is_dot_or_dotdot(name) {
                empty = false;
                true
            } else {
                false
            }
        })?;
        Ok(empty)
    }

    fn group_of(&self, ino: u32) -> usize {
        (ino.saturating_sub(1) / self.ipg) as usize
    }

    // ----- the overlay: public operations ------------------------------------

    /// Create a node named `name` in directory `parent`; returns its inode.
    /// `perm` is the permission bits (`0o7777`).
    pub fn create(&mut self, parent: u32, name: &[u8], kind: NewKind<'_>, perm: u16, uid: u32, gid: u32) -> Result<u32> {
        self.check_writable()?;
        if is_dot_or_dotdot(name) {
            return Err(Ext2Error::Exists);
        }
        validate_name(name)?;
        if let NewKind::Symlink(t) = kind {
            if t.is_empty() {
                return Err(Ext2Error::NotFound);
            }
            if t.len() > SYMLINK_MAX || t.len() >= self.bs {
                return Err(Ext2Error::NameTooLong);
            }
            if t.contains(&0) {
                return Err(Ext2Error::Invalid("symlink target contains NUL"));
            }
        }
        let mut pinode = self.dir_inode(parent)?;
        if pinode.links() == 0 {
            return Err(Ext2Error::NotFound);
        }
        if self.find_entry(&pinode, name)?.is_some() {
            return Err(Ext2Error::Exists);
        }
        let is_dir = kind == NewKind::Dir;
        if is_dir && u32::from(pinode.links()) >= LINK_MAX {
            return Err(Ext2Error::TooManyLinks);
        }
        let ft = kind.file_type();
        let now = self.now();
        let ino = self.alloc_inode(is_dir, self.group_of(parent))?;
        let mut inode = Inode::zeroed(self.isz);
        inode.init_extra(self.want_extra);
        inode.set_mode(ft.mode_bits() | (perm & 0o7777));
        inode.set_uid(uid);
        inode.set_gid(gid);
        inode.set_atime(now);
        inode.set_mtime(now);
        inode.set_ctime(now);
        inode.set_crtime(now);
        inode.set_links(1);
        let filled = self.fill_new_inode(&mut inode, ino, parent, kind);
        if let Err(e) = filled {
            let _ = self.free_from(&mut inode, 0);
            let _ = self.free_inode_bit(ino, is_dir);
            return Err(e);
        }
        self.write_inode(ino, &inode)?;
        if let Err(e) = self.add_entry(&mut pinode, name, ino, ft) {
            if self.has_block_map(&inode) {
                let _ = self.free_from(&mut inode, 0);
            }
            let mut dead = Inode::zeroed(self.isz);
            dead.set_dtime((now.sec as u32).max(1));
            let _ = self.write_inode(ino, &dead);
            let _ = self.free_inode_bit(ino, is_dir);
            return Err(e);
        }
        if is_dir {
            pinode.set_links(pinode.links() + 1);
        }
        pinode.set_mtime(now);
        pinode.set_ctime(now);
        self.write_inode(parent, &pinode)?;
        Ok(ino)
    }

    fn fill_new_inode(&mut self, inode: &mut Inode, ino: u32, parent: u32, kind: NewKind<'_>) -> Result<()> {
        match kind {
            NewKind::File | NewKind::Fifo | NewKind::Socket => {}
            NewKind::CharDev(rdev) | NewKind::BlockDev(rdev) => {
                let (a, b) = encode_dev(rdev);
                inode.set_block(0, a);
                inode.set_block(1, b);
            }
            NewKind::Dir => {
                inode.set_links(2);
                let (pb, _) = self.bmap_alloc(inode, 0)?;
                let bs = self.bs;
                let ftb = if self.filetype { FileType::Dir.to_dirent() } else { 0 };
                let blk = self.block_mut(pb)?;
                blk.fill(0);
                write_dirent(blk, 0, ino, 12, b".", ftb);
                write_dirent(blk, 12, parent, bs - 12, b"..", ftb);
                inode.set_size(bs as u64);
            }
            NewKind::Symlink(t) => {
                if t.len() <= FAST_SYMLINK_MAX {
                    inode.block_bytes_mut()[..t.len()].copy_from_slice(t);
                } else {
                    let (pb, _) = self.bmap_alloc(inode, 0)?;
                    let blk = self.block_mut(pb)?;
                    blk.fill(0);
                    blk[..t.len()].copy_from_slice(t);
                }
                inode.set_size(t.len() as u64);
            }
        }
        Ok(())
    }

    /// Create an empty regular file.
    pub fn create_file(&mut self, parent: u32, name: &[u8], perm: u16, uid: u32, gid: u32) -> Result<u32> {
        self.create(parent, name, NewKind::File, perm, uid, gid)
    }

    /// Create a directory.
    pub fn mkdir(&mut self, parent: u32, name: &[u8], perm: u16, uid: u32, gid: u32) -> Result<u32> {
        self.create(parent, name, NewKind::Dir, perm, uid, gid)
    }

    /// Create a symbolic link (mode 0777).
    pub fn symlink(&mut self, parent: u32, name: &[u8], target: &[u8], uid: u32, gid: u32) -> Result<u32> {
        self.create(parent, name, NewKind::Symlink(target), 0o777, uid, gid)
    }

    /// Write `data` at `offset` into a regular file, growing it as needed.
    /// Returns the bytes written (short only when space ran out part-way).
    pub fn write(&mut self, ino: u32, offset: u64, data: &[u8]) -> Result<usize> {
        self.check_writable()?;
        let mut inode = self.read_inode(ino)?;
        if inode.is_dir() {
            return Err(Ext2Error::IsDir);
        }
        if !inode.is_reg() {
            return Err(Ext2Error::Invalid("not a regular file"));
        }
        if data.is_empty() {
            return Ok(0);
        }
        let max = self.max_file_size();
        if offset >= max {
            return Err(Ext2Error::FileTooBig);
        }
        let len = (data.len() as u64).min(max - offset) as usize;
        let bs = self.bs as u64;
        let mut done = 0usize;
        let mut err = None;
        while done < len {
            let pos = offset + done as u64;
            let lblk = pos / bs;
            let boff = (pos % bs) as usize;
            let chunk = (self.bs - boff).min(len - done);
            match self.bmap_alloc(&mut inode, lblk) {
                Ok((pb, _)) => {
                    let blk = match self.block_mut(pb) {
                        Ok(b) => b,
                        Err(e) => {
                            err = Some(e);
                            break;
                        }
                    };
                    blk[boff..boff + chunk].copy_from_slice(&data[done..done + chunk]);
                    done += chunk;
                }
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        if done > 0 {
            let end = offset + done as u64;
            if end > inode.size() {
                inode.set_size(end);
                if end > 0x7fff_ffff {
                    self.set_large_file();
                }
            }
            let now = self.now();
            inode.set_mtime(now);
            inode.set_ctime(now);
        }
        self.write_inode(ino, &inode)?;
        match err {
            Some(e) if done == 0 => Err(e),
            _ => Ok(done),
        }
    }

    fn set_large_file(&mut self) {
        let ro = le32(&self.sbraw, sb::FEATURE_RO_COMPAT) | RO_COMPAT_LARGE_FILE;
        put32(&mut self.sbraw, sb::FEATURE_RO_COMPAT, ro);
        self.ro_compat |= RO_COMPAT_LARGE_FILE;
    }

    /// Set the size of a regular file, freeing blocks past the new end.
    pub fn truncate(&mut self, ino: u32, size: u64) -> Result<()> {
        self.check_writable()?;
        let mut inode = self.read_inode(ino)?;
        if inode.is_dir() {
            return Err(Ext2Error::IsDir);
        }
        if !inode.is_reg() {
            return Err(Ext2Error::Invalid("not a regular file"));
        }
        if size > self.max_file_size() {
            return Err(Ext2Error::FileTooBig);
        }
        let bs = self.bs as u64;
        if size < inode.size() {
            self.free_from(&mut inode, size.div_ceil(bs))?;
            let tail = (size % bs) as usize;
            if tail != 0 {
                if let Some(pb) = self.bmap(&inode, size / bs, &mut MapCache::default())? {
                    if !self.is_reserved(pb) {
                        self.block_mut(pb)?[tail..].fill(0);
                    }
                }
            }
        }
        inode.set_size(size);
        if size > 0x7fff_ffff {
            self.set_large_file();
        }
        let now = self.now();
        inode.set_mtime(now);
        inode.set_ctime(now);
        self.write_inode(ino, &inode)
    }

    /// Remove a non-directory entry.
    pub fn unlink(&mut self, dir_ino: u32, name: &[u8]) -> Result<()> {
        self.check_writable()?;
        validate_name(name)?;
        if is_dot_or_dotdot(name) {
            return Err(Ext2Error::IsDir);
        }
        let mut dir = self.dir_inode(dir_ino)?;
        let loc = self.find_entry(&dir, name)?.ok_or(Ext2Error::NotFound)?;
        let mut target = self.read_inode(loc.ino)?;
        if target.is_dir() {
            return Err(Ext2Error::IsDir);
        }
        self.remove_entry(&mut dir, &loc)?;
        let now = self.now();
        dir.set_mtime(now);
        dir.set_ctime(now);
        self.write_inode(dir_ino, &dir)?;
        target.set_links(target.links().saturating_sub(1));
        target.set_ctime(now);
        self.write_inode(loc.ino, &target)?;
        self.maybe_evict(loc.ino)
    }

    /// Remove an empty directory.
    pub fn rmdir(&mut self, dir_ino: u32, name: &[u8]) -> Result<()> {
        self.check_writable()?;
        validate_name(name)?;
        if name == b"." {
            return Err(Ext2Error::Invalid("cannot remove '.'"));
        }
        if name == b".." {
            return Err(Ext2Error::NotEmpty);
        }
        let mut dir = self.dir_inode(dir_ino)?;
        let loc = self.find_entry(&dir, name)?.ok_or(Ext2Error::NotFound)?;
        if loc.ino == ROOT_INO || loc.ino == dir_ino {
            return Err(Ext2Error::Invalid("cannot remove this directory"));
        }
        let mut target = self.read_inode(loc.ino)?;
        if !target.is_dir() {
            return Err(Ext2Error::NotDir);
        }
        if !self.dir_is_empty(&target)? {
            return Err(Ext2Error::NotEmpty);
        }
        self.remove_entry(&mut dir, &loc)?;
        let now = self.now();
        dir.set_links(dir.links().saturating_sub(1).max(1));
        dir.set_mtime(now);
        dir.set_ctime(now);
        self.write_inode(dir_ino, &dir)?;
        target.set_links(0);
        target.set_ctime(now);
        self.write_inode(loc.ino, &target)?;
        self.maybe_evict(loc.ino)
    }

    /// Add a hard link `new_dir/new_name` to the non-directory `ino`.
    pub fn link(&mut self, ino: u32, new_dir: u32, new_name: &[u8]) -> Result<()> {
        self.check_writable()?;
        if is_dot_or_dotdot(new_name) {
            return Err(Ext2Error::Exists);
        }
        validate_name(new_name)?;
        let inode = self.read_inode(ino)?;
        if inode.is_dir() {
            return Err(Ext2Error::NotPermitted);
        }
        if inode.links() == 0 {
            return Err(Ext2Error::NotFound);
        }
        if u32::from(inode.links()) >= LINK_MAX {
            return Err(Ext2Error::TooManyLinks);
        }
        let mut dir = self.dir_inode(new_dir)?;
        if dir.links() == 0 {
            return Err(Ext2Error::NotFound);
        }
        if self.find_entry(&dir, new_name)?.is_some() {
            return Err(Ext2Error::Exists);
        }
        let ft = FileType::from_mode(inode.mode());
        self.add_entry(&mut dir, new_name, ino, ft)?;
        let now = self.now();
        dir.set_mtime(now);
        dir.set_ctime(now);
        self.write_inode(new_dir, &dir)?;
        let mut inode = self.read_inode(ino)?;
        inode.set_links(inode.links() + 1);
        inode.set_ctime(now);
        self.write_inode(ino, &inode)
    }

    /// Is `ino` the directory `anc` or below it? Walks `..` upwards.
    fn is_within(&self, ino: u32, anc: u32) -> Result<bool> {
        let mut cur = ino;
        for _ in 0..=self.inodes_count.min(1 << 16) {
            if cur == anc {
                return Ok(true);
            }
            if cur == ROOT_INO {
                return Ok(false);
            }
            let dir = self.dir_inode(cur)?;
            cur = match self.find_entry(&dir, b"..")? {
                Some(e) => e.ino,
                None => return Ok(false),
            };
        }
        Err(Ext2Error::Loop)
    }

    fn adjust_links(&mut self, ino: u32, delta: i32, now: Timestamp) -> Result<()> {
        let mut inode = self.read_inode(ino)?;
        let links = (i32::from(inode.links()) + delta).clamp(0, i32::from(u16::MAX));
        inode.set_links(links as u16);
        inode.set_mtime(now);
        inode.set_ctime(now);
        self.write_inode(ino, &inode)
    }

    /// Rename `old_dir/old_name` to `new_dir/new_name`, replacing a target
    /// that exists (an empty directory for a directory, a non-directory for a
    /// non-directory).
    pub fn rename(&mut self, old_dir: u32, old_name: &[u8], new_dir: u32, new_name: &[u8]) -> Result<()> {
        self.check_writable()?;
        validate_name(old_name)?;
        validate_name(new_name)?;
        if is_dot_or_dotdot(old_name) || is_dot_or_dotdot(new_name) {
            return Err(Ext2Error::Invalid("cannot rename '.' or '..'"));
        }
        let od = self.dir_inode(old_dir)?;
        let src = self.find_entry(&od, old_name)?.ok_or(Ext2Error::NotFound)?;
        let nd = self.dir_inode(new_dir)?;
        if nd.links() == 0 {
            return Err(Ext2Error::NotFound);
        }
        let dst = self.find_entry(&nd, new_name)?;
        if let Some(d) = &dst {
            if d.ino == src.ino {
                return Ok(());
            }
        }
        let src_inode = self.read_inode(src.ino)?;
        let src_is_dir = src_inode.is_dir();
        let ft = FileType::from_mode(src_inode.mode());
        if src_is_dir && old_dir != new_dir && self.is_within(new_dir, src.ino)? {
            return Err(Ext2Error::Invalid("cannot move a directory into itself"));
        }
        let mut dst_is_dir = false;
        if let Some(d) = &dst {
            let di = self.read_inode(d.ino)?;
            dst_is_dir = di.is_dir();
            if src_is_dir {
                if !dst_is_dir {
                    return Err(Ext2Error::NotDir);
                }
                if !self.dir_is_empty(&di)? {
                    return Err(Ext2Error::NotEmpty);
                }
            } else if dst_is_dir {
                return Err(Ext2Error::IsDir);
            }
        } else if src_is_dir && old_dir != new_dir && u32::from(nd.links()) >= LINK_MAX {
            return Err(Ext2Error::TooManyLinks);
        }
        let now = self.now();
        // 1. The new name.
        match &dst {
            Some(d) => self.set_entry_ino(d, src.ino, ft)?,
            None => {
                let mut nd = self.read_inode(new_dir)?;
                self.add_entry(&mut nd, new_name, src.ino, ft)?;
                self.write_inode(new_dir, &nd)?;
            }
        }
        // 2. The old name (found again: adding may have moved nothing, but
        //    the same directory may have been rewritten).
        let mut od = self.read_inode(old_dir)?;
        if let Some(loc) = self.find_entry(&od, old_name)? {
            if loc.ino == src.ino {
                self.remove_entry(&mut od, &loc)?;
                self.write_inode(old_dir, &od)?;
            }
        }
        // 3. Link counts and `..`.
        let mut delta_old = 0i32;
        let mut delta_new = 0i32;
        if src_is_dir && old_dir != new_dir {
            let moved = self.dir_inode(src.ino)?;
            if let Some(dd) = self.find_entry(&moved, b"..")? {
                self.set_entry_ino(&dd, new_dir, FileType::Dir)?;
            }
            delta_old -= 1;
            delta_new += 1;
        }
        if dst_is_dir {
            delta_new -= 1;
        }
        if old_dir == new_dir {
            self.adjust_links(old_dir, delta_old + delta_new, now)?;
        } else {
            self.adjust_links(old_dir, delta_old, now)?;
            self.adjust_links(new_dir, delta_new, now)?;
        }
        let mut si = self.read_inode(src.ino)?;
        si.set_ctime(now);
        self.write_inode(src.ino, &si)?;
        // 4. The replaced target.
        if let Some(d) = dst {
            let mut di = self.read_inode(d.ino)?;
            if dst_is_dir {
                di.set_links(0);
            } else {
                di.set_links(di.links().saturating_sub(1));
            }
            di.set_ctime(now);
            self.write_inode(d.ino, &di)?;
            self.maybe_evict(d.ino)?;
        }
        Ok(())
    }

    /// Change the permission bits (`0o7777`) of an inode.
    pub fn chmod(&mut self, ino: u32, perm: u16) -> Result<()> {
        self.check_writable()?;
        let mut inode = self.read_inode(ino)?;
        inode.set_mode((inode.mode() & S_IFMT) | (perm & 0o7777));
        inode.set_ctime(self.now());
        self.write_inode(ino, &inode)
    }

    /// Change the owner and/or group of an inode.
    pub fn chown(&mut self, ino: u32, uid: Option<u32>, gid: Option<u32>) -> Result<()> {
        self.check_writable()?;
        let mut inode = self.read_inode(ino)?;
        if let Some(u) = uid {
            inode.set_uid(u);
        }
        if let Some(g) = gid {
            inode.set_gid(g);
        }
        inode.set_ctime(self.now());
        self.write_inode(ino, &inode)
    }

    /// Set access and/or modification times; the change time becomes now.
    pub fn set_times(&mut self, ino: u32, atime: Option<Timestamp>, mtime: Option<Timestamp>) -> Result<()> {
        self.check_writable()?;
        let mut inode = self.read_inode(ino)?;
        if let Some(t) = atime {
            inode.set_atime(t);
        }
        if let Some(t) = mtime {
            inode.set_mtime(t);
        }
        inode.set_ctime(self.now());
        self.write_inode(ino, &inode)
    }

    /// Hand every changed block to `sink` (byte offset, block contents),
    /// after folding the free counts into the superblock and group
    /// descriptors. Applying them to a copy of the image gives a consistent
    /// file system (used by tests with `e2fsck`); the image itself is never
    /// touched.
    pub fn export_changes(&mut self, sink: &mut Sink<'_>) -> Result<()> {
        if !self.dirty.is_empty() {
            self.sync_metadata()?;
        }
        for (b, data) in &self.dirty {
            sink(b * self.bs as u64, data)?;
        }
        Ok(())
    }

    fn sync_metadata(&mut self) -> Result<()> {
        put32(&mut self.sbraw, sb::FREE_BLOCKS, self.free_blocks as u32);
        put32(&mut self.sbraw, sb::FREE_INODES, self.free_inodes as u32);
        let sb_blk = SUPERBLOCK_OFFSET / self.bs as u64;
        let sb_off = (SUPERBLOCK_OFFSET % self.bs as u64) as usize;
        let raw = self.sbraw.clone();
        self.block_mut(sb_blk)?[sb_off..sb_off + SUPERBLOCK_SIZE].copy_from_slice(&raw);
        let per_block = self.bs / DESC_SIZE;
        for g in 0..self.groups.len() {
            let grp = self.groups[g];
            let b = self.gdt_start + (g / per_block) as u64;
            let o = (g % per_block) * DESC_SIZE;
            let blk = self.block_mut(b)?;
            put16(blk, o + gd::FREE_BLOCKS, grp.free_blocks.min(0xffff) as u16);
            put16(blk, o + gd::FREE_INODES, grp.free_inodes.min(0xffff) as u16);
            put16(blk, o + gd::USED_DIRS, grp.used_dirs.min(0xffff) as u16);
        }
        Ok(())
    }
}
