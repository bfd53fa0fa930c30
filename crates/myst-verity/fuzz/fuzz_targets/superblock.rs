//! Superblock parser, and opening a whole (tiny, hostile) verity image.
#![no_main]

use libfuzzer_sys::fuzz_target;
use myst_verity::superblock::SUPERBLOCK_SIZE;
use myst_verity::{BlockRead, Superblock, VerityDevice};

fuzz_target!(|data: &[u8]| {
    if let Ok(sb) = Superblock::parse(data) {
        // Strict parse: nothing is dropped, so writing it back gives the same bytes.
        assert_eq!(&sb.to_bytes()[..], &data[..SUPERBLOCK_SIZE]);
    }
    // The input as an image: the hash offset and root come from its first bytes.
    if data.len() >= 34 {
        let hash_offset = u64::from(data[0] % 4) * 4096 + u64::from(data[1] % 2) * 512;
        let root: [u8; 32] = data[2..34].try_into().unwrap();
        if let Ok(dev) = VerityDevice::open_with_cache(data, hash_offset, root, 2) {
            let _ = dev.verify_all(&mut |_, _| {});
            let mut b = [0u8; 100];
            let _ = dev.read_at(dev.len().saturating_sub(50), &mut b);
        }
    }
});
