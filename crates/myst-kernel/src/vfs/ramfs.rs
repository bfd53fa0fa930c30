//! ramfs: an in-memory file system (the unpacked CPIO rootfs, `/tmp` on CPIO roots, devfs's
//! directories).

use super::{DirEntry, Inode, InodeRef, SetAttr};
use crate::error::KResult;
use crate::kerr;
use crate::sync::Mutex;
use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicU64, Ordering};
use myst_abi::consts::*;
use myst_abi::structs::{Stat, Statfs, Timespec};

/// Largest file ramfs accepts (bounded by application memory anyway).
const MAX_FILE: u64 = 1 << 40;

/// Shared state of one ramfs instance.
pub struct RamFs {
    dev: u64,
    next_ino: AtomicU64,
    magic: i64,
}

enum Content {
    File(Vec<u8>),
    Dir(BTreeMap<Vec<u8>, Arc<RamNode>>),
    Symlink(Vec<u8>),
    Special,
}

struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u64,
    rdev: u64,
    atime: Timespec,
    mtime: Timespec,
    ctime: Timespec,
}

/// A ramfs inode.
pub struct RamNode {
    fs: Arc<RamFs>,
    ino: u64,
    meta: Mutex<Meta>,
    content: Mutex<Content>,
    me: Weak<RamNode>,
}

fn now() -> Timespec {
    crate::now()
}

impl RamFs {
    /// Creates a file system and returns its root directory.
    pub fn new_root(mode: u32, magic: i64) -> Arc<RamNode> {
        let fs = Arc::new(RamFs { dev: super::DEV_IDS.next(), next_ino: AtomicU64::new(2), magic });
        RamNode::new(&fs, S_IFDIR | (mode & 0o7777), 0, 0, 0, Content::Dir(BTreeMap::new()))
    }
}

impl RamNode {
    fn new(fs: &Arc<RamFs>, mode: u32, uid: u32, gid: u32, rdev: u64, content: Content) -> Arc<RamNode> {
        let ino = fs.next_ino.fetch_add(1, Ordering::Relaxed);
        let t = now();
        let nlink = if mode & S_IFMT == S_IFDIR { 2 } else { 1 };
        Arc::new_cyclic(|me| RamNode {
            fs: fs.clone(),
            ino,
            meta: Mutex::new(Meta { mode, uid, gid, nlink, rdev, atime: t, mtime: t, ctime: t }),
            content: Mutex::new(content),
            me: me.clone(),
        })
    }

    fn arc(&self) -> Arc<RamNode> {
        self.me.upgrade().expect("ramfs node alive while borrowed")
    }

    fn touch_m(&self) {
        let t = now();
        let mut m = self.meta.lock();
        m.mtime = t;
        m.ctime = t;
    }

    fn insert(&self, name: &[u8], node: Arc<RamNode>) -> KResult<()> {
        let is_dir = node.meta.lock().mode & S_IFMT == S_IFDIR;
        {
            let mut c = self.content.lock();
            let Content::Dir(map) = &mut *c else { kerr!(ENOTDIR) };
            if map.contains_key(name) {
                kerr!(EEXIST);
            }
            map.insert(name.to_vec(), node);
        }
        if is_dir {
            self.meta.lock().nlink += 1;
        }
        self.touch_m();
        Ok(())
    }

    /// Adds a child of any kind (used by the CPIO unpacker and devfs). Returns the child.
    #[allow(clippy::too_many_arguments)]
    pub fn add_child(&self, name: &[u8], mode: u32, uid: u32, gid: u32, mtime: i64, data: &[u8], rdev: u64) -> KResult<Arc<RamNode>> {
        let content = match mode & S_IFMT {
            S_IFDIR => Content::Dir(BTreeMap::new()),
            S_IFLNK => Content::Symlink(data.to_vec()),
            S_IFREG => Content::File(data.to_vec()),
            _ => Content::Special,
        };
        // An existing directory (e.g. "/tmp" listed twice) is updated, not duplicated.
        if mode & S_IFMT == S_IFDIR {
            if let Ok(existing) = self.lookup_node(name) {
                if existing.meta.lock().mode & S_IFMT == S_IFDIR {
                    let mut m = existing.meta.lock();
                    m.mode = mode;
                    m.uid = uid;
                    m.gid = gid;
                    return Ok(existing.clone());
                }
            }
        }
        let node = RamNode::new(&self.fs, mode, uid, gid, rdev, content);
        {
            let mut m = node.meta.lock();
            let t = Timespec { sec: mtime, nsec: 0 };
            m.mtime = t;
            m.atime = t;
            m.ctime = t;
        }
        self.insert(name, node.clone())?;
        Ok(node)
    }

    /// Adds a hard link to an existing ramfs node.
    pub fn add_link(&self, name: &[u8], target: &Arc<RamNode>) -> KResult<()> {
        self.insert(name, target.clone())?;
        target.meta.lock().nlink += 1;
        Ok(())
    }

    /// Looks up a direct child as a ramfs node.
    pub fn lookup_node(&self, name: &[u8]) -> KResult<Arc<RamNode>> {
        let c = self.content.lock();
        let Content::Dir(map) = &*c else { kerr!(ENOTDIR) };
        match map.get(name) {
            Some(n) => Ok(n.clone()),
            None => kerr!(ENOENT),
        }
    }

    fn remove(&self, name: &[u8], want_dir: bool) -> KResult<Arc<RamNode>> {
        let node = self.lookup_node(name)?;
        let is_dir = node.meta.lock().mode & S_IFMT == S_IFDIR;
        if want_dir && !is_dir {
            kerr!(ENOTDIR);
        }
        if !want_dir && is_dir {
            kerr!(EISDIR);
        }
        if is_dir {
            if let Content::Dir(m) = &*node.content.lock() {
                if !m.is_empty() {
                    kerr!(ENOTEMPTY);
                }
            }
        }
        if let Content::Dir(map) = &mut *self.content.lock() {
            map.remove(name);
        }
        {
            let mut m = node.meta.lock();
            m.nlink = m.nlink.saturating_sub(if is_dir { 2 } else { 1 });
            m.ctime = now();
        }
        if is_dir {
            let mut m = self.meta.lock();
            m.nlink = m.nlink.saturating_sub(1);
        }
        self.touch_m();
        Ok(node)
    }

    fn is_dir_node(&self) -> bool {
        self.meta.lock().mode & S_IFMT == S_IFDIR
    }

    fn is_ancestor_of(&self, other: &Arc<RamNode>) -> bool {
        // Depth-first search from self for `other` (used to refuse moving a dir into itself).
        if core::ptr::eq(self, Arc::as_ptr(other)) {
            return true;
        }
        let c = self.content.lock();
        if let Content::Dir(map) = &*c {
            let kids: Vec<Arc<RamNode>> = map.values().filter(|n| n.is_dir_node()).cloned().collect();
            drop(c);
            return kids.iter().any(|k| k.is_ancestor_of(other));
        }
        false
    }
}

impl Inode for RamNode {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn stat(&self) -> KResult<Stat> {
        let m = self.meta.lock();
        let size = match &*self.content.lock() {
            Content::File(d) => d.len() as i64,
            Content::Symlink(t) => t.len() as i64,
            Content::Dir(_) => 4096,
            Content::Special => 0,
        };
        Ok(Stat {
            dev: self.fs.dev,
            ino: self.ino,
            nlink: m.nlink,
            mode: m.mode,
            uid: m.uid,
            gid: m.gid,
            rdev: m.rdev,
            size,
            blksize: 4096,
            blocks: (size + 511) / 512,
            atime: m.atime,
            mtime: m.mtime,
            ctime: m.ctime,
        })
    }

    fn statfs(&self) -> KResult<Statfs> {
        Ok(Statfs { fs_type: self.fs.magic, bsize: 4096, namelen: 255, frsize: 4096, fsid: self.fs.dev, ..Default::default() })
    }

    fn lookup(&self, name: &[u8]) -> KResult<InodeRef> {
        Ok(self.lookup_node(name)?)
    }

    fn create(&self, name: &[u8], mode: u32, rdev: u64, uid: u32, gid: u32) -> KResult<InodeRef> {
        let content = if mode & S_IFMT == S_IFREG { Content::File(Vec::new()) } else { Content::Special };
        let node = RamNode::new(&self.fs, mode, uid, gid, rdev, content);
        self.insert(name, node.clone())?;
        Ok(node)
    }

    fn mkdir(&self, name: &[u8], mode: u32, uid: u32, gid: u32) -> KResult<InodeRef> {
        let node = RamNode::new(&self.fs, S_IFDIR | (mode & 0o7777), uid, gid, 0, Content::Dir(BTreeMap::new()));
        self.insert(name, node.clone())?;
        Ok(node)
    }

    fn symlink(&self, name: &[u8], target: &[u8], uid: u32, gid: u32) -> KResult<()> {
        let node = RamNode::new(&self.fs, S_IFLNK | 0o777, uid, gid, 0, Content::Symlink(target.to_vec()));
        self.insert(name, node)
    }

    fn link(&self, name: &[u8], target: &InodeRef) -> KResult<()> {
        let Some(t) = target.as_any().downcast_ref::<RamNode>() else { kerr!(EXDEV) };
        if !Arc::ptr_eq(&t.fs, &self.fs) {
            kerr!(EXDEV);
        }
        if t.is_dir_node() {
            kerr!(EPERM);
        }
        self.add_link(name, &t.arc())?;
        t.meta.lock().ctime = now();
        Ok(())
    }

    fn unlink(&self, name: &[u8]) -> KResult<()> {
        self.remove(name, false).map(|_| ())
    }

    fn rmdir(&self, name: &[u8]) -> KResult<()> {
        self.remove(name, true).map(|_| ())
    }

    fn rename(&self, old: &[u8], newdir: &InodeRef, new: &[u8], flags: u32) -> KResult<()> {
        let Some(nd) = newdir.as_any().downcast_ref::<RamNode>() else { kerr!(EXDEV) };
        if !Arc::ptr_eq(&nd.fs, &self.fs) {
            kerr!(EXDEV);
        }
        let src = self.lookup_node(old)?;
        let src_dir = src.is_dir_node();
        if src_dir && src.is_ancestor_of(&nd.arc()) {
            kerr!(EINVAL);
        }
        let existing = nd.lookup_node(new).ok();
        if let Some(dst) = &existing {
            if Arc::ptr_eq(dst, &src) {
                return Ok(());
            }
            if flags & RENAME_NOREPLACE != 0 {
                kerr!(EEXIST);
            }
            if flags & RENAME_EXCHANGE != 0 {
                let dst = dst.clone();
                if let Content::Dir(m) = &mut *self.content.lock() {
                    m.insert(old.to_vec(), dst.clone());
                }
                if let Content::Dir(m) = &mut *nd.content.lock() {
                    m.insert(new.to_vec(), src.clone());
                }
                return Ok(());
            }
            let dst_dir = dst.is_dir_node();
            if src_dir && !dst_dir {
                kerr!(ENOTDIR);
            }
            if !src_dir && dst_dir {
                kerr!(EISDIR);
            }
            nd.remove(new, dst_dir)?;
        } else if flags & RENAME_EXCHANGE != 0 {
            kerr!(ENOENT);
        }
        if let Content::Dir(m) = &mut *self.content.lock() {
            m.remove(old);
        }
        if src_dir {
            let mut m = self.meta.lock();
            m.nlink = m.nlink.saturating_sub(1);
        }
        nd.insert(new, src.clone())?;
        src.meta.lock().ctime = now();
        self.touch_m();
        Ok(())
    }

    fn readdir(&self) -> KResult<Vec<DirEntry>> {
        let c = self.content.lock();
        let Content::Dir(map) = &*c else { kerr!(ENOTDIR) };
        Ok(map.iter().map(|(n, node)| DirEntry { name: n.clone(), ino: node.ino, dtype: dtype_of(node.meta.lock().mode) }).collect())
    }

    fn readlink(&self) -> KResult<Vec<u8>> {
        match &*self.content.lock() {
            Content::Symlink(t) => Ok(t.clone()),
            _ => kerr!(EINVAL),
        }
    }

    fn read_at(&self, off: u64, buf: &mut [u8]) -> KResult<usize> {
        match &*self.content.lock() {
            Content::File(d) => {
                let len = d.len() as u64;
                if off >= len {
                    return Ok(0);
                }
                let n = ((len - off) as usize).min(buf.len());
                buf[..n].copy_from_slice(&d[off as usize..off as usize + n]);
                Ok(n)
            }
            Content::Dir(_) => kerr!(EISDIR),
            _ => kerr!(EINVAL),
        }
    }

    fn write_at(&self, off: u64, buf: &[u8]) -> KResult<usize> {
        {
            let mut c = self.content.lock();
            let Content::File(d) = &mut *c else { kerr!(EINVAL) };
            let Some(end) = off.checked_add(buf.len() as u64) else { kerr!(EFBIG) };
            if end > MAX_FILE {
                kerr!(EFBIG);
            }
            if end as usize > d.len() {
                if d.try_reserve(end as usize - d.len()).is_err() {
                    kerr!(ENOSPC);
                }
                d.resize(end as usize, 0);
            }
            d[off as usize..end as usize].copy_from_slice(buf);
        }
        self.touch_m();
        Ok(buf.len())
    }

    fn truncate(&self, len: u64) -> KResult<()> {
        {
            let mut c = self.content.lock();
            match &mut *c {
                Content::File(d) => {
                    if len > MAX_FILE {
                        kerr!(EFBIG);
                    }
                    if len as usize > d.len() && d.try_reserve(len as usize - d.len()).is_err() {
                        kerr!(ENOSPC);
                    }
                    d.resize(len as usize, 0);
                }
                Content::Dir(_) => kerr!(EISDIR),
                _ => kerr!(EINVAL),
            }
        }
        self.touch_m();
        Ok(())
    }

    fn setattr(&self, a: &SetAttr) -> KResult<()> {
        let mut m = self.meta.lock();
        if let Some(mode) = a.mode {
            m.mode = (m.mode & S_IFMT) | (mode & 0o7777);
        }
        if let Some(u) = a.uid {
            m.uid = u;
        }
        if let Some(g) = a.gid {
            m.gid = g;
        }
        if let Some(t) = a.atime {
            m.atime = t;
        }
        if let Some(t) = a.mtime {
            m.mtime = t;
        }
        m.ctime = now();
        Ok(())
    }
}
