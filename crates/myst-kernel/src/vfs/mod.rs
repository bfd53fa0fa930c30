//! The virtual file system: inodes, mounts, path resolution and open files.
//!
//! Path walking lives here; file systems only answer per-component questions (`lookup`,
//! `readlink`…). Symlinks are always resolved by the VFS inside the myst namespace, so a
//! host-backed file system never follows a link on the host.

pub mod console;
pub mod devfs;
pub mod eventfd;
pub mod ext2fs;
pub mod hostfs;
pub mod pipe;
pub mod procfs;
pub mod pty;
pub mod ramfs;

use crate::error::{Error, KResult};
use crate::kerr;
use crate::sync::Mutex;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use myst_abi::consts::*;
use myst_abi::structs::{Stat, Statfs, Timespec};
use myst_abi::Errno;

/// A reference-counted inode.
pub type InodeRef = Arc<dyn Inode>;

/// One directory entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// Name.
    pub name: Vec<u8>,
    /// Inode number.
    pub ino: u64,
    /// `DT_*`.
    pub dtype: u8,
}

/// Attribute changes for `setattr`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SetAttr {
    /// New permission bits (07777).
    pub mode: Option<u32>,
    /// New owner.
    pub uid: Option<u32>,
    /// New group.
    pub gid: Option<u32>,
    /// New access time.
    pub atime: Option<Timespec>,
    /// New modification time.
    pub mtime: Option<Timespec>,
}

/// Operations every inode offers; the defaults are the errors Linux gives for a file
/// system or file type that lacks the operation.
#[allow(unused_variables)]
pub trait Inode: Send + Sync + Any {
    /// Metadata.
    fn stat(&self) -> KResult<Stat>;
    /// For downcasting (rename and link need the concrete type).
    fn as_any(&self) -> &dyn Any;
    /// File-system statistics.
    fn statfs(&self) -> KResult<Statfs> {
        Ok(Statfs { fs_type: RAMFS_MAGIC, bsize: 4096, namelen: 255, frsize: 4096, ..Default::default() })
    }
    /// Looks up `name` in this directory.
    fn lookup(&self, name: &[u8]) -> KResult<InodeRef> {
        kerr!(ENOTDIR)
    }
    /// Creates a non-directory node (regular file, fifo, device, socket) from `mode`.
    fn create(&self, name: &[u8], mode: u32, rdev: u64, uid: u32, gid: u32) -> KResult<InodeRef> {
        kerr!(ENOTDIR)
    }
    /// Creates a directory.
    fn mkdir(&self, name: &[u8], mode: u32, uid: u32, gid: u32) -> KResult<InodeRef> {
        kerr!(ENOTDIR)
    }
    /// Creates a symlink.
    fn symlink(&self, name: &[u8], target: &[u8], uid: u32, gid: u32) -> KResult<()> {
        kerr!(ENOTDIR)
    }
    /// Creates a hard link to `target`.
    fn link(&self, name: &[u8], target: &InodeRef) -> KResult<()> {
        kerr!(EPERM)
    }
    /// Removes a non-directory entry.
    fn unlink(&self, name: &[u8]) -> KResult<()> {
        kerr!(ENOTDIR)
    }
    /// Removes an empty directory.
    fn rmdir(&self, name: &[u8]) -> KResult<()> {
        kerr!(ENOTDIR)
    }
    /// Renames `old` in this directory to `new` in `newdir` (same file system).
    fn rename(&self, old: &[u8], newdir: &InodeRef, new: &[u8], flags: u32) -> KResult<()> {
        kerr!(EXDEV)
    }
    /// Lists the directory (without "." and "..").
    fn readdir(&self) -> KResult<Vec<DirEntry>> {
        kerr!(ENOTDIR)
    }
    /// Symlink target.
    fn readlink(&self) -> KResult<Vec<u8>> {
        kerr!(EINVAL)
    }
    /// Reads at an offset.
    fn read_at(&self, off: u64, buf: &mut [u8]) -> KResult<usize> {
        kerr!(EINVAL)
    }
    /// Writes at an offset.
    fn write_at(&self, off: u64, buf: &[u8]) -> KResult<usize> {
        kerr!(EINVAL)
    }
    /// Sets the size.
    fn truncate(&self, len: u64) -> KResult<()> {
        kerr!(EINVAL)
    }
    /// Changes attributes.
    fn setattr(&self, a: &SetAttr) -> KResult<()> {
        kerr!(EPERM)
    }
    /// Flushes.
    fn sync(&self) -> KResult<()> {
        Ok(())
    }
    /// Whether reads and writes ignore the file offset (devices, consoles).
    fn is_stream(&self) -> bool {
        false
    }
    /// Device-specific control; `None` = not a terminal/device with this request.
    fn ioctl(&self, req: u32) -> Option<KResult<IoctlAnswer>> {
        None
    }
    /// `read` on a stream, honouring O_NONBLOCK.
    fn read_stream(&self, buf: &mut [u8], nonblock: bool) -> KResult<usize> {
        let _ = nonblock;
        self.read_at(0, buf)
    }
    /// `write` on a stream, honouring O_NONBLOCK.
    fn write_stream(&self, buf: &[u8], nonblock: bool) -> KResult<usize> {
        let _ = nonblock;
        self.write_at(0, buf)
    }
    /// Readiness for poll/select (`POLLIN`, `POLLOUT`, `POLLHUP`, `POLLERR` bits).
    fn poll(&self) -> u32 {
        POLLIN | POLLOUT
    }
    /// Where pollers wait for readiness changes, if readiness can change.
    fn wait_queue(&self) -> Option<&crate::waitq::WaitQueue> {
        None
    }
    /// Opening this node yields a different inode (e.g. `/dev/ptmx` makes a new terminal).
    fn open_replace(&self) -> Option<KResult<InodeRef>> {
        None
    }
    /// A host file handle the target can map shared (hostfs files): `MAP_SHARED` mappings of
    /// it are then the host's own, coherent and shared across processes.
    fn host_handle(&self, _write: bool) -> Option<KResult<u32>> {
        None
    }
    /// Bytes ready to read (FIONREAD).
    fn pending(&self) -> KResult<usize> {
        let st = self.stat()?;
        Ok(st.size.max(0) as usize)
    }
}

/// What a device's `ioctl` answered.
#[derive(Clone, Copy, Debug)]
pub enum IoctlAnswer {
    /// A terminal: `TCGETS` gets a default termios, `TIOCGWINSZ` this size.
    Tty {
        /// Rows.
        rows: u16,
        /// Columns.
        cols: u16,
    },
}

/// Gives each mounted file system a device number.
#[derive(Debug)]
pub struct DevIds(core::sync::atomic::AtomicU64);

impl DevIds {
    /// Next free device number.
    pub fn next(&self) -> u64 {
        self.0.fetch_add(1, core::sync::atomic::Ordering::Relaxed)
    }
}

/// Global device-number allocator (major 0, minor counting from 0x20).
pub static DEV_IDS: DevIds = DevIds(core::sync::atomic::AtomicU64::new(0x20));

/// One mount.
#[derive(Clone)]
pub struct Mount {
    /// Absolute path of the mount point.
    pub path: String,
    /// Root inode of the mounted file system.
    pub root: InodeRef,
    /// File-system type name for /proc/mounts.
    pub fstype: &'static str,
    /// Source name for /proc/mounts.
    pub source: String,
}

/// The names attached to one directory (see `Vfs::attach_at`), by name.
type Attached = BTreeMap<Vec<u8>, Mount>;

/// The mount table and the root.
pub struct Vfs {
    root: InodeRef,
    /// Mounts keyed by (dev, ino) of the covered directory.
    mounts: Mutex<BTreeMap<(u64, u64), Mount>>,
    /// Names attached to a directory without an entry in its file system: /dev, /proc, /tmp
    /// at the root, and /etc/resolv.conf and /etc/hosts in a host-directory rootfs that has
    /// none (so that a host directory is never modified). Keyed by the directory's
    /// canonical absolute path, then by name.
    extra: Mutex<BTreeMap<Vec<u8>, Attached>>,
    /// Bit N set: some directory of depth N (0 = the root) has attached names.
    extra_depths: core::sync::atomic::AtomicU64,
}

/// Result of resolving a path up to its last component.
pub struct Parent {
    /// The parent directory.
    pub dir: InodeRef,
    /// Absolute path of the parent.
    pub dir_path: Vec<u8>,
    /// Last component ("" when the path names the root or ends in "/").
    pub name: Vec<u8>,
    /// Whether the path had a trailing slash.
    pub trailing_slash: bool,
}

/// Maximum symlinks followed in one resolution.
const MAX_SYMLINKS: u32 = 40;
/// Maximum path length.
pub const PATH_MAX: usize = 4096;

fn key(i: &InodeRef) -> KResult<(u64, u64)> {
    let s = i.stat()?;
    Ok((s.dev, s.ino))
}

/// Joins an absolute base and a relative path textually.
pub fn join(base: &[u8], rel: &[u8]) -> Vec<u8> {
    if rel.first() == Some(&b'/') {
        return rel.to_vec();
    }
    let mut v = base.to_vec();
    if v.last() != Some(&b'/') {
        v.push(b'/');
    }
    v.extend_from_slice(rel);
    v
}

impl Vfs {
    /// A VFS whose root is `root`.
    pub fn new(root: InodeRef) -> Self {
        Self {
            root,
            mounts: Mutex::new(BTreeMap::new()),
            extra: Mutex::new(BTreeMap::new()),
            extra_depths: core::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The root inode.
    pub fn root(&self) -> InodeRef {
        self.root.clone()
    }

    /// Mounts `root` on directory `at` (an absolute path).
    pub fn mount(&self, at: &str, root: InodeRef, fstype: &'static str, source: &str) -> KResult<()> {
        let (dir, _) = self.walk(at.as_bytes(), true)?;
        if dir.stat()?.mode & S_IFMT != S_IFDIR {
            kerr!(ENOTDIR);
        }
        let k = key(&dir)?;
        let path = if at.len() > 1 { at.trim_end_matches('/') } else { at };
        self.mounts.lock().insert(k, Mount { path: path.into(), root, fstype, source: source.into() });
        Ok(())
    }

    /// Removes the mount at absolute path `at`.
    pub fn umount(&self, at: &str) -> KResult<()> {
        let at = if at.len() > 1 { at.trim_end_matches('/') } else { at };
        let mut m = self.mounts.lock();
        let key = m.iter().find(|(_, v)| v.path == at).map(|(k, _)| *k);
        match key {
            Some(k) => {
                m.remove(&k);
                Ok(())
            }
            None => kerr!(EINVAL, "not a mount point"),
        }
    }

    /// Attaches `root` as top-level directory `/name`, hiding anything of that name in the
    /// root file system.
    pub fn attach_top(&self, name: &str, root: InodeRef, fstype: &'static str, source: &str) {
        self.attach_at(b"/", name.as_bytes(), root, fstype, source);
    }

    /// Attaches `root` (a directory or a file) as `name` in the directory at canonical
    /// absolute path `dir`, hiding anything of that name there.
    pub fn attach_at(&self, dir: &[u8], name: &[u8], root: InodeRef, fstype: &'static str, source: &str) {
        let depth = dir.split(|&c| c == b'/').filter(|c| !c.is_empty()).count();
        let path = join(dir, name);
        let m = Mount { path: String::from_utf8_lossy(&path).into_owned(), root, fstype, source: source.into() };
        self.extra.lock().entry(dir.to_vec()).or_default().insert(name.to_vec(), m);
        if depth < 64 {
            self.extra_depths.fetch_or(1 << depth, core::sync::atomic::Ordering::SeqCst);
        }
    }

    /// The names attached to the directory at canonical absolute path `dir`, for listings.
    pub fn attached_names(&self, dir: &[u8]) -> Vec<(Vec<u8>, InodeRef)> {
        match self.extra.lock().get(dir) {
            Some(m) => m.iter().map(|(n, m)| (n.clone(), m.root.clone())).collect(),
            None => Vec::new(),
        }
    }

    fn attached(&self, stack: &[(InodeRef, Vec<u8>)], name: &[u8]) -> Option<InodeRef> {
        let depth = stack.len();
        if depth >= 64 || self.extra_depths.load(core::sync::atomic::Ordering::Relaxed) & (1 << depth) == 0 {
            return None;
        }
        let extra = self.extra.lock();
        let dir = if depth == 0 { extra.get(&b"/"[..]) } else { extra.get(stack_path(stack).as_slice()) };
        dir.and_then(|m| m.get(name)).map(|m| m.root.clone())
    }

    /// Current mounts (attached directories included; attached files are not mounts).
    pub fn mounts(&self) -> Vec<Mount> {
        let mut v: Vec<Mount> = self
            .extra
            .lock()
            .values()
            .flat_map(|m| m.values())
            .filter(|m| m.root.stat().is_ok_and(|s| s.mode & S_IFMT == S_IFDIR))
            .cloned()
            .collect();
        v.extend(self.mounts.lock().values().cloned());
        v
    }

    fn cross(&self, i: InodeRef) -> InodeRef {
        let mut cur = i;
        for _ in 0..8 {
            let Ok(k) = key(&cur) else { return cur };
            let next = self.mounts.lock().get(&k).map(|m| m.root.clone());
            match next {
                Some(r) => cur = r,
                None => return cur,
            }
        }
        cur
    }

    /// Resolves an absolute path. Returns the inode and its canonical absolute path.
    pub fn walk(&self, path: &[u8], follow_last: bool) -> KResult<(InodeRef, Vec<u8>)> {
        let mut stack: Vec<(InodeRef, Vec<u8>)> = Vec::new();
        let mut budget = MAX_SYMLINKS;
        self.walk_into(&mut stack, path, follow_last, &mut budget)?;
        let node = stack.last().map(|(i, _)| i.clone()).unwrap_or_else(|| self.cross(self.root.clone()));
        Ok((node, stack_path(&stack)))
    }

    fn walk_into(&self, stack: &mut Vec<(InodeRef, Vec<u8>)>, path: &[u8], follow_last: bool, budget: &mut u32) -> KResult<()> {
        if path.len() >= PATH_MAX {
            kerr!(ENAMETOOLONG);
        }
        if path.first() == Some(&b'/') {
            stack.clear();
        }
        let comps: Vec<&[u8]> = path.split(|&c| c == b'/').filter(|c| !c.is_empty()).collect();
        let must_dir = path.last() == Some(&b'/');
        for (idx, comp) in comps.iter().enumerate() {
            let last = idx + 1 == comps.len();
            let cur = stack.last().map(|(i, _)| i.clone()).unwrap_or_else(|| self.cross(self.root.clone()));
            if comp.len() > 255 {
                kerr!(ENAMETOOLONG);
            }
            match *comp {
                b"." => {
                    if cur.stat()?.mode & S_IFMT != S_IFDIR {
                        kerr!(ENOTDIR);
                    }
                    continue;
                }
                b".." => {
                    if cur.stat()?.mode & S_IFMT != S_IFDIR {
                        kerr!(ENOTDIR);
                    }
                    stack.pop();
                    continue;
                }
                _ => {}
            }
            let child = match self.attached(stack, comp) {
                Some(r) => r,
                None => self.cross(cur.lookup(comp)?),
            };
            let st = child.stat()?;
            if st.mode & S_IFMT == S_IFLNK && (!last || follow_last || must_dir) {
                if *budget == 0 {
                    kerr!(ELOOP);
                }
                *budget -= 1;
                let target = child.readlink()?;
                if target.is_empty() {
                    kerr!(ENOENT);
                }
                self.walk_into(stack, &target, true, budget)?;
                continue;
            }
            if !last && st.mode & S_IFMT != S_IFDIR {
                kerr!(ENOTDIR);
            }
            stack.push((child, comp.to_vec()));
        }
        if must_dir {
            if let Some((i, _)) = stack.last() {
                if i.stat()?.mode & S_IFMT != S_IFDIR {
                    kerr!(ENOTDIR);
                }
            }
        }
        Ok(())
    }

    /// Resolves all but the last component of an absolute path.
    pub fn parent(&self, path: &[u8]) -> KResult<Parent> {
        if path.is_empty() {
            kerr!(ENOENT);
        }
        if path.len() >= PATH_MAX {
            kerr!(ENAMETOOLONG);
        }
        let trailing_slash = path.len() > 1 && path.last() == Some(&b'/');
        let trimmed: &[u8] = {
            let mut p = path;
            while p.len() > 1 && p.last() == Some(&b'/') {
                p = &p[..p.len() - 1];
            }
            p
        };
        let (dirpart, name) = match trimmed.iter().rposition(|&c| c == b'/') {
            Some(0) => (&b"/"[..], &trimmed[1..]),
            Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
            None => (&b"."[..], trimmed),
        };
        if name.len() > 255 {
            kerr!(ENAMETOOLONG);
        }
        let (dir, dir_path) = self.walk(dirpart, true)?;
        if dir.stat()?.mode & S_IFMT != S_IFDIR {
            kerr!(ENOTDIR);
        }
        Ok(Parent { dir, dir_path, name: name.to_vec(), trailing_slash })
    }
}

fn stack_path(stack: &[(InodeRef, Vec<u8>)]) -> Vec<u8> {
    if stack.is_empty() {
        return b"/".to_vec();
    }
    let mut s = Vec::new();
    for (_, n) in stack {
        s.push(b'/');
        s.extend_from_slice(n);
    }
    s
}

/// An open file description (shared by dup'ed descriptors).
pub struct OpenFile {
    /// The inode.
    pub inode: InodeRef,
    /// Absolute path at open time (for `*at` calls, /proc and diagnostics); bytes, as
    /// Linux names are (not necessarily UTF-8).
    pub path: Vec<u8>,
    /// Status flags (`O_APPEND`, `O_NONBLOCK`… plus the access mode).
    pub flags: Mutex<u32>,
    /// File offset.
    pub pos: Mutex<u64>,
    /// Cached directory listing for `getdents64`.
    pub dir_cache: Mutex<Option<Vec<DirEntry>>>,
}

impl OpenFile {
    /// A new open file.
    pub fn new(inode: InodeRef, path: impl AsRef<[u8]>, flags: u32) -> Arc<Self> {
        Arc::new(Self { inode, path: path.as_ref().to_vec(), flags: Mutex::new(flags), pos: Mutex::new(0), dir_cache: Mutex::new(None) })
    }

    fn can_read(&self) -> bool {
        let f = *self.flags.lock();
        f & O_PATH == 0 && f & O_ACCMODE != O_WRONLY
    }

    fn can_write(&self) -> bool {
        let f = *self.flags.lock();
        f & O_PATH == 0 && f & O_ACCMODE != O_RDONLY
    }

    /// `read(2)`.
    pub fn read(&self, buf: &mut [u8]) -> KResult<usize> {
        if !self.can_read() {
            kerr!(EBADF);
        }
        if self.inode.is_stream() {
            let nb = *self.flags.lock() & O_NONBLOCK != 0;
            return self.inode.read_stream(buf, nb);
        }
        let mut pos = self.pos.lock();
        let n = self.inode.read_at(*pos, buf)?;
        *pos += n as u64;
        Ok(n)
    }

    /// `write(2)`.
    pub fn write(&self, buf: &[u8]) -> KResult<usize> {
        if !self.can_write() {
            kerr!(EBADF);
        }
        if self.inode.is_stream() {
            let nb = *self.flags.lock() & O_NONBLOCK != 0;
            return self.inode.write_stream(buf, nb);
        }
        let append = *self.flags.lock() & O_APPEND != 0;
        let mut pos = self.pos.lock();
        if append {
            *pos = self.inode.stat()?.size.max(0) as u64;
        }
        let n = self.inode.write_at(*pos, buf)?;
        *pos += n as u64;
        Ok(n)
    }

    /// `pread64(2)`.
    pub fn pread(&self, buf: &mut [u8], off: u64) -> KResult<usize> {
        if !self.can_read() {
            kerr!(EBADF);
        }
        if self.inode.is_stream() {
            kerr!(ESPIPE);
        }
        self.inode.read_at(off, buf)
    }

    /// `pwrite64(2)`.
    pub fn pwrite(&self, buf: &[u8], off: u64) -> KResult<usize> {
        if !self.can_write() {
            kerr!(EBADF);
        }
        if self.inode.is_stream() {
            kerr!(ESPIPE);
        }
        self.inode.write_at(off, buf)
    }

    /// `lseek(2)`.
    pub fn seek(&self, off: i64, whence: u32) -> KResult<u64> {
        if self.inode.is_stream() {
            kerr!(ESPIPE);
        }
        if self.inode.as_any().downcast_ref::<devfs::CharDev>().is_some() {
            // /dev/null, zero, full, random: any seek succeeds and the position stays 0.
            if whence > SEEK_HOLE {
                kerr!(EINVAL);
            }
            *self.pos.lock() = 0;
            return Ok(0);
        }
        let mut pos = self.pos.lock();
        let base: i64 = match whence {
            SEEK_SET => 0,
            SEEK_CUR => *pos as i64,
            SEEK_END => self.inode.stat()?.size,
            SEEK_DATA | SEEK_HOLE => {
                let size = self.inode.stat()?.size;
                if off < 0 || off >= size {
                    kerr!(ENXIO);
                }
                let r = if whence == SEEK_DATA { off } else { size };
                *pos = r as u64;
                return Ok(r as u64);
            }
            _ => kerr!(EINVAL),
        };
        let n = base.checked_add(off).ok_or(Error::from(Errno::EOVERFLOW))?;
        if n < 0 {
            kerr!(EINVAL);
        }
        *pos = n as u64;
        if self.inode.stat()?.mode & S_IFMT == S_IFDIR && n == 0 {
            *self.dir_cache.lock() = None;
        }
        Ok(n as u64)
    }
}
