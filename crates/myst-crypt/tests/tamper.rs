//! Header tampering, wrong keys, truncation, and the full stack (verity over LUKS ciphertext).
mod common;

use common::*;
use myst_crypt::header::PHDR_SIZE;
use myst_crypt::{unlock_with_passphrase, BlockRead, HashSpec, LuksDevice, LuksError, LuksHeader};
use myst_verity::{build_tree, VerityDevice};
use rand::Rng;

/// Flips `mask` in byte `pos` of a copy of `bytes`.
fn flipped(bytes: &[u8], pos: usize, mask: u8) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[pos] ^= mask;
    b
}

/// Masks that keep PBKDF2 iteration counts small (a flip in a high byte of an iteration count
/// makes the count huge: still detected, but only after minutes of PBKDF2).
fn masks_for(pos: usize) -> Vec<u8> {
    let iteration_high = (164..167).contains(&pos)
        || (0..8).any(|s| {
            let it = 208 + s * 48 + 4;
            (it..it + 3).contains(&pos)
        });
    if iteration_high {
        vec![]
    } else {
        (0..8).map(|b| 1u8 << b).collect()
    }
}

#[test]
fn master_key_fields_are_bound() {
    let mut r = rng(31);
    let img = make_image(&mut r, HashSpec::Sha256, b"pw", 8);
    // magic, version, cipher, mode, hash spec, key bytes, digest, digest salt, digest
    // iterations: any flip makes open with the right master key fail.
    let fields = (0..104).chain(108..168);
    for pos in fields {
        for mask in masks_for(pos) {
            let bad = flipped(&img.bytes, pos, mask);
            let e = LuksDevice::open(&bad, &img.key).err();
            assert!(e.is_some(), "flip {mask:#04x} at header byte {pos} not noticed");
        }
    }
}

#[test]
fn key_slot_fields_and_key_material_are_bound() {
    let mut r = rng(32);
    let img = make_image(&mut r, HashSpec::Sha256, b"pw", 8);
    let h = LuksHeader::parse(&img.bytes).unwrap();
    // Slot 0 (active): state, iterations (low byte), salt, key material offset, stripes.
    for pos in 208..256 {
        for mask in masks_for(pos) {
            let bad = flipped(&img.bytes, pos, mask);
            assert!(unlock_with_passphrase(&bad, b"pw").is_err(), "flip {mask:#04x} at slot-0 byte {pos} not noticed");
        }
    }
    // Key material: random positions inside slot 0's 500 sectors.
    let start = h.slots[0].key_material_offset as usize * 512;
    for _ in 0..40 {
        let pos = start + r.gen_range(0..256_000);
        let bad = flipped(&img.bytes, pos, 1 << r.gen_range(0..8));
        assert_eq!(unlock_with_passphrase(&bad, b"pw"), Err(LuksError::WrongPassphrase), "key material flip at {pos}");
    }
}

#[test]
fn clear_errors() {
    let mut r = rng(33);
    let img = make_image(&mut r, HashSpec::Sha256, b"pw", 8);
    let mut k = img.key;
    k[63] ^= 0x80;
    let e = LuksDevice::open(&img.bytes, &k).err().unwrap();
    assert_eq!(e, LuksError::WrongKey);
    assert!(e.to_string().contains("wrong key"), "{e}");
    let e = unlock_with_passphrase(&img.bytes, b"PW").unwrap_err();
    assert!(e.to_string().contains("wrong passphrase"), "{e}");

    // Truncated: inside the phdr, inside the key material, before the payload.
    let e = LuksDevice::open(&img.bytes[..100], &img.key).err().unwrap();
    assert_eq!(e, LuksError::Truncated { what: "header", needed: PHDR_SIZE as u64, actual: 100 });
    assert!(e.to_string().contains("truncated"));
    let e = unlock_with_passphrase(&img.bytes[..10_000], b"pw").unwrap_err();
    assert!(matches!(e, LuksError::Truncated { what: "key material", .. }), "{e}");
    let e = LuksDevice::open(&img.bytes[..4096 * 512 - 1], &img.key).err().unwrap();
    assert!(matches!(e, LuksError::Truncated { what: "image", .. }), "{e}");

    // Field by field.
    let set = |at: usize, v: &[u8]| {
        let mut b = img.bytes[..PHDR_SIZE].to_vec();
        b[at..at + v.len()].copy_from_slice(v);
        LuksHeader::parse(&b).unwrap_err()
    };
    assert_eq!(set(0, b"LUKX"), LuksError::BadMagic);
    assert_eq!(set(6, &[0, 2]), LuksError::UnsupportedVersion(2));
    assert_eq!(set(8, b"twofish\0"), LuksError::UnsupportedCipher("twofish".into()));
    assert_eq!(set(40, b"cbc-essiv:sha256\0"), LuksError::UnsupportedMode("cbc-essiv:sha256".into()));
    assert_eq!(set(72, b"sha512"), LuksError::UnsupportedHash("sha512".into()));
    assert_eq!(set(72, &[b'x'; 32]), LuksError::BadTextField("hash spec"));
    assert_eq!(set(108, &32u32.to_be_bytes()), LuksError::UnsupportedKeyBytes(32));
    assert_eq!(set(164, &0u32.to_be_bytes()), LuksError::ZeroDigestIterations);
    assert_eq!(set(104, &100u32.to_be_bytes()), LuksError::BadPayloadOffset(100));
    assert_eq!(set(200, b"\x01"), LuksError::BadTextField("uuid"));
    assert!(matches!(set(208 + 48, &[0, 0, 0, 1]), LuksError::BadKeySlot { slot: 1, .. }));
    assert!(matches!(set(208 + 44, &3999u32.to_be_bytes()), LuksError::BadKeySlot { slot: 0, .. }));
    assert!(matches!(set(208 + 48 + 40, &8u32.to_be_bytes()), LuksError::BadKeySlot { slot: 1, .. }));
    assert!(matches!(set(208 + 40, &1u32.to_be_bytes()), LuksError::BadKeySlot { slot: 0, .. }));
    assert!(matches!(set(208 + 4, &0u32.to_be_bytes()), LuksError::BadKeySlot { slot: 0, .. }));
    // No active slot.
    let mut b = img.bytes.clone();
    b[208..212].copy_from_slice(&0xDEADu32.to_be_bytes());
    assert_eq!(unlock_with_passphrase(&b, b"pw"), Err(LuksError::NoActiveKeySlot));
}

/// The image layout myst uses with `--encrypt`: `[LUKS header | ciphertext | verity tree]`,
/// read as LUKS over verity. A flipped byte anywhere in the LUKS header area or the
/// ciphertext is an error on open or on the affected read, never silently wrong data.
#[test]
fn verity_under_luks_catches_every_flip() {
    let mut r = rng(34);
    let img = make_image(&mut r, HashSpec::Sha256, b"pw", 64);
    let mut data = img.bytes.clone();
    data.resize(data.len().div_ceil(4096) * 4096, 0);
    let blocks = data.len() as u64 / 4096;
    let mut tree = Vec::new();
    let info = build_tree(&data, blocks, &[9u8; 32], [0; 16], &mut tree, &mut |_, _| {}).unwrap();
    let hash_offset = data.len() as u64;
    let mut image = data.clone();
    image.extend_from_slice(&tree);

    let open = |bytes: &[u8]| -> Result<Vec<u8>, String> {
        let v = VerityDevice::open(bytes, hash_offset, info.root_hash).map_err(|e| e.to_string())?;
        let l = LuksDevice::open(v, &img.key).map_err(|e| e.to_string())?;
        let mut all = vec![0u8; img.plain.len()];
        l.read_at(0, &mut all).map_err(|e| e.to_string())?;
        Ok(all)
    };
    let check_all = |bytes: &[u8]| {
        VerityDevice::open(bytes, hash_offset, info.root_hash)
            .map_err(|e| e.to_string())
            .and_then(|v| v.verify_all(&mut |_, _| {}).map_err(|e| e.to_string()))
    };
    assert!(open(&image).unwrap() == img.plain);
    let header_area = 4096 * 512;
    let mut positions: Vec<usize> = (0..PHDR_SIZE).step_by(7).collect();
    positions.extend((0..100).map(|_| r.gen_range(0..image.len())));
    for pos in positions {
        let bad = flipped(&image, pos, 1 << r.gen_range(0..8));
        let sb = hash_offset as usize;
        // Not covered by dm-verity at all: the superblock's uuid, and the superblock block
        // past its 512 bytes.
        if (sb + 16..sb + 32).contains(&pos) || (sb + 512..sb + 4096).contains(&pos) {
            continue;
        }
        match open(&bad) {
            Err(_) => {}
            // Opening with the master key reads only the phdr and the payload; a flip in the
            // rest of the header area (key material) surfaces when that block is read, as
            // `verify_all` (what `myst verify` runs) does.
            Ok(_) if (PHDR_SIZE..header_area).contains(&pos) => {
                assert!(check_all(&bad).is_err(), "flip at {pos} missed by verify_all")
            }
            Ok(_) => panic!("flip at {pos} not noticed"),
        }
    }
}
