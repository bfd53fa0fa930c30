//! Replays the fuzz seeds and every saved fuzz finding (`fuzz/regressions/<target>/`) through
//! the same checks as the fuzz targets, on stable, in every test run.
use std::path::Path;

use myst_verity::fssig::{self, FsSig, TRAILER_SIZE};
use myst_verity::superblock::SUPERBLOCK_SIZE;
use myst_verity::{BlockRead, Superblock, VerityDevice};

/// The fuzz target's test key (see fuzz/fuzz_targets/fssig.rs).
const KEY: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEArtZ3NRKy4Op+DxjXTh9V
FmETgoBCAaq3YIiX+xL4ZzxMFKVgRs7HIBjF2/i26UzWj8jUr2BQImBshsLYSua2
vtgmg1aby1K8o/gcNirh9OBjJ70r5dqRn9Zl9EFeczThI84mQzIuya9cAzmFUr9W
AhoTeNaBDNedJCBh4sM8oFY2qe1nrbV6zJ55aocsfp/hYR1Udr24mZqbyIn1KEnW
T6B8LW2WEwmJGh3wea7GAqdMdFwbnOocMZyTmbEjOPy/khtnMM15inqLZGjysIV6
teIfGzgmQcOb0DFexLk3FYNg/EC3HFbX7VXHXqhCnhZjkgwrHxjFZA+IxoVt7+LG
AwIDAQAB
-----END PUBLIC KEY-----
";

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut out = Vec::new();
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for e in entries.flatten() {
            out.push((e.path().display().to_string(), std::fs::read(e.path()).unwrap()));
        }
    }
    out
}

fn superblock(data: &[u8]) {
    if let Ok(sb) = Superblock::parse(data) {
        assert_eq!(&sb.to_bytes()[..], &data[..SUPERBLOCK_SIZE]);
    }
    if data.len() >= 34 {
        let hash_offset = u64::from(data[0] % 4) * 4096 + u64::from(data[1] % 2) * 512;
        let root: [u8; 32] = data[2..34].try_into().unwrap();
        if let Ok(dev) = VerityDevice::open_with_cache(data, hash_offset, root, 2) {
            let _ = dev.verify_all(&mut |_, _| {});
            let mut b = [0u8; 100];
            let _ = dev.read_at(dev.len().saturating_sub(50), &mut b);
        }
    }
}

fn fssig_input(data: &[u8]) -> Option<usize> {
    let mut verified = None;
    if let Ok(t) = FsSig::read_from(&data) {
        assert_eq!(&t.to_bytes()[..], &data[data.len() - TRAILER_SIZE..]);
        verified = fssig::verify(&t, &[KEY]).ok();
    }
    if data.len() >= 8 {
        let size = u64::from_le_bytes(data[..8].try_into().unwrap());
        let _ = FsSig::parse(&data[8..], size);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = fssig::parse_public_key_pem(s);
    }
    verified
}

#[test]
fn superblock_inputs() {
    let all = inputs("superblock");
    assert!(!all.is_empty());
    for (_, data) in &all {
        superblock(data);
    }
    // The seed is veritysetup's superblock.
    let (_, sb) = all.iter().find(|(n, _)| n.ends_with("/sb")).unwrap();
    assert_eq!(Superblock::parse(sb).unwrap().data_blocks, 1);
}

#[test]
fn fssig_inputs() {
    let all = inputs("fssig");
    assert!(!all.is_empty());
    for (name, data) in &all {
        let v = fssig_input(data);
        // The seed: a trailer around a signature made by `openssl pkeyutl -sign`.
        if name.ends_with("/signed") {
            assert_eq!(v, Some(0), "{name}");
        }
    }
}
