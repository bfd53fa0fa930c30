//! The verifying reader: a [`BlockRead`] over the data area that checks every block.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use sha2::{Digest, Sha256};
use spin::Mutex;

use crate::superblock::{Superblock, SuperblockError, SUPERBLOCK_SIZE};
use crate::tree::Geometry;
use crate::{BlockRead, IoError, BLOCK_SIZE, DIGEST_SIZE, HASHES_PER_BLOCK};

/// Default number of verified hash blocks kept (1 MiB; covers 512 MiB of data at level 0).
pub const DEFAULT_CACHE_BLOCKS: usize = 256;

/// Why a verity device could not be opened or a tree could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerityError {
    /// The device failed (or a block failed verification).
    Io(IoError),
    /// The superblock is missing or unsupported.
    Superblock(SuperblockError),
    /// The image is shorter than its superblock says it must be.
    Truncated {
        /// Bytes the layout needs.
        needed: u64,
        /// Bytes the device has.
        actual: u64,
    },
    /// The superblock's data blocks reach past the hash offset.
    DataOverlapsHash {
        /// Data blocks in the superblock.
        data_blocks: u64,
        /// The hash offset given.
        hash_offset: u64,
    },
    /// The sizes involved overflow 64 bits.
    TooLarge,
    /// The root hash does not match the top of the tree.
    WrongRootHash,
    /// The top of the tree matches the root hash, but the superblock's data block count does
    /// not fit the tree, or the last data block or its hash path is corrupt.
    TreeMismatch(IoError),
}

impl fmt::Display for VerityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            VerityError::Io(e) => write!(f, "{e}"),
            VerityError::Superblock(e) => write!(f, "{e}"),
            VerityError::Truncated { needed, actual } => {
                write!(f, "verity image truncated: the layout needs {needed} bytes but the device has {actual}")
            }
            VerityError::DataOverlapsHash { data_blocks, hash_offset } => {
                write!(f, "verity superblock claims {data_blocks} data blocks, which overlap the hash area at offset {hash_offset}")
            }
            VerityError::TooLarge => write!(f, "verity geometry overflows 64 bits"),
            VerityError::WrongRootHash => {
                write!(f, "verity root hash mismatch: the image's top hash block does not match the given root hash")
            }
            VerityError::TreeMismatch(e) => write!(f, "verity superblock and hash tree disagree, or the tree is corrupt: {e}"),
        }
    }
}

impl core::error::Error for VerityError {}

impl From<IoError> for VerityError {
    fn from(e: IoError) -> Self {
        VerityError::Io(e)
    }
}

impl From<SuperblockError> for VerityError {
    fn from(e: SuperblockError) -> Self {
        VerityError::Superblock(e)
    }
}

struct Entry {
    level: u32,
    index: u64,
    used: u64,
    data: Box<[u8]>,
}

/// A small LRU cache of hash blocks that have already been verified.
struct Cache {
    capacity: usize,
    tick: u64,
    entries: Vec<Entry>,
}

impl Cache {
    fn digest(&mut self, level: u32, index: u64, slot: usize) -> Option<[u8; DIGEST_SIZE]> {
        self.tick += 1;
        let tick = self.tick;
        let e = self.entries.iter_mut().find(|e| e.level == level && e.index == index)?;
        e.used = tick;
        let mut d = [0u8; DIGEST_SIZE];
        d.copy_from_slice(&e.data[slot * DIGEST_SIZE..(slot + 1) * DIGEST_SIZE]);
        Some(d)
    }

    fn insert(&mut self, level: u32, index: u64, data: Box<[u8]>) {
        if self.capacity == 0 {
            return;
        }
        self.tick += 1;
        let entry = Entry { level, index, used: self.tick, data };
        if let Some(e) = self.entries.iter_mut().find(|e| e.level == level && e.index == index) {
            *e = entry;
        } else if self.entries.len() < self.capacity {
            self.entries.push(entry);
        } else if let Some(lru) = self.entries.iter_mut().min_by_key(|e| e.used) {
            *lru = entry;
        }
    }
}

/// A dm-verity device: reads of the data area are checked against the tree and the trusted
/// root hash. Any mismatch is an [`IoError`] naming the block, and the caller's buffer is
/// zeroed; unverified data is never returned.
pub struct VerityDevice<D> {
    dev: D,
    hash_offset: u64,
    superblock: Superblock,
    geo: Geometry,
    root: [u8; DIGEST_SIZE],
    salted: Sha256,
    cache: Mutex<Cache>,
}

impl<D: BlockRead> VerityDevice<D> {
    /// Opens `dev` (data area at offset 0, superblock and tree at `hash_offset`) with a trusted
    /// root hash. Checks the superblock, the layout against the device size, and the top of
    /// the tree against `root_hash`.
    pub fn open(dev: D, hash_offset: u64, root_hash: [u8; DIGEST_SIZE]) -> Result<Self, VerityError> {
        Self::open_with_cache(dev, hash_offset, root_hash, DEFAULT_CACHE_BLOCKS)
    }

    /// [`VerityDevice::open`] with a cache of `cache_blocks` verified hash blocks (0 disables
    /// the cache: every read then re-verifies the whole hash path).
    pub fn open_with_cache(dev: D, hash_offset: u64, root_hash: [u8; DIGEST_SIZE], cache_blocks: usize) -> Result<Self, VerityError> {
        let actual = dev.len();
        let sb_end = hash_offset.checked_add(BLOCK_SIZE as u64).ok_or(VerityError::TooLarge)?;
        if actual < sb_end {
            return Err(VerityError::Truncated { needed: sb_end, actual });
        }
        let mut sb = [0u8; SUPERBLOCK_SIZE];
        dev.read_at(hash_offset, &mut sb)?;
        let superblock = Superblock::parse(&sb)?;
        let data_bytes = superblock.data_blocks.checked_mul(BLOCK_SIZE as u64).ok_or(VerityError::TooLarge)?;
        if data_bytes > hash_offset {
            return Err(VerityError::DataOverlapsHash { data_blocks: superblock.data_blocks, hash_offset });
        }
        let geo = Geometry::new(superblock.data_blocks).ok_or(VerityError::TooLarge)?;
        let needed = hash_offset.checked_add(geo.hash_area_size()).ok_or(VerityError::TooLarge)?;
        if actual < needed {
            return Err(VerityError::Truncated { needed, actual });
        }
        let mut salted = Sha256::new();
        salted.update(superblock.salt());
        let this = VerityDevice {
            dev,
            hash_offset,
            superblock,
            geo,
            root: root_hash,
            salted,
            cache: Mutex::new(Cache { capacity: cache_blocks, tick: 0, entries: Vec::new() }),
        };
        // Check the top of the tree now, so that a wrong root hash fails here.
        let top = if geo.levels == 0 {
            let mut block = vec![0u8; BLOCK_SIZE];
            this.read_data_block(0, &mut block)
        } else {
            this.expected_digest(geo.levels - 1, 0).map(|_| ())
        };
        match top {
            Ok(()) => {}
            Err(IoError::CorruptData { .. }) | Err(IoError::CorruptHash { .. }) => return Err(VerityError::WrongRootHash),
            Err(e) => return Err(VerityError::Io(e)),
        }
        // Check the last data block and its path too: the path holds every level's last
        // block, whose zero padding must agree with the superblock's data block count, and
        // the block itself only verifies if the tree has the shape the superblock claims. (The
        // root hash alone does not cover the data block count.)
        let last = this.superblock.data_blocks - 1;
        let mut block = vec![0u8; BLOCK_SIZE];
        match this.read_data_block(last, &mut block) {
            Ok(()) => Ok(this),
            Err(e @ (IoError::CorruptData { .. } | IoError::CorruptHash { .. })) => Err(VerityError::TreeMismatch(e)),
            Err(e) => Err(VerityError::Io(e)),
        }
    }

    /// The superblock.
    pub fn superblock(&self) -> &Superblock {
        &self.superblock
    }

    /// The tree geometry.
    pub fn geometry(&self) -> &Geometry {
        &self.geo
    }

    /// The trusted root hash.
    pub fn root_hash(&self) -> &[u8; DIGEST_SIZE] {
        &self.root
    }

    /// Offset of the superblock on the underlying device.
    pub fn hash_offset(&self) -> u64 {
        self.hash_offset
    }

    /// Number of data blocks.
    pub fn data_blocks(&self) -> u64 {
        self.superblock.data_blocks
    }

    /// The underlying device.
    pub fn inner(&self) -> &D {
        &self.dev
    }

    /// Gives the underlying device back.
    pub fn into_inner(self) -> D {
        self.dev
    }

    fn hash(&self, block: &[u8]) -> [u8; DIGEST_SIZE] {
        let mut h = self.salted.clone();
        h.update(block);
        h.finalize().into()
    }

    /// The digest of child `child` as stored in `level` (`level == levels` is the root hash).
    /// The hash block holding it is verified first, up to the root, unless cached.
    fn expected_digest(&self, level: u32, child: u64) -> Result<[u8; DIGEST_SIZE], IoError> {
        if level == self.geo.levels {
            return Ok(self.root);
        }
        let index = child / HASHES_PER_BLOCK;
        let slot = (child % HASHES_PER_BLOCK) as usize;
        if let Some(d) = self.cache.lock().digest(level, index, slot) {
            return Ok(d);
        }
        let number = self.geo.hash_block_number(level, index);
        let mut block = vec![0u8; BLOCK_SIZE].into_boxed_slice();
        self.dev.read_at(self.hash_offset + number * BLOCK_SIZE as u64, &mut block)?;
        let parent = self.expected_digest(level + 1, index)?;
        if self.hash(&block) != parent {
            return Err(IoError::CorruptHash { level, index, hash_block: number });
        }
        // In the last block of a level, the digests past the level's children must be zero
        // (as `veritysetup verify` checks). This catches a superblock whose data block count
        // was lowered without changing the tree's shape.
        let children = if level == 0 { self.geo.data_blocks } else { self.geo.level_blocks(level - 1) };
        let used = children - index * HASHES_PER_BLOCK;
        if used < HASHES_PER_BLOCK && block[used as usize * DIGEST_SIZE..].iter().any(|&x| x != 0) {
            return Err(IoError::CorruptHash { level, index, hash_block: number });
        }
        let mut d = [0u8; DIGEST_SIZE];
        d.copy_from_slice(&block[slot * DIGEST_SIZE..(slot + 1) * DIGEST_SIZE]);
        self.cache.lock().insert(level, index, block);
        Ok(d)
    }

    fn verify_data_block(&self, index: u64, block: &[u8]) -> Result<(), IoError> {
        let expected = self.expected_digest(0, index)?;
        if self.hash(block) != expected {
            return Err(IoError::CorruptData { block: index });
        }
        Ok(())
    }

    fn read_data_block(&self, index: u64, out: &mut [u8]) -> Result<(), IoError> {
        self.dev.read_at(index * BLOCK_SIZE as u64, out)?;
        self.verify_data_block(index, out)
    }

    fn read_verified(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        crate::blockread::check_range(offset, buf.len(), self.len())?;
        let bs = BLOCK_SIZE as u64;
        let mut pos = 0usize;
        while pos < buf.len() {
            let off = offset + pos as u64;
            let block = off / bs;
            let within = (off % bs) as usize;
            let left = buf.len() - pos;
            if within == 0 && left >= BLOCK_SIZE {
                // Whole blocks: read straight into the caller's buffer, then verify in place.
                let n = core::cmp::min(left / BLOCK_SIZE, 64);
                let run = &mut buf[pos..pos + n * BLOCK_SIZE];
                self.dev.read_at(off, run)?;
                for (i, one) in run.chunks_exact(BLOCK_SIZE).enumerate() {
                    self.verify_data_block(block + i as u64, one)?;
                }
                pos += n * BLOCK_SIZE;
            } else {
                let mut tmp = [0u8; BLOCK_SIZE];
                self.read_data_block(block, &mut tmp)?;
                let n = core::cmp::min(BLOCK_SIZE - within, left);
                buf[pos..pos + n].copy_from_slice(&tmp[within..within + n]);
                pos += n;
            }
        }
        Ok(())
    }

    /// Verifies every data block (and so every hash block) in order; the error names the first
    /// bad block. `progress(done, total)` counts data blocks.
    pub fn verify_all(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<(), IoError> {
        let total = self.data_blocks();
        let per = 64u64;
        let mut buf = vec![0u8; per as usize * BLOCK_SIZE];
        let mut block = 0u64;
        while block < total {
            let n = core::cmp::min(per, total - block);
            let chunk = &mut buf[..n as usize * BLOCK_SIZE];
            self.read_verified(block * BLOCK_SIZE as u64, chunk)?;
            block += n;
            progress(block, total);
        }
        Ok(())
    }
}

impl<D: BlockRead> BlockRead for VerityDevice<D> {
    /// Size of the data area.
    fn len(&self) -> u64 {
        self.superblock.data_blocks * BLOCK_SIZE as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        let r = self.read_verified(offset, buf);
        if r.is_err() {
            buf.fill(0);
        }
        r
    }
}
