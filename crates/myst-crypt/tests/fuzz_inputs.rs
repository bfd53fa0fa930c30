//! Replays the fuzz seeds and every saved fuzz finding (`fuzz/regressions/luks_header/`)
//! through the same checks as the fuzz target, on stable, in every test run.
use std::path::Path;

use myst_crypt::header::PHDR_SIZE;
use myst_crypt::{unlock_with_passphrase, BlockRead, LuksDevice, LuksHeader};

const MAX_ITERATIONS: u32 = 64;

fn luks_header(data: &[u8]) -> Option<LuksHeader> {
    let h = LuksHeader::parse(data).ok()?;
    assert_eq!(&h.to_bytes()[..], &data[..PHDR_SIZE]);
    let _ = h.key_material_end();
    if h.mk_digest_iterations > MAX_ITERATIONS || h.slots.iter().any(|s| s.iterations > MAX_ITERATIONS) {
        return Some(h);
    }
    let _ = unlock_with_passphrase(data, b"pw");
    if let Ok(dev) = LuksDevice::open(data, &[0u8; 64]) {
        let mut b = [0u8; 700];
        let n = (dev.len() as usize).min(b.len());
        let _ = dev.read_at(0, &mut b[..n]);
    }
    Some(h)
}

#[test]
fn luks_header_inputs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut n = 0;
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join("luks_header")) else {
            continue;
        };
        for e in entries.flatten() {
            let data = std::fs::read(e.path()).unwrap();
            let h = luks_header(&data);
            if e.file_name() == "cryptsetup" {
                // The seed is the first 4096 bytes of a `cryptsetup luksFormat` image.
                assert_eq!(h.unwrap().payload_offset, 4096);
            }
            n += 1;
        }
    }
    assert!(n > 0);
}
