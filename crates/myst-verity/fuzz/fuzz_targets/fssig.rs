//! FSSIG trailer parser, public key PEM parser, and signature verification.
#![no_main]

use libfuzzer_sys::fuzz_target;
use myst_verity::fssig::{self, FsSig, TRAILER_SIZE};

/// A 2048-bit test key (made with `openssl genrsa 2048` for this target only).
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

fuzz_target!(|data: &[u8]| {
    // The trailer as the last 4096 bytes of an image of (at least) that size.
    if let Ok(t) = FsSig::read_from(&data) {
        assert_eq!(&t.to_bytes()[..], &data[data.len() - TRAILER_SIZE..]);
        let _ = fssig::verify(&t, &[KEY]);
    }
    // The same bytes given with a claimed image size taken from the input.
    if data.len() >= 8 {
        let size = u64::from_le_bytes(data[..8].try_into().unwrap());
        let _ = FsSig::parse(&data[8..], size);
    }
    // And as a PEM key.
    if let Ok(s) = core::str::from_utf8(data) {
        let _ = fssig::parse_public_key_pem(s);
    }
});
