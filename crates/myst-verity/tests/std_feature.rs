//! The `std` feature: host files as devices and sinks, and `fssig::sign` with the OS RNG.
//! Run with `cargo test -p myst-verity --features std`.
#![cfg(feature = "std")]
mod common;

use std::process::Command;

use common::*;
use myst_verity::fssig::{self, FsSig};
use myst_verity::{build_tree, BlockRead, FileSink, VerityDevice};

#[test]
fn tree_into_a_file_and_read_back_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("img");
    let mut r = rng(41);
    let data = random_bytes(&mut r, 200 * 4096);
    std::fs::write(&path, &data).unwrap();
    let file = std::fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
    let mut sink = FileSink { file: &file, base: data.len() as u64 };
    let info = build_tree(&file, 200, &[5u8; 32], [0; 16], &mut sink, &mut |_, _| {}).unwrap();
    assert_eq!(file.metadata().unwrap().len(), data.len() as u64 + info.hash_area_size());
    let dev = VerityDevice::open(file, data.len() as u64, info.root_hash).unwrap();
    dev.verify_all(&mut |_, _| {}).unwrap();
    let mut b = vec![0u8; 5000];
    dev.read_at(4000, &mut b).unwrap();
    assert!(b[..] == data[4000..9000]);
}

#[test]
fn sign_with_os_rng() {
    let Some(ossl) = tool_or_skip("openssl", "std sign test") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    assert!(run(Command::new(&ossl).args(["genrsa", "-3", "-out"]).arg(&key).arg("3072")).0);
    let (ok, public) = run(Command::new(&ossl).args(["rsa", "-pubout", "-in"]).arg(&key));
    assert!(ok);
    // The text around the PEM block (openssl's "writing RSA key") is ignored.
    let root = [7u8; 32];
    let (signer, sig) = fssig::sign(&root, &std::fs::read_to_string(&key).unwrap()).unwrap();
    let t = FsSig::new(0, root, signer, &sig).unwrap();
    assert_eq!(fssig::verify(&t, &[&public]), Ok(0));
}
