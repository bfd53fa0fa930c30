//! Smaller file and identity calls: close_range, extended attributes, preadv2/pwritev2,
//! memfd_create, flock, fallocate, fadvise64, copy_file_range, set*id, clock_settime.

use super::Ctx;
use crate::error::KResult;
use crate::fdtable::FdEntry;
use crate::kerr;
use crate::vfs::OpenFile;
use alloc::vec;
use myst_abi::consts::*;

pub fn close_range(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let (first, last, flags) = (a[0] as u32, a[1] as u32, a[2] as u32);
    if first > last || flags & !(2 | 4) != 0 {
        kerr!(EINVAL);
    }
    let mut t = c.proc.fds.lock();
    let fds: alloc::vec::Vec<i32> = t.iter().map(|(fd, _)| fd).filter(|fd| (*fd as u32) >= first && (*fd as u32) <= last).collect();
    let mut closed = alloc::vec::Vec::new();
    for fd in fds {
        if flags & 4 != 0 {
            if let Ok(e) = t.get_mut(fd) {
                e.cloexec = true;
            }
        } else if let Ok(e) = t.close(fd) {
            closed.push(e);
        }
    }
    drop(t);
    for e in closed {
        if let Ok(st) = e.file.inode.stat() {
            c.k.locks.release((st.dev, st.ino), c.proc.pid);
        }
    }
    Ok(0)
}

/// Extended attributes: no myst file system stores them, so every call on an existing file
/// fails with EOPNOTSUPP, as Linux does on a file system without xattr support.
fn xattr_target(c: &Ctx<'_>, path_or_fd: u64, by_fd: bool, follow: bool) -> KResult<()> {
    if by_fd {
        c.file(path_or_fd)?;
    } else {
        let p = c.path_arg(path_or_fd)?;
        let abs = c.abs_path(AT_FDCWD as u32 as u64 | 0xffff_ffff_0000_0000, &p)?;
        c.k.vfs.walk(&abs, follow)?;
    }
    kerr!(EOPNOTSUPP)
}

pub fn xattr_path(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    xattr_target(c, a[0], false, true).map(|_| 0)
}
pub fn xattr_lpath(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    xattr_target(c, a[0], false, false).map(|_| 0)
}
pub fn xattr_fd(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    xattr_target(c, a[0], true, true).map(|_| 0)
}

fn rw2(c: &mut Ctx<'_>, a: [u64; 6], write: bool) -> KResult<u64> {
    if a[5] as u32 & !(0x1f) != 0 {
        kerr!(EOPNOTSUPP);
    }
    let f = c.file(a[0])?;
    let iov_ptr = a[1];
    let cnt = a[2] as usize;
    if cnt > 1024 {
        kerr!(EINVAL);
    }
    let raw = c.user().read_vec(iov_ptr, cnt * 16)?;
    let mut total = 0usize;
    let mut off = a[3] as i64;
    for i in 0..cnt {
        let base = u64::from_le_bytes(raw[i * 16..i * 16 + 8].try_into().expect("8"));
        let len = (u64::from_le_bytes(raw[i * 16 + 8..i * 16 + 16].try_into().expect("8")) as usize).min(crate::uaccess::MAX_COPY);
        if len == 0 {
            continue;
        }
        let n = if write {
            let buf = c.user().read_vec(base, len)?;
            if off == -1 {
                f.write(&buf)?
            } else {
                f.pwrite(&buf, off as u64)?
            }
        } else {
            let mut buf = vec![0u8; len];
            let n = if off == -1 { f.read(&mut buf)? } else { f.pread(&mut buf, off as u64)? };
            c.user().write(base, &buf[..n])?;
            n
        };
        total += n;
        if off != -1 {
            off += n as i64;
        }
        if n < len {
            break;
        }
    }
    Ok(total as u64)
}

pub fn preadv2(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    rw2(c, a, false)
}

pub fn pwritev2(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    rw2(c, a, true)
}

pub fn memfd_create(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let name = c.user().read_cstr(a[0], 249)?;
    let flags = a[1] as u32;
    if flags & !(1 | 2 | 4 | 8 | 16) != 0 {
        kerr!(EINVAL);
    }
    // An unnamed file in a private ramfs: it lives as long as its descriptors.
    let dir = crate::vfs::ramfs::RamFs::new_root(0o700, TMPFS_MAGIC);
    let node = crate::vfs::Inode::create(&*dir, b"memfd", S_IFREG | 0o777, 0, c.proc.creds.uid, c.proc.creds.gid)?;
    crate::vfs::Inode::unlink(&*dir, b"memfd")?;
    let path = alloc::format!("/memfd:{} (deleted)", alloc::string::String::from_utf8_lossy(&name));
    let f = OpenFile::new(node, path, O_RDWR | O_LARGEFILE);
    Ok(c.proc.fds.lock().alloc(FdEntry { file: f, cloexec: flags & 1 != 0 }, 0)? as u64)
}

const LOCK_SH: u32 = 1;
const LOCK_EX: u32 = 2;
const LOCK_NB: u32 = 4;
const LOCK_UN: u32 = 8;

pub fn flock(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = c.file(a[0])?;
    let op = a[1] as u32;
    let st = f.inode.stat()?;
    // flock locks belong to the open file description; keep them apart from fcntl locks.
    let key = (st.dev | 1 << 63, st.ino);
    let owner = 0x4000_0000 | (alloc::sync::Arc::as_ptr(&f) as *const u8 as usize as u32 & 0x3fff_ffff);
    let kind = match op & !LOCK_NB {
        LOCK_SH => F_RDLCK,
        LOCK_EX => F_WRLCK,
        LOCK_UN => {
            c.k.locks.set(key, owner, F_UNLCK, 0, u64::MAX);
            return Ok(0);
        }
        _ => kerr!(EINVAL),
    };
    let tc = crate::tcall();
    loop {
        if c.k.locks.conflict(key, owner, kind, 0, u64::MAX).is_none() {
            c.k.locks.set(key, owner, kind, 0, u64::MAX);
            return Ok(0);
        }
        if op & LOCK_NB != 0 {
            kerr!(EAGAIN);
        }
        if crate::signal::has_deliverable(c.thread) {
            kerr!(EINTR);
        }
        let _ = tc.sleep(2_000_000);
    }
}

pub fn fallocate(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = c.file(a[0])?;
    let (mode, off, len) = (a[1] as u32, a[2] as i64, a[3] as i64);
    if off < 0 || len <= 0 {
        kerr!(EINVAL);
    }
    if *f.flags.lock() & O_ACCMODE == O_RDONLY {
        kerr!(EBADF);
    }
    let st = f.inode.stat()?;
    if st.mode & S_IFMT != S_IFREG {
        kerr!(ENODEV);
    }
    match mode {
        0 => {
            let end = (off as u64).saturating_add(len as u64);
            if end > st.size.max(0) as u64 {
                f.inode.truncate(end)?;
            }
            Ok(0)
        }
        1 => Ok(0), // FALLOC_FL_KEEP_SIZE: nothing to reserve in myst's file systems.
        _ => kerr!(EOPNOTSUPP),
    }
}

pub fn fadvise64(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = c.file(a[0])?;
    if f.inode.is_stream() {
        kerr!(ESPIPE);
    }
    if a[3] > 5 {
        kerr!(EINVAL);
    }
    // Advice only: myst's file systems have no readahead to tune.
    Ok(0)
}

pub fn copy_file_range(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    if a[5] != 0 {
        kerr!(EINVAL);
    }
    let fin = c.file(a[0])?;
    let fout = c.file(a[2])?;
    let len = (a[4] as usize).min(1 << 20);
    let mut buf = vec![0u8; len];
    let n = if a[1] != 0 {
        let off = c.user().read_u64(a[1])?;
        let n = fin.pread(&mut buf, off)?;
        c.user().write_u64(a[1], off + n as u64)?;
        n
    } else {
        fin.read(&mut buf)?
    };
    if n == 0 {
        return Ok(0);
    }
    let w = if a[3] != 0 {
        let off = c.user().read_u64(a[3])?;
        let w = fout.pwrite(&buf[..n], off)?;
        c.user().write_u64(a[3], off + w as u64)?;
        w
    } else {
        fout.write(&buf[..n])?
    };
    Ok(w as u64)
}

/// Identity changes: myst keeps one identity per application; asking for the identity the
/// process already has succeeds, anything else is EPERM.
fn same_ids(ids: &[u64], cur: u32) -> KResult<u64> {
    for &i in ids {
        let i = i as u32;
        if i != u32::MAX && i != cur {
            kerr!(EPERM, "changing user or group ids is not supported");
        }
    }
    Ok(0)
}

pub fn setuid_family(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    same_ids(&a[..3], c.proc.creds.uid)
}

pub fn setgid_family(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    same_ids(&a[..3], c.proc.creds.gid)
}

/// setreuid(ruid, euid): two ids (the third register is not an argument).
pub fn setreuid(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    same_ids(&a[..2], c.proc.creds.uid)
}

/// setregid(rgid, egid).
pub fn setregid(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    same_ids(&a[..2], c.proc.creds.gid)
}

pub fn setuid1(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    same_ids(&a[..1], c.proc.creds.uid)
}

pub fn setgid1(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    same_ids(&a[..1], c.proc.creds.gid)
}

/// setfsuid/setfsgid return the previous id and never fail.
pub fn setfsuid(c: &mut Ctx<'_>, _a: [u64; 6]) -> KResult<u64> {
    Ok(c.proc.creds.uid as u64)
}

/// See [`setfsuid`].
pub fn setfsgid(c: &mut Ctx<'_>, _a: [u64; 6]) -> KResult<u64> {
    Ok(c.proc.creds.gid as u64)
}

pub fn setgroups(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let n = a[0] as usize;
    if n > 65536 {
        kerr!(EINVAL);
    }
    let raw = c.user().read_vec(a[1], n * 4)?;
    let want: alloc::vec::Vec<u32> = raw.chunks_exact(4).map(|b| u32::from_le_bytes(b.try_into().expect("4"))).collect();
    // Root (the host user myst runs as, if it is root) may set any list, as with CAP_SETGID.
    if want != *c.proc.groups.lock() && c.proc.creds.uid != 0 {
        kerr!(EPERM);
    }
    *c.proc.groups.lock() = want;
    Ok(0)
}

pub fn clock_settime(_c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    if a[0] as u32 > CLOCK_TAI {
        kerr!(EINVAL);
    }
    kerr!(EPERM, "the clock comes from the host and cannot be set")
}
