//! Cross-checks against the real `cryptsetup` (header and key slots) and an independent
//! AES-XTS implementation (payload sectors).
mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use myst_crypt::{unlock_with_passphrase, uuid_text, BlockRead, HashSpec, LuksDevice, LuksError, LuksHeader, SECTOR_SIZE};
use rand::RngCore;

/// The master key from `cryptsetup luksDump --dump-master-key` output.
fn dumped_key(text: &str) -> Vec<u8> {
    let mut hex = String::new();
    let mut inside = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("MK dump:") {
            inside = true;
            hex.push_str(rest);
        } else if inside && line.starts_with(char::is_whitespace) {
            hex.push_str(line);
        } else {
            inside = false;
        }
    }
    let hex: String = hex.split_whitespace().collect();
    myst_verity::from_hex(&hex).unwrap_or_else(|| panic!("no MK dump in:\n{text}"))
}

fn dump_master_key(cs: &Path, image: &Path, keyfile: &Path) -> (bool, String) {
    run(Command::new(cs).args(["luksDump", "-q", "--dump-master-key", "--key-file"]).arg(keyfile).arg(image))
}

#[test]
fn cryptsetup_reads_our_header_and_key_slot() {
    let Some(cs) = tool_or_skip("cryptsetup", "cryptsetup luksDump check") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut r = rng(21);
    for hash in [HashSpec::Sha256, HashSpec::Sha1] {
        let pass = b"correct horse battery staple";
        let img = make_image(&mut r, hash, pass, 64);
        let path = dir.path().join(format!("ours-{}.img", hash.name()));
        std::fs::write(&path, &img.bytes).unwrap();
        let keyfile = dir.path().join("pass");
        std::fs::write(&keyfile, pass).unwrap();

        let (ok, text) = run(Command::new(&cs).arg("luksDump").arg(&path));
        assert!(ok, "luksDump rejected our header: {text}");
        for want in [
            "Version:       \t1".to_string(),
            "Cipher name:   \taes".to_string(),
            "Cipher mode:   \txts-plain64".to_string(),
            format!("Hash spec:     \t{}", hash.name()),
            "Payload offset:\t4096".to_string(),
            "MK bits:       \t512".to_string(),
            format!("UUID:          \t{}", uuid_text(&img.uuid)),
            "Key Slot 0: ENABLED".to_string(),
            "Key Slot 7: DISABLED".to_string(),
        ] {
            assert!(text.contains(&want), "luksDump lacks {want:?}:\n{text}");
        }

        let (ok, text) = dump_master_key(&cs, &path, &keyfile);
        assert!(ok, "cryptsetup could not open our key slot: {text}");
        assert_eq!(dumped_key(&text), img.key, "cryptsetup found another master key");

        // Sanity: cryptsetup refuses a wrong passphrase.
        let wrong = dir.path().join("wrong");
        std::fs::write(&wrong, b"wrong").unwrap();
        assert!(!dump_master_key(&cs, &path, &wrong).0);
    }
}

#[test]
fn our_reader_opens_cryptsetup_images() {
    let Some(cs) = tool_or_skip("cryptsetup", "cryptsetup luksFormat check") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut r = rng(22);
    for hash in ["sha256", "sha1"] {
        let path = dir.path().join(format!("theirs-{hash}.img"));
        let f = std::fs::File::create(&path).unwrap();
        f.set_len(4 << 20).unwrap();
        drop(f);
        let keyfile = dir.path().join(format!("key-{hash}"));
        std::fs::write(&keyfile, random_bytes(&mut r, 64)).unwrap();
        let (ok, text) = run(Command::new(&cs)
            .args(["luksFormat", "-q", "--type", "luks1", "-c", "aes-xts-plain64", "-s", "512"])
            .args(["-h", hash, "--pbkdf-force-iterations", "1000", "--key-file"])
            .arg(&keyfile)
            .arg(&path));
        assert!(ok, "luksFormat failed: {text}");
        let (ok, text) = dump_master_key(&cs, &path, &keyfile);
        assert!(ok, "{text}");
        let their_key: [u8; 64] = dumped_key(&text).try_into().unwrap();

        let image = std::fs::read(&path).unwrap();
        let header = LuksHeader::parse(&image).unwrap();
        assert_eq!(header.hash.name(), hash);
        assert_eq!(header.payload_offset, 4096);
        // Key slot: PBKDF2 + aes-xts-plain64 decryption of cryptsetup's key material + AF
        // merge + digest check, all against what cryptsetup wrote.
        let pass = std::fs::read(&keyfile).unwrap();
        assert_eq!(unlock_with_passphrase(&image, &pass).unwrap(), (their_key, 0));
        assert_eq!(unlock_with_passphrase(&image, b"nope"), Err(LuksError::WrongPassphrase));
        // Master key check and data path.
        let dev = LuksDevice::open(&image, &their_key).unwrap();
        assert_eq!(dev.len(), (4 << 20) - 4096 * 512);
        let mut b = vec![0u8; 1000];
        dev.read_at(777, &mut b).unwrap();
        let mut wrong = their_key;
        wrong[5] ^= 1;
        assert_eq!(LuksDevice::open(&image, &wrong).err(), Some(LuksError::WrongKey));
        let dev = LuksDevice::open_with_passphrase(&image, &pass).unwrap();
        assert_eq!(dev.header(), &header);
    }
}

/// Payload sectors: what we encrypt, Python's `cryptography` (OpenSSL's AES-XTS) decrypts
/// sector by sector with the plain64 IV (sector number, 16 bytes little endian). Skipped
/// when python3 with `cryptography` is missing.
#[test]
fn payload_sectors_match_an_independent_xts() {
    let python = "python3";
    let probe = Command::new(python).args(["-c", "import cryptography.hazmat.primitives.ciphers"]).output();
    if !matches!(probe, Ok(ref o) if o.status.success()) {
        eprintln!("note: XTS cross-check skipped: python3 with `cryptography` not available");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut r = rng(23);
    let mut key = [0u8; 64];
    r.fill_bytes(&mut key);
    let sectors: Vec<u64> = vec![0, 1, 2, 7, 4095, 4096, 1 << 20, (1 << 40) + 3, u64::MAX];
    let mut plain = Vec::new();
    let mut cipher = Vec::new();
    for &s in &sectors {
        let p = random_bytes(&mut r, SECTOR_SIZE);
        let mut c = p.clone();
        myst_crypt::encrypt_sectors(&key, s, &mut c);
        plain.extend_from_slice(&p);
        cipher.extend_from_slice(&c);
    }
    let cfile = dir.path().join("c");
    std::fs::write(&cfile, &cipher).unwrap();
    let script = r#"
import sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
key = bytes.fromhex(sys.argv[1]); sectors = [int(x) for x in sys.argv[2].split(',')]
data = open(sys.argv[3], 'rb').read(); out = b''
for i, s in enumerate(sectors):
    d = Cipher(algorithms.AES(key), modes.XTS(s.to_bytes(16, 'little'))).decryptor()
    out += d.update(data[i*512:(i+1)*512]) + d.finalize()
sys.stdout.write(out.hex())
"#;
    let list: Vec<String> = sectors.iter().map(|s| s.to_string()).collect();
    let (ok, text) = run(Command::new(python).args(["-c", script]).arg(myst_verity::to_hex(&key)).arg(list.join(",")).arg(&cfile));
    assert!(ok, "{text}");
    assert_eq!(text.trim(), myst_verity::to_hex(&plain));
}

#[test]
fn our_image_reads_back() {
    let mut r = rng(24);
    let img = make_image(&mut r, HashSpec::Sha256, b"pw", 100);
    let dev = LuksDevice::open(&img.bytes, &img.key).unwrap();
    assert_eq!(dev.len(), img.plain.len() as u64);
    let mut all = vec![0u8; img.plain.len()];
    dev.read_at(0, &mut all).unwrap();
    assert!(all == img.plain);
    use rand::Rng;
    for _ in 0..300 {
        let off = r.gen_range(0..img.plain.len());
        let len = r.gen_range(0..=(img.plain.len() - off).min(3000));
        let mut b = vec![0u8; len];
        dev.read_at(off as u64, &mut b).unwrap();
        assert!(b[..] == img.plain[off..off + len]);
    }
    let mut b = [0u8; 2];
    assert!(dev.read_at(img.plain.len() as u64 - 1, &mut b).is_err());
    let dev = LuksDevice::open_with_passphrase(&img.bytes, b"pw").unwrap();
    dev.read_at(0, &mut all).unwrap();
    assert!(all == img.plain);
}
