//! Cross-checks against the real `veritysetup` (cryptsetup-bin): our tree must be byte for byte
//! what `veritysetup format` writes, and `veritysetup verify` must accept our images.
mod common;

use std::process::Command;

use common::*;
use myst_verity::{build_tree, to_hex, BlockRead, VerityDevice};
use rand::RngCore;

fn uuid_text(u: &[u8; 16]) -> String {
    let h = to_hex(u);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn root_from_output(text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("Root hash:"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| panic!("no root hash in veritysetup output:\n{text}"))
}

#[test]
fn tree_matches_veritysetup_format_and_verify_accepts_ours() {
    let Some(vs) = tool_or_skip("veritysetup", "veritysetup cross-check") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut r = rng(0x7e51);
    // 1 block (no hash levels), one and two full level-0 blocks, 2 and 3 levels.
    for &blocks in &[1u64, 2, 127, 128, 129, 1000, 128 * 128, 128 * 128 + 3] {
        let data = random_bytes(&mut r, blocks as usize * 4096);
        let mut salt = [0u8; 32];
        r.fill_bytes(&mut salt);
        let mut uuid = [0u8; 16];
        r.fill_bytes(&mut uuid);
        let mut calls = 0u64;
        let mut area = Vec::new();
        let info = build_tree(&data, blocks, &salt, uuid, &mut area, &mut |done, total| {
            assert!(done <= total && total == blocks);
            calls += 1;
        })
        .unwrap();
        assert!(calls > 0);

        // veritysetup's own image of the same data.
        let theirs = dir.path().join(format!("theirs-{blocks}.img"));
        std::fs::write(&theirs, &data).unwrap();
        let (ok, text) = run(Command::new(&vs)
            .arg("format")
            .arg(format!("--hash-offset={}", data.len()))
            .arg(format!("--salt={}", to_hex(&salt)))
            .arg(format!("--uuid={}", uuid_text(&uuid)))
            .arg(&theirs)
            .arg(&theirs));
        assert!(ok, "veritysetup format failed: {text}");
        assert_eq!(root_from_output(&text), to_hex(&info.root_hash), "{blocks} blocks");
        let their_bytes = std::fs::read(&theirs).unwrap();
        assert_eq!(their_bytes.len(), data.len() + area.len(), "{blocks} blocks");
        assert!(their_bytes[data.len()..] == area[..], "hash area differs for {blocks} blocks");

        // Our image, checked by veritysetup verify.
        let ours = dir.path().join(format!("ours-{blocks}.img"));
        let mut image = data.clone();
        image.extend_from_slice(&area);
        std::fs::write(&ours, &image).unwrap();
        let (ok, text) = run(Command::new(&vs)
            .arg("verify")
            .arg(format!("--hash-offset={}", data.len()))
            .arg(&ours)
            .arg(&ours)
            .arg(to_hex(&info.root_hash)));
        assert!(ok, "veritysetup verify rejected our image ({blocks} blocks): {text}");
        // And it does notice a wrong root hash (so the check above means something).
        let mut wrong = info.root_hash;
        wrong[0] ^= 1;
        let (ok, _) =
            run(Command::new(&vs).arg("verify").arg(format!("--hash-offset={}", data.len())).arg(&ours).arg(&ours).arg(to_hex(&wrong)));
        assert!(!ok, "veritysetup verify accepted a wrong root hash");

        // Our reader over veritysetup's image.
        let dev = VerityDevice::open(their_bytes, data.len() as u64, info.root_hash).unwrap();
        dev.verify_all(&mut |_, _| {}).unwrap();
        let mut back = vec![0u8; data.len()];
        dev.read_at(0, &mut back).unwrap();
        assert!(back == data);
    }
}

#[test]
fn reader_opens_veritysetup_image_with_random_uuid_and_salt() {
    let Some(vs) = tool_or_skip("veritysetup", "veritysetup reader check") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut r = rng(99);
    let data = random_bytes(&mut r, 300 * 4096);
    let path = dir.path().join("img");
    std::fs::write(&path, &data).unwrap();
    let (ok, text) = run(Command::new(&vs).arg("format").arg(format!("--hash-offset={}", data.len())).arg(&path).arg(&path));
    assert!(ok, "{text}");
    let root = myst_verity::from_hex(&root_from_output(&text)).unwrap();
    let image = std::fs::read(&path).unwrap();
    let dev = VerityDevice::open(image, data.len() as u64, root.try_into().unwrap()).unwrap();
    assert_eq!(dev.len(), data.len() as u64);
    let mut b = vec![0u8; 10000];
    dev.read_at(5000, &mut b).unwrap();
    assert!(b == data[5000..15000]);
}
