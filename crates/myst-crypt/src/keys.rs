//! Master key digest, anti-forensic split/merge, key slots, and the header writer.

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use rand_core::{CryptoRng, RngCore};

use crate::header::KEY_MATERIAL_SECTORS;
use crate::header::{HashSpec, KeySlot, LuksError, LuksHeader, DIGEST_SIZE, KEY_BYTES, NUM_SLOTS, SALT_SIZE, STRIPES};
use crate::xts::{XtsPlain64, SECTOR_SIZE};

/// A 512-bit aes-xts-plain64 master key.
pub type MasterKey = [u8; KEY_BYTES];

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The digest the header stores for `key`: PBKDF2 with the header's hash, salt and iterations,
/// first 20 bytes.
pub fn master_key_digest(hash: HashSpec, key: &[u8], salt: &[u8; SALT_SIZE], iterations: u32) -> [u8; DIGEST_SIZE] {
    let mut d = [0u8; DIGEST_SIZE];
    hash.pbkdf2(key, salt, iterations, &mut d);
    d
}

/// Checks `key` against the header's master key digest.
pub fn check_master_key(header: &LuksHeader, key: &MasterKey) -> Result<(), LuksError> {
    let d = master_key_digest(header.hash, key, &header.mk_digest_salt, header.mk_digest_iterations);
    if ct_eq(&d, &header.mk_digest) {
        Ok(())
    } else {
        Err(LuksError::WrongKey)
    }
}

/// The anti-forensic diffuser: each digest-sized piece `i` of `buf` becomes
/// `hash(be32(i) || piece)`, the last piece truncated to its length.
fn diffuse(hash: HashSpec, buf: &mut [u8]) {
    let ds = hash.digest_size();
    let mut tmp = [0u8; 32];
    for (i, piece) in buf.chunks_mut(ds).enumerate() {
        let n = piece.len();
        hash.counter_hash(i as u32, piece, &mut tmp[..n]);
        piece.copy_from_slice(&tmp[..n]);
    }
}

/// Anti-forensic merge of `stripes` stripes of `KEY_BYTES` bytes each.
fn af_merge(hash: HashSpec, material: &[u8], stripes: usize) -> MasterKey {
    let mut d = [0u8; KEY_BYTES];
    for stripe in material.chunks_exact(KEY_BYTES).take(stripes - 1) {
        for (x, y) in d.iter_mut().zip(stripe) {
            *x ^= y;
        }
        diffuse(hash, &mut d);
    }
    let last = &material[(stripes - 1) * KEY_BYTES..stripes * KEY_BYTES];
    for (x, y) in d.iter_mut().zip(last) {
        *x ^= y;
    }
    d
}

/// Anti-forensic split: `stripes - 1` random stripes, then the one that merges to `key`.
fn af_split<R: RngCore + CryptoRng>(hash: HashSpec, key: &MasterKey, stripes: usize, rng: &mut R) -> Vec<u8> {
    let mut out = vec![0u8; stripes * KEY_BYTES];
    rng.fill_bytes(&mut out[..(stripes - 1) * KEY_BYTES]);
    let mut d = [0u8; KEY_BYTES];
    for stripe in out.chunks_exact(KEY_BYTES).take(stripes - 1) {
        for (x, y) in d.iter_mut().zip(stripe) {
            *x ^= y;
        }
        diffuse(hash, &mut d);
    }
    for (o, (x, k)) in out[(stripes - 1) * KEY_BYTES..].iter_mut().zip(d.iter().zip(key)) {
        *o = x ^ k;
    }
    out
}

fn slot_key(hash: HashSpec, passphrase: &[u8], slot: &KeySlot) -> MasterKey {
    let mut k = [0u8; KEY_BYTES];
    hash.pbkdf2(passphrase, &slot.salt, slot.iterations, &mut k);
    k
}

/// Opens key slot `index` of `header` with `passphrase`; `header_area` holds the image from
/// its first byte through the slot's key material.
pub fn unlock_slot(header: &LuksHeader, header_area: &[u8], index: usize, passphrase: &[u8]) -> Result<MasterKey, LuksError> {
    let slot = active_slot(header, index)?;
    let start = slot.key_material_offset as usize * SECTOR_SIZE;
    let len = KEY_MATERIAL_SECTORS as usize * SECTOR_SIZE;
    let material = header_area.get(start..start + len).ok_or(LuksError::Truncated {
        what: "key material",
        needed: (start + len) as u64,
        actual: header_area.len() as u64,
    })?;
    unlock_slot_material(header, index, material, passphrase)
}

fn active_slot(header: &LuksHeader, index: usize) -> Result<&KeySlot, LuksError> {
    let slot = header.slots.get(index).ok_or(LuksError::BadKeySlot { slot: index, reason: "no such slot" })?;
    if !slot.active {
        return Err(LuksError::BadKeySlot { slot: index, reason: "slot is not active" });
    }
    Ok(slot)
}

/// Opens key slot `index` given just its (encrypted) key material,
/// [`KEY_MATERIAL_SECTORS`] sectors read from `key_material_offset`.
pub fn unlock_slot_material(header: &LuksHeader, index: usize, material: &[u8], passphrase: &[u8]) -> Result<MasterKey, LuksError> {
    let slot = active_slot(header, index)?;
    let len = KEY_MATERIAL_SECTORS as usize * SECTOR_SIZE;
    if material.len() < len {
        return Err(LuksError::Truncated { what: "key material", needed: len as u64, actual: material.len() as u64 });
    }
    let mut material = material[..len].to_vec();
    XtsPlain64::new(&slot_key(header.hash, passphrase, slot)).decrypt_sectors(0, &mut material);
    let key = af_merge(header.hash, &material, slot.stripes as usize);
    check_master_key(header, &key).map_err(|_| LuksError::WrongPassphrase)?;
    Ok(key)
}

/// Finds the master key from a passphrase (for a key file: its whole contents), trying every
/// active slot in order. `header_area` is the start of the image, at least through the key
/// material (the whole header area, `payload_offset * 512` bytes, is always enough). Returns
/// the key and the slot that opened.
pub fn unlock_with_passphrase(header_area: &[u8], passphrase: &[u8]) -> Result<(MasterKey, usize), LuksError> {
    let header = LuksHeader::parse(header_area)?;
    let mut any = false;
    for i in 0..NUM_SLOTS {
        if !header.slots[i].active {
            continue;
        }
        any = true;
        match unlock_slot(&header, header_area, i, passphrase) {
            Ok(k) => return Ok((k, i)),
            Err(LuksError::WrongPassphrase) => {}
            Err(e) => return Err(e),
        }
    }
    Err(if any { LuksError::WrongPassphrase } else { LuksError::NoActiveKeySlot })
}

/// Parameters of [`format`].
#[derive(Debug, Clone)]
pub struct FormatOptions {
    /// The volume uuid (written as 8-4-4-4-12 lowercase text).
    pub uuid: [u8; 16],
    /// PBKDF2 iterations of key slot 0.
    pub slot_iterations: u32,
    /// PBKDF2 iterations of the master key digest.
    pub mk_digest_iterations: u32,
    /// Hash for PBKDF2 and the diffuser.
    pub hash: HashSpec,
    /// Payload offset in sectors; at least [`MIN_PAYLOAD_OFFSET`].
    pub payload_offset: u32,
}

/// Payload offset cryptsetup uses for LUKS1 (2 MiB).
pub const DEFAULT_PAYLOAD_OFFSET: u32 = 4096;
/// Key slot areas are aligned to 4096 bytes, as cryptsetup lays them out.
const SLOT_ALIGN_SECTORS: u32 = 8;
const SLOT_STRIDE: u32 = KEY_MATERIAL_SECTORS.div_ceil(SLOT_ALIGN_SECTORS) * SLOT_ALIGN_SECTORS;
/// Smallest payload offset: the end of slot 7's key material area (4040 sectors).
pub const MIN_PAYLOAD_OFFSET: u32 = SLOT_ALIGN_SECTORS + SLOT_STRIDE * NUM_SLOTS as u32;

impl FormatOptions {
    /// Defaults: sha256, 200000 slot iterations, 1000 digest iterations (cryptsetup's
    /// minimum), payload at 2 MiB.
    pub fn new(uuid: [u8; 16]) -> Self {
        FormatOptions {
            uuid,
            slot_iterations: 200_000,
            mk_digest_iterations: 1000,
            hash: HashSpec::Sha256,
            payload_offset: DEFAULT_PAYLOAD_OFFSET,
        }
    }
}

/// Text form of a uuid.
pub fn uuid_text(u: &[u8; 16]) -> alloc::string::String {
    let h = myst_verity::to_hex(u);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// Writes a LUKS1 header area (`payload_offset * 512` bytes: phdr, then key material) with
/// `master_key` in key slot 0 under `passphrase`, laid out as cryptsetup does (slot `i` at
/// sector `8 + 504 i`). The payload (encrypted with [`XtsPlain64`] and sector numbers counted
/// from the payload start) goes right after it.
pub fn format<R: RngCore + CryptoRng>(
    master_key: &MasterKey,
    passphrase: &[u8],
    opts: &FormatOptions,
    rng: &mut R,
) -> Result<Vec<u8>, LuksError> {
    if opts.payload_offset < MIN_PAYLOAD_OFFSET {
        return Err(LuksError::BadPayloadOffset(opts.payload_offset));
    }
    if opts.slot_iterations == 0 {
        return Err(LuksError::BadKeySlot { slot: 0, reason: "active with zero iterations" });
    }
    if opts.mk_digest_iterations == 0 {
        return Err(LuksError::ZeroDigestIterations);
    }
    let mut mk_digest_salt = [0u8; SALT_SIZE];
    rng.fill_bytes(&mut mk_digest_salt);
    let mk_digest = master_key_digest(opts.hash, master_key, &mk_digest_salt, opts.mk_digest_iterations);
    let mut slots = [KeySlot { active: false, iterations: 0, salt: [0; SALT_SIZE], key_material_offset: 0, stripes: STRIPES }; NUM_SLOTS];
    for (i, s) in slots.iter_mut().enumerate() {
        s.key_material_offset = SLOT_ALIGN_SECTORS + SLOT_STRIDE * i as u32;
    }
    slots[0].active = true;
    slots[0].iterations = opts.slot_iterations;
    rng.fill_bytes(&mut slots[0].salt);

    let header = LuksHeader {
        hash: opts.hash,
        payload_offset: opts.payload_offset,
        mk_digest,
        mk_digest_salt,
        mk_digest_iterations: opts.mk_digest_iterations,
        uuid: uuid_text(&opts.uuid),
        slots,
    };
    let mut area = vec![0u8; opts.payload_offset as usize * SECTOR_SIZE];
    area[..crate::header::PHDR_SIZE].copy_from_slice(&header.to_bytes());

    let mut material = af_split(opts.hash, master_key, STRIPES as usize, rng);
    material.resize(KEY_MATERIAL_SECTORS as usize * SECTOR_SIZE, 0);
    let key = slot_key(opts.hash, passphrase, &slots[0]);
    XtsPlain64::new(&key).encrypt_sectors(0, &mut material);
    let start = slots[0].key_material_offset as usize * SECTOR_SIZE;
    area[start..start + material.len()].copy_from_slice(&material);
    Ok(area)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn af_round_trip_both_hashes() {
        let mut r = rand::rngs::StdRng::seed_from_u64(3);
        let mut key = [0u8; KEY_BYTES];
        r.fill_bytes(&mut key);
        for hash in [HashSpec::Sha1, HashSpec::Sha256] {
            let m = af_split(hash, &key, 4000, &mut r);
            assert_eq!(af_merge(hash, &m, 4000), key);
            let mut m2 = m.clone();
            m2[123] ^= 1;
            assert_ne!(af_merge(hash, &m2, 4000), key);
        }
    }

    #[test]
    fn format_then_unlock() {
        let mut r = rand::rngs::StdRng::seed_from_u64(4);
        let mut key = [0u8; KEY_BYTES];
        r.fill_bytes(&mut key);
        let mut o = FormatOptions::new([1; 16]);
        o.slot_iterations = 1000;
        for hash in [HashSpec::Sha1, HashSpec::Sha256] {
            o.hash = hash;
            let area = format(&key, b"pw", &o, &mut r).unwrap();
            assert_eq!(area.len(), 4096 * 512);
            let h = LuksHeader::parse(&area).unwrap();
            assert_eq!(h.uuid, "01010101-0101-0101-0101-010101010101");
            check_master_key(&h, &key).unwrap();
            assert_eq!(unlock_with_passphrase(&area, b"pw").unwrap(), (key, 0));
            assert_eq!(unlock_with_passphrase(&area, b"pW"), Err(LuksError::WrongPassphrase));
        }
        o.payload_offset = MIN_PAYLOAD_OFFSET - 1;
        assert!(format(&key, b"pw", &o, &mut r).is_err());
        assert_eq!(MIN_PAYLOAD_OFFSET, 4040);
    }
}
