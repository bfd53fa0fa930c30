//! hostfs: a host directory, confined. Every path handed to the target is relative to the
//! mounted directory and is resolved by the target without following symlinks (the VFS
//! follows them inside the myst namespace), so neither `..` nor a symlink can leave it.

use super::{DirEntry, Inode, InodeRef, SetAttr};
use crate::error::KResult;
use crate::kerr;
use crate::sync::Mutex;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::any::Any;
use myst_abi::consts::*;
use myst_abi::structs::{Stat, Statfs, Timespec};

/// One mounted host directory.
pub struct HostFs {
    root: u32,
    dev: u64,
}

/// A hostfs inode: a path relative to the mount.
pub struct HostNode {
    fs: Arc<HostFs>,
    rel: Vec<u8>,
    /// The host handle once opened: (handle, writable, the host process that opened it:
    /// a handle number means nothing elsewhere).
    handle: Mutex<Option<(u32, bool, i32)>>,
    /// The file type the lookup saw (`S_IFMT` bits; 0 = not looked up).
    kind: core::sync::atomic::AtomicU32,
}

/// The host process the caller runs in (0 outside application threads).
fn here() -> i32 {
    crate::current_thread().map(|t| t.host.lock().0).unwrap_or(0)
}

impl HostFs {
    /// Mounts host directory `path`; returns the root inode.
    pub fn mount(path: &str) -> KResult<InodeRef> {
        let root = crate::tcall().host_mount(path)?;
        let fs = Arc::new(HostFs { root, dev: super::DEV_IDS.next() });
        Ok(Arc::new(HostNode { fs, rel: b".".to_vec(), handle: Mutex::new(None), kind: core::sync::atomic::AtomicU32::new(0) }))
    }
}

fn name_ok(name: &[u8]) -> KResult<&[u8]> {
    // The VFS never passes "." or ".." here, but refuse them anyway: defence in depth.
    // (Names are bytes, as on Linux: not necessarily UTF-8.)
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') || name.contains(&0) {
        kerr!(EINVAL);
    }
    Ok(name)
}

impl HostNode {
    fn child_path(&self, name: &[u8]) -> KResult<Vec<u8>> {
        let n = name_ok(name)?;
        Ok(if self.rel == b"." {
            n.to_vec()
        } else {
            let mut p = self.rel.clone();
            p.push(b'/');
            p.extend_from_slice(n);
            p
        })
    }

    fn child(&self, name: &[u8]) -> KResult<Arc<HostNode>> {
        Ok(Arc::new(HostNode {
            fs: self.fs.clone(),
            rel: self.child_path(name)?,
            handle: Mutex::new(None),
            kind: core::sync::atomic::AtomicU32::new(0),
        }))
    }

    fn fh(&self, write: bool) -> KResult<u32> {
        let mut h = self.handle.lock();
        if let Some((fh, w, opener)) = *h {
            if w || !write {
                return Ok(fh);
            }
            if opener == here() {
                let _ = crate::tcall().host_close(fh);
            }
            *h = None;
        }
        let t = crate::tcall();
        let (fh, w) = match t.host_open(self.fs.root, &self.rel, O_RDWR, 0) {
            Ok(fh) => (fh, true),
            Err(_) if !write => (t.host_open(self.fs.root, &self.rel, O_RDONLY, 0)?, false),
            // a write-only file
            Err(myst_abi::Errno::EACCES) => (t.host_open(self.fs.root, &self.rel, O_WRONLY, 0)?, true),
            Err(e) => return Err(e.into()),
        };
        *h = Some((fh, w, here()));
        Ok(fh)
    }

    fn fix(&self, mut st: Stat) -> Stat {
        st.dev = self.fs.dev;
        st
    }
}

impl Drop for HostNode {
    fn drop(&mut self) {
        // Only the opener closes: in another host process (a child that inherited it ends
        // with its process; a waiter reaping a vanished process never had it) the number
        // may name a different file.
        if let Some((fh, _, opener)) = *self.handle.lock() {
            if opener == here() {
                let _ = crate::tcall().host_close(fh);
            }
        }
    }
}

impl Inode for HostNode {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn stat(&self) -> KResult<Stat> {
        let t = crate::tcall();
        if let Some((fh, _, _)) = *self.handle.lock() {
            return Ok(self.fix(t.host_fstat(fh)?));
        }
        Ok(self.fix(t.host_lstat(self.fs.root, &self.rel)?))
    }

    fn statfs(&self) -> KResult<Statfs> {
        Ok(crate::tcall().host_statfs(self.fs.root)?)
    }

    fn lookup(&self, name: &[u8]) -> KResult<InodeRef> {
        let c = self.child(name)?;
        let st = crate::tcall().host_lstat(self.fs.root, &c.rel)?;
        c.kind.store(st.mode & S_IFMT, core::sync::atomic::Ordering::Relaxed);
        Ok(c)
    }

    fn create(&self, name: &[u8], mode: u32, _rdev: u64, _uid: u32, _gid: u32) -> KResult<InodeRef> {
        let c = self.child(name)?;
        let t = crate::tcall();
        if mode & S_IFMT == S_IFSOCK {
            // The node an AF_UNIX bind leaves (the socket itself lives in the kernel).
            t.host_mksock(self.fs.root, &c.rel, mode & 0o7777)?;
            t.host_chmod(self.fs.root, &c.rel, mode & 0o7777)?;
            return Ok(c);
        }
        if mode & S_IFMT != S_IFREG && mode & S_IFMT != 0 {
            kerr!(EPERM, "hostfs only creates regular files, directories, symlinks and socket nodes");
        }
        let fh = t.host_open(self.fs.root, &c.rel, O_RDWR | O_CREAT | O_EXCL, mode & 0o7777)?;
        *c.handle.lock() = Some((fh, true, here()));
        // The host applies its own umask; the application's (already applied) must win.
        // (Another process may already have unlinked the new name: the open file is ours.)
        match t.host_chmod(self.fs.root, &c.rel, mode & 0o7777) {
            Ok(()) | Err(myst_abi::Errno::ENOENT) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(c)
    }

    fn mkdir(&self, name: &[u8], mode: u32, _uid: u32, _gid: u32) -> KResult<InodeRef> {
        let c = self.child(name)?;
        let t = crate::tcall();
        t.host_mkdir(self.fs.root, &c.rel, mode & 0o7777)?;
        t.host_chmod(self.fs.root, &c.rel, mode & 0o7777)?;
        Ok(c)
    }

    fn symlink(&self, name: &[u8], target: &[u8], _uid: u32, _gid: u32) -> KResult<()> {
        let c = self.child(name)?;
        Ok(crate::tcall().host_symlink(self.fs.root, target, &c.rel)?)
    }

    fn link(&self, name: &[u8], target: &InodeRef) -> KResult<()> {
        let Some(t) = target.as_any().downcast_ref::<HostNode>() else { kerr!(EXDEV) };
        if !Arc::ptr_eq(&t.fs, &self.fs) {
            kerr!(EXDEV);
        }
        let c = self.child(name)?;
        Ok(crate::tcall().host_link(self.fs.root, &t.rel, &c.rel)?)
    }

    fn unlink(&self, name: &[u8]) -> KResult<()> {
        let c = self.child(name)?;
        Ok(crate::tcall().host_unlink(self.fs.root, &c.rel, false)?)
    }

    fn rmdir(&self, name: &[u8]) -> KResult<()> {
        let c = self.child(name)?;
        Ok(crate::tcall().host_unlink(self.fs.root, &c.rel, true)?)
    }

    fn rename(&self, old: &[u8], newdir: &InodeRef, new: &[u8], flags: u32) -> KResult<()> {
        let Some(nd) = newdir.as_any().downcast_ref::<HostNode>() else { kerr!(EXDEV) };
        if !Arc::ptr_eq(&nd.fs, &self.fs) {
            kerr!(EXDEV);
        }
        let from = self.child_path(old)?;
        let to = nd.child_path(new)?;
        Ok(crate::tcall().host_rename(self.fs.root, &from, &to, flags)?)
    }

    fn readdir(&self) -> KResult<Vec<DirEntry>> {
        let mut out = Vec::new();
        crate::tcall().host_readdir(self.fs.root, &self.rel, &mut |name, d| {
            if out.len() < 1_000_000 {
                out.push(DirEntry { name: name.to_vec(), ino: d.ino, dtype: d.dtype });
            }
        })?;
        Ok(out)
    }

    fn readlink(&self) -> KResult<Vec<u8>> {
        let mut buf = vec![0u8; 4096];
        let n = crate::tcall().host_readlink(self.fs.root, &self.rel, &mut buf)?;
        let n = myst_tcall::checked::len_within(Ok(n), buf.len())?;
        buf.truncate(n);
        Ok(buf)
    }

    fn open_replace(&self) -> Option<KResult<InodeRef>> {
        // A regular file is opened on the host now, as Linux binds an open file to its inode
        // at open time: a later unlink, rename or re-creation of the path by another process
        // does not change what this descriptor reads and writes.
        if self.handle.lock().is_some() {
            return None;
        }
        let kind = match self.kind.load(core::sync::atomic::Ordering::Relaxed) {
            0 => crate::tcall().host_lstat(self.fs.root, &self.rel).map(|st| st.mode & S_IFMT),
            k => Ok(k),
        };
        match kind {
            // (a write-only file opens write-only)
            Ok(S_IFREG) => {
                self.fh(false).or_else(|e| if e.errno == myst_abi::Errno::EACCES { self.fh(true) } else { Err(e) }).err().map(Err)
            }
            Ok(_) => None,
            Err(e) => Some(Err(e.into())),
        }
    }
    fn host_handle(&self, write: bool) -> Option<KResult<u32>> {
        Some(self.fh(write))
    }
    fn read_at(&self, off: u64, buf: &mut [u8]) -> KResult<usize> {
        let fh = self.fh(false)?;
        let n = crate::tcall().host_pread(fh, buf, off);
        Ok(myst_tcall::checked::len_within(n, buf.len())?)
    }

    fn write_at(&self, off: u64, buf: &[u8]) -> KResult<usize> {
        let fh = self.fh(true)?;
        let n = crate::tcall().host_pwrite(fh, buf, off);
        Ok(myst_tcall::checked::len_within(n, buf.len())?)
    }

    fn truncate(&self, len: u64) -> KResult<()> {
        let fh = self.fh(true)?;
        Ok(crate::tcall().host_ftruncate(fh, len)?)
    }

    fn setattr(&self, a: &SetAttr) -> KResult<()> {
        let t = crate::tcall();
        if let Some(m) = a.mode {
            t.host_chmod(self.fs.root, &self.rel, m & 0o7777)?;
        }
        if a.uid.is_some() || a.gid.is_some() {
            t.host_chown(self.fs.root, &self.rel, a.uid.unwrap_or(u32::MAX), a.gid.unwrap_or(u32::MAX))?;
        }
        if a.atime.is_some() || a.mtime.is_some() {
            let omit = Timespec { sec: 0, nsec: UTIME_OMIT };
            t.host_utimens(self.fs.root, &self.rel, a.atime.unwrap_or(omit), a.mtime.unwrap_or(omit))?;
        }
        Ok(())
    }

    fn sync(&self) -> KResult<()> {
        if let Some((fh, _, _)) = *self.handle.lock() {
            crate::tcall().host_fsync(fh)?;
        }
        Ok(())
    }
}
