//! `myst mkext2` and `myst fssig`: trusted ext2 images built from a host directory.
//!
//! Layout of an image (everything 4096-byte aligned):
//!
//! ```text
//! plain:     | ext2                                  | verity superblock + hash tree | FSSIG |
//! encrypted: | LUKS1 header area | encrypted ext2    | verity superblock + hash tree | FSSIG |
//!            0                                       hash_offset                     last 4096
//! ```
//!
//! The verity tree covers everything before `hash_offset` (for encrypted images: the LUKS
//! header area and the ciphertext). The FSSIG trailer records `hash_offset` and the root hash,
//! signed with `--sign`, or with an empty signature (size 0, signer zero) otherwise, so that the
//! image can still be trusted by root hash.
//!
//! The image is written to a temporary file next to IMAGE and renamed over it at the end; an
//! existing IMAGE is never touched without `force`. The ext2 part streams from the source files
//! (sparse files keep their holes, files of any size work), then one sequential pass encrypts
//! (with `--encrypt`) and hashes it.

use crate::imgio::{CoalescingWriter, FileWindow};
use myst_crypt::{FormatOptions, XtsPlain64};
use myst_ext2::{BuildOptions, Builder, Ext2Error, FileData, FileSource, Meta, SpecialKind, Timestamp};
use myst_verity::fssig::{self, FsSig, TRAILER_SIZE};
use myst_verity::{BlockRead, FileSink, IoError, BLOCK_SIZE, DIGEST_SIZE};
use rand::RngCore;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::rc::Rc;

pub use myst_verity::fssig::{MAGIC as FSSIG_MAGIC, VERSION as FSSIG_VERSION};

/// Size of an `--encrypt` key file: a 512-bit aes-xts-plain64 master key.
pub const KEY_FILE_SIZE: usize = 64;

/// Options of [`mkext2`].
#[derive(Debug, Clone)]
pub struct MkExt2Options {
    /// Replace an existing IMAGE.
    pub force: bool,
    /// Size of the ext2 file system in bytes (default: what the tree needs plus headroom).
    pub size: Option<u64>,
    /// Sign with `(public key PEM, private key PEM)`.
    pub sign: Option<(PathBuf, PathBuf)>,
    /// Encrypt with the 64-byte master key in this file.
    pub encrypt: Option<PathBuf>,
    /// Passphrase for LUKS key slot 0 (default: the key file's 64 bytes, so that
    /// `cryptsetup open --key-file KEYFILE` opens the image).
    pub passphrase: Option<Vec<u8>>,
    /// PBKDF2 iterations of key slot 0.
    pub slot_iterations: u32,
}

impl Default for MkExt2Options {
    fn default() -> Self {
        MkExt2Options { force: false, size: None, sign: None, encrypt: None, passphrase: None, slot_iterations: 200_000 }
    }
}

/// What [`mkext2`] is doing, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading the source tree (`done` counts entries; `total` is 0).
    Scan,
    /// Writing the ext2 file system (bytes of file data).
    Ext2,
    /// Encrypting (with `--encrypt`) and hashing (data blocks).
    Hash,
}

/// What [`mkext2`] wrote.
#[derive(Debug, Clone)]
pub struct MkExt2Report {
    /// Entries taken from the source tree (the root excluded).
    pub entries: u64,
    /// Size of the ext2 file system.
    pub ext2_size: u64,
    /// Start of the ext2 file system in the image (the LUKS header area size, or 0).
    pub payload_offset: u64,
    /// Offset of the verity superblock.
    pub hash_offset: u64,
    /// Total image size.
    pub image_size: u64,
    /// The verity root hash.
    pub root_hash: [u8; DIGEST_SIZE],
    /// The signer (sha256 of the modulus), if signed.
    pub signer: Option<[u8; DIGEST_SIZE]>,
    /// Whether the ext2 file system is LUKS-encrypted.
    pub encrypted: bool,
    /// Whether LUKS key slot 0 opens with the key file's contents (no `--passphrase`).
    pub passphrase_is_key_file: bool,
}

/// Reads an `--encrypt` key file: exactly 64 bytes.
pub fn read_key_file(path: &Path) -> Result<[u8; KEY_FILE_SIZE], String> {
    let data = fs::read(path).map_err(|e| format!("key file {}: {e}", path.display()))?;
    <[u8; KEY_FILE_SIZE]>::try_from(data.as_slice()).map_err(|_| {
        format!(
            "key file {} is {} bytes; it must be exactly {KEY_FILE_SIZE} bytes (a 512-bit aes-xts-plain64 key, e.g. head -c 64 /dev/urandom > KEYFILE)",
            path.display(),
            data.len()
        )
    })
}

fn read_pem(path: &Path, what: &str) -> Result<String, String> {
    let b = fs::read(path).map_err(|e| format!("{what} {}: {e}", path.display()))?;
    String::from_utf8(b).map_err(|_| format!("{what} {}: not a PEM file (not text)", path.display()))
}

/// Checks a `--sign` key pair: both parse and belong together. Returns the private key PEM
/// text and the signer id.
fn load_signing_keys(public: &Path, private: &Path) -> Result<(String, [u8; DIGEST_SIZE]), String> {
    let pub_pem = read_pem(public, "public key")?;
    let priv_pem = read_pem(private, "private key")?;
    let pk = fssig::parse_public_key_pem(&pub_pem)
        .map_err(|e| format!("public key {}: not a valid RSA public key PEM ({})", public.display(), key_reason(&e)))?;
    let sk = fssig::parse_private_key_pem(&priv_pem)
        .map_err(|e| format!("private key {}: not a valid RSA private key PEM ({})", private.display(), key_reason(&e)))?;
    let signer = fssig::signer_of(&pk);
    if fssig::signer_of(&sk.to_public_key()) != signer {
        return Err(format!("public key {} does not belong to private key {}", public.display(), private.display()));
    }
    Ok((priv_pem, signer))
}

fn key_reason(e: &fssig::FsSigError) -> String {
    match e {
        fssig::FsSigError::BadKey { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

// ------------------------------------------------------------------ source tree

/// The one source file open at a time, with a read-ahead buffer (the builder reads a block at
/// a time, and a tree may have more files than the process may keep open).
struct SharedReader {
    id: usize,
    file: Option<File>,
    buf: Vec<u8>,
    buf_off: u64,
    error: Option<String>,
}

const READ_AHEAD: u64 = 1 << 20;

/// A regular file of the source tree, read while the image is written.
struct HostFile {
    id: usize,
    path: PathBuf,
    len: u64,
    ranges: Option<Vec<(u64, u64)>>,
    reader: Rc<RefCell<SharedReader>>,
}

impl FileSource for HostFile {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, out: &mut [u8]) -> Result<(), myst_ext2::IoError> {
        let mut guard = self.reader.borrow_mut();
        let r = &mut *guard;
        let fail = |r: &mut SharedReader, msg: String| {
            r.error = Some(msg);
            r.id = usize::MAX;
            r.file = None;
            myst_ext2::IoError::new("cannot read a source file")
        };
        if r.id != self.id || r.file.is_none() {
            r.buf.clear();
            r.buf_off = 0;
            match File::open(&self.path) {
                Ok(f) => {
                    r.file = Some(f);
                    r.id = self.id;
                }
                Err(e) => return Err(fail(r, format!("{}: {e}", self.path.display()))),
            }
        }
        let end = offset + out.len() as u64;
        if offset < r.buf_off || end > r.buf_off + r.buf.len() as u64 {
            let want = READ_AHEAD.min(self.len.saturating_sub(offset)).max(out.len() as u64) as usize;
            r.buf.resize(want, 0);
            r.buf_off = offset;
            let res = match r.file.as_ref() {
                Some(f) => f.read_exact_at(&mut r.buf, offset),
                None => Err(std::io::Error::other("not open")),
            };
            if let Err(e) = res {
                let msg = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    format!("{}: the file shrank while the image was being written", self.path.display())
                } else {
                    format!("{}: {e}", self.path.display())
                };
                return Err(fail(r, msg));
            }
        }
        let at = (offset - r.buf_off) as usize;
        out.copy_from_slice(&r.buf[at..at + out.len()]);
        Ok(())
    }

    fn data_ranges(&self) -> Option<Vec<(u64, u64)>> {
        self.ranges.clone()
    }
}

/// The data ranges of a file with holes, from `SEEK_DATA`/`SEEK_HOLE` (`None` if the file
/// system cannot tell).
fn sparse_ranges(f: &File, len: u64) -> Option<Vec<(u64, u64)>> {
    let fd = f.as_raw_fd();
    let mut out = Vec::new();
    let mut pos: u64 = 0;
    while pos < len {
        // SAFETY: lseek on a descriptor we own; no memory is involved.
        let d = unsafe { libc::lseek(fd, pos as libc::off_t, libc::SEEK_DATA) };
        if d < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::ENXIO) {
                break;
            }
            return None;
        }
        // SAFETY: as above.
        let h = unsafe { libc::lseek(fd, d, libc::SEEK_HOLE) };
        if h < 0 || h <= d {
            return None;
        }
        out.push((d as u64, (h as u64).min(len)));
        pos = h as u64;
    }
    Some(out)
}

fn ts(sec: i64, nsec: i64) -> Timestamp {
    Timestamp { sec, nsec: nsec.clamp(0, 999_999_999) as u32 }
}

fn meta_of(m: &fs::Metadata) -> Meta {
    Meta {
        mode: (m.mode() & 0o7777) as u16,
        uid: m.uid(),
        gid: m.gid(),
        atime: ts(m.atime(), m.atime_nsec()),
        mtime: ts(m.mtime(), m.mtime_nsec()),
        ctime: ts(m.ctime(), m.ctime_nsec()),
    }
}

struct Walker<'a> {
    builder: Builder,
    links: HashMap<(u64, u64), Vec<u8>>,
    reader: Rc<RefCell<SharedReader>>,
    entries: u64,
    progress: &'a mut dyn FnMut(Phase, u64, u64),
}

impl Walker<'_> {
    fn walk(&mut self, dir: &Path, rel: &[u8]) -> Result<(), String> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .and_then(|it| it.map(|e| e.map(|e| e.file_name())).collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        names.sort();
        for name in names {
            let full = dir.join(&name);
            let mut path = rel.to_vec();
            path.push(b'/');
            path.extend_from_slice(name.as_bytes());
            let err = |e: &dyn std::fmt::Display| format!("{}: {e}", full.display());
            let m = fs::symlink_metadata(&full).map_err(|e| err(&e))?;
            let meta = meta_of(&m);
            let ft = m.file_type();
            self.entries += 1;
            if self.entries & 1023 == 0 {
                (self.progress)(Phase::Scan, self.entries, 0);
            }
            if ft.is_dir() {
                self.builder.add_dir(&path, meta).map_err(|e| err(&e))?;
                self.walk(&full, &path)?;
                continue;
            }
            if m.nlink() > 1 {
                let key = (m.dev(), m.ino());
                if let Some(first) = self.links.get(&key) {
                    self.builder.add_hardlink(&path, first).map_err(|e| err(&e))?;
                    continue;
                }
                self.links.insert(key, path.clone());
            }
            if ft.is_file() {
                let len = m.len();
                // Only files with fewer allocated blocks than their size can have holes.
                let ranges = if len > 0 && m.blocks().saturating_mul(512) < len {
                    let f = File::open(&full).map_err(|e| err(&e))?;
                    sparse_ranges(&f, len)
                } else {
                    None
                };
                let src = HostFile { id: self.entries as usize, path: full.clone(), len, ranges, reader: self.reader.clone() };
                self.builder.add_file(&path, meta, FileData::Source(Box::new(src))).map_err(|e| err(&e))?;
            } else if ft.is_symlink() {
                let t = fs::read_link(&full).map_err(|e| err(&e))?;
                self.builder.add_symlink(&path, meta, t.as_os_str().as_bytes()).map_err(|e| err(&e))?;
            } else {
                let kind = if ft.is_fifo() {
                    SpecialKind::Fifo
                } else if ft.is_char_device() {
                    SpecialKind::CharDev
                } else if ft.is_block_device() {
                    SpecialKind::BlockDev
                } else if ft.is_socket() {
                    SpecialKind::Socket
                } else {
                    return Err(err(&"unknown file type"));
                };
                self.builder.add_special(&path, meta, kind, m.rdev()).map_err(|e| err(&e))?;
            }
        }
        Ok(())
    }
}

// ------------------------------------------------------------------ writing

/// Removes the temporary image unless it was renamed into place.
struct TempGuard {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn temp_path(image: &Path) -> PathBuf {
    let name = image.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "image".into());
    image.with_file_name(format!(".{name}.myst-tmp.{}", std::process::id()))
}

/// The data area of an encrypted image during the hashing pass: the payload is still
/// plaintext in the file; each range is encrypted in place the first time it is read, so
/// encryption and hashing share one sequential pass.
struct EncryptingReader<'a> {
    file: &'a File,
    len: u64,
    payload_start: u64,
    cipher: XtsPlain64,
    mark: Cell<u64>,
    error: RefCell<Option<String>>,
}

impl EncryptingReader<'_> {
    fn io(&self, offset: u64, e: std::io::Error) -> IoError {
        *self.error.borrow_mut() = Some(format!("image write at offset {offset}: {e}"));
        IoError::Device { offset, reason: "image file I/O failed" }
    }

    /// Encrypts `buf`, the bytes at `offset` (sector aligned), where they lie in the payload.
    fn encrypt(&self, offset: u64, buf: &mut [u8]) {
        let end = offset + buf.len() as u64;
        if end <= self.payload_start {
            return;
        }
        let start = offset.max(self.payload_start);
        let skip = (start - offset) as usize;
        self.cipher.encrypt_sectors((start - self.payload_start) / 512, &mut buf[skip..]);
    }

    /// Encrypts the file in place from the mark up to `end`.
    fn advance(&self, end: u64) -> Result<(), IoError> {
        let mut buf = vec![0u8; 1 << 20];
        let end = end.div_ceil(BLOCK_SIZE as u64) * BLOCK_SIZE as u64;
        let end = end.min(self.len);
        while self.mark.get() < end {
            let at = self.mark.get();
            let n = (end - at).min(buf.len() as u64) as usize;
            let chunk = &mut buf[..n];
            self.file.read_exact_at(chunk, at).map_err(|e| self.io(at, e))?;
            self.encrypt(at, chunk);
            self.file.write_all_at(chunk, at).map_err(|e| self.io(at, e))?;
            self.mark.set(at + n as u64);
        }
        Ok(())
    }
}

impl BlockRead for EncryptingReader<'_> {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        let err = IoError::OutOfRange { offset, len: buf.len() as u64, size: self.len };
        let end = offset.checked_add(buf.len() as u64).ok_or(err)?;
        if end > self.len {
            return Err(err);
        }
        if offset == self.mark.get() && (offset | buf.len() as u64) & 511 == 0 {
            // The usual case: the next range, in order.
            self.file.read_exact_at(buf, offset).map_err(|e| self.io(offset, e))?;
            self.encrypt(offset, buf);
            self.file.write_all_at(buf, offset).map_err(|e| self.io(offset, e))?;
            self.mark.set(end);
            return Ok(());
        }
        if end > self.mark.get() {
            self.advance(end)?;
        }
        self.file.read_exact_at(buf, offset).map_err(|e| self.io(offset, e))
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

/// Builds a trusted ext2 image of `dir` at `image` (see the module docs).
/// `progress(phase, done, total)` reports as it goes.
pub fn mkext2(dir: &Path, image: &Path, opts: &MkExt2Options, progress: &mut dyn FnMut(Phase, u64, u64)) -> Result<MkExt2Report, String> {
    // Everything that can be checked is checked before anything is written.
    if !opts.force && fs::symlink_metadata(image).is_ok() {
        return Err(format!("{} exists; use --force to overwrite", image.display()));
    }
    let dm = fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !dm.is_dir() {
        return Err(format!("{}: not a directory", dir.display()));
    }
    let key = opts.encrypt.as_deref().map(read_key_file).transpose()?;
    if opts.passphrase.is_some() && key.is_none() {
        return Err("--passphrase needs --encrypt=KEYFILE".into());
    }
    if opts.passphrase.as_ref().is_some_and(|p| p.is_empty()) {
        return Err("--passphrase must not be empty".into());
    }
    let signing = opts.sign.as_ref().map(|(p, s)| load_signing_keys(p, s)).transpose()?;

    // Scan the tree.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let bopts = BuildOptions { uuid: Some(random::<16>()), mkfs_time: now.min(u32::MAX as u64) as u32, ..BuildOptions::default() };
    let reader = Rc::new(RefCell::new(SharedReader { id: usize::MAX, file: None, buf: Vec::new(), buf_off: 0, error: None }));
    let mut w = Walker { builder: Builder::with_options(bopts), links: HashMap::new(), reader: reader.clone(), entries: 0, progress };
    w.builder.add_dir("/", meta_of(&dm)).map_err(|e| format!("{}: {e}", dir.display()))?;
    w.walk(dir, b"")?;
    let Walker { builder, entries, progress, .. } = w;
    progress(Phase::Scan, entries, entries);

    let tree_err = |e: Ext2Error| format!("{}: {e}", dir.display());
    let ext2_size = match opts.size {
        Some(size) => {
            let need = builder.required_size().map_err(tree_err)?;
            if size < need {
                return Err(format!(
                    "--size={size} is too small for {}: the ext2 file system needs at least {need} bytes ({} KiB)",
                    dir.display(),
                    need / 1024
                ));
            }
            size / BLOCK_SIZE as u64 * BLOCK_SIZE as u64
        }
        None => builder.min_size().map_err(tree_err)?,
    };

    // Write.
    let tmp = temp_path(image);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
    let mut guard = TempGuard { path: tmp.clone(), keep: false };
    let werr = |e: std::io::Error| format!("writing {}: {e}", tmp.display());

    let payload_offset = match &key {
        Some(k) => {
            let mut lo = FormatOptions::new(random::<16>());
            lo.slot_iterations = opts.slot_iterations.max(1000);
            let pass: &[u8] = opts.passphrase.as_deref().unwrap_or(k);
            let area = myst_crypt::format(k, pass, &lo, &mut rand::rngs::OsRng).map_err(|e| format!("LUKS: {e}"))?;
            file.write_all_at(&area, 0).map_err(werr)?;
            area.len() as u64
        }
        None => 0,
    };

    {
        let mut cw = CoalescingWriter::new(&file, payload_offset);
        let mut write_error: Option<std::io::Error> = None;
        let r = builder.write_with_progress(
            ext2_size,
            &mut |off, data| {
                cw.write(off, data).map_err(|e| {
                    write_error = Some(e);
                    myst_ext2::IoError::new("image write failed")
                })
            },
            &mut |done, total| progress(Phase::Ext2, done, total),
        );
        let flushed = cw.flush();
        if let Some(e) = write_error {
            return Err(werr(e));
        }
        if let Err(e) = r {
            if let Some(msg) = reader.borrow_mut().error.take() {
                return Err(msg);
            }
            return Err(match e {
                Ext2Error::TooSmall { need, .. } => {
                    format!("the ext2 file system does not fit in {ext2_size} bytes; it needs at least {need} bytes: pass a larger --size")
                }
                other => format!("building the ext2 file system for {}: {other}", dir.display()),
            });
        }
        flushed.map_err(werr)?;
    }
    drop(builder);

    let hash_offset = payload_offset + ext2_size;
    let data_blocks = hash_offset / BLOCK_SIZE as u64;
    let salt = random::<32>();
    let mut sink = FileSink { file: &file, base: hash_offset };
    let mut hp = |done: u64, total: u64| progress(Phase::Hash, done, total);
    let tree = match &key {
        Some(k) => {
            let enc = EncryptingReader {
                file: &file,
                len: hash_offset,
                payload_start: payload_offset,
                cipher: XtsPlain64::new(k),
                mark: Cell::new(0),
                error: RefCell::new(None),
            };
            let t = myst_verity::build_tree(&enc, data_blocks, &salt, random::<16>(), &mut sink, &mut hp);
            // Anything the tree pass did not read (nothing, as it reads every block) is
            // encrypted here all the same.
            let t = t.and_then(|t| enc.advance(hash_offset).map(|_| t).map_err(Into::into));
            if let Some(msg) = enc.error.borrow_mut().take() {
                return Err(msg);
            }
            t
        }
        None => {
            myst_verity::build_tree(&FileWindow { file: &file, len: hash_offset }, data_blocks, &salt, random::<16>(), &mut sink, &mut hp)
        }
    }
    .map_err(|e| format!("building the verity tree: {e}"))?;

    let (signer, signature) = match &signing {
        Some((priv_pem, signer)) => {
            let (s, sig) = fssig::sign(&tree.root_hash, priv_pem).map_err(|e| format!("signing: {e}"))?;
            if s != *signer {
                return Err("signing: the signer does not match the public key".into());
            }
            (s, sig)
        }
        None => ([0u8; DIGEST_SIZE], Vec::new()),
    };
    let trailer = FsSig::new(hash_offset, tree.root_hash, signer, &signature).map_err(|e| format!("FSSIG: {e}"))?;
    let trailer_at = hash_offset + tree.hash_area_size();
    file.write_all_at(&trailer.to_bytes(), trailer_at).map_err(werr)?;
    let image_size = trailer_at + TRAILER_SIZE as u64;
    file.set_len(image_size).map_err(werr)?;
    file.sync_all().map_err(werr)?;
    drop(file);

    if opts.force {
        fs::rename(&tmp, image).map_err(|e| format!("cannot write {}: {e}", image.display()))?;
    } else {
        // A hard link never replaces an existing file, even one created since the check above.
        match fs::hard_link(&tmp, image) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(format!("{} exists; use --force to overwrite", image.display()));
            }
            Err(_) => {
                if fs::symlink_metadata(image).is_ok() {
                    return Err(format!("{} exists; use --force to overwrite", image.display()));
                }
                fs::rename(&tmp, image).map_err(|e| format!("cannot write {}: {e}", image.display()))?;
                guard.keep = true;
            }
        }
    }
    if opts.force {
        guard.keep = true;
    }
    drop(guard);

    Ok(MkExt2Report {
        entries,
        ext2_size,
        payload_offset,
        hash_offset,
        image_size,
        root_hash: tree.root_hash,
        signer: signing.map(|(_, s)| s),
        encrypted: key.is_some(),
        passphrase_is_key_file: key.is_some() && opts.passphrase.is_none(),
    })
}

/// Reads the FSSIG trailer of `image`.
pub fn read_fssig(image: &Path) -> Result<FsSig, String> {
    let f = File::open(image).map_err(|e| format!("{}: {e}", image.display()))?;
    FsSig::read_from(&f).map_err(|e| format!("{}: {e}", image.display()))
}
