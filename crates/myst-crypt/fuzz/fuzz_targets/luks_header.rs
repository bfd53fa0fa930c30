//! LUKS1 header parser, and opening a (tiny, hostile) LUKS image.
#![no_main]

use libfuzzer_sys::fuzz_target;
use myst_crypt::header::PHDR_SIZE;
use myst_crypt::{unlock_with_passphrase, BlockRead, LuksDevice, LuksHeader};

/// Keeps PBKDF2 cheap: hostile iteration counts are valid LUKS but slow by design.
const MAX_ITERATIONS: u32 = 64;

fuzz_target!(|data: &[u8]| {
    let Ok(h) = LuksHeader::parse(data) else {
        return;
    };
    // Strict parse: writing it back gives the same bytes.
    assert_eq!(&h.to_bytes()[..], &data[..PHDR_SIZE]);
    let _ = h.key_material_end();
    if h.mk_digest_iterations > MAX_ITERATIONS
        || h.slots.iter().any(|s| s.iterations > MAX_ITERATIONS)
    {
        return;
    }
    let _ = unlock_with_passphrase(data, b"pw");
    if let Ok(dev) = LuksDevice::open(data, &[0u8; 64]) {
        let mut b = [0u8; 700];
        let n = (dev.len() as usize).min(b.len());
        let _ = dev.read_at(0, &mut b[..n]);
    }
});
