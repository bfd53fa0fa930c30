//! devfs: `/dev/null`, `zero`, `full`, `random`, `urandom`, `tty`, `stdin`/`stdout`/`stderr`
//! and `fd` links, and an empty `/dev/shm`.

use super::ramfs::RamFs;
use super::{DirEntry, Inode, InodeRef};
use crate::error::KResult;
use crate::kerr;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use myst_abi::consts::*;
use myst_abi::structs::Stat;
use myst_abi::structs::Statfs;

/// Kind of a character device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevKind {
    /// `/dev/null`
    Null,
    /// `/dev/zero`
    Zero,
    /// `/dev/full`
    Full,
    /// `/dev/random` and `/dev/urandom`
    Random(u64),
}

/// A character device node.
pub struct CharDev {
    kind: DevKind,
    ino: u64,
    dev: u64,
}

impl Inode for CharDev {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn stat(&self) -> KResult<Stat> {
        let rdev = match self.kind {
            DevKind::Null => 0x103,
            DevKind::Zero => 0x105,
            DevKind::Full => 0x107,
            DevKind::Random(r) => r,
        };
        Ok(Stat { dev: self.dev, ino: self.ino, nlink: 1, mode: S_IFCHR | 0o666, rdev, blksize: 4096, ..Default::default() })
    }
    fn is_stream(&self) -> bool {
        // Seekable as on Linux (lseek succeeds and leaves the position at 0; pread works).
        false
    }
    fn read_at(&self, _off: u64, buf: &mut [u8]) -> KResult<usize> {
        match self.kind {
            DevKind::Null => Ok(0),
            DevKind::Zero | DevKind::Full => {
                buf.fill(0);
                Ok(buf.len())
            }
            DevKind::Random(_) => {
                crate::random(buf)?;
                Ok(buf.len())
            }
        }
    }
    fn write_at(&self, _off: u64, buf: &[u8]) -> KResult<usize> {
        match self.kind {
            DevKind::Full => kerr!(ENOSPC),
            _ => Ok(buf.len()),
        }
    }
    fn pending(&self) -> KResult<usize> {
        Ok(0)
    }
}

/// A read-only directory of fixed entries (the `/dev` root).
pub struct DevDir {
    entries: BTreeMap<Vec<u8>, InodeRef>,
    dev: u64,
}

impl Inode for DevDir {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(Stat { dev: self.dev, ino: 1000, nlink: 2, mode: S_IFDIR | 0o755, size: 4096, blksize: 4096, ..Default::default() })
    }
    fn statfs(&self) -> KResult<Statfs> {
        Ok(Statfs { fs_type: TMPFS_MAGIC, bsize: 4096, namelen: 255, frsize: 4096, ..Default::default() })
    }
    fn lookup(&self, name: &[u8]) -> KResult<InodeRef> {
        match self.entries.get(name) {
            Some(i) => Ok(i.clone()),
            None => kerr!(ENOENT),
        }
    }
    fn readdir(&self) -> KResult<Vec<DirEntry>> {
        let mut v = Vec::new();
        for (n, i) in &self.entries {
            let st = i.stat()?;
            v.push(DirEntry { name: n.clone(), ino: st.ino, dtype: dtype_of(st.mode) });
        }
        Ok(v)
    }
    fn create(&self, _name: &[u8], _mode: u32, _rdev: u64, _uid: u32, _gid: u32) -> KResult<InodeRef> {
        kerr!(EACCES, "/dev is read-only")
    }
    fn mkdir(&self, _name: &[u8], _mode: u32, _uid: u32, _gid: u32) -> KResult<InodeRef> {
        kerr!(EACCES, "/dev is read-only")
    }
}

/// A fixed symlink.
pub struct Link {
    target: &'static [u8],
    ino: u64,
    dev: u64,
}

impl Inode for Link {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(Stat { dev: self.dev, ino: self.ino, nlink: 1, mode: S_IFLNK | 0o777, size: self.target.len() as i64, ..Default::default() })
    }
    fn readlink(&self) -> KResult<Vec<u8>> {
        Ok(self.target.to_vec())
    }
}

/// Builds the `/dev` tree; returns its root.
pub fn build() -> KResult<InodeRef> {
    let dev = super::DEV_IDS.next();
    let mut e: BTreeMap<Vec<u8>, InodeRef> = BTreeMap::new();
    let mut ch = |name: &[u8], kind: DevKind, ino: u64| {
        e.insert(name.to_vec(), Arc::new(CharDev { kind, ino, dev }));
    };
    ch(b"null", DevKind::Null, 1001);
    ch(b"zero", DevKind::Zero, 1002);
    ch(b"full", DevKind::Full, 1003);
    ch(b"random", DevKind::Random(0x108), 1004);
    ch(b"urandom", DevKind::Random(0x109), 1005);
    e.insert(b"tty".to_vec(), Arc::new(super::pty::DevTty));
    e.insert(b"console".to_vec(), Arc::new(super::console::Console { fd: 2 }));
    for (i, (n, t)) in [
        (&b"stdin"[..], &b"/proc/self/fd/0"[..]),
        (b"stdout", b"/proc/self/fd/1"),
        (b"stderr", b"/proc/self/fd/2"),
        (b"fd", b"/proc/self/fd"),
    ]
    .into_iter()
    .enumerate()
    {
        e.insert(n.to_vec(), Arc::new(Link { target: t, ino: 1010 + i as u64, dev }));
    }
    e.insert(b"ptmx".to_vec(), Arc::new(super::pty::Ptmx));
    e.insert(b"pts".to_vec(), Arc::new(super::pty::PtsDir));
    let shm: InodeRef = RamFs::new_root(0o1777, TMPFS_MAGIC);
    e.insert(b"shm".to_vec(), shm);
    Ok(Arc::new(DevDir { entries: e, dev }))
}
