//! Trusted images against the real tools: `e2fsck`, `debugfs`, `veritysetup`, `cryptsetup`,
//! `mke2fs`, `openssl`. A part that needs a missing tool prints a note and is skipped.

use myst_crypt::LuksDevice;
use myst_ext2::Ext2;
use myst_image::ext2img::{mkext2, read_fssig, MkExt2Options, MkExt2Report, Phase};
use myst_image::imgio::{Ext2Dev, FileWindow};
use myst_image::verify::{check_ext2, verify, VerifyOptions, VerifyOutcome};
use myst_verity::fssig::FsSig;
use myst_verity::{to_hex, BlockRead};
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::fs::{self, File};
use std::os::unix::fs::{symlink, FileExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

// ------------------------------------------------------------------ helpers

fn tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path.split(':').chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]).map(|d| Path::new(d).join(name)).find(|p| p.is_file());
    found
}

fn need(name: &str) -> Option<PathBuf> {
    let t = tool(name);
    if t.is_none() {
        eprintln!("note: {name} not found; skipping the part of this test that needs it");
    }
    t
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("spawn");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn mknod(path: &Path, mode: u32, dev: u64) -> bool {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid C string; mknod creates a node or fails.
    unsafe { libc::mknod(c.as_ptr(), mode, dev as libc::dev_t) == 0 }
}

/// A tree with every kind of entry the builder handles.
fn make_tree(root: &Path) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    fs::create_dir_all(root.join("dir/sub/deeper")).unwrap();
    fs::write(root.join("empty"), b"").unwrap();
    fs::write(root.join("small.txt"), b"hello, world\n").unwrap();
    let mut big = vec![0u8; 3 * 4096 * 1024 + 123];
    rng.fill(&mut big[..]);
    fs::write(root.join("dir/big.bin"), &big).unwrap();
    // A file with zero blocks inside its data (not a hole on the host).
    let mut zeros = vec![0u8; 5 * 4096];
    zeros[4096 * 3 + 10] = 1;
    fs::write(root.join("dir/zeros.bin"), &zeros).unwrap();
    // A sparse file: data, a hole, data, a hole at the end.
    let f = File::create(root.join("sparse")).unwrap();
    f.write_all_at(b"start", 0).unwrap();
    f.write_all_at(&[0xabu8; 10000], 50 << 20).unwrap();
    f.set_len(80 << 20).unwrap();
    drop(f);
    // Thousands of entries in one directory.
    fs::create_dir(root.join("many")).unwrap();
    for i in 0..3000 {
        fs::write(root.join(format!("many/file-{i:05}")), format!("{i}\n")).unwrap();
    }
    symlink("small.txt", root.join("fast-link")).unwrap();
    let long = format!("{}/target", "x".repeat(200));
    symlink(&long, root.join("dir/slow-link")).unwrap();
    symlink("/absolute/dangling", root.join("dangling")).unwrap();
    fs::write(root.join("dir/linked"), b"three names").unwrap();
    fs::hard_link(root.join("dir/linked"), root.join("linked2")).unwrap();
    fs::hard_link(root.join("dir/linked"), root.join("dir/sub/linked3")).unwrap();
    assert!(mknod(&root.join("fifo"), libc::S_IFIFO | 0o640, 0));
    if is_root() {
        assert!(mknod(&root.join("dir/null"), libc::S_IFCHR | 0o666, libc::makedev(1, 3)));
        assert!(mknod(&root.join("dir/blk"), libc::S_IFBLK | 0o600, libc::makedev(8, 1)));
    }
    fs::set_permissions(root.join("small.txt"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(root.join("dir/sub"), fs::Permissions::from_mode(0o1777)).unwrap();
    if is_root() {
        std::os::unix::fs::chown(root.join("small.txt"), Some(1234), Some(5678)).unwrap();
        std::os::unix::fs::lchown(root.join("fast-link"), Some(42), Some(43)).unwrap();
    }
    // setuid after chown (chown clears it).
    fs::write(root.join("suid"), b"#!/bin/sh\n").unwrap();
    fs::set_permissions(root.join("suid"), fs::Permissions::from_mode(0o4755)).unwrap();
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    File::options().write(true).open(root.join("small.txt")).unwrap().set_modified(t).unwrap();
}

fn quick() -> MkExt2Options {
    MkExt2Options { slot_iterations: 1000, ..MkExt2Options::default() }
}

fn mk(src: &Path, img: &Path, o: &MkExt2Options) -> MkExt2Report {
    mkext2(src, img, o, &mut |_, _, _| {}).unwrap_or_else(|e| panic!("mkext2: {e}"))
}

fn check(img: &Path, o: &VerifyOptions) -> Result<VerifyOutcome, String> {
    verify(img, o, &mut |_| {}, &mut |_, _| {})
}

fn roots(h: &[u8]) -> VerifyOptions {
    VerifyOptions { roothashes: vec![to_hex(h)], ..VerifyOptions::default() }
}

/// The bytes `[start, end)` of `img` copied to a new file.
fn extract(img: &Path, start: u64, end: u64, out: &Path) {
    let f = File::open(img).unwrap();
    let mut b = vec![0u8; (end - start) as usize];
    f.read_exact_at(&mut b, start).unwrap();
    fs::write(out, b).unwrap();
}

fn e2fsck_clean(ext2: &Path) {
    let Some(e2fsck) = need("e2fsck") else { return };
    let (ok, out) = run(Command::new(e2fsck).arg("-fn").arg(ext2));
    assert!(ok, "e2fsck -fn found problems:\n{out}");
}

fn veritysetup_verify(img: &Path, hash_offset: u64, root: &[u8]) {
    let Some(vs) = need("veritysetup") else { return };
    let (ok, out) = run(Command::new(vs).arg("verify").arg(format!("--hash-offset={hash_offset}")).arg(img).arg(img).arg(to_hex(root)));
    assert!(ok, "veritysetup verify failed:\n{out}");
}

/// Every entry of a tree: relative path -> metadata.
fn listing(root: &Path) -> Vec<(PathBuf, fs::Metadata)> {
    fn go(root: &Path, rel: &Path, out: &mut Vec<(PathBuf, fs::Metadata)>) {
        let mut names: Vec<_> = fs::read_dir(root.join(rel)).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        for n in names {
            let r = rel.join(&n);
            let m = fs::symlink_metadata(root.join(&r)).unwrap();
            let d = m.is_dir();
            out.push((r.clone(), m));
            if d {
                go(root, &r, out);
            }
        }
    }
    let mut v = Vec::new();
    go(root, Path::new(""), &mut v);
    v
}

/// `debugfs` reads the image as the source tree: `rdump` gives the same contents, permission
/// bits and symlink targets; `ls -l` the same full modes (set-id bits, special files) and
/// owners; `stat` the same link counts.
fn debugfs_matches(ext2: &Path, src: &Path, work: &Path) {
    let Some(debugfs) = need("debugfs") else { return };
    let out = work.join("rdump");
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out).unwrap();
    let (ok, text) = run(Command::new(&debugfs).arg("-R").arg(format!("rdump / {}", out.display())).arg(ext2));
    assert!(ok, "debugfs rdump failed: {text}");
    let src_list = listing(src);
    let mut dumped: HashMap<PathBuf, fs::Metadata> = listing(&out).into_iter().filter(|(p, _)| !p.starts_with("lost+found")).collect();
    for (rel, m) in &src_list {
        let ft = m.file_type();
        if !(ft.is_dir() || ft.is_file() || ft.is_symlink()) {
            continue; // rdump skips special files; `ls -l` below checks them
        }
        let d = dumped.remove(rel).unwrap_or_else(|| panic!("{} missing from the image", rel.display()));
        assert_eq!(d.file_type(), ft, "{}: type", rel.display());
        if !ft.is_symlink() {
            assert_eq!(d.mode() & 0o777, m.mode() & 0o777, "{}: permissions", rel.display());
        }
        if ft.is_file() {
            assert_eq!(d.len(), m.len(), "{}: size", rel.display());
            assert!(fs::read(out.join(rel)).unwrap() == fs::read(src.join(rel)).unwrap(), "{}: contents differ", rel.display());
        }
        if ft.is_symlink() {
            assert_eq!(fs::read_link(out.join(rel)).unwrap(), fs::read_link(src.join(rel)).unwrap(), "{}: target", rel.display());
        }
    }
    assert!(dumped.is_empty(), "the image has entries the source lacks: {:?}", dumped.keys().collect::<Vec<_>>());

    // Full modes, owners, and link counts, in one debugfs run.
    let mut cmds = String::new();
    let mut dirs = vec![PathBuf::from("")];
    dirs.extend(src_list.iter().filter(|(_, m)| m.is_dir()).map(|(p, _)| p.clone()));
    for d in &dirs {
        cmds.push_str(&format!("ls -l /{}\n", d.display()));
    }
    let linked: Vec<&PathBuf> = src_list.iter().filter(|(_, m)| m.nlink() > 1 || m.is_dir()).map(|(p, _)| p).take(60).collect();
    for p in &linked {
        cmds.push_str(&format!("stat /{}\n", p.display()));
    }
    let cmdfile = work.join("debugfs.cmds");
    fs::write(&cmdfile, cmds).unwrap();
    let o = Command::new(&debugfs).arg("-f").arg(&cmdfile).arg(ext2).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut cur = PathBuf::new();
    let mut seen: HashMap<PathBuf, (u32, u32, u32)> = HashMap::new();
    let mut links: Vec<u32> = Vec::new();
    for line in text.lines() {
        if let Some(d) = line.strip_prefix("debugfs: ls -l /") {
            cur = PathBuf::from(d);
            continue;
        }
        if line.starts_with("debugfs:") {
            continue;
        }
        if let Some(rest) = line.split("Links: ").nth(1) {
            links.push(rest.split_whitespace().next().unwrap().parse().unwrap());
            continue;
        }
        let t: Vec<&str> = line.split_whitespace().collect();
        if t.len() < 8 || t[2].len() < 3 || !t[2].starts_with('(') {
            continue;
        }
        let name = *t.last().unwrap();
        if name == "." || name == ".." {
            continue;
        }
        let (Ok(mode), Ok(uid), Ok(gid)) = (u32::from_str_radix(t[1], 8), t[3].parse(), t[4].parse()) else { continue };
        seen.insert(cur.join(name), (mode, uid, gid));
    }
    for (rel, m) in &src_list {
        let (mode, uid, gid) = *seen.get(rel).unwrap_or_else(|| panic!("{}: not listed by debugfs ls -l", rel.display()));
        assert_eq!(mode, m.mode(), "{}: full mode", rel.display());
        assert_eq!((uid, gid), (m.uid(), m.gid()), "{}: owner", rel.display());
    }
    assert_eq!(links.len(), linked.len(), "debugfs stat output:\n{text}");
    for (p, n) in linked.iter().zip(links) {
        let m = fs::symlink_metadata(src.join(p)).unwrap();
        assert_eq!(n as u64, m.nlink(), "{}: link count", p.display());
    }
}

/// Our reader agrees with the source tree too (including device numbers and times).
fn reader_matches(dev: impl myst_ext2::BlockDevice, src: &Path) {
    let fs_ = Ext2::open(dev).unwrap();
    for (rel, m) in listing(src) {
        let p = format!("/{}", rel.display());
        let ino = fs_.lookup(p.as_bytes()).unwrap_or_else(|e| panic!("{p}: {e}"));
        let s = fs_.stat(ino).unwrap();
        assert_eq!(s.mode as u32, m.mode(), "{p}: mode");
        assert_eq!(s.nlink as u64, m.nlink(), "{p}: nlink");
        assert_eq!((s.uid, s.gid), (m.uid(), m.gid()), "{p}: owner");
        assert_eq!(s.mtime.sec, m.mtime(), "{p}: mtime");
        if m.file_type().is_char_device() || m.file_type().is_block_device() {
            assert_eq!(s.rdev, m.rdev(), "{p}: rdev");
        }
    }
}

// ------------------------------------------------------------------ tests

#[test]
fn plain_image_is_read_by_e2fsck_debugfs_veritysetup_and_verify() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    make_tree(&src);
    let img = t.path().join("app.img");
    let mut phases = Vec::new();
    let r = mkext2(&src, &img, &quick(), &mut |p, _, _| {
        if phases.last() != Some(&p) {
            phases.push(p)
        }
    })
    .unwrap();
    assert_eq!(phases, [Phase::Scan, Phase::Ext2, Phase::Hash]);
    assert!(!r.encrypted && r.signer.is_none());
    assert_eq!(r.hash_offset, r.ext2_size);
    assert_eq!(fs::metadata(&img).unwrap().len(), r.image_size);
    // No temporary file is left behind.
    assert_eq!(fs::read_dir(t.path()).unwrap().count(), 2);

    let sig = read_fssig(&img).unwrap();
    assert_eq!((sig.hash_offset, sig.root_hash, sig.signer), (r.hash_offset, r.root_hash, [0; 32]));
    assert!(sig.signature().is_empty());

    let ext2 = t.path().join("ext2.raw");
    extract(&img, 0, r.hash_offset, &ext2);
    e2fsck_clean(&ext2);
    debugfs_matches(&ext2, &src, t.path());
    reader_matches(myst_ext2::MemDevice::new(fs::read(&ext2).unwrap()), &src);
    veritysetup_verify(&img, r.hash_offset, &r.root_hash);

    let ok = check(&img, &roots(&r.root_hash)).unwrap();
    assert!(ok.trusted && ok.ext2_checked, "{:?}", ok.summary);
    // Without a key or root hash: every check is done, but the image is not trusted.
    let untrusted = check(&img, &VerifyOptions::default()).unwrap();
    assert!(!untrusted.trusted);
    assert!(untrusted.summary.last().unwrap().contains("not verified against any trusted key or root hash"));
    let e = check(&img, &roots(&[9u8; 32])).unwrap_err();
    assert!(e.contains("root hash") && e.contains("not one of the given"), "{e}");
}

fn openssl_keys(dir: &Path, name: &str) -> Option<(PathBuf, PathBuf)> {
    let openssl = need("openssl")?;
    let sk = dir.join(format!("{name}.priv.pem"));
    let pk = dir.join(format!("{name}.pub.pem"));
    let (ok, out) = run(Command::new(&openssl).args(["genrsa", "-3", "-out"]).arg(&sk).arg("3072"));
    assert!(ok, "{out}");
    let (ok, out) = run(Command::new(&openssl).args(["rsa", "-pubout", "-in"]).arg(&sk).arg("-out").arg(&pk));
    assert!(ok, "{out}");
    Some((pk, sk))
}

#[test]
fn signed_image_verifies_with_its_key_only() {
    let t = tempfile::tempdir().unwrap();
    let Some((pk, sk)) = openssl_keys(t.path(), "a") else { return };
    let (pk2, _) = openssl_keys(t.path(), "b").unwrap();
    let src = t.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("f"), b"signed content").unwrap();
    let img = t.path().join("s.img");
    let o = MkExt2Options { sign: Some((pk.clone(), sk.clone())), ..quick() };
    let r = mk(&src, &img, &o);
    let sig = read_fssig(&img).unwrap();
    assert_eq!(sig.signature().len(), 384);
    assert_eq!(Some(sig.signer), r.signer);

    let with = |keys: &[&PathBuf]| VerifyOptions { pubkeys: keys.iter().map(|p| p.to_path_buf()).collect(), ..Default::default() };
    assert!(check(&img, &with(&[&pk])).unwrap().trusted);
    assert!(check(&img, &with(&[&pk2, &pk])).unwrap().trusted);
    let e = check(&img, &with(&[&pk2])).unwrap_err();
    assert!(e.contains("untrusted key"), "{e}");
    // A wrong public key but a trusted root hash: trusted by the root hash.
    let mut both = with(&[&pk2]);
    both.roothashes.push(to_hex(&r.root_hash));
    assert!(check(&img, &both).unwrap().trusted);

    // Keys that do not parse, or do not belong together.
    let junk = t.path().join("junk.pem");
    fs::write(&junk, "-----BEGIN PUBLIC KEY-----\nnot base64!\n-----END PUBLIC KEY-----\n").unwrap();
    let e = check(&img, &with(&[&junk])).unwrap_err();
    assert!(e.contains("not a valid RSA public key"), "{e}");
    let img2 = t.path().join("s2.img");
    let e = mkext2(&src, &img2, &MkExt2Options { sign: Some((junk.clone(), sk.clone())), ..quick() }, &mut |_, _, _| {}).unwrap_err();
    assert!(e.contains("not a valid RSA public key"), "{e}");
    let e = mkext2(&src, &img2, &MkExt2Options { sign: Some((pk.clone(), junk.clone())), ..quick() }, &mut |_, _, _| {}).unwrap_err();
    assert!(e.contains("not a valid RSA private key"), "{e}");
    let e = mkext2(&src, &img2, &MkExt2Options { sign: Some((pk2.clone(), sk.clone())), ..quick() }, &mut |_, _, _| {}).unwrap_err();
    assert!(e.contains("does not belong"), "{e}");
    assert!(!img2.exists());
}

#[test]
fn encrypted_image_is_read_by_cryptsetup_e2fsck_debugfs_and_verify() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    make_tree(&src);
    let key: [u8; 64] = std::array::from_fn(|i| (i * 37 + 11) as u8);
    let keyfile = t.path().join("key");
    fs::write(&keyfile, key).unwrap();
    let img = t.path().join("enc.img");
    let o = MkExt2Options { encrypt: Some(keyfile.clone()), passphrase: Some(b"correct horse battery".to_vec()), ..quick() };
    let r = mk(&src, &img, &o);
    assert!(r.encrypted && !r.passphrase_is_key_file);
    assert_eq!(r.payload_offset, 2 << 20);
    assert_eq!(r.hash_offset, r.payload_offset + r.ext2_size);

    // Decrypt with the crate, then let the real tools check the plaintext.
    let f = File::open(&img).unwrap();
    let dev = LuksDevice::open(FileWindow { file: &f, len: r.hash_offset }, &key).unwrap();
    assert_eq!(dev.len(), r.ext2_size);
    let mut plain = vec![0u8; r.ext2_size as usize];
    dev.read_at(0, &mut plain).unwrap();
    let ext2 = t.path().join("plain.raw");
    fs::write(&ext2, &plain).unwrap();
    e2fsck_clean(&ext2);
    debugfs_matches(&ext2, &src, t.path());
    reader_matches(Ext2Dev(&dev), &src);
    // The ciphertext is not the plaintext.
    let mut c = vec![0u8; 4096];
    f.read_exact_at(&mut c, r.payload_offset).unwrap();
    assert_ne!(c[..], plain[..4096]);

    veritysetup_verify(&img, r.hash_offset, &r.root_hash);
    if let Some(cs) = need("cryptsetup") {
        let (ok, out) = run(Command::new(&cs).arg("luksDump").arg(&img));
        assert!(ok && out.contains("aes") && out.contains("xts-plain64") && out.contains("MK bits:") && out.contains("512"), "{out}");
        let pass = t.path().join("pass");
        fs::write(&pass, b"correct horse battery").unwrap();
        let (ok, out) = run(Command::new(&cs).args(["luksDump", "--dump-master-key", "--batch-mode", "--key-file"]).arg(&pass).arg(&img));
        assert!(ok, "{out}");
        let hex: String = out
            .split("MK dump:")
            .nth(1)
            .unwrap_or_else(|| panic!("{out}"))
            .split_whitespace()
            .take_while(|w| w.len() == 2 && w.chars().all(|c| c.is_ascii_hexdigit()))
            .collect();
        assert_eq!(hex, to_hex(&key));
    }

    let mut o = roots(&r.root_hash);
    let v = check(&img, &o).unwrap();
    assert!(v.trusted && !v.ext2_checked);
    o.key = Some(keyfile.clone());
    let v = check(&img, &o).unwrap();
    assert!(v.trusted && v.ext2_checked, "{:?}", v.summary);
    // A wrong key.
    let wrong = t.path().join("wrong");
    let mut k2 = key;
    k2[5] ^= 1;
    fs::write(&wrong, k2).unwrap();
    o.key = Some(wrong);
    let e = check(&img, &o).unwrap_err();
    assert!(e.contains("wrong key"), "{e}");
}

#[test]
fn default_passphrase_is_the_key_file() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("x"), b"x").unwrap();
    let key = [0x5au8; 64];
    let keyfile = t.path().join("key");
    fs::write(&keyfile, key).unwrap();
    let img = t.path().join("e.img");
    let r = mk(&src, &img, &MkExt2Options { encrypt: Some(keyfile), ..quick() });
    assert!(r.passphrase_is_key_file);
    let f = File::open(&img).unwrap();
    let d = LuksDevice::open_with_passphrase(FileWindow { file: &f, len: r.hash_offset }, &key).unwrap();
    assert_eq!(d.len(), r.ext2_size);
}

#[test]
fn mke2fs_and_veritysetup_images_are_read_by_verify() {
    let (Some(mke2fs), Some(vs)) = (need("mke2fs"), need("veritysetup")) else { return };
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    make_tree(&src);
    let img = t.path().join("theirs.img");
    let size: u64 = 64 << 20;
    let (ok, out) = run(Command::new(&mke2fs)
        .args(["-q", "-F", "-t", "ext2", "-b", "4096", "-d"])
        .arg(&src)
        .arg(&img)
        .arg(format!("{}k", size / 1024)));
    assert!(ok, "{out}");
    let (ok, out) = run(Command::new(&vs).arg("format").arg(format!("--hash-offset={size}")).arg(&img).arg(&img));
    assert!(ok, "{out}");
    let root = out.lines().find_map(|l| l.strip_prefix("Root hash:")).unwrap().trim().to_string();

    // No trailer: found by the superblock that ends the image, trusted by root hash.
    let o = VerifyOptions { roothashes: vec![root.clone()], ..Default::default() };
    let v = check(&img, &o).unwrap();
    assert!(v.trusted && v.ext2_checked, "{:?}", v.summary);
    assert!(v.summary[0].contains("trailer: none"));
    let e = check(&img, &VerifyOptions::default()).unwrap_err();
    assert!(e.contains("no FSSIG trailer"), "{e}");
    let e = check(&img, &roots(&[1u8; 32])).unwrap_err();
    assert!(e.contains("root hash"), "{e}");

    // With a trailer appended, as myst writes it.
    let root_b: [u8; 32] = myst_verity::from_hex(&root).unwrap().try_into().unwrap();
    let f = File::options().append(true).open(&img).unwrap();
    use std::io::Write;
    (&f).write_all(&FsSig::new(size, root_b, [0; 32], &[]).unwrap().to_bytes()).unwrap();
    drop(f);
    let v = check(&img, &o).unwrap();
    assert!(v.trusted && v.ext2_checked, "{:?}", v.summary);

    // And our reader sees their ext2 as the source tree.
    let f = File::open(&img).unwrap();
    let dev =
        myst_verity::VerityDevice::open(FileWindow { file: &f, len: fs::metadata(&img).unwrap().len() - 4096 }, size, root_b).unwrap();
    let e2 = Ext2::open(Ext2Dev(&dev)).unwrap();
    for (rel, m) in listing(&src) {
        let p = format!("/{}", rel.display());
        let ino = e2.lookup(p.as_bytes()).unwrap_or_else(|e| panic!("{p}: {e}"));
        let s = e2.stat(ino).unwrap();
        assert_eq!(s.mode as u32, m.mode(), "{p}");
        if m.is_file() {
            let data = fs::read(src.join(&rel)).unwrap();
            let mut buf = vec![0u8; data.len()];
            assert_eq!(e2.read(ino, 0, &mut buf).unwrap(), data.len());
            assert!(buf == data, "{p}: contents");
        }
    }
}

fn flip(img: &Path, off: u64) -> u8 {
    let f = File::options().read(true).write(true).open(img).unwrap();
    let mut b = [0u8];
    f.read_exact_at(&mut b, off).unwrap();
    f.write_all_at(&[b[0] ^ 0x5a], off).unwrap();
    b[0]
}

fn restore(img: &Path, off: u64, v: u8) {
    File::options().write(true).open(img).unwrap().write_all_at(&[v], off).unwrap();
}

/// Flips one byte at `n` random positions of each region and checks `verify` refuses the
/// image with a message that names the right thing.
fn tamper_regions(img: &Path, o: &VerifyOptions, regions: &[(&str, u64, u64, &[&str])], n: usize, seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    check(img, o).unwrap();
    for &(what, start, end, words) in regions {
        for _ in 0..n {
            let off = rng.gen_range(start..end);
            let old = flip(img, off);
            let r = check(img, o);
            restore(img, off, old);
            let e = match r {
                Err(e) => e,
                Ok(v) => panic!("flipping byte {off} ({what}) was not detected: {:?}", v.summary),
            };
            assert!(words.iter().any(|w| e.contains(w)), "flipping byte {off} ({what}): message does not name it: {e}");
        }
    }
    check(img, o).unwrap();
}

#[test]
fn tampering_anywhere_is_detected() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    fs::create_dir(&src).unwrap();
    for i in 0..200 {
        fs::write(src.join(format!("f{i}")), vec![i as u8; 5000 + i * 97]).unwrap();
    }
    let keyfile = t.path().join("key");
    fs::write(&keyfile, [7u8; 64]).unwrap();
    let keys = openssl_keys(t.path(), "k");
    let n = 25;

    for encrypted in [false, true] {
        let img = t.path().join(if encrypted { "enc.img" } else { "plain.img" });
        let mut mo = quick();
        if encrypted {
            mo.encrypt = Some(keyfile.clone());
        }
        mo.sign = keys.clone();
        let r = mk(&src, &img, &mo);
        let len = r.image_size;
        let hash_area_end = len - 4096;
        let mut o = match &keys {
            Some((pk, _)) => VerifyOptions { pubkeys: vec![pk.clone()], ..Default::default() },
            None => roots(&r.root_hash),
        };
        if encrypted {
            o.key = Some(keyfile.clone());
        }
        let data_words: &[&str] = &["data block", "top of the hash tree"];
        let tree_words: &[&str] = &["hash block", "top of the hash tree", "does not match"];
        let sb_words: &[&str] = &["superblock", "top of the hash tree", "verity"];
        let trailer_words: &[&str] = &["FSSIG", "trailer", "signature", "signer", "root hash", "untrusted key", "hash offset"];
        let mut regions: Vec<(&str, u64, u64, &[&str])> = vec![
            ("ext2 data", r.payload_offset, r.hash_offset, data_words),
            ("hash tree", r.hash_offset + 4096, hash_area_end, tree_words),
            // The superblock's uuid (bytes 16..32) is informational and covered by nothing,
            // in dm-verity as here; every other byte of its block is checked.
            ("verity superblock", r.hash_offset, r.hash_offset + 16, sb_words),
            ("verity superblock", r.hash_offset + 32, r.hash_offset + 4096, sb_words),
            ("FSSIG trailer", hash_area_end, len, trailer_words),
        ];
        if encrypted {
            regions.push(("LUKS header", 0, 592, &["LUKS header", "data block 0"]));
            regions.push(("LUKS key material", 592, r.payload_offset, &["LUKS", "data block"]));
        }
        // Also the first bytes of every region, where the most important fields are.
        tamper_regions(&img, &o, &regions, n, 42 + encrypted as u64);
        for &(what, start, _, words) in &regions {
            let old = flip(&img, start);
            let e = check(&img, &o).expect_err(what);
            restore(&img, start, old);
            assert!(words.iter().any(|w| e.contains(w)), "{what}: {e}");
        }
    }
}

#[test]
fn truncated_and_damaged_images_are_clear_errors() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("f"), vec![3u8; 100_000]).unwrap();
    let img = t.path().join("i.img");
    let r = mk(&src, &img, &quick());
    let o = roots(&r.root_hash);
    let full = fs::read(&img).unwrap();
    for cut in [1usize, 4096, 8192, full.len() / 2, full.len() - 100] {
        let p = t.path().join(format!("cut{cut}"));
        fs::write(&p, &full[..full.len() - cut]).unwrap();
        if cut == 4096 {
            // Exactly the trailer removed: what is left is a complete verity image as
            // `veritysetup format` writes it, still trusted by its root hash.
            let v = check(&p, &o).unwrap();
            assert!(v.summary[0].contains("trailer: none"), "{:?}", v.summary);
            assert!(check(&p, &VerifyOptions::default()).unwrap_err().contains("no FSSIG trailer"));
            continue;
        }
        let e = check(&p, &o).unwrap_err();
        assert!(e.contains("truncated") || e.contains("no FSSIG trailer"), "cut {cut}: {e}");
    }
    // Bytes appended after the trailer.
    let p = t.path().join("longer");
    let mut longer = full.clone();
    longer.extend_from_slice(&[0u8; 4096]);
    fs::write(&p, &longer).unwrap();
    assert!(check(&p, &o).unwrap_err().contains("no FSSIG trailer"));
    // Not an image at all.
    let p = t.path().join("empty");
    fs::write(&p, b"").unwrap();
    assert!(check(&p, &o).unwrap_err().contains("truncated"));
    assert!(check(&t.path().join("missing"), &o).unwrap_err().contains("No such file"));
    // Bad arguments.
    let e = check(&img, &VerifyOptions { roothashes: vec!["abc".into()], ..Default::default() }).unwrap_err();
    assert!(e.contains("64 hex digits"), "{e}");
    let e = check(&img, &VerifyOptions { key: Some(t.path().join("nokey")), ..roots(&r.root_hash) }).unwrap_err();
    assert!(e.contains("key file"), "{e}");
    let kf = t.path().join("k64");
    fs::write(&kf, [0u8; 64]).unwrap();
    let e = check(&img, &VerifyOptions { key: Some(kf), ..roots(&r.root_hash) }).unwrap_err();
    assert!(e.contains("not LUKS-encrypted"), "{e}");
}

#[test]
fn force_size_and_key_file_rules() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("f"), vec![1u8; 300_000]).unwrap();
    let img = t.path().join("i.img");
    fs::write(&img, b"precious").unwrap();
    let e = mkext2(&src, &img, &quick(), &mut |_, _, _| {}).unwrap_err();
    assert_eq!(e, format!("{} exists; use --force to overwrite", img.display()));
    assert_eq!(fs::read(&img).unwrap(), b"precious");
    let r = mk(&src, &img, &MkExt2Options { force: true, ..quick() });
    assert_eq!(fs::metadata(&img).unwrap().len(), r.image_size);
    assert_eq!(fs::read_dir(t.path()).unwrap().count(), 2, "temporary file left behind");

    // --size: too small names the minimum; larger is honoured.
    let e = mkext2(&src, &t.path().join("s.img"), &MkExt2Options { size: Some(64 << 10), ..quick() }, &mut |_, _, _| {}).unwrap_err();
    assert!(e.contains("too small") && e.contains("at least"), "{e}");
    assert!(!t.path().join("s.img").exists());
    let r = mk(&src, &t.path().join("s.img"), &MkExt2Options { size: Some(32 << 20), ..quick() });
    assert_eq!(r.ext2_size, 32 << 20);
    assert!(check(&t.path().join("s.img"), &roots(&r.root_hash)).unwrap().trusted);

    // Key files must be exactly 64 bytes.
    for n in [0usize, 32, 63, 65] {
        let kf = t.path().join(format!("k{n}"));
        fs::write(&kf, vec![1u8; n]).unwrap();
        let e = mkext2(&src, &t.path().join("k.img"), &MkExt2Options { encrypt: Some(kf), ..quick() }, &mut |_, _, _| {}).unwrap_err();
        assert!(e.contains("exactly 64 bytes"), "{e}");
    }
    let e = mkext2(&src, &t.path().join("k.img"), &MkExt2Options { passphrase: Some(b"pw".to_vec()), ..quick() }, &mut |_, _, _| {})
        .unwrap_err();
    assert!(e.contains("--encrypt"), "{e}");
    let e = mkext2(&t.path().join("nodir"), &t.path().join("k.img"), &quick(), &mut |_, _, _| {}).unwrap_err();
    assert!(e.contains("nodir"), "{e}");
    assert!(!t.path().join("k.img").exists());
}

#[test]
fn files_larger_than_4_gib_stream_and_keep_their_holes() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    fs::create_dir(&src).unwrap();
    let huge = 5u64 << 30;
    let f = File::create(src.join("huge")).unwrap();
    f.write_all_at(b"at the start", 0).unwrap();
    f.write_all_at(&[0x77u8; 8192], (9u64 << 29) + 100).unwrap(); // 4.5 GiB
    f.write_all_at(b"the end", huge - 7).unwrap();
    drop(f);
    let img = t.path().join("h.img");
    let r = mk(&src, &img, &quick());
    assert!(r.image_size < 64 << 20, "holes were written out: {} bytes", r.image_size);
    let ext2 = t.path().join("ext2.raw");
    extract(&img, 0, r.hash_offset, &ext2);
    e2fsck_clean(&ext2);
    veritysetup_verify(&img, r.hash_offset, &r.root_hash);
    let t0 = std::time::Instant::now();
    let v = check(&img, &roots(&r.root_hash)).unwrap();
    assert!(v.trusted && v.ext2_checked);
    eprintln!("verify of a 5 GiB sparse file: {:?}", t0.elapsed());
    let fsys = Ext2::open(myst_ext2::MemDevice::new(fs::read(&ext2).unwrap())).unwrap();
    let ino = fsys.lookup(b"/huge").unwrap();
    assert_eq!(fsys.stat(ino).unwrap().size, huge);
    let mut b = vec![0u8; 8192 + 200];
    fsys.read(ino, (9u64 << 29) + 100 - 100, &mut b).unwrap();
    assert!(b[..100].iter().all(|&x| x == 0) && b[100..8292].iter().all(|&x| x == 0x77) && b[8292..].iter().all(|&x| x == 0));
    let mut e = [0u8; 7];
    fsys.read(ino, huge - 7, &mut e).unwrap();
    assert_eq!(&e, b"the end");
    if let Some(debugfs) = need("debugfs") {
        let (ok, out) = run(Command::new(debugfs).arg("-R").arg("stat /huge").arg(&ext2));
        assert!(ok && out.contains(&format!("Size: {huge}")), "{out}");
    }
}

#[test]
fn check_ext2_names_the_first_bad_path() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    fs::create_dir_all(src.join("a/b")).unwrap();
    fs::write(src.join("a/b/file"), vec![9u8; 50_000]).unwrap();
    let img = t.path().join("i.img");
    let r = mk(&src, &img, &quick());
    let mut raw = fs::read(&img).unwrap();
    raw.truncate(r.hash_offset as usize);
    let good = check_ext2(myst_ext2::MemDevice::new(raw.clone())).unwrap();
    assert_eq!((good.dirs, good.files, good.bytes), (4, 1, 50_000));
    // Break the file's first data block pointer: point it past the end of the file system.
    let fsys = Ext2::open(myst_ext2::MemDevice::new(raw.clone())).unwrap();
    let ino = fsys.lookup(b"/a/b/file").unwrap();
    drop(fsys);
    // Inode table location: group 0 descriptor at 4096, inode table block at +8.
    let itable = u32::from_le_bytes(raw[4096 + 8..4096 + 12].try_into().unwrap()) as usize;
    let at = itable * 4096 + (ino as usize - 1) * 256 + 40;
    raw[at..at + 4].copy_from_slice(&0x00ff_ffffu32.to_le_bytes());
    let e = check_ext2(myst_ext2::MemDevice::new(raw)).unwrap_err();
    assert!(e.contains("/a/b/file"), "{e}");
}
