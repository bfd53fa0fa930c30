//! `myst verify`: offline checks of a trusted image.
//!
//! In order: the FSSIG trailer parses; the image is trusted (its signature verifies with one of
//! the given public keys, or its root hash is one of the given root hashes); the verity
//! superblock, every hash block and every data block match the root hash; for a LUKS image the
//! header parses and (with the key) the key matches it; the ext2 file system opens and every
//! directory, file and link in it reads back, with consistent link counts. The first failure is
//! the error, naming the block, field or path.
//!
//! Images without a trailer (as `veritysetup format` leaves them) are accepted with
//! `--roothash` when a verity superblock whose hash area ends the image is found.

use crate::ext2img::read_key_file;
use crate::imgio::{Ext2Dev, FileWindow};
use myst_crypt::{LuksDevice, LuksError, LuksHeader};
use myst_ext2::{BlockDevice, Ext2, FileType};
use myst_verity::fssig::{self, FsSig, FsSigError, TRAILER_SIZE};
use myst_verity::superblock::SUPERBLOCK_SIZE;
use myst_verity::{to_hex, BlockRead, Geometry, IoError, Superblock, VerityDevice, VerityError, BLOCK_SIZE, DIGEST_SIZE};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// What to check an image against.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Trusted RSA public keys (PEM files).
    pub pubkeys: Vec<PathBuf>,
    /// Trusted root hashes (hex).
    pub roothashes: Vec<String>,
    /// The 64-byte master key of an encrypted image.
    pub key: Option<PathBuf>,
}

/// The result of a verification that found nothing wrong.
#[derive(Debug, Clone)]
pub struct VerifyOutcome {
    /// Whether the image is trusted: signed by a given key or with a given root hash. An
    /// untrusted image had all its other checks done, but is not verified.
    pub trusted: bool,
    /// Whether the ext2 file system was checked (not for an encrypted image without a key).
    pub ext2_checked: bool,
    /// One line per check.
    pub summary: Vec<String>,
}

/// What the ext2 walk found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ext2Stats {
    /// Directories, the root included.
    pub dirs: u64,
    /// Regular files (inodes).
    pub files: u64,
    /// Bytes read from regular files.
    pub bytes: u64,
    /// Symbolic links.
    pub symlinks: u64,
    /// Device nodes, fifos and sockets.
    pub special: u64,
}

const LUKS_MAGIC: &[u8; 6] = b"LUKS\xba\xbe";

fn parse_root_hash(s: &str) -> Result<[u8; DIGEST_SIZE], String> {
    myst_verity::from_hex(s.trim())
        .and_then(|v| <[u8; DIGEST_SIZE]>::try_from(v.as_slice()).ok())
        .ok_or_else(|| format!("--roothash {s}: expected a sha256 root hash, 64 hex digits"))
}

/// Looks for a verity superblock whose hash area ends exactly at the end of an image without a
/// trailer. Returns its offset.
fn find_bare_verity(file: &File, len: u64) -> Option<u64> {
    let bs = BLOCK_SIZE as u64;
    let max_k = len / bs / 100 + 16;
    let mut sb = [0u8; SUPERBLOCK_SIZE];
    for k in 1..=max_k {
        let off = len.checked_sub(k * bs)?;
        if off % bs != 0 || file.read_exact_at(&mut sb, off).is_err() || &sb[..8] != b"verity\0\0" {
            continue;
        }
        let Ok(s) = Superblock::parse(&sb) else { continue };
        let Some(g) = Geometry::new(s.data_blocks) else { continue };
        if s.data_blocks.checked_mul(bs).is_some_and(|d| d <= off) && off.checked_add(g.hash_area_size()) == Some(len) {
            return Some(off);
        }
    }
    None
}

/// Where a byte offset of the verity data area lies, in words.
fn region(offset: u64, luks_payload: Option<u64>) -> String {
    match luks_payload {
        Some(_) if offset < 592 => format!("offset {offset}, in the LUKS header"),
        Some(p) if offset < p => format!("offset {offset}, in the LUKS key material area"),
        Some(p) => format!("offset {offset}, in the encrypted ext2 payload (ext2 block {})", (offset - p) / BLOCK_SIZE as u64),
        None => format!("offset {offset}, ext2 block {}", offset / BLOCK_SIZE as u64),
    }
}

fn describe_io(e: &IoError, hash_offset: u64, luks_payload: Option<u64>) -> String {
    match *e {
        IoError::CorruptData { block } => {
            format!("verity: data block {block} ({}) does not match its hash", region(block * BLOCK_SIZE as u64, luks_payload))
        }
        IoError::CorruptHash { level, hash_block, .. } => format!(
            "verity: hash block {hash_block} (tree level {level}, image offset {}) does not match its parent hash",
            hash_offset + hash_block * BLOCK_SIZE as u64
        ),
        ref other => format!("{other}"),
    }
}

/// Verifies `image`; see the module docs. `log` gets one line per passed check as it goes;
/// `progress(done, total)` counts verified data blocks.
pub fn verify(
    image: &Path,
    opts: &VerifyOptions,
    log: &mut dyn FnMut(&str),
    progress: &mut dyn FnMut(u64, u64),
) -> Result<VerifyOutcome, String> {
    let mut summary = Vec::new();
    let mut say = |s: String| {
        log(&s);
        summary.push(s);
    };
    let name = image.display();

    // Arguments first.
    let roots = opts.roothashes.iter().map(|s| parse_root_hash(s)).collect::<Result<Vec<_>, _>>()?;
    let keys = opts
        .pubkeys
        .iter()
        .map(|p| {
            let pem = std::fs::read_to_string(p).map_err(|e| format!("public key {}: {e}", p.display()))?;
            fssig::parse_public_key_pem(&pem).map_err(|e| {
                let why = match e {
                    FsSigError::BadKey { reason, .. } => reason,
                    other => other.to_string(),
                };
                format!("public key {}: not a valid RSA public key PEM ({why})", p.display())
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let master_key = opts.key.as_deref().map(read_key_file).transpose()?;

    let file = File::open(image).map_err(|e| format!("{name}: {e}"))?;
    let len = file.metadata().map_err(|e| format!("{name}: {e}"))?.len();

    // The trailer, and with it where the tree is and which root hash it claims.
    let (trailer, hash_offset, area_end) = match FsSig::read_from(&file) {
        Ok(t) => {
            let h = t.hash_offset;
            (Some(t), h, len - TRAILER_SIZE as u64)
        }
        Err(FsSigError::BadMagic(m)) if !roots.is_empty() => match find_bare_verity(&file, len) {
            Some(off) => {
                say(format!("trailer: none (magic {m:#018x}); using the verity superblock at offset {off} that ends the image"));
                (None, off, len)
            }
            None => {
                return Err(format!(
                    "{name}: no FSSIG trailer (magic {m:#018x}) and no verity hash area ends the image: truncated, extended or not a verity image"
                ))
            }
        },
        Err(FsSigError::TooShort(n)) => {
            return Err(format!("{name}: image truncated: {n} bytes is smaller than the {TRAILER_SIZE}-byte FSSIG trailer"))
        }
        Err(FsSigError::BadMagic(m)) => {
            return Err(format!(
                "{name}: no FSSIG trailer in the last {TRAILER_SIZE} bytes (magic {m:#018x}): the image is truncated, extended, corrupt or not a myst image"
            ))
        }
        Err(e) => return Err(format!("{name}: FSSIG trailer: {e}")),
    };

    // Trust.
    let mut trusted = false;
    let mut root = None;
    if let Some(t) = &trailer {
        let signed = !t.signature().is_empty();
        if !signed && t.signer != [0u8; DIGEST_SIZE] {
            return Err(format!("{name}: FSSIG trailer: no signature, but the signer field is not zero ({})", to_hex(&t.signer)));
        }
        say(format!(
            "trailer: FSSIG version 1, hash offset {}, root hash {}, {}",
            t.hash_offset,
            to_hex(&t.root_hash),
            if signed { format!("signed by {} ({}-bit key)", to_hex(&t.signer), t.signature().len() * 8) } else { "unsigned".into() }
        ));
        let root_listed = roots.contains(&t.root_hash);
        if !keys.is_empty() {
            match fssig::verify_with_keys(t, &keys) {
                Ok(i) => {
                    trusted = true;
                    say(format!("signature: valid, by trusted key {}", opts.pubkeys[i].display()));
                }
                Err(FsSigError::BadSignature { index }) => {
                    return Err(format!(
                        "{name}: FSSIG signature does not verify with the signer's key {}: the trailer (root hash or signature) was changed",
                        opts.pubkeys[index].display()
                    ));
                }
                Err(e) if root_listed => say(format!("signature: not trusted ({e}); the root hash is trusted instead")),
                Err(FsSigError::Unsigned) => {
                    return Err(format!("{name}: the image is not signed, so it cannot be verified with --pubkey (use --roothash)"))
                }
                Err(FsSigError::UnknownSigner(s)) => {
                    return Err(format!(
                        "{name}: signed by an untrusted key (signer {}); none of the {} given public keys matches{}",
                        to_hex(&s),
                        keys.len(),
                        if roots.is_empty() { "" } else { ", and the root hash is not one of the given root hashes" }
                    ));
                }
                Err(e) => return Err(format!("{name}: {e}")),
            }
        }
        if root_listed {
            trusted = true;
            say(format!("root hash: {} is trusted (--roothash)", to_hex(&t.root_hash)));
        } else if !roots.is_empty() && !trusted {
            return Err(format!("{name}: root hash {} is not one of the given root hashes", to_hex(&t.root_hash)));
        }
        root = Some(t.root_hash);
    }

    // The verity tree.
    let window = FileWindow { file: &file, len: area_end };
    let mut sb_block = vec![0u8; BLOCK_SIZE];
    if area_end < hash_offset.saturating_add(BLOCK_SIZE as u64) {
        return Err(format!("{name}: image truncated: no room for the verity superblock at offset {hash_offset}"));
    }
    window.read_at(hash_offset, &mut sb_block).map_err(|e| format!("{name}: {e}"))?;
    if let Some(p) = sb_block[SUPERBLOCK_SIZE..].iter().position(|&b| b != 0) {
        return Err(format!(
            "{name}: verity superblock block at offset {hash_offset}: byte {} after the superblock is not zero",
            SUPERBLOCK_SIZE + p
        ));
    }
    let open = |r: [u8; DIGEST_SIZE]| VerityDevice::open(FileWindow { file: &file, len: area_end }, hash_offset, r);
    let verity = match root {
        Some(r) => open(r),
        None => {
            // No trailer: the first given root hash that opens the tree.
            let mut last = Err(VerityError::WrongRootHash);
            for r in &roots {
                last = open(*r);
                if !matches!(last, Err(VerityError::WrongRootHash)) {
                    if last.is_ok() {
                        trusted = true;
                        say(format!("root hash: {} is trusted (--roothash)", to_hex(r)));
                    }
                    break;
                }
            }
            last
        }
    };
    let verity = verity.map_err(|e| match e {
        VerityError::WrongRootHash => format!(
            "{name}: verity: the top of the hash tree (at offset {}) does not match the root hash{}: the tree, the superblock salt or the root hash was changed",
            hash_offset + BLOCK_SIZE as u64,
            if trailer.is_some() { " in the FSSIG trailer" } else { "" }
        ),
        VerityError::Io(io) | VerityError::TreeMismatch(io) => format!("{name}: {}", describe_io(&io, hash_offset, None)),
        VerityError::Superblock(s) => format!(
            "{name}: verity superblock at offset {hash_offset}{}: {s}",
            if trailer.is_some() { " (the hash offset in the FSSIG trailer)" } else { "" }
        ),
        other => format!("{name}: {other}"),
    })?;
    let geo = *verity.geometry();
    let tree_end = hash_offset + geo.hash_area_size();
    if tree_end != area_end {
        return Err(format!(
            "{name}: {} unexpected bytes between the end of the verity hash tree (offset {tree_end}) and {}",
            area_end.saturating_sub(tree_end),
            if trailer.is_some() { "the FSSIG trailer" } else { "the end of the image" }
        ));
    }
    // Is it LUKS? (Read through verity: the header is covered by the tree.)
    let mut magic = [0u8; 6];
    let is_luks = verity.len() >= 6 && verity.read_at(0, &mut magic).is_ok() && &magic == LUKS_MAGIC;
    let luks_payload = if is_luks {
        let mut phdr = [0u8; myst_crypt::header::PHDR_SIZE];
        verity.read_at(0, &mut phdr).map_err(|e| format!("{name}: {}", describe_io(&e, hash_offset, None)))?;
        Some(LuksHeader::parse(&phdr).map_err(|e| format!("{name}: LUKS header: {e}"))?.header_area_size())
    } else {
        None
    };
    verity.verify_all(progress).map_err(|e| format!("{name}: {}", describe_io(&e, hash_offset, luks_payload)))?;
    say(format!(
        "verity: superblock at offset {hash_offset}, {} data blocks, {} tree levels: every hash and data block matches",
        verity.data_blocks(),
        geo.levels
    ));

    // LUKS and ext2.
    let mut ext2_checked = false;
    if is_luks {
        match &master_key {
            Some(k) => {
                let dev = LuksDevice::open(&verity, k).map_err(|e| match e {
                    LuksError::WrongKey => format!(
                        "{name}: wrong key: {} does not match the LUKS header's master key digest",
                        opts.key.as_deref().unwrap_or(Path::new("")).display()
                    ),
                    other => format!("{name}: LUKS: {other}"),
                })?;
                let h = dev.header();
                say(format!("luks: LUKS1 aes-xts-plain64, uuid {}, payload at offset {}: the key matches", h.uuid, h.header_area_size()));
                let s = check_ext2(Ext2Dev(&dev)).map_err(|e| format!("{name}: ext2 (decrypted): {e}"))?;
                say(ext2_line(&s));
                ext2_checked = true;
            }
            None => {
                let mut phdr = [0u8; myst_crypt::header::PHDR_SIZE];
                verity.read_at(0, &mut phdr).map_err(|e| format!("{name}: {e}"))?;
                let h = LuksHeader::parse(&phdr).map_err(|e| format!("{name}: LUKS header: {e}"))?;
                say(format!(
                    "luks: LUKS1 aes-xts-plain64, uuid {}, payload at offset {}; the ext2 inside is not checked (give --key KEYFILE)",
                    h.uuid,
                    h.header_area_size()
                ));
            }
        }
    } else {
        if opts.key.is_some() {
            return Err(format!("{name}: --key was given but the image is not LUKS-encrypted"));
        }
        let s = check_ext2(Ext2Dev(&verity)).map_err(|e| format!("{name}: ext2: {e}"))?;
        say(ext2_line(&s));
        ext2_checked = true;
    }
    if !trusted {
        say("trust: not verified against any trusted key or root hash".into());
    }
    Ok(VerifyOutcome { trusted, ext2_checked, summary })
}

fn ext2_line(s: &Ext2Stats) -> String {
    format!(
        "ext2: {} directories, {} files ({} bytes), {} symlinks, {} special files: all readable, link counts consistent",
        s.dirs, s.files, s.bytes, s.symlinks, s.special
    )
}

fn show(path: &[u8]) -> String {
    if path.is_empty() {
        "/".into()
    } else {
        String::from_utf8_lossy(path).into_owned()
    }
}

/// Opens an ext2 file system and walks all of it: every directory is listed, every regular file
/// read to its end, every symlink read; entry types must match inode types, and link counts
/// must match the names found. The error names the first path that fails.
pub fn check_ext2<D: BlockDevice>(dev: D) -> Result<Ext2Stats, String> {
    let fs = Ext2::open(dev).map_err(|e| format!("cannot open: {e}"))?;
    let mut st = Ext2Stats::default();
    let root = fs.root_ino();
    let mut stack: Vec<(u32, Vec<u8>, u32)> = vec![(root, Vec::new(), root)];
    let mut seen_dirs = HashSet::new();
    // Names per non-directory inode, and the first path of each.
    let mut names: HashMap<u32, (u32, Vec<u8>)> = HashMap::new();
    let mut buf = vec![0u8; 1 << 20];
    while let Some((ino, path, parent)) = stack.pop() {
        if !seen_dirs.insert(ino) {
            return Err(format!("{}: directory reached twice (a directory loop or a hard-linked directory)", show(&path)));
        }
        st.dirs += 1;
        let dstat = fs.stat(ino).map_err(|e| format!("{}: {e}", show(&path)))?;
        let entries = fs.readdir(ino).map_err(|e| format!("{}: cannot list: {e}", show(&path)))?;
        let mut subdirs = 0u32;
        let (mut dot, mut dotdot) = (false, false);
        for e in entries {
            if e.name == b"." || e.name == b".." {
                let want = if e.name == b"." { ino } else { parent };
                if e.ino != want {
                    return Err(format!("{}: entry '{}' points to inode {} instead of {want}", show(&path), show(&e.name), e.ino));
                }
                if e.name == b"." {
                    dot = true;
                } else {
                    dotdot = true;
                }
                continue;
            }
            let mut p = path.clone();
            p.push(b'/');
            p.extend_from_slice(&e.name);
            let s = fs.stat(e.ino).map_err(|x| format!("{}: {x}", show(&p)))?;
            let t = s.file_type();
            if e.file_type != FileType::Unknown && e.file_type != t {
                return Err(format!("{}: directory entry type {:?} but inode {} is {:?}", show(&p), e.file_type, e.ino, t));
            }
            match t {
                FileType::Dir => {
                    subdirs += 1;
                    stack.push((e.ino, p, ino));
                    continue;
                }
                FileType::Regular => {
                    if !names.contains_key(&e.ino) {
                        st.files += 1;
                        let mut off = 0u64;
                        while off < s.size {
                            let want = (s.size - off).min(buf.len() as u64) as usize;
                            let n = fs.read(e.ino, off, &mut buf[..want]).map_err(|x| format!("{}: read at {off}: {x}", show(&p)))?;
                            if n == 0 {
                                return Err(format!("{}: read stops at {off} of {} bytes", show(&p), s.size));
                            }
                            off += n as u64;
                        }
                        st.bytes += s.size;
                    }
                }
                FileType::Symlink => {
                    if !names.contains_key(&e.ino) {
                        st.symlinks += 1;
                        let t = fs.readlink(e.ino).map_err(|x| format!("{}: readlink: {x}", show(&p)))?;
                        if t.len() as u64 != s.size {
                            return Err(format!("{}: symlink target is {} bytes, inode size says {}", show(&p), t.len(), s.size));
                        }
                    }
                }
                _ => {
                    if !names.contains_key(&e.ino) {
                        st.special += 1;
                    }
                }
            }
            names.entry(e.ino).or_insert((0, p)).0 += 1;
        }
        if !dot || !dotdot {
            return Err(format!("{}: missing '.' or '..' entry", show(&path)));
        }
        if dstat.nlink != 2 + subdirs {
            return Err(format!(
                "{}: directory link count {} but it has {subdirs} subdirectories (expected {})",
                show(&path),
                dstat.nlink,
                2 + subdirs
            ));
        }
    }
    let mut inos: Vec<_> = names.into_iter().collect();
    inos.sort_by_key(|(ino, _)| *ino);
    for (ino, (count, path)) in inos {
        let s = fs.stat(ino).map_err(|x| format!("{}: {x}", show(&path)))?;
        if s.nlink != count {
            return Err(format!("{}: link count {} but {count} names refer to inode {ino}", show(&path), s.nlink));
        }
    }
    Ok(st)
}
