//! dm-verity hash trees and the FSSIG signed trailer.
//!
//! The on-disk layout is the one `veritysetup format --hash-offset=<data size> IMAGE IMAGE`
//! writes (hash type 1, sha256, 4096-byte data and hash blocks, salt prepended to every hashed
//! block, superblock present):
//!
//! ```text
//! 0                 hash_offset          +4096                                  end
//! | data blocks ... | superblock (512 B,  | hash level N-1 (one block) | ... |   | FSSIG (4096 B) |
//! |                 |  rest of block = 0) | ...                        | level 0 |               |
//! ```
//!
//! * [`tree::build_tree`] writes the superblock and the tree (streaming over the data).
//! * [`VerityDevice`] opens a data+hash device with a trusted root hash and verifies every
//!   block it returns; it never returns unverified data.
//! * [`fssig`] parses, writes, signs and verifies the FSSIG trailer.
//!
//! Everything here works over the tiny byte-addressed [`BlockRead`] trait. `myst-crypt`
//! depends on this crate for that trait (the dependency points crypt → verity).
//!
//! Not covered by any hash: the superblock's UUID (informational, as in dm-verity) and the bytes
//! of the superblock's 4096-byte block after its first 512 bytes.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod blockread;
mod device;
pub mod fssig;
pub mod superblock;
pub mod tree;

#[cfg(all(feature = "std", unix))]
pub use blockread::FileSink;
pub use blockread::{BlockRead, HashSink, IoError};
pub use device::{VerityDevice, VerityError, DEFAULT_CACHE_BLOCKS};
pub use superblock::{Superblock, SuperblockError};
pub use tree::{build_tree, Geometry, TreeInfo};

/// Data and hash block size used throughout (the only size this crate writes or accepts).
pub const BLOCK_SIZE: usize = 4096;
/// Size of a sha256 digest.
pub const DIGEST_SIZE: usize = 32;
/// Digests per hash block.
pub const HASHES_PER_BLOCK: u64 = (BLOCK_SIZE / DIGEST_SIZE) as u64;

/// Computes the hash-type-1 digest of one block: `sha256(salt || block)`.
pub fn salted_hash(salt: &[u8], block: &[u8]) -> [u8; DIGEST_SIZE] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(salt);
    h.update(block);
    h.finalize().into()
}

/// Formats bytes as lowercase hex (for messages and tools).
pub fn to_hex(bytes: &[u8]) -> alloc::string::String {
    use core::fmt::Write;
    let mut s = alloc::string::String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Parses a hex string (upper or lower case, even length) into bytes.
pub fn from_hex(s: &str) -> Option<alloc::vec::Vec<u8>> {
    let s = s.trim();
    if s.len() % 2 != 0 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    s.as_bytes().chunks(2).map(|p| Some(digit(p[0])? << 4 | digit(p[1])?)).collect()
}
