//! ext2 in the kernel: the shared `myst-ext2` reader with its in-memory write overlay (the
//! image is never written; changes are lost at exit, as in Mystikos), over the verified
//! block-device stack of `blockdev`.

use super::{DirEntry, Inode, InodeRef, SetAttr};
use crate::blockdev::Ext2Dev;
use crate::error::{Error, KResult};
use crate::kerr;
use crate::sync::Mutex;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use myst_abi::consts::*;
use myst_abi::structs::{Stat, Statfs, Timespec};
use myst_abi::Errno;
use myst_ext2::{Ext2, NewKind, Timestamp};

/// One mounted ext2 volume (one lock around the file system, like Mystikos's lockfs).
pub struct Volume {
    fs: Mutex<Ext2<Ext2Dev>>,
    dev: u64,
}

/// An ext2 inode.
pub struct Ext2Node {
    vol: Arc<Volume>,
    ino: u32,
}

fn err(e: myst_ext2::Ext2Error) -> Error {
    Error::from(Errno::from_raw(e.errno()).unwrap_or(Errno::EIO))
}

fn ts(t: Timestamp) -> Timespec {
    Timespec { sec: t.sec, nsec: t.nsec as i64 }
}

fn to_ts(t: Timespec) -> Timestamp {
    Timestamp { sec: t.sec, nsec: t.nsec.clamp(0, 999_999_999) as u32 }
}

/// Opens a volume on `dev`; returns its root inode.
pub fn mount(dev: Ext2Dev) -> KResult<InodeRef> {
    let mut fs = Ext2::open(dev).map_err(err)?;
    fs.set_clock(alloc::boxed::Box::new(|| to_ts(crate::now())));
    let root = fs.root_ino();
    let vol = Arc::new(Volume { fs: Mutex::new(fs), dev: super::DEV_IDS.next() });
    Ok(Arc::new(Ext2Node { vol, ino: root }))
}

impl Ext2Node {
    fn node(&self, ino: u32) -> InodeRef {
        Arc::new(Ext2Node { vol: self.vol.clone(), ino })
    }

    fn check_name(name: &[u8]) -> KResult<()> {
        if name.is_empty() || name.len() > 255 || name.contains(&b'/') {
            kerr!(EINVAL);
        }
        Ok(())
    }

    fn same_vol(&self, other: &InodeRef) -> KResult<u32> {
        match other.as_any().downcast_ref::<Ext2Node>() {
            Some(o) if Arc::ptr_eq(&o.vol, &self.vol) => Ok(o.ino),
            _ => kerr!(EXDEV),
        }
    }
}

impl Inode for Ext2Node {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn stat(&self) -> KResult<Stat> {
        let s = self.vol.fs.lock().stat(self.ino).map_err(err)?;
        Ok(Stat {
            dev: self.vol.dev,
            ino: s.ino as u64,
            nlink: s.nlink as u64,
            mode: s.mode as u32,
            uid: s.uid,
            gid: s.gid,
            rdev: s.rdev,
            size: s.size as i64,
            blksize: 4096,
            blocks: s.blocks as i64,
            atime: ts(s.atime),
            mtime: ts(s.mtime),
            ctime: ts(s.ctime),
        })
    }

    fn statfs(&self) -> KResult<Statfs> {
        let s = self.vol.fs.lock().statfs();
        Ok(Statfs {
            fs_type: EXT2_SUPER_MAGIC,
            bsize: s.block_size as i64,
            blocks: s.blocks,
            bfree: s.free_blocks,
            bavail: s.free_blocks,
            files: s.inodes,
            ffree: s.free_inodes,
            fsid: self.vol.dev,
            namelen: s.name_max as i64,
            frsize: s.block_size as i64,
            flags: 0,
        })
    }

    fn lookup(&self, name: &[u8]) -> KResult<InodeRef> {
        let ino = self.vol.fs.lock().lookup_in(self.ino, name).map_err(err)?;
        Ok(self.node(ino))
    }

    fn create(&self, name: &[u8], mode: u32, rdev: u64, uid: u32, gid: u32) -> KResult<InodeRef> {
        Self::check_name(name)?;
        let kind = match mode & S_IFMT {
            S_IFREG | 0 => NewKind::File,
            S_IFIFO => NewKind::Fifo,
            S_IFSOCK => NewKind::Socket,
            S_IFCHR => NewKind::CharDev(rdev),
            S_IFBLK => NewKind::BlockDev(rdev),
            _ => kerr!(EINVAL),
        };
        let ino = self.vol.fs.lock().create(self.ino, name, kind, (mode & 0o7777) as u16, uid, gid).map_err(err)?;
        Ok(self.node(ino))
    }

    fn mkdir(&self, name: &[u8], mode: u32, uid: u32, gid: u32) -> KResult<InodeRef> {
        Self::check_name(name)?;
        let ino = self.vol.fs.lock().mkdir(self.ino, name, (mode & 0o7777) as u16, uid, gid).map_err(err)?;
        Ok(self.node(ino))
    }

    fn symlink(&self, name: &[u8], target: &[u8], uid: u32, gid: u32) -> KResult<()> {
        Self::check_name(name)?;
        self.vol.fs.lock().symlink(self.ino, name, target, uid, gid).map_err(err)?;
        Ok(())
    }

    fn link(&self, name: &[u8], target: &InodeRef) -> KResult<()> {
        let t = self.same_vol(target)?;
        self.vol.fs.lock().link(t, self.ino, name).map_err(err)
    }

    fn unlink(&self, name: &[u8]) -> KResult<()> {
        self.vol.fs.lock().unlink(self.ino, name).map_err(err)
    }

    fn rmdir(&self, name: &[u8]) -> KResult<()> {
        self.vol.fs.lock().rmdir(self.ino, name).map_err(err)
    }

    fn rename(&self, old: &[u8], newdir: &InodeRef, new: &[u8], flags: u32) -> KResult<()> {
        let nd = self.same_vol(newdir)?;
        let mut fs = self.vol.fs.lock();
        if flags & RENAME_EXCHANGE != 0 {
            kerr!(EINVAL, "RENAME_EXCHANGE is not supported on ext2");
        }
        if flags & RENAME_NOREPLACE != 0 && fs.lookup_in(nd, new).is_ok() {
            kerr!(EEXIST);
        }
        fs.rename(self.ino, old, nd, new).map_err(err)
    }

    fn readdir(&self) -> KResult<Vec<DirEntry>> {
        let v = self.vol.fs.lock().readdir(self.ino).map_err(err)?;
        Ok(v.into_iter()
            .filter(|e| e.name != b"." && e.name != b"..")
            .map(|e| {
                let dtype = match e.file_type {
                    myst_ext2::FileType::Regular => DT_REG,
                    myst_ext2::FileType::Dir => DT_DIR,
                    myst_ext2::FileType::CharDev => DT_CHR,
                    myst_ext2::FileType::BlockDev => DT_BLK,
                    myst_ext2::FileType::Fifo => DT_FIFO,
                    myst_ext2::FileType::Socket => DT_SOCK,
                    myst_ext2::FileType::Symlink => DT_LNK,
                    _ => DT_UNKNOWN,
                };
                DirEntry { name: e.name, ino: e.ino as u64, dtype }
            })
            .collect())
    }

    fn readlink(&self) -> KResult<Vec<u8>> {
        self.vol.fs.lock().readlink(self.ino).map_err(err)
    }

    fn read_at(&self, off: u64, buf: &mut [u8]) -> KResult<usize> {
        self.vol.fs.lock().read(self.ino, off, buf).map_err(err)
    }

    fn write_at(&self, off: u64, buf: &[u8]) -> KResult<usize> {
        self.vol.fs.lock().write(self.ino, off, buf).map_err(err)
    }

    fn truncate(&self, len: u64) -> KResult<()> {
        self.vol.fs.lock().truncate(self.ino, len).map_err(err)
    }

    fn setattr(&self, a: &SetAttr) -> KResult<()> {
        let mut fs = self.vol.fs.lock();
        if let Some(m) = a.mode {
            fs.chmod(self.ino, (m & 0o7777) as u16).map_err(err)?;
        }
        if a.uid.is_some() || a.gid.is_some() {
            fs.chown(self.ino, a.uid, a.gid).map_err(err)?;
        }
        if a.atime.is_some() || a.mtime.is_some() {
            fs.set_times(self.ino, a.atime.map(to_ts), a.mtime.map(to_ts)).map_err(err)?;
        }
        Ok(())
    }
}
