//! The FSSIG trailer: the last 4096 bytes of a signed image.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `0xf55198a153624d38`, little endian (like every integer here) |
//! | 8 | 8 | version (1) |
//! | 16 | 8 | verity hash offset (where the superblock is) |
//! | 24 | 32 | root hash |
//! | 56 | 32 | signer: sha256 of the RSA modulus (big endian, no leading zeros) |
//! | 88 | 1024 | signature, zero padded |
//! | 1112 | 8 | signature size |
//! | 1120 | 2976 | zero padding |
//!
//! The signature is RSA PKCS#1 v1.5 with a SHA-256 DigestInfo whose digest is the root hash
//! itself (the root hash is signed as a prehashed value).
//!
//! Parsing is strict: besides magic, version and sizes, the unused part of the signature field
//! and the padding must be zero, so that flipping any byte of the trailer is noticed.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::der::Decode;
use rsa::pkcs8::DecodePrivateKey;
use rsa::rand_core::CryptoRngCore;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};

use crate::{BlockRead, IoError, DIGEST_SIZE};

/// Trailer magic.
pub const MAGIC: u64 = 0xf551_98a1_5362_4d38;
/// Trailer version.
pub const VERSION: u64 = 1;
/// Size of the trailer.
pub const TRAILER_SIZE: usize = 4096;
/// Largest signature the trailer holds (an 8192-bit key).
pub const MAX_SIGNATURE_SIZE: usize = 1024;
/// Largest RSA modulus accepted, in bits.
pub const MAX_KEY_BITS: usize = MAX_SIGNATURE_SIZE * 8;

const OFF_SIGNATURE: usize = 88;
const OFF_SIGNATURE_SIZE: usize = OFF_SIGNATURE + MAX_SIGNATURE_SIZE;
const OFF_PADDING: usize = OFF_SIGNATURE_SIZE + 8;

/// A parsed FSSIG trailer.
#[derive(Clone, PartialEq, Eq)]
pub struct FsSig {
    /// Offset of the verity superblock in the image.
    pub hash_offset: u64,
    /// Root hash of the verity tree.
    pub root_hash: [u8; DIGEST_SIZE],
    /// sha256 of the signing key's modulus.
    pub signer: [u8; DIGEST_SIZE],
    signature: [u8; MAX_SIGNATURE_SIZE],
    signature_size: usize,
}

impl fmt::Debug for FsSig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FsSig")
            .field("hash_offset", &self.hash_offset)
            .field("root_hash", &crate::to_hex(&self.root_hash))
            .field("signer", &crate::to_hex(&self.signer))
            .field("signature_size", &self.signature_size)
            .finish()
    }
}

/// What went wrong with a trailer, a key or a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsSigError {
    /// Fewer than 4096 bytes were given, or the image is smaller than a trailer.
    TooShort(u64),
    /// The magic number is wrong (there is no trailer).
    BadMagic(u64),
    /// Only version 1 exists.
    BadVersion(u64),
    /// The signature size is larger than 1024.
    BadSignatureSize(u64),
    /// The hash offset is not inside the image, before the trailer.
    BadHashOffset {
        /// Hash offset in the trailer.
        hash_offset: u64,
        /// Size of the image.
        image_size: u64,
    },
    /// A padding byte is not zero.
    NonZeroPadding {
        /// Offset of the first non-zero byte in the trailer.
        offset: usize,
    },
    /// The device failed.
    Io(IoError),
    /// The trailer has no signature.
    Unsigned,
    /// A key (public key number `index` for verify; the private key for sign) could not be
    /// used.
    BadKey {
        /// Position of the key in the list given (0 for the private key).
        index: usize,
        /// Why.
        reason: String,
    },
    /// None of the trusted keys is the trailer's signer.
    UnknownSigner([u8; DIGEST_SIZE]),
    /// The signer is trusted but the signature does not verify.
    BadSignature {
        /// Position of the signer's key in the list given.
        index: usize,
    },
}

impl fmt::Display for FsSigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsSigError::TooShort(n) => write!(f, "FSSIG trailer truncated: {n} of {TRAILER_SIZE} bytes"),
            FsSigError::BadMagic(m) => write!(f, "no FSSIG trailer (magic {m:#018x})"),
            FsSigError::BadVersion(v) => write!(f, "FSSIG version {v} is not supported (only 1)"),
            FsSigError::BadSignatureSize(n) => {
                write!(f, "FSSIG signature size {n} exceeds {MAX_SIGNATURE_SIZE}")
            }
            FsSigError::BadHashOffset { hash_offset, image_size } => {
                write!(f, "FSSIG hash offset {hash_offset} is not before the trailer of a {image_size}-byte image")
            }
            FsSigError::NonZeroPadding { offset } => {
                write!(f, "FSSIG padding byte {offset} is not zero")
            }
            FsSigError::Io(e) => write!(f, "{e}"),
            FsSigError::Unsigned => write!(f, "FSSIG trailer carries no signature"),
            FsSigError::BadKey { index, reason } => write!(f, "RSA key #{index}: {reason}"),
            FsSigError::UnknownSigner(s) => write!(f, "image signed by an untrusted key (signer {})", crate::to_hex(s)),
            FsSigError::BadSignature { index } => write!(f, "FSSIG signature does not verify with trusted key #{index}"),
        }
    }
}

impl core::error::Error for FsSigError {}

impl From<IoError> for FsSigError {
    fn from(e: IoError) -> Self {
        FsSigError::Io(e)
    }
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(a)
}

impl FsSig {
    /// A trailer; fails if the signature is longer than 1024 bytes.
    pub fn new(hash_offset: u64, root_hash: [u8; DIGEST_SIZE], signer: [u8; DIGEST_SIZE], signature: &[u8]) -> Result<Self, FsSigError> {
        if signature.len() > MAX_SIGNATURE_SIZE {
            return Err(FsSigError::BadSignatureSize(signature.len() as u64));
        }
        let mut s = [0u8; MAX_SIGNATURE_SIZE];
        s[..signature.len()].copy_from_slice(signature);
        Ok(FsSig { hash_offset, root_hash, signer, signature: s, signature_size: signature.len() })
    }

    /// The signature bytes.
    pub fn signature(&self) -> &[u8] {
        &self.signature[..self.signature_size]
    }

    /// Parses a 4096-byte trailer taken from the end of an image of `image_size` bytes.
    pub fn parse(trailer: &[u8], image_size: u64) -> Result<Self, FsSigError> {
        if trailer.len() < TRAILER_SIZE {
            return Err(FsSigError::TooShort(trailer.len() as u64));
        }
        let b = &trailer[..TRAILER_SIZE];
        let magic = u64_at(b, 0);
        if magic != MAGIC {
            return Err(FsSigError::BadMagic(magic));
        }
        let version = u64_at(b, 8);
        if version != VERSION {
            return Err(FsSigError::BadVersion(version));
        }
        let hash_offset = u64_at(b, 16);
        if image_size < TRAILER_SIZE as u64 || hash_offset >= image_size - TRAILER_SIZE as u64 {
            return Err(FsSigError::BadHashOffset { hash_offset, image_size });
        }
        let size = u64_at(b, OFF_SIGNATURE_SIZE);
        if size > MAX_SIGNATURE_SIZE as u64 {
            return Err(FsSigError::BadSignatureSize(size));
        }
        let size = size as usize;
        let unused = OFF_SIGNATURE + size..OFF_SIGNATURE_SIZE;
        if let Some(p) = b[unused.clone()].iter().position(|&x| x != 0) {
            return Err(FsSigError::NonZeroPadding { offset: unused.start + p });
        }
        if let Some(p) = b[OFF_PADDING..].iter().position(|&x| x != 0) {
            return Err(FsSigError::NonZeroPadding { offset: OFF_PADDING + p });
        }
        let mut root_hash = [0u8; DIGEST_SIZE];
        root_hash.copy_from_slice(&b[24..56]);
        let mut signer = [0u8; DIGEST_SIZE];
        signer.copy_from_slice(&b[56..88]);
        let mut signature = [0u8; MAX_SIGNATURE_SIZE];
        signature.copy_from_slice(&b[OFF_SIGNATURE..OFF_SIGNATURE_SIZE]);
        Ok(FsSig { hash_offset, root_hash, signer, signature, signature_size: size })
    }

    /// Reads and parses the trailer at the end of `image`.
    pub fn read_from(image: &dyn BlockRead) -> Result<Self, FsSigError> {
        let size = image.len();
        if size < TRAILER_SIZE as u64 {
            return Err(FsSigError::TooShort(size));
        }
        let mut b = vec![0u8; TRAILER_SIZE];
        image.read_at(size - TRAILER_SIZE as u64, &mut b)?;
        Self::parse(&b, size)
    }

    /// The 4096 on-disk bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; TRAILER_SIZE];
        b[0..8].copy_from_slice(&MAGIC.to_le_bytes());
        b[8..16].copy_from_slice(&VERSION.to_le_bytes());
        b[16..24].copy_from_slice(&self.hash_offset.to_le_bytes());
        b[24..56].copy_from_slice(&self.root_hash);
        b[56..88].copy_from_slice(&self.signer);
        b[OFF_SIGNATURE..OFF_SIGNATURE_SIZE].copy_from_slice(&self.signature);
        b[OFF_SIGNATURE_SIZE..OFF_PADDING].copy_from_slice(&(self.signature_size as u64).to_le_bytes());
        b
    }
}

fn bad_key(index: usize, reason: impl fmt::Display) -> FsSigError {
    FsSigError::BadKey { index, reason: alloc::format!("{reason}") }
}

/// Parses an RSA public key from PEM: SubjectPublicKeyInfo (`PUBLIC KEY`) or PKCS#1
/// (`RSA PUBLIC KEY`). Any exponent from 3 up and moduli up to 8192 bits are accepted.
pub fn parse_public_key_pem(pem: &str) -> Result<RsaPublicKey, FsSigError> {
    parse_public_key(pem, 0)
}

/// The first `-----BEGIN X-----` … `-----END X-----` block of `text` (PEM files often carry
/// other text around the block), or `text` itself.
fn pem_block(text: &str) -> &str {
    let Some(start) = text.find("-----BEGIN ") else {
        return text;
    };
    let rest = &text[start + 11..];
    let Some(label_end) = rest.find("-----") else {
        return text;
    };
    let end_marker = alloc::format!("-----END {}-----", &rest[..label_end]);
    match text[start..].find(&end_marker) {
        Some(e) => &text[start..start + e + end_marker.len()],
        None => text,
    }
}

fn parse_public_key(pem: &str, index: usize) -> Result<RsaPublicKey, FsSigError> {
    use rsa::pkcs8::der::Document;
    use rsa::pkcs8::spki::SubjectPublicKeyInfoRef;
    let (label, doc) = Document::from_pem(pem_block(pem)).map_err(|e| bad_key(index, e))?;
    let pkcs1_der: &[u8] = match label {
        "PUBLIC KEY" => {
            let spki = SubjectPublicKeyInfoRef::from_der(doc.as_bytes()).map_err(|e| bad_key(index, e))?;
            if spki.algorithm.oid != rsa::pkcs1::ALGORITHM_OID {
                return Err(bad_key(index, "not an RSA public key"));
            }
            spki.subject_public_key.as_bytes().ok_or_else(|| bad_key(index, "malformed key bit string"))?
        }
        "RSA PUBLIC KEY" => doc.as_bytes(),
        other => return Err(bad_key(index, alloc::format!("PEM label \"{other}\" is not a public key"))),
    };
    // `pkcs1_der` borrows from `doc`, which lives to the end of this function.
    let k = rsa::pkcs1::RsaPublicKey::from_der(pkcs1_der).map_err(|e| bad_key(index, e))?;
    let n = BigUint::from_bytes_be(k.modulus.as_bytes());
    let e = BigUint::from_bytes_be(k.public_exponent.as_bytes());
    RsaPublicKey::new_with_max_size(n, e, MAX_KEY_BITS).map_err(|e| bad_key(index, e))
}

/// Parses an RSA private key from PEM: PKCS#1 (`RSA PRIVATE KEY`, `openssl genrsa` before 3.0)
/// or PKCS#8 (`PRIVATE KEY`, `openssl genrsa` 3.x).
pub fn parse_private_key_pem(pem: &str) -> Result<RsaPrivateKey, FsSigError> {
    let pem = pem_block(pem);
    let key = if pem.starts_with("-----BEGIN RSA PRIVATE KEY-----") {
        RsaPrivateKey::from_pkcs1_pem(pem).map_err(|e| bad_key(0, e))?
    } else {
        RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| bad_key(0, e))?
    };
    if key.size() > MAX_SIGNATURE_SIZE {
        return Err(bad_key(0, "key larger than 8192 bits"));
    }
    Ok(key)
}

/// The signer id of a key: sha256 of its modulus, big endian without leading zeros.
pub fn signer_of(key: &RsaPublicKey) -> [u8; DIGEST_SIZE] {
    Sha256::digest(key.n().to_bytes_be()).into()
}

/// Signs `root_hash` with the PEM private key; returns (signer, signature). Uses `rng` for
/// RSA blinding.
pub fn sign_with_rng<R: CryptoRngCore>(
    root_hash: &[u8; DIGEST_SIZE],
    private_key_pem: &str,
    rng: &mut R,
) -> Result<([u8; DIGEST_SIZE], Vec<u8>), FsSigError> {
    let key = parse_private_key_pem(private_key_pem)?;
    let signature = key.sign_with_rng(rng, Pkcs1v15Sign::new::<Sha256>(), root_hash).map_err(|e| bad_key(0, e))?;
    Ok((signer_of(&key.to_public_key()), signature))
}

/// [`sign_with_rng`] with the operating system's random source (`std` feature).
#[cfg(feature = "std")]
pub fn sign(root_hash: &[u8; DIGEST_SIZE], private_key_pem: &str) -> Result<([u8; DIGEST_SIZE], Vec<u8>), FsSigError> {
    sign_with_rng(root_hash, private_key_pem, &mut rand::rngs::OsRng)
}

/// Verifies the trailer's signature against a list of trusted PEM public keys; returns the
/// position of the key that signed it. Every key must parse.
pub fn verify(trailer: &FsSig, public_keys_pem: &[&str]) -> Result<usize, FsSigError> {
    if trailer.signature_size == 0 {
        return Err(FsSigError::Unsigned);
    }
    let keys = public_keys_pem.iter().enumerate().map(|(i, pem)| parse_public_key(pem, i)).collect::<Result<Vec<_>, _>>()?;
    verify_with_keys(trailer, &keys)
}

/// [`verify`] with already parsed keys.
pub fn verify_with_keys(trailer: &FsSig, keys: &[RsaPublicKey]) -> Result<usize, FsSigError> {
    if trailer.signature_size == 0 {
        return Err(FsSigError::Unsigned);
    }
    let (index, key) =
        keys.iter().enumerate().find(|(_, k)| signer_of(k) == trailer.signer).ok_or(FsSigError::UnknownSigner(trailer.signer))?;
    if trailer.signature_size != key.size() {
        return Err(FsSigError::BadSignature { index });
    }
    key.verify(Pkcs1v15Sign::new::<Sha256>(), &trailer.root_hash, trailer.signature()).map_err(|_| FsSigError::BadSignature { index })?;
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> FsSig {
        FsSig::new(8192, [1; 32], [2; 32], &[3u8; 384]).unwrap()
    }

    #[test]
    fn round_trip() {
        let t = sample();
        let b = t.to_bytes();
        assert_eq!(b.len(), TRAILER_SIZE);
        assert_eq!(FsSig::parse(&b, 8192 + 8192).unwrap(), t);
        assert_eq!(&b[0..8], &MAGIC.to_le_bytes());
        assert_eq!(u64_at(&b, 1112), 384);
    }

    #[test]
    fn strict_checks() {
        let b = sample().to_bytes();
        let size = 16384;
        let mut x = b.clone();
        x[0] ^= 1;
        assert!(matches!(FsSig::parse(&x, size), Err(FsSigError::BadMagic(_))));
        let mut x = b.clone();
        x[8] = 2;
        assert_eq!(FsSig::parse(&x, size), Err(FsSigError::BadVersion(2)));
        let mut x = b.clone();
        x[1112..1120].copy_from_slice(&1025u64.to_le_bytes());
        assert_eq!(FsSig::parse(&x, size), Err(FsSigError::BadSignatureSize(1025)));
        assert!(matches!(FsSig::parse(&b, 12288), Err(FsSigError::BadHashOffset { .. })));
        assert!(matches!(FsSig::parse(&b, 100), Err(FsSigError::BadHashOffset { .. })));
        let mut x = b.clone();
        x[4000] = 1;
        assert_eq!(FsSig::parse(&x, size), Err(FsSigError::NonZeroPadding { offset: 4000 }));
        let mut x = b.clone();
        x[88 + 384] = 1;
        assert_eq!(FsSig::parse(&x, size), Err(FsSigError::NonZeroPadding { offset: 88 + 384 }));
        assert_eq!(FsSig::parse(&b[..10], size), Err(FsSigError::TooShort(10)));
        assert!(FsSig::new(0, [0; 32], [0; 32], &[0; 1025]).is_err());
    }
}
