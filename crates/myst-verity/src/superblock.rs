//! The 512-byte verity superblock `veritysetup` writes at the hash offset.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | signature `"verity\0\0"` |
//! | 8 | 4 | version (1), little endian like every integer here |
//! | 12 | 4 | hash type (1: salt before data) |
//! | 16 | 16 | uuid |
//! | 32 | 32 | hash algorithm name, NUL padded |
//! | 64 | 4 | data block size |
//! | 68 | 4 | hash block size |
//! | 72 | 8 | number of data blocks |
//! | 80 | 2 | salt size |
//! | 82 | 6 | padding |
//! | 88 | 256 | salt, zero padded |
//! | 344 | 168 | padding |

use core::fmt;

use crate::BLOCK_SIZE;

/// Size of the on-disk superblock.
pub const SUPERBLOCK_SIZE: usize = 512;
/// Superblock signature.
pub const SIGNATURE: [u8; 8] = *b"verity\0\0";
/// Largest salt the superblock can hold.
pub const MAX_SALT_SIZE: usize = 256;
const ALGORITHM: &[u8] = b"sha256";

/// A parsed verity superblock (only the configuration this crate supports parses).
#[derive(Clone, PartialEq, Eq)]
pub struct Superblock {
    /// UUID (informational; not covered by any hash).
    pub uuid: [u8; 16],
    /// Number of data blocks covered by the tree.
    pub data_blocks: u64,
    salt: [u8; MAX_SALT_SIZE],
    salt_size: u16,
}

impl fmt::Debug for Superblock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Superblock")
            .field("uuid", &crate::to_hex(&self.uuid))
            .field("data_blocks", &self.data_blocks)
            .field("salt", &crate::to_hex(self.salt()))
            .finish()
    }
}

/// Why a superblock was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuperblockError {
    /// Fewer than 512 bytes were given.
    TooShort(usize),
    /// The signature is not `"verity\0\0"`.
    BadSignature,
    /// Only version 1 exists.
    UnsupportedVersion(u32),
    /// Only hash type 1 (salt first, as veritysetup's default) is supported.
    UnsupportedHashType(u32),
    /// Only `sha256` is supported.
    UnsupportedAlgorithm,
    /// Only 4096-byte data and hash blocks are supported.
    UnsupportedBlockSize {
        /// Data block size found.
        data: u32,
        /// Hash block size found.
        hash: u32,
    },
    /// The salt size is larger than the 256-byte field.
    SaltTooLong(u16),
    /// The tree covers no data blocks.
    NoDataBlocks,
    /// A padding byte (or a salt byte past the salt size) is not zero.
    NonZeroPadding {
        /// Offset of the first offending byte in the superblock.
        offset: usize,
    },
}

impl fmt::Display for SuperblockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SuperblockError::TooShort(n) => {
                write!(f, "verity superblock truncated: {n} of {SUPERBLOCK_SIZE} bytes")
            }
            SuperblockError::BadSignature => {
                write!(f, "no verity superblock (signature is not \"verity\")")
            }
            SuperblockError::UnsupportedVersion(v) => {
                write!(f, "verity superblock version {v} is not supported (only 1)")
            }
            SuperblockError::UnsupportedHashType(t) => {
                write!(f, "verity hash type {t} is not supported (only 1)")
            }
            SuperblockError::UnsupportedAlgorithm => {
                write!(f, "verity hash algorithm is not sha256")
            }
            SuperblockError::UnsupportedBlockSize { data, hash } => {
                write!(f, "verity block sizes {data}/{hash} are not supported (only 4096/4096)")
            }
            SuperblockError::SaltTooLong(n) => {
                write!(f, "verity salt size {n} is larger than {MAX_SALT_SIZE}")
            }
            SuperblockError::NoDataBlocks => write!(f, "verity superblock covers no data blocks"),
            SuperblockError::NonZeroPadding { offset } => {
                write!(f, "verity superblock padding byte {offset} is not zero")
            }
        }
    }
}

impl core::error::Error for SuperblockError {}

fn u32_at(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_le_bytes(a)
}

fn first_nonzero(b: &[u8], base: usize) -> Option<usize> {
    b.iter().position(|&x| x != 0).map(|p| base + p)
}

impl Superblock {
    /// A superblock for `data_blocks` blocks with the given salt (at most 256 bytes) and uuid.
    pub fn new(data_blocks: u64, salt: &[u8], uuid: [u8; 16]) -> Result<Self, SuperblockError> {
        if salt.len() > MAX_SALT_SIZE {
            return Err(SuperblockError::SaltTooLong(salt.len() as u16));
        }
        if data_blocks == 0 {
            return Err(SuperblockError::NoDataBlocks);
        }
        let mut s = [0u8; MAX_SALT_SIZE];
        s[..salt.len()].copy_from_slice(salt);
        Ok(Superblock { uuid, data_blocks, salt: s, salt_size: salt.len() as u16 })
    }

    /// The salt.
    pub fn salt(&self) -> &[u8] {
        &self.salt[..self.salt_size as usize]
    }

    /// Parses and checks the first 512 bytes of `bytes`. Strict: every field must describe the
    /// supported configuration and every padding byte must be zero. The uuid is not checked.
    pub fn parse(bytes: &[u8]) -> Result<Self, SuperblockError> {
        if bytes.len() < SUPERBLOCK_SIZE {
            return Err(SuperblockError::TooShort(bytes.len()));
        }
        let b = &bytes[..SUPERBLOCK_SIZE];
        if b[0..8] != SIGNATURE {
            return Err(SuperblockError::BadSignature);
        }
        let version = u32_at(b, 8);
        if version != 1 {
            return Err(SuperblockError::UnsupportedVersion(version));
        }
        let hash_type = u32_at(b, 12);
        if hash_type != 1 {
            return Err(SuperblockError::UnsupportedHashType(hash_type));
        }
        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(&b[16..32]);
        let alg = &b[32..64];
        if &alg[..ALGORITHM.len()] != ALGORITHM || alg[ALGORITHM.len()..].iter().any(|&x| x != 0) {
            return Err(SuperblockError::UnsupportedAlgorithm);
        }
        let data = u32_at(b, 64);
        let hash = u32_at(b, 68);
        if data as usize != BLOCK_SIZE || hash as usize != BLOCK_SIZE {
            return Err(SuperblockError::UnsupportedBlockSize { data, hash });
        }
        let mut db = [0u8; 8];
        db.copy_from_slice(&b[72..80]);
        let data_blocks = u64::from_le_bytes(db);
        if data_blocks == 0 {
            return Err(SuperblockError::NoDataBlocks);
        }
        let salt_size = u16::from_le_bytes([b[80], b[81]]);
        if salt_size as usize > MAX_SALT_SIZE {
            return Err(SuperblockError::SaltTooLong(salt_size));
        }
        if let Some(offset) = first_nonzero(&b[82..88], 82)
            .or_else(|| first_nonzero(&b[88 + salt_size as usize..344], 88 + salt_size as usize))
            .or_else(|| first_nonzero(&b[344..512], 344))
        {
            return Err(SuperblockError::NonZeroPadding { offset });
        }
        let mut salt = [0u8; MAX_SALT_SIZE];
        salt.copy_from_slice(&b[88..344]);
        Ok(Superblock { uuid, data_blocks, salt, salt_size })
    }

    /// The 512 on-disk bytes.
    pub fn to_bytes(&self) -> [u8; SUPERBLOCK_SIZE] {
        let mut b = [0u8; SUPERBLOCK_SIZE];
        b[0..8].copy_from_slice(&SIGNATURE);
        b[8..12].copy_from_slice(&1u32.to_le_bytes());
        b[12..16].copy_from_slice(&1u32.to_le_bytes());
        b[16..32].copy_from_slice(&self.uuid);
        b[32..32 + ALGORITHM.len()].copy_from_slice(ALGORITHM);
        b[64..68].copy_from_slice(&(BLOCK_SIZE as u32).to_le_bytes());
        b[68..72].copy_from_slice(&(BLOCK_SIZE as u32).to_le_bytes());
        b[72..80].copy_from_slice(&self.data_blocks.to_le_bytes());
        b[80..82].copy_from_slice(&self.salt_size.to_le_bytes());
        b[88..344].copy_from_slice(&self.salt);
        b
    }

    /// The uuid in the usual 8-4-4-4-12 text form.
    pub fn uuid_string(&self) -> alloc::string::String {
        let h = crate::to_hex(&self.uuid);
        alloc::format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Superblock {
        Superblock::new(1234, &[7u8; 32], [9u8; 16]).unwrap()
    }

    #[test]
    fn round_trip() {
        let sb = sample();
        let b = sb.to_bytes();
        assert_eq!(Superblock::parse(&b).unwrap(), sb);
        assert_eq!(sb.salt(), &[7u8; 32]);
    }

    #[test]
    fn every_field_is_checked() {
        let good = sample().to_bytes();
        // Every byte outside the uuid must matter.
        for i in (0..SUPERBLOCK_SIZE).filter(|i| !(16..32).contains(i)) {
            let mut b = good;
            b[i] ^= 0x01;
            match Superblock::parse(&b) {
                Err(_) => {}
                // A flip inside data_blocks, salt size or salt still parses but changes what
                // is hashed (caught by the root hash).
                Ok(_) => assert!((72..81).contains(&i) || (88..120).contains(&i), "flip at {i} unnoticed"),
            }
        }
        assert_eq!(Superblock::parse(&good[..100]), Err(SuperblockError::TooShort(100)));
    }

    #[test]
    fn specific_errors() {
        let good = sample().to_bytes();
        let mut b = good;
        b[8] = 2;
        assert_eq!(Superblock::parse(&b), Err(SuperblockError::UnsupportedVersion(2)));
        let mut b = good;
        b[12] = 0;
        assert_eq!(Superblock::parse(&b), Err(SuperblockError::UnsupportedHashType(0)));
        let mut b = good;
        b[80..82].copy_from_slice(&257u16.to_le_bytes());
        assert_eq!(Superblock::parse(&b), Err(SuperblockError::SaltTooLong(257)));
        let mut b = good;
        b[72..80].copy_from_slice(&0u64.to_le_bytes());
        assert_eq!(Superblock::parse(&b), Err(SuperblockError::NoDataBlocks));
        let mut b = good;
        b[64..68].copy_from_slice(&512u32.to_le_bytes());
        assert_eq!(Superblock::parse(&b), Err(SuperblockError::UnsupportedBlockSize { data: 512, hash: 4096 }));
        assert_eq!(sample().uuid_string().len(), 36);
    }
}
