//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use myst_crypt::{format, FormatOptions, HashSpec, MasterKey, XtsPlain64, SECTOR_SIZE};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

/// Finds an external tool in PATH or the sbin directories (CI's PATH may lack them).
pub fn tool(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from));
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// Like [`tool`], printing a note when it is missing.
pub fn tool_or_skip(name: &str, test: &str) -> Option<PathBuf> {
    let t = tool(name);
    if t.is_none() {
        eprintln!("note: {test} skipped: `{name}` not found (install cryptsetup-bin)");
    }
    t
}

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

pub fn random_bytes(rng: &mut StdRng, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rng.fill_bytes(&mut v);
    v
}

pub fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("spawn tool");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// An image made by our writer: header area, then `plain` encrypted.
pub struct Image {
    pub bytes: Vec<u8>,
    pub key: MasterKey,
    pub plain: Vec<u8>,
    pub uuid: [u8; 16],
}

pub fn make_image(r: &mut StdRng, hash: HashSpec, passphrase: &[u8], sectors: usize) -> Image {
    let mut key = [0u8; 64];
    r.fill_bytes(&mut key);
    let mut uuid = [0u8; 16];
    r.fill_bytes(&mut uuid);
    let mut o = FormatOptions::new(uuid);
    o.slot_iterations = 1000;
    o.hash = hash;
    let mut bytes = format(&key, passphrase, &o, r).unwrap();
    let plain = random_bytes(r, sectors * SECTOR_SIZE);
    let mut c = plain.clone();
    XtsPlain64::new(&key).encrypt_sectors(0, &mut c);
    bytes.extend_from_slice(&c);
    Image { bytes, key, plain, uuid }
}
