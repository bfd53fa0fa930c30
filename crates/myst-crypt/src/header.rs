//! The LUKS1 partition header ("phdr"), 592 bytes, big endian.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 6 | magic `"LUKS\xba\xbe"` |
//! | 6 | 2 | version (1) |
//! | 8 | 32 | cipher name (`"aes"`), NUL padded |
//! | 40 | 32 | cipher mode (`"xts-plain64"`) |
//! | 72 | 32 | hash spec (`"sha256"` or `"sha1"`) |
//! | 104 | 4 | payload offset, in 512-byte sectors |
//! | 108 | 4 | key bytes (64) |
//! | 112 | 20 | master key digest |
//! | 132 | 32 | master key digest salt |
//! | 164 | 4 | master key digest iterations |
//! | 168 | 40 | uuid, text, NUL padded |
//! | 208 | 8 × 48 | key slots: state (`0x00AC71F3` active, `0x0000DEAD` inactive), iterations, salt\[32\], key material offset (sectors), stripes |

use alloc::string::String;
use core::fmt;

use sha1::Sha1;
use sha2::Sha256;

use myst_verity::IoError;

/// Size of the LUKS1 header.
pub const PHDR_SIZE: usize = 592;
/// LUKS magic.
pub const MAGIC: [u8; 6] = *b"LUKS\xba\xbe";
/// Number of key slots.
pub const NUM_SLOTS: usize = 8;
/// Anti-forensic stripes per key slot.
pub const STRIPES: u32 = 4000;
/// Master key size (aes-xts-plain64 with AES-256).
pub const KEY_BYTES: usize = 64;
/// Size of the master key digest.
pub const DIGEST_SIZE: usize = 20;
/// Size of every salt.
pub const SALT_SIZE: usize = 32;
/// Sectors of key material per slot: 64 × 4000 bytes.
pub const KEY_MATERIAL_SECTORS: u32 = ((KEY_BYTES * STRIPES as usize).div_ceil(512)) as u32;
/// Key slot state: active.
pub const SLOT_ACTIVE: u32 = 0x00AC_71F3;
/// Key slot state: inactive.
pub const SLOT_INACTIVE: u32 = 0x0000_DEAD;

const CIPHER: &str = "aes";
const MODE: &str = "xts-plain64";

/// The PBKDF2 / anti-forensic hash named by the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashSpec {
    /// `sha1` (cryptsetup's old default).
    Sha1,
    /// `sha256` (cryptsetup's default since 1.7).
    Sha256,
}

impl HashSpec {
    /// The name in the header.
    pub fn name(self) -> &'static str {
        match self {
            HashSpec::Sha1 => "sha1",
            HashSpec::Sha256 => "sha256",
        }
    }

    /// Digest size in bytes.
    pub fn digest_size(self) -> usize {
        match self {
            HashSpec::Sha1 => 20,
            HashSpec::Sha256 => 32,
        }
    }

    /// PBKDF2-HMAC with this hash.
    pub fn pbkdf2(self, password: &[u8], salt: &[u8], iterations: u32, out: &mut [u8]) {
        match self {
            HashSpec::Sha1 => pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, iterations, out),
            HashSpec::Sha256 => pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, out),
        }
    }

    /// `hash(be32(counter) || data)` into `out` (at most one digest long), the building block
    /// of the anti-forensic diffuser.
    pub(crate) fn counter_hash(self, counter: u32, data: &[u8], out: &mut [u8]) {
        use sha2::Digest;
        match self {
            HashSpec::Sha1 => {
                let d = Sha1::new().chain_update(counter.to_be_bytes()).chain_update(data).finalize();
                out.copy_from_slice(&d[..out.len()]);
            }
            HashSpec::Sha256 => {
                let d = Sha256::new().chain_update(counter.to_be_bytes()).chain_update(data).finalize();
                out.copy_from_slice(&d[..out.len()]);
            }
        }
    }
}

/// One key slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySlot {
    /// Whether the slot holds a key.
    pub active: bool,
    /// PBKDF2 iterations for the passphrase.
    pub iterations: u32,
    /// PBKDF2 salt.
    pub salt: [u8; SALT_SIZE],
    /// Start of the key material, in 512-byte sectors from the start of the header.
    pub key_material_offset: u32,
    /// Anti-forensic stripes (always 4000).
    pub stripes: u32,
}

/// A parsed LUKS1 header (only `aes`, `xts-plain64`, 64-byte keys parse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LuksHeader {
    /// Hash for PBKDF2 and the anti-forensic diffuser.
    pub hash: HashSpec,
    /// Start of the encrypted payload, in 512-byte sectors.
    pub payload_offset: u32,
    /// PBKDF2 digest of the master key (first 20 bytes).
    pub mk_digest: [u8; DIGEST_SIZE],
    /// Salt of the master key digest.
    pub mk_digest_salt: [u8; SALT_SIZE],
    /// Iterations of the master key digest.
    pub mk_digest_iterations: u32,
    /// The uuid text (at most 39 bytes).
    pub uuid: String,
    /// The key slots.
    pub slots: [KeySlot; NUM_SLOTS],
}

/// Everything that can go wrong with a LUKS image, its header or its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LuksError {
    /// Fewer bytes than the header (or the header area) needs.
    Truncated {
        /// What is being read.
        what: &'static str,
        /// Bytes needed.
        needed: u64,
        /// Bytes available.
        actual: u64,
    },
    /// Not a LUKS header.
    BadMagic,
    /// Only LUKS version 1 is supported.
    UnsupportedVersion(u16),
    /// A text field is not NUL terminated, not ASCII, or has bytes after its terminator.
    BadTextField(&'static str),
    /// Only `aes` is supported.
    UnsupportedCipher(String),
    /// Only `xts-plain64` is supported.
    UnsupportedMode(String),
    /// Only `sha256` and `sha1` are supported.
    UnsupportedHash(String),
    /// Only 64-byte (512-bit) keys are supported.
    UnsupportedKeyBytes(u32),
    /// The master key digest has zero iterations.
    ZeroDigestIterations,
    /// The payload starts inside the key material.
    BadPayloadOffset(u32),
    /// A key slot is malformed.
    BadKeySlot {
        /// Slot number.
        slot: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The master key does not match the header's digest.
    WrongKey,
    /// No active key slot opens with the passphrase.
    WrongPassphrase,
    /// The header has no active key slot.
    NoActiveKeySlot,
    /// The device failed.
    Io(IoError),
}

impl fmt::Display for LuksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LuksError::Truncated { what, needed, actual } => write!(f, "LUKS {what} truncated: needs {needed} bytes, has {actual}"),
            LuksError::BadMagic => write!(f, "not a LUKS image (bad magic)"),
            LuksError::UnsupportedVersion(v) => {
                write!(f, "LUKS version {v} is not supported (only LUKS1)")
            }
            LuksError::BadTextField(name) => write!(f, "LUKS header field {name} is malformed"),
            LuksError::UnsupportedCipher(c) => {
                write!(f, "LUKS cipher \"{c}\" is not supported (only aes)")
            }
            LuksError::UnsupportedMode(m) => {
                write!(f, "LUKS cipher mode \"{m}\" is not supported (only xts-plain64)")
            }
            LuksError::UnsupportedHash(h) => {
                write!(f, "LUKS hash \"{h}\" is not supported (sha256 or sha1)")
            }
            LuksError::UnsupportedKeyBytes(n) => {
                write!(f, "LUKS key size {n} bytes is not supported (only 64)")
            }
            LuksError::ZeroDigestIterations => {
                write!(f, "LUKS master key digest has zero iterations")
            }
            LuksError::BadPayloadOffset(o) => {
                write!(f, "LUKS payload offset {o} overlaps the key material")
            }
            LuksError::BadKeySlot { slot, reason } => write!(f, "LUKS key slot {slot}: {reason}"),
            LuksError::WrongKey => write!(f, "wrong key: the master key does not match the LUKS header digest"),
            LuksError::WrongPassphrase => {
                write!(f, "wrong passphrase: no LUKS key slot opens with it")
            }
            LuksError::NoActiveKeySlot => write!(f, "LUKS header has no active key slot"),
            LuksError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for LuksError {}

impl From<IoError> for LuksError {
    fn from(e: IoError) -> Self {
        LuksError::Io(e)
    }
}

fn be32(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_be_bytes(a)
}

/// A NUL-terminated ASCII text field with zeros after the terminator.
fn text(field: &'static str, b: &[u8]) -> Result<String, LuksError> {
    let bad = LuksError::BadTextField(field);
    let end = b.iter().position(|&c| c == 0).ok_or(bad.clone())?;
    if b[end..].iter().any(|&c| c != 0) || !b[..end].iter().all(|c| c.is_ascii_graphic()) {
        return Err(bad);
    }
    Ok(b[..end].iter().map(|&c| c as char).collect())
}

fn put_text(dst: &mut [u8], s: &str) {
    dst[..s.len()].copy_from_slice(s.as_bytes());
}

impl LuksHeader {
    /// Parses and checks a header. Every field is checked: magic, version, cipher, mode, hash,
    /// key size, digest iterations, uuid, every slot's state, stripes and key material
    /// placement (inside the header area, not overlapping the phdr or each other), and the
    /// payload offset (after all key material).
    pub fn parse(bytes: &[u8]) -> Result<Self, LuksError> {
        if bytes.len() < PHDR_SIZE {
            return Err(LuksError::Truncated { what: "header", needed: PHDR_SIZE as u64, actual: bytes.len() as u64 });
        }
        let b = &bytes[..PHDR_SIZE];
        if b[0..6] != MAGIC {
            return Err(LuksError::BadMagic);
        }
        let version = u16::from_be_bytes([b[6], b[7]]);
        if version != 1 {
            return Err(LuksError::UnsupportedVersion(version));
        }
        let cipher = text("cipher name", &b[8..40])?;
        if cipher != CIPHER {
            return Err(LuksError::UnsupportedCipher(cipher));
        }
        let mode = text("cipher mode", &b[40..72])?;
        if mode != MODE {
            return Err(LuksError::UnsupportedMode(mode));
        }
        let hash_name = text("hash spec", &b[72..104])?;
        let hash = match hash_name.as_str() {
            "sha256" => HashSpec::Sha256,
            "sha1" => HashSpec::Sha1,
            _ => return Err(LuksError::UnsupportedHash(hash_name)),
        };
        let payload_offset = be32(b, 104);
        let key_bytes = be32(b, 108);
        if key_bytes as usize != KEY_BYTES {
            return Err(LuksError::UnsupportedKeyBytes(key_bytes));
        }
        let mut mk_digest = [0u8; DIGEST_SIZE];
        mk_digest.copy_from_slice(&b[112..132]);
        let mut mk_digest_salt = [0u8; SALT_SIZE];
        mk_digest_salt.copy_from_slice(&b[132..164]);
        let mk_digest_iterations = be32(b, 164);
        if mk_digest_iterations == 0 {
            return Err(LuksError::ZeroDigestIterations);
        }
        let uuid = text("uuid", &b[168..208])?;

        let mut slots = [KeySlot { active: false, iterations: 0, salt: [0; SALT_SIZE], key_material_offset: 0, stripes: 0 }; NUM_SLOTS];
        for (i, slot) in slots.iter_mut().enumerate() {
            let s = &b[208 + i * 48..208 + (i + 1) * 48];
            let bad = |reason| LuksError::BadKeySlot { slot: i, reason };
            let active = match be32(s, 0) {
                SLOT_ACTIVE => true,
                SLOT_INACTIVE => false,
                _ => return Err(bad("state is neither active nor inactive")),
            };
            let iterations = be32(s, 4);
            if active && iterations == 0 {
                return Err(bad("active with zero iterations"));
            }
            let mut salt = [0u8; SALT_SIZE];
            salt.copy_from_slice(&s[8..40]);
            let key_material_offset = be32(s, 40);
            let stripes = be32(s, 44);
            if stripes != STRIPES {
                return Err(bad("stripes is not 4000"));
            }
            if (key_material_offset as u64) * 512 < PHDR_SIZE as u64 {
                return Err(bad("key material overlaps the header"));
            }
            *slot = KeySlot { active, iterations, salt, key_material_offset, stripes };
        }
        // Key material areas: all before the payload, and no overlaps. If one slot reaches
        // past the payload, blame the slot; if several do, blame the payload offset.
        let end = |s: &KeySlot| s.key_material_offset as u64 + KEY_MATERIAL_SECTORS as u64;
        let past: u32 = slots.iter().map(|s| (end(s) > payload_offset as u64) as u32).sum();
        if past > 1 {
            return Err(LuksError::BadPayloadOffset(payload_offset));
        }
        if let Some(i) = slots.iter().position(|s| end(s) > payload_offset as u64) {
            return Err(LuksError::BadKeySlot { slot: i, reason: "key material reaches past the payload offset" });
        }
        for (i, a) in slots.iter().enumerate() {
            for (j, b) in slots.iter().enumerate().skip(i + 1) {
                if (a.key_material_offset as u64) < end(b) && (b.key_material_offset as u64) < end(a) {
                    return Err(LuksError::BadKeySlot { slot: j, reason: "key material overlaps another slot's" });
                }
            }
        }
        Ok(LuksHeader { hash, payload_offset, mk_digest, mk_digest_salt, mk_digest_iterations, uuid, slots })
    }

    /// The 592 on-disk bytes.
    pub fn to_bytes(&self) -> [u8; PHDR_SIZE] {
        let mut b = [0u8; PHDR_SIZE];
        b[0..6].copy_from_slice(&MAGIC);
        b[6..8].copy_from_slice(&1u16.to_be_bytes());
        put_text(&mut b[8..40], CIPHER);
        put_text(&mut b[40..72], MODE);
        put_text(&mut b[72..104], self.hash.name());
        b[104..108].copy_from_slice(&self.payload_offset.to_be_bytes());
        b[108..112].copy_from_slice(&(KEY_BYTES as u32).to_be_bytes());
        b[112..132].copy_from_slice(&self.mk_digest);
        b[132..164].copy_from_slice(&self.mk_digest_salt);
        b[164..168].copy_from_slice(&self.mk_digest_iterations.to_be_bytes());
        let uuid = self.uuid.as_bytes();
        let n = uuid.len().min(39);
        b[168..168 + n].copy_from_slice(&uuid[..n]);
        for (i, s) in self.slots.iter().enumerate() {
            let o = 208 + i * 48;
            let state = if s.active { SLOT_ACTIVE } else { SLOT_INACTIVE };
            b[o..o + 4].copy_from_slice(&state.to_be_bytes());
            b[o + 4..o + 8].copy_from_slice(&s.iterations.to_be_bytes());
            b[o + 8..o + 40].copy_from_slice(&s.salt);
            b[o + 40..o + 44].copy_from_slice(&s.key_material_offset.to_be_bytes());
            b[o + 44..o + 48].copy_from_slice(&s.stripes.to_be_bytes());
        }
        b
    }

    /// Bytes from the start of the image to the payload (the header area).
    pub fn header_area_size(&self) -> u64 {
        self.payload_offset as u64 * 512
    }

    /// Bytes from the start of the image needed to read every key slot (at most the header
    /// area).
    pub fn key_material_end(&self) -> u64 {
        self.slots.iter().map(|s| (s.key_material_offset as u64 + KEY_MATERIAL_SECTORS as u64) * 512).max().unwrap_or(PHDR_SIZE as u64)
    }
}
