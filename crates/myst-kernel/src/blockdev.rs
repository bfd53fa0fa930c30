//! The block-device stack under ext2: host image file → (dm-verity) → (LUKS) → ext2, and
//! the trust decision that picks the stack.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use myst_verity::{BlockRead, IoError};

/// A host image file read through TCALLs. Every answer is checked: a short or failed read
/// is an I/O error.
pub struct HostImage {
    h: u32,
    len: u64,
}

impl HostImage {
    /// Opens a host image file.
    pub fn open(path: &str) -> Result<HostImage, String> {
        let (h, len) = crate::tcall().blk_open(path).map_err(|e| format!("cannot open image {path}: {}", e.description()))?;
        Ok(HostImage { h, len })
    }
}

impl BlockRead for HostImage {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        let oor = IoError::OutOfRange { offset, len: buf.len() as u64, size: self.len };
        let end = offset.checked_add(buf.len() as u64).ok_or(oor)?;
        if end > self.len {
            return Err(oor);
        }
        let mut done = 0;
        while done < buf.len() {
            let n = crate::tcall().blk_read(self.h, offset + done as u64, &mut buf[done..]);
            match myst_tcall::checked::len_within(n, buf.len() - done) {
                Ok(0) | Err(_) => return Err(IoError::Device { offset: offset + done as u64, reason: "host read failed" }),
                Ok(n) => done += n,
            }
        }
        Ok(())
    }
}

/// The first `len` bytes of another device.
pub struct Window<R> {
    inner: R,
    len: u64,
}

impl<R: BlockRead> BlockRead for Window<R> {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        let oor = IoError::OutOfRange { offset, len: buf.len() as u64, size: self.len };
        let end = offset.checked_add(buf.len() as u64).ok_or(oor)?;
        if end > self.len {
            return Err(oor);
        }
        self.inner.read_at(offset, buf)
    }
}

/// A type-erased byte device.
pub type Dev = Arc<dyn BlockRead + Send + Sync>;

/// A byte device seen as ext2's 4096-byte block device.
pub struct Ext2Dev(pub Dev);

impl myst_ext2::BlockDevice for Ext2Dev {
    fn block_size(&self) -> usize {
        4096
    }
    fn num_blocks(&self) -> u64 {
        self.0.len() / 4096
    }
    fn read_block(&self, index: u64, buf: &mut [u8]) -> Result<(), myst_ext2::IoError> {
        let off = index.checked_mul(4096).ok_or(myst_ext2::IoError::new("block number overflow"))?;
        self.0.read_at(off, buf).map_err(|e| match e {
            IoError::CorruptData { .. } | IoError::CorruptHash { .. } => {
                myst_ext2::IoError::at(index, "block failed integrity verification")
            }
            _ => myst_ext2::IoError::at(index, "read error"),
        })
    }
}

/// What to trust when opening an image.
#[derive(Clone, Debug, Default)]
pub struct Trust {
    /// Trusted signer public keys (PEM).
    pub pubkeys: Vec<String>,
    /// Trusted root hashes.
    pub roothashes: Vec<[u8; 32]>,
    /// Debug run: an untrusted image may be used, unverified.
    pub debug: bool,
}

/// How an image was opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verified {
    /// Signature by a trusted key.
    Signed,
    /// Root hash on the trusted list.
    RootHash,
    /// Not verified (debug run only).
    Unverified,
}

fn is_luks(d: &dyn BlockRead) -> bool {
    let mut m = [0u8; 6];
    d.len() >= 6 && d.read_at(0, &mut m).is_ok() && m == myst_crypt::header::MAGIC
}

/// Opens an ext2 image: FSSIG trailer → trust decision → verity → LUKS (with `key`).
pub fn open_ext2(path: &str, trust: &Trust, key: Option<[u8; 64]>) -> Result<(Ext2Dev, Verified), String> {
    let img = HostImage::open(path)?;
    let trailer = myst_verity::fssig::FsSig::read_from(&img);
    let (dev, how): (Dev, Verified) = match trailer {
        Ok(t) => {
            let keys: Vec<&str> = trust.pubkeys.iter().map(|s| s.as_str()).collect();
            let how = if !keys.is_empty() && myst_verity::fssig::verify(&t, &keys).is_ok() {
                Some(Verified::Signed)
            } else if trust.roothashes.contains(&t.root_hash) {
                Some(Verified::RootHash)
            } else {
                None
            };
            match how {
                Some(h) => {
                    let v = myst_verity::VerityDevice::open(img, t.hash_offset, t.root_hash)
                        .map_err(|e| format!("image {path}: dm-verity check failed: {e}"))?;
                    (Arc::new(v), h)
                }
                None if trust.debug => (Arc::new(Window { inner: img, len: t.hash_offset }), Verified::Unverified),
                None => {
                    return Err(format!(
                        "image {path} is not trusted: its signature matches no --pubkey and its root hash is not among the --roothash values (a debug run may use it unverified)"
                    ))
                }
            }
        }
        Err(_) if trust.debug => {
            let len = img.len();
            (Arc::new(Window { inner: img, len }), Verified::Unverified)
        }
        Err(e) => return Err(format!("image {path} has no valid FSSIG trailer ({e}); only a debug run may use it unverified")),
    };
    let dev: Dev = if is_luks(dev.as_ref()) {
        let Some(k) = key else {
            return Err(format!("image {path} is encrypted (LUKS); give its key"));
        };
        let l = myst_crypt::LuksDevice::open(dev, &k).map_err(|e| format!("image {path}: {e}"))?;
        Arc::new(l)
    } else {
        dev
    };
    Ok((Ext2Dev(dev), how))
}
