//! Tree geometry and the streaming tree writer.
//!
//! Geometry follows veritysetup: with `n` data blocks and 128 digests per hash block, the tree
//! has the smallest number of levels `L` such that `(n - 1) >> (7 * L) == 0` (so a single data
//! block has no hash blocks at all and the root is the hash of that block). Level `i` holds
//! `ceil(n / 128^(i+1))` blocks. Levels are stored top level first, right after the superblock
//! block; every hash block is zero padded; the root hash is the salted hash of the single
//! top-level block.

use alloc::vec;
use alloc::vec::Vec;

use crate::device::VerityError;
use crate::superblock::Superblock;
use crate::{salted_hash, BlockRead, HashSink, IoError, BLOCK_SIZE, DIGEST_SIZE, HASHES_PER_BLOCK};

/// Largest number of tree levels (enough for 2^64 data blocks).
pub const MAX_LEVELS: usize = 10;
const BITS_PER_LEVEL: u32 = HASHES_PER_BLOCK.trailing_zeros();

/// Where each tree level lives inside the hash area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Number of data blocks.
    pub data_blocks: u64,
    /// Number of hash levels (0 when there is a single data block).
    pub levels: u32,
    level_start: [u64; MAX_LEVELS],
    level_blocks: [u64; MAX_LEVELS],
    /// Blocks in the hash area, the superblock block included.
    pub hash_area_blocks: u64,
}

impl Geometry {
    /// Geometry for `data_blocks` blocks; `None` for 0 blocks or a hash area whose size would
    /// not fit in a u64.
    pub fn new(data_blocks: u64) -> Option<Self> {
        if data_blocks == 0 {
            return None;
        }
        let mut levels = 0u32;
        while BITS_PER_LEVEL * levels < 64 && ((data_blocks - 1) >> (BITS_PER_LEVEL * levels)) != 0 {
            levels += 1;
        }
        let mut level_start = [0u64; MAX_LEVELS];
        let mut level_blocks = [0u64; MAX_LEVELS];
        let mut pos = 1u64; // block 0 of the hash area is the superblock
        for i in (0..levels as usize).rev() {
            let shift = BITS_PER_LEVEL * (i as u32 + 1);
            let n = ((data_blocks as u128 + (1u128 << shift) - 1) >> shift) as u64;
            level_start[i] = pos;
            level_blocks[i] = n;
            pos = pos.checked_add(n)?;
        }
        pos.checked_mul(BLOCK_SIZE as u64)?;
        Some(Geometry { data_blocks, levels, level_start, level_blocks, hash_area_blocks: pos })
    }

    /// Size of the hash area in bytes, the superblock block included.
    pub fn hash_area_size(&self) -> u64 {
        self.hash_area_blocks * BLOCK_SIZE as u64
    }

    /// Number of blocks in `level`.
    pub fn level_blocks(&self, level: u32) -> u64 {
        self.level_blocks[level as usize]
    }

    /// Block number (from the start of the hash area) of block `index` of `level`.
    pub fn hash_block_number(&self, level: u32, index: u64) -> u64 {
        self.level_start[level as usize] + index
    }
}

/// What [`build_tree`] produced.
#[derive(Debug, Clone)]
pub struct TreeInfo {
    /// The root hash (what `veritysetup format` prints as "Root hash").
    pub root_hash: [u8; DIGEST_SIZE],
    /// The superblock written at offset 0 of the hash area.
    pub superblock: Superblock,
    /// The tree's geometry.
    pub geometry: Geometry,
}

impl TreeInfo {
    /// Bytes written to the hash area (superblock block included).
    pub fn hash_area_size(&self) -> u64 {
        self.geometry.hash_area_size()
    }
}

struct Builder<'a> {
    geo: Geometry,
    salt: &'a [u8],
    sink: &'a mut dyn HashSink,
    acc: Vec<u8>,
    fill: [usize; MAX_LEVELS],
    emitted: [u64; MAX_LEVELS],
    root: Option<[u8; DIGEST_SIZE]>,
}

impl Builder<'_> {
    fn push(&mut self, mut level: usize, mut digest: [u8; DIGEST_SIZE]) -> Result<(), IoError> {
        loop {
            if level == self.geo.levels as usize {
                self.root = Some(digest);
                return Ok(());
            }
            let at = level * BLOCK_SIZE + self.fill[level] * DIGEST_SIZE;
            self.acc[at..at + DIGEST_SIZE].copy_from_slice(&digest);
            self.fill[level] += 1;
            if (self.fill[level] as u64) < HASHES_PER_BLOCK {
                return Ok(());
            }
            digest = self.emit(level)?;
            level += 1;
        }
    }

    fn emit(&mut self, level: usize) -> Result<[u8; DIGEST_SIZE], IoError> {
        let index = self.emitted[level];
        if index >= self.geo.level_blocks[level] {
            return Err(IoError::Device { offset: 0, reason: "internal error: verity level overflow" });
        }
        let block = &mut self.acc[level * BLOCK_SIZE..(level + 1) * BLOCK_SIZE];
        let number = self.geo.level_start[level] + index;
        self.sink.write_at(number * BLOCK_SIZE as u64, block)?;
        let digest = salted_hash(self.salt, block);
        block.fill(0);
        self.emitted[level] += 1;
        self.fill[level] = 0;
        Ok(digest)
    }

    fn finish(&mut self) -> Result<[u8; DIGEST_SIZE], IoError> {
        for level in 0..self.geo.levels as usize {
            if self.fill[level] > 0 {
                let d = self.emit(level)?;
                self.push(level + 1, d)?;
            }
        }
        let complete = (0..self.geo.levels as usize).all(|l| self.emitted[l] == self.geo.level_blocks[l]);
        match self.root {
            Some(r) if complete => Ok(r),
            _ => Err(IoError::Device { offset: 0, reason: "internal error: verity tree incomplete" }),
        }
    }
}

/// Reads at most this many data blocks per device read.
const CHUNK_BLOCKS: usize = 16;

/// Builds the hash area for the first `data_blocks` 4096-byte blocks of `data`: writes the
/// superblock (offset 0) and every hash block into `sink` (offsets relative to the hash area,
/// which goes at the verity hash offset), and returns the root hash.
///
/// Streams: the data is read once, in order, and memory use is a few blocks per tree level,
/// whatever the size of the image. `progress(done, total)` is called after every few data
/// blocks with counts of data blocks.
pub fn build_tree(
    data: &dyn BlockRead,
    data_blocks: u64,
    salt: &[u8],
    uuid: [u8; 16],
    sink: &mut dyn HashSink,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<TreeInfo, VerityError> {
    let superblock = Superblock::new(data_blocks, salt, uuid)?;
    let geo = Geometry::new(data_blocks).ok_or(VerityError::TooLarge)?;
    let needed = data_blocks.checked_mul(BLOCK_SIZE as u64).ok_or(VerityError::TooLarge)?;
    if data.len() < needed {
        return Err(VerityError::Truncated { needed, actual: data.len() });
    }

    let mut sb_block = vec![0u8; BLOCK_SIZE];
    sb_block[..crate::superblock::SUPERBLOCK_SIZE].copy_from_slice(&superblock.to_bytes());
    sink.write_at(0, &sb_block)?;

    let mut b = Builder {
        geo,
        salt,
        sink,
        acc: vec![0u8; BLOCK_SIZE * geo.levels as usize],
        fill: [0; MAX_LEVELS],
        emitted: [0; MAX_LEVELS],
        root: None,
    };
    let mut buf = vec![0u8; BLOCK_SIZE * CHUNK_BLOCKS];
    let mut block = 0u64;
    while block < data_blocks {
        let n = core::cmp::min(CHUNK_BLOCKS as u64, data_blocks - block) as usize;
        let chunk = &mut buf[..n * BLOCK_SIZE];
        data.read_at(block * BLOCK_SIZE as u64, chunk)?;
        for one in chunk.chunks_exact(BLOCK_SIZE) {
            b.push(0, salted_hash(salt, one))?;
        }
        block += n as u64;
        progress(block, data_blocks);
    }
    let root_hash = b.finish()?;
    Ok(TreeInfo { root_hash, superblock, geometry: geo })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_matches_veritysetup_rules() {
        let g = Geometry::new(1).unwrap();
        assert_eq!((g.levels, g.hash_area_blocks), (0, 1));
        let g = Geometry::new(128).unwrap();
        assert_eq!((g.levels, g.hash_area_blocks), (1, 2));
        let g = Geometry::new(129).unwrap();
        assert_eq!((g.levels, g.hash_area_blocks), (2, 1 + 1 + 2));
        let g = Geometry::new(128 * 128 + 1).unwrap();
        assert_eq!(g.levels, 3);
        assert_eq!(g.level_blocks(0), 129);
        assert_eq!(g.level_blocks(1), 2);
        assert_eq!(g.level_blocks(2), 1);
        // Top level first.
        assert_eq!(g.hash_block_number(2, 0), 1);
        assert_eq!(g.hash_block_number(1, 0), 2);
        assert_eq!(g.hash_block_number(0, 0), 4);
        assert!(Geometry::new(0).is_none());
        assert_eq!(Geometry::new(1 << 49).unwrap().levels, 7);
        assert_eq!(Geometry::new((1 << 49) + 1).unwrap().levels, 8);
        // The hash area of 2^64 - 1 blocks does not fit in a u64 of bytes.
        assert!(Geometry::new(u64::MAX).is_none());
    }

    #[test]
    fn single_block_root_is_block_hash() {
        let data = vec![0x5au8; BLOCK_SIZE];
        let mut area = Vec::new();
        let info = build_tree(&data, 1, &[1u8; 32], [0; 16], &mut area, &mut |_, _| {}).unwrap();
        assert_eq!(area.len(), BLOCK_SIZE);
        assert_eq!(info.root_hash, salted_hash(&[1u8; 32], &data));
    }

    #[test]
    fn short_data_is_an_error() {
        let data = vec![0u8; BLOCK_SIZE];
        let mut area = Vec::new();
        let r = build_tree(&data, 2, &[1u8; 32], [0; 16], &mut area, &mut |_, _| {});
        assert!(matches!(r, Err(VerityError::Truncated { .. })));
    }
}
