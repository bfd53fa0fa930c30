//! FSSIG trailer: signing and verification with keys made by `openssl genrsa`, cross-checked
//! against `openssl pkeyutl` in both directions.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use myst_verity::fssig::{self, FsSig, FsSigError};
use myst_verity::{to_hex, BlockRead, VerityDevice};
use rand::Rng;

struct Key {
    /// PKCS#8 private key as openssl 3 writes it.
    private_pkcs8: String,
    /// PKCS#1 ("traditional") private key.
    private_pkcs1: String,
    /// SubjectPublicKeyInfo public key.
    public_spki: String,
    /// PKCS#1 public key.
    public_pkcs1: String,
    public_path: PathBuf,
    private_path: PathBuf,
    modulus: Vec<u8>,
}

fn openssl(ossl: &Path, args: &[&str]) -> String {
    let (ok, text) = run(Command::new(ossl).args(args));
    assert!(ok, "openssl {args:?} failed: {text}");
    text
}

fn genkey(ossl: &Path, dir: &Path, name: &str, gen_args: &[&str]) -> Key {
    let p = |s: &str| dir.join(format!("{name}.{s}"));
    let s = |q: &PathBuf| q.to_str().unwrap().to_string();
    let mut args = vec!["genrsa", "-out"];
    let priv8 = s(&p("key"));
    args.push(&priv8);
    args.extend_from_slice(gen_args);
    openssl(ossl, &args);
    let priv1 = s(&p("key1"));
    openssl(ossl, &["rsa", "-in", &priv8, "-traditional", "-out", &priv1]);
    let pubs = s(&p("pub"));
    openssl(ossl, &["rsa", "-in", &priv8, "-pubout", "-out", &pubs]);
    let pub1 = s(&p("pub1"));
    openssl(ossl, &["rsa", "-in", &priv8, "-RSAPublicKey_out", "-out", &pub1]);
    let m = openssl(ossl, &["rsa", "-in", &priv8, "-noout", "-modulus"]);
    let hex = m.trim().strip_prefix("Modulus=").unwrap();
    let mut modulus = myst_verity::from_hex(hex).unwrap();
    while modulus.first() == Some(&0) {
        modulus.remove(0);
    }
    let read = |q: &str| std::fs::read_to_string(q).unwrap();
    Key {
        private_pkcs8: read(&priv8),
        private_pkcs1: read(&priv1),
        public_spki: read(&pubs),
        public_pkcs1: read(&pub1),
        public_path: PathBuf::from(pubs),
        private_path: PathBuf::from(priv8),
        modulus,
    }
}

fn sha256(b: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(b).into()
}

#[test]
fn openssl_keys_sign_and_verify() {
    let Some(ossl) = tool_or_skip("openssl", "FSSIG openssl key test") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let keys = [
        ("e3", genkey(&ossl, dir.path(), "e3", &["-3", "3072"])),
        ("k2048", genkey(&ossl, dir.path(), "k2048", &["2048"])),
        ("k4096", genkey(&ossl, dir.path(), "k4096", &["4096"])),
    ];
    assert!(keys[0].1.private_pkcs8.contains("BEGIN PRIVATE KEY"));
    assert!(keys[0].1.private_pkcs1.contains("BEGIN RSA PRIVATE KEY"));
    let mut r = rng(11);
    for (i, (name, key)) in keys.iter().enumerate() {
        let root: [u8; 32] = r.gen();
        let (signer, sig) = fssig::sign_with_rng(&root, &key.private_pkcs8, &mut r).unwrap();
        let (signer1, sig1) = fssig::sign_with_rng(&root, &key.private_pkcs1, &mut r).unwrap();
        assert_eq!((signer, &sig), (signer1, &sig1), "{name}: PKCS#1 v1.5 is deterministic");
        assert_eq!(signer, sha256(&key.modulus), "{name}: signer is sha256 of the modulus");
        assert_eq!(sig.len(), key.modulus.len());

        let trailer = FsSig::new(1 << 20, root, signer, &sig).unwrap();
        let parsed = FsSig::parse(&trailer.to_bytes(), (1 << 20) + 8192).unwrap();
        assert_eq!(parsed, trailer);
        // Trusted list: another key (SPKI) first, then this key in both public formats.
        let other = &keys[(i + 1) % keys.len()].1;
        assert_eq!(fssig::verify(&parsed, &[&other.public_spki, &key.public_spki]), Ok(1), "{name}");
        assert_eq!(fssig::verify(&parsed, &[&other.public_pkcs1, &key.public_pkcs1]), Ok(1), "{name}");
        // Wrong key only.
        assert_eq!(fssig::verify(&parsed, &[&other.public_spki]), Err(FsSigError::UnknownSigner(signer)));
        // Flipped signature byte.
        let mut bad = sig.clone();
        let at = r.gen_range(0..bad.len());
        bad[at] ^= 1 << r.gen_range(0..8);
        let t = FsSig::new(1 << 20, root, signer, &bad).unwrap();
        assert_eq!(fssig::verify(&t, &[&key.public_spki]), Err(FsSigError::BadSignature { index: 0 }));
        // Signature for another root hash.
        let mut other_root = root;
        other_root[0] ^= 1;
        let t = FsSig::new(1 << 20, other_root, signer, &sig).unwrap();
        assert_eq!(fssig::verify(&t, &[&key.public_spki]), Err(FsSigError::BadSignature { index: 0 }));

        // openssl checks our signature: PKCS#1 v1.5, SHA-256 DigestInfo, root hash as digest.
        let root_path = dir.path().join(format!("{name}.root"));
        let sig_path = dir.path().join(format!("{name}.sig"));
        std::fs::write(&root_path, root).unwrap();
        std::fs::write(&sig_path, &sig).unwrap();
        let out = openssl(
            &ossl,
            &[
                "pkeyutl",
                "-verify",
                "-pubin",
                "-inkey",
                key.public_path.to_str().unwrap(),
                "-pkeyopt",
                "digest:sha256",
                "-in",
                root_path.to_str().unwrap(),
                "-sigfile",
                sig_path.to_str().unwrap(),
            ],
        );
        assert!(out.contains("Verified Successfully"), "{name}: {out}");
        // And we check openssl's signature.
        let osig_path = dir.path().join(format!("{name}.osig"));
        openssl(
            &ossl,
            &[
                "pkeyutl",
                "-sign",
                "-inkey",
                key.private_path.to_str().unwrap(),
                "-pkeyopt",
                "digest:sha256",
                "-in",
                root_path.to_str().unwrap(),
                "-out",
                osig_path.to_str().unwrap(),
            ],
        );
        let osig = std::fs::read(&osig_path).unwrap();
        assert_eq!(osig, sig, "{name}: openssl's signature equals ours");
        let t = FsSig::new(1 << 20, root, signer, &osig).unwrap();
        assert_eq!(fssig::verify(&t, &[&key.public_spki]), Ok(0));
    }
}

#[test]
fn signed_image_end_to_end_and_trailer_tamper() {
    let Some(ossl) = tool_or_skip("openssl", "FSSIG image test") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key = genkey(&ossl, dir.path(), "k", &["-3", "3072"]);
    let mut r = rng(12);
    let img = make_image(&mut r, 200);
    let (signer, sig) = fssig::sign_with_rng(&img.info.root_hash, &key.private_pkcs8, &mut r).unwrap();
    let trailer = FsSig::new(img.hash_offset, img.info.root_hash, signer, &sig).unwrap();
    let mut image = img.bytes.clone();
    image.extend_from_slice(&trailer.to_bytes());

    // What the kernel does at mount: trailer → signature → verity device.
    let t = FsSig::read_from(&image).unwrap();
    assert_eq!(fssig::verify(&t, &[&key.public_spki]), Ok(0));
    let dev = VerityDevice::open(&image, t.hash_offset, t.root_hash).unwrap();
    dev.verify_all(&mut |_, _| {}).unwrap();
    assert_eq!(dev.len(), img.hash_offset);
    println!("signed image root hash {}", to_hex(&t.root_hash));

    // Every byte of the trailer's fields, and random padding bytes: a flip is refused, by the
    // parser, the signature check, or (for the hash offset, which is not signed) by opening
    // the verity device where the trailer says it is.
    let base = img.bytes.len();
    let mut positions: Vec<usize> = (0..1120).collect();
    positions.extend((0..100).map(|_| r.gen_range(1120..4096)));
    for pos in positions {
        let mut bad = image.clone();
        bad[base + pos] ^= 1 << r.gen_range(0..8);
        let refused = match FsSig::read_from(&bad) {
            Err(_) => true,
            Ok(t) => fssig::verify(&t, &[&key.public_spki]).is_err() || VerityDevice::open(&bad, t.hash_offset, t.root_hash).is_err(),
        };
        assert!(refused, "flip at trailer byte {pos} not noticed");
    }

    // Unsigned trailer, truncated image, malformed keys.
    let unsigned = FsSig::new(img.hash_offset, img.info.root_hash, [0; 32], &[]).unwrap();
    assert_eq!(fssig::verify(&unsigned, &[&key.public_spki]), Err(FsSigError::Unsigned));
    assert!(matches!(FsSig::read_from(&image[..100].to_vec()), Err(FsSigError::TooShort(100))));
    assert!(matches!(fssig::verify(&t, &["not a pem"]), Err(FsSigError::BadKey { index: 0, .. })));
    assert!(matches!(fssig::verify(&t, &[&key.public_spki, &key.private_pkcs8]), Err(FsSigError::BadKey { index: 1, .. })));
    // A trailer whose hash offset is past the image.
    let far = FsSig::new(image.len() as u64, img.info.root_hash, signer, &sig).unwrap();
    let mut x = img.bytes.clone();
    x.extend_from_slice(&far.to_bytes());
    assert!(matches!(FsSig::read_from(&x), Err(FsSigError::BadHashOffset { .. })));
}
