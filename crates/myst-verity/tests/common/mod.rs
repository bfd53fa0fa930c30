//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use myst_verity::{build_tree, TreeInfo};
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
        eprintln!("note: {test} skipped: `{name}` not found (apt package providing it is missing)");
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

/// An image `[data | hash area]` made by our writer.
pub struct Image {
    pub bytes: Vec<u8>,
    pub hash_offset: u64,
    pub info: TreeInfo,
}

pub fn make_image(rng: &mut StdRng, data_blocks: u64) -> Image {
    let data = random_bytes(rng, data_blocks as usize * 4096);
    let mut salt = [0u8; 32];
    rng.fill_bytes(&mut salt);
    let mut uuid = [0u8; 16];
    rng.fill_bytes(&mut uuid);
    let mut area = Vec::new();
    let info = build_tree(&data, data_blocks, &salt, uuid, &mut area, &mut |_, _| {}).unwrap();
    assert_eq!(area.len() as u64, info.hash_area_size());
    let hash_offset = data.len() as u64;
    let mut bytes = data;
    bytes.extend_from_slice(&area);
    Image { bytes, hash_offset, info }
}

pub fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("spawn tool");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}
