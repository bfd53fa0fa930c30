//! Path-based file-system calls: open, stat, directories, links, attributes.

use super::Ctx;
use crate::error::KResult;
use crate::fdtable::FdEntry;
use crate::kerr;
use crate::vfs::{InodeRef, OpenFile, SetAttr};
use alloc::vec::Vec;
use myst_abi::consts::*;
use myst_abi::structs::{push_dirent64, Stat, Timespec};

const FDCWD: u64 = AT_FDCWD as u32 as u64 | 0xffff_ffff_0000_0000;

fn is_dir(i: &InodeRef) -> KResult<bool> {
    Ok(i.stat()?.mode & S_IFMT == S_IFDIR)
}

/// Resolves (dirfd, path) to an inode and its canonical path.
fn lookup_at(c: &Ctx<'_>, dirfd: u64, ptr: u64, follow: bool, empty_ok: bool) -> KResult<(InodeRef, Vec<u8>)> {
    let p = c.path_arg(ptr)?;
    if p.is_empty() {
        if !empty_ok {
            kerr!(ENOENT);
        }
        if dirfd as i32 == AT_FDCWD {
            let cwd = c.proc.cwd.lock().clone();
            return c.k.vfs.walk(&cwd, true);
        }
        let f = c.file(dirfd)?;
        return Ok((f.inode.clone(), f.path.clone()));
    }
    let abs = c.abs_path(dirfd, &p)?;
    c.k.vfs.walk(&abs, follow)
}

fn parent_at(c: &Ctx<'_>, dirfd: u64, ptr: u64) -> KResult<crate::vfs::Parent> {
    let p = c.path_arg(ptr)?;
    if p.is_empty() {
        kerr!(ENOENT);
    }
    let abs = c.abs_path(dirfd, &p)?;
    c.k.vfs.parent(&abs)
}

fn do_open(c: &Ctx<'_>, dirfd: u64, ptr: u64, flags: u32, mode: u32) -> KResult<u64> {
    let p = c.path_arg(ptr)?;
    if p.is_empty() {
        kerr!(ENOENT);
    }
    let abs = c.abs_path(dirfd, &p)?;
    let vfs = &c.k.vfs;
    let follow = flags & O_NOFOLLOW == 0;
    let acc = flags & O_ACCMODE;
    if flags & O_TMPFILE == O_TMPFILE {
        kerr!(EOPNOTSUPP, "O_TMPFILE");
    }
    let (node, path) = if flags & O_CREAT != 0 {
        // Without O_EXCL, "open or create" must be atomic: if another process creates the
        // file between the lookup and the create, open what it created; if it removes it
        // between the lookup and the open, create it (a host file system may be shared with
        // other processes).
        let mut tries = 0;
        loop {
            match vfs.walk(&abs, follow && flags & O_EXCL == 0) {
                Ok((n, path)) => {
                    if flags & O_EXCL != 0 {
                        kerr!(EEXIST);
                    }
                    match n.open_replace() {
                        Some(Err(e)) if e.errno == myst_abi::Errno::ENOENT && tries < 100 => tries += 1,
                        Some(r) if flags & O_PATH == 0 => break (r?, path),
                        _ => break (n, path),
                    }
                }
                Err(e) if e.errno == myst_abi::Errno::ENOENT => {
                    let par = vfs.parent(&abs)?;
                    if par.trailing_slash || par.name.is_empty() {
                        kerr!(EISDIR);
                    }
                    let umask = *c.proc.umask.lock();
                    let cr = c.proc.creds;
                    match par.dir.create(&par.name, S_IFREG | (mode & 0o7777 & !umask), 0, cr.uid, cr.gid) {
                        Ok(n) => break (n, crate::vfs::join(&par.dir_path, &par.name)),
                        Err(e) if e.errno == myst_abi::Errno::EEXIST && flags & O_EXCL == 0 && tries < 100 => tries += 1,
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
    } else {
        let (node, path) = vfs.walk(&abs, follow)?;
        match node.open_replace() {
            Some(r) if flags & O_PATH == 0 => (r?, path),
            _ => (node, path),
        }
    };
    // A session leader without a controlling terminal that opens a terminal (without
    // O_NOCTTY) makes it its controlling terminal. (The first session has the console.)
    if flags & (O_NOCTTY | O_PATH) == 0 {
        if let Some(p) = node.as_any().downcast_ref::<crate::vfs::pty::PtyEnd>().filter(|p| !p.is_master()) {
            let sid = c.proc.sid.load(core::sync::atomic::Ordering::Relaxed);
            if sid == c.proc.pid && sid != crate::process::FIRST_PID && !c.k.ptys.session_has_tty(sid) {
                let _ = p.set_ctty(sid, c.proc.pgid.load(core::sync::atomic::Ordering::Relaxed), false);
            }
        }
    }
    let st = node.stat()?;
    let ty = st.mode & S_IFMT;
    if ty == S_IFLNK && flags & O_PATH == 0 {
        kerr!(ELOOP);
    }
    if flags & O_DIRECTORY != 0 && ty != S_IFDIR {
        kerr!(ENOTDIR);
    }
    if ty == S_IFDIR && (acc != O_RDONLY || flags & O_CREAT != 0 && flags & O_EXCL != 0) && flags & O_PATH == 0 {
        kerr!(EISDIR);
    }
    if flags & O_TRUNC != 0 && ty == S_IFREG && acc != O_RDONLY && flags & O_PATH == 0 {
        node.truncate(0)?;
    }
    let f = OpenFile::new(node, path, flags & !(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC));
    let fd = c.proc.fds.lock().alloc(FdEntry { file: f, cloexec: flags & O_CLOEXEC != 0 }, 0)?;
    Ok(fd as u64)
}

pub fn open(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_open(c, FDCWD, a[0], a[1] as u32, a[2] as u32)
}

pub fn openat(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_open(c, a[0], a[1], a[2] as u32, a[3] as u32)
}

pub fn creat(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_open(c, FDCWD, a[0], O_CREAT | O_WRONLY | O_TRUNC, a[1] as u32)
}

fn put_stat(c: &Ctx<'_>, st: &Stat, buf: u64) -> KResult<u64> {
    c.user().write(buf, &st.to_bytes())?;
    Ok(0)
}

pub fn stat(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let (n, _) = lookup_at(c, FDCWD, a[0], true, false)?;
    put_stat(c, &n.stat()?, a[1])
}

pub fn lstat(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let (n, _) = lookup_at(c, FDCWD, a[0], false, false)?;
    put_stat(c, &n.stat()?, a[1])
}

pub fn fstat(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = c.file(a[0])?;
    put_stat(c, &f.inode.stat()?, a[1])
}

pub fn newfstatat(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let flags = a[3] as u32;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT) != 0 {
        kerr!(EINVAL);
    }
    let (n, _) = lookup_at(c, a[0], a[1], flags & AT_SYMLINK_NOFOLLOW == 0, flags & AT_EMPTY_PATH != 0)?;
    put_stat(c, &n.stat()?, a[2])
}

pub fn statx(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let flags = a[2] as u32;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE) != 0 {
        kerr!(EINVAL);
    }
    let (n, _) = lookup_at(c, a[0], a[1], flags & AT_SYMLINK_NOFOLLOW == 0, flags & AT_EMPTY_PATH != 0)?;
    c.user().write(a[4], &n.stat()?.to_statx_bytes())?;
    Ok(0)
}

pub fn getdents64(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = c.file(a[0])?;
    if !is_dir(&f.inode)? {
        kerr!(ENOTDIR);
    }
    let count = (a[2] as usize).min(1 << 20);
    let mut cache = f.dir_cache.lock();
    if cache.is_none() {
        let mut list = f.inode.readdir()?;
        // names attached to this directory (/dev, /proc, /tmp at the root; injected files)
        for (name, node) in c.k.vfs.attached_names(&f.path) {
            if !list.iter().any(|e| e.name == name) {
                if let Ok(st) = node.stat() {
                    list.push(crate::vfs::DirEntry { ino: st.ino, dtype: dtype_of(st.mode), name });
                }
            }
        }
        *cache = Some(list);
    }
    let entries = cache.as_ref().expect("filled");
    let mut pos = f.pos.lock();
    let mut out = alloc::vec![0u8; count];
    let mut used = 0usize;
    let st = f.inode.stat()?;
    loop {
        let idx = *pos as usize;
        let (name, ino, dt): (&[u8], u64, u8) = match idx {
            0 => (b".", st.ino, DT_DIR),
            1 => (b"..", st.ino, DT_DIR),
            i if i - 2 < entries.len() => {
                let e = &entries[i - 2];
                (&e.name, e.ino, e.dtype)
            }
            _ => break,
        };
        if !push_dirent64(&mut out, &mut used, ino, idx as i64 + 1, dt, name) {
            if used == 0 {
                kerr!(EINVAL);
            }
            break;
        }
        *pos += 1;
    }
    c.user().write(a[1], &out[..used])?;
    Ok(used as u64)
}

fn do_access(c: &Ctx<'_>, dirfd: u64, ptr: u64, mode: u32, flags: u32) -> KResult<u64> {
    if mode & !7 != 0 {
        kerr!(EINVAL);
    }
    let (n, _) = lookup_at(c, dirfd, ptr, flags & AT_SYMLINK_NOFOLLOW == 0, flags & AT_EMPTY_PATH != 0)?;
    if mode & X_OK != 0 {
        let st = n.stat()?;
        if st.mode & S_IFMT != S_IFDIR && st.mode & 0o111 == 0 {
            kerr!(EACCES);
        }
    }
    Ok(0)
}

pub fn access(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_access(c, FDCWD, a[0], a[1] as u32, 0)
}

pub fn faccessat(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_access(c, a[0], a[1], a[2] as u32, 0)
}

pub fn faccessat2(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    if a[3] as u32 & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_EACCESS) != 0 {
        kerr!(EINVAL);
    }
    do_access(c, a[0], a[1], a[2] as u32, a[3] as u32)
}

fn do_readlink(c: &Ctx<'_>, dirfd: u64, ptr: u64, buf: u64, size: u64) -> KResult<u64> {
    if (size as i64) <= 0 {
        kerr!(EINVAL);
    }
    let (n, _) = lookup_at(c, dirfd, ptr, false, true)?;
    let t = n.readlink()?;
    let k = t.len().min(size as usize);
    c.user().write(buf, &t[..k])?;
    Ok(k as u64)
}

pub fn readlink(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_readlink(c, FDCWD, a[0], a[1], a[2])
}

pub fn readlinkat(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_readlink(c, a[0], a[1], a[2], a[3])
}

fn do_mkdir(c: &Ctx<'_>, dirfd: u64, ptr: u64, mode: u32) -> KResult<u64> {
    let par = parent_at(c, dirfd, ptr)?;
    if par.name.is_empty() || par.name == b"." || par.name == b".." {
        kerr!(EEXIST);
    }
    if par.dir.lookup(&par.name).is_ok() {
        kerr!(EEXIST);
    }
    let umask = *c.proc.umask.lock();
    par.dir.mkdir(&par.name, mode & 0o7777 & !umask, c.proc.creds.uid, c.proc.creds.gid)?;
    Ok(0)
}

pub fn mkdir(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_mkdir(c, FDCWD, a[0], a[1] as u32)
}

pub fn mkdirat(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_mkdir(c, a[0], a[1], a[2] as u32)
}

fn do_mknod(c: &Ctx<'_>, dirfd: u64, ptr: u64, mode: u32, dev: u64) -> KResult<u64> {
    let par = parent_at(c, dirfd, ptr)?;
    if par.name.is_empty() {
        kerr!(EEXIST);
    }
    if par.dir.lookup(&par.name).is_ok() {
        kerr!(EEXIST);
    }
    let ty = if mode & S_IFMT == 0 { S_IFREG } else { mode & S_IFMT };
    if ty == S_IFDIR {
        kerr!(EPERM);
    }
    let umask = *c.proc.umask.lock();
    par.dir.create(&par.name, ty | (mode & 0o7777 & !umask), dev, c.proc.creds.uid, c.proc.creds.gid)?;
    Ok(0)
}

pub fn mknod(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_mknod(c, FDCWD, a[0], a[1] as u32, a[2])
}

pub fn mknodat(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_mknod(c, a[0], a[1], a[2] as u32, a[3])
}

fn do_unlink(c: &Ctx<'_>, dirfd: u64, ptr: u64, rmdir: bool) -> KResult<u64> {
    let par = parent_at(c, dirfd, ptr)?;
    if rmdir {
        if par.name == b"." {
            kerr!(EINVAL);
        }
        if par.name.is_empty() || par.name == b".." {
            kerr!(ENOTEMPTY);
        }
        par.dir.rmdir(&par.name)?;
    } else {
        if par.name.is_empty() {
            kerr!(EISDIR);
        }
        let n = par.dir.lookup(&par.name)?;
        if is_dir(&n)? {
            kerr!(EISDIR);
        }
        if par.trailing_slash {
            kerr!(ENOTDIR);
        }
        par.dir.unlink(&par.name)?;
    }
    Ok(0)
}

pub fn rmdir(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_unlink(c, FDCWD, a[0], true)
}

pub fn unlink(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_unlink(c, FDCWD, a[0], false)
}

pub fn unlinkat(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let flags = a[2] as u32;
    if flags & !AT_REMOVEDIR != 0 {
        kerr!(EINVAL);
    }
    do_unlink(c, a[0], a[1], flags & AT_REMOVEDIR != 0)
}

fn do_rename(c: &Ctx<'_>, ofd: u64, optr: u64, nfd: u64, nptr: u64, flags: u32) -> KResult<u64> {
    if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE) != 0 {
        kerr!(EINVAL);
    }
    if flags & RENAME_NOREPLACE != 0 && flags & RENAME_EXCHANGE != 0 {
        kerr!(EINVAL);
    }
    let op = parent_at(c, ofd, optr)?;
    let np = parent_at(c, nfd, nptr)?;
    if op.name.is_empty() || op.name == b"." || op.name == b".." || np.name.is_empty() || np.name == b"." || np.name == b".." {
        kerr!(EBUSY);
    }
    let src = op.dir.lookup(&op.name)?;
    if (op.trailing_slash || np.trailing_slash) && !is_dir(&src)? {
        kerr!(ENOTDIR);
    }
    let (sd, nd) = (op.dir.stat()?, np.dir.stat()?);
    if sd.dev != nd.dev {
        kerr!(EXDEV);
    }
    // Moving a directory into its own subtree.
    if is_dir(&src)? {
        let mut from = crate::vfs::join(&op.dir_path, &op.name);
        let to = &np.dir_path;
        let inside = to == &from || {
            from.push(b'/');
            to.starts_with(&from)
        };
        if inside {
            kerr!(EINVAL);
        }
    }
    op.dir.rename(&op.name, &np.dir, &np.name, flags)?;
    Ok(0)
}

pub fn rename(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_rename(c, FDCWD, a[0], FDCWD, a[1], 0)
}

pub fn renameat(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_rename(c, a[0], a[1], a[2], a[3], 0)
}

pub fn renameat2(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_rename(c, a[0], a[1], a[2], a[3], a[4] as u32)
}

fn do_symlink(c: &Ctx<'_>, tptr: u64, dirfd: u64, ptr: u64) -> KResult<u64> {
    let target = c.path_arg(tptr)?;
    if target.is_empty() {
        kerr!(ENOENT);
    }
    let par = parent_at(c, dirfd, ptr)?;
    if par.name.is_empty() || par.dir.lookup(&par.name).is_ok() {
        kerr!(EEXIST);
    }
    par.dir.symlink(&par.name, &target, c.proc.creds.uid, c.proc.creds.gid)?;
    Ok(0)
}

pub fn symlink(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_symlink(c, a[0], FDCWD, a[1])
}

pub fn symlinkat(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_symlink(c, a[0], a[1], a[2])
}

fn do_link(c: &Ctx<'_>, ofd: u64, optr: u64, nfd: u64, nptr: u64, flags: u32) -> KResult<u64> {
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        kerr!(EINVAL);
    }
    let (src, _) = lookup_at(c, ofd, optr, flags & AT_SYMLINK_FOLLOW != 0, flags & AT_EMPTY_PATH != 0)?;
    if is_dir(&src)? {
        kerr!(EPERM);
    }
    let np = parent_at(c, nfd, nptr)?;
    if np.name.is_empty() || np.dir.lookup(&np.name).is_ok() {
        kerr!(EEXIST);
    }
    if src.stat()?.dev != np.dir.stat()?.dev {
        kerr!(EXDEV);
    }
    np.dir.link(&np.name, &src)?;
    Ok(0)
}

pub fn link(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_link(c, FDCWD, a[0], FDCWD, a[1], 0)
}

pub fn linkat(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_link(c, a[0], a[1], a[2], a[3], a[4] as u32)
}

fn set(n: &InodeRef, a: SetAttr) -> KResult<u64> {
    n.setattr(&a)?;
    Ok(0)
}

pub fn chmod(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let (n, _) = lookup_at(c, FDCWD, a[0], true, false)?;
    set(&n, SetAttr { mode: Some(a[1] as u32 & 0o7777), ..Default::default() })
}

pub fn fchmod(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = c.file(a[0])?;
    set(&f.inode, SetAttr { mode: Some(a[1] as u32 & 0o7777), ..Default::default() })
}

pub fn fchmodat(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let (n, _) = lookup_at(c, a[0], a[1], true, false)?;
    set(&n, SetAttr { mode: Some(a[2] as u32 & 0o7777), ..Default::default() })
}

pub fn fchmodat2(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let flags = a[3] as u32;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        kerr!(EINVAL);
    }
    let (n, _) = lookup_at(c, a[0], a[1], flags & AT_SYMLINK_NOFOLLOW == 0, flags & AT_EMPTY_PATH != 0)?;
    if n.stat()?.mode & S_IFMT == S_IFLNK {
        kerr!(EOPNOTSUPP);
    }
    set(&n, SetAttr { mode: Some(a[2] as u32 & 0o7777), ..Default::default() })
}

fn ids(u: u64, g: u64) -> SetAttr {
    let id = |v: u64| if v as u32 == u32::MAX { None } else { Some(v as u32) };
    SetAttr { uid: id(u), gid: id(g), ..Default::default() }
}

pub fn chown(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let (n, _) = lookup_at(c, FDCWD, a[0], true, false)?;
    set(&n, ids(a[1], a[2]))
}

pub fn lchown(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let (n, _) = lookup_at(c, FDCWD, a[0], false, false)?;
    set(&n, ids(a[1], a[2]))
}

pub fn fchown(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = c.file(a[0])?;
    set(&f.inode, ids(a[1], a[2]))
}

pub fn fchownat(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let flags = a[4] as u32;
    let (n, _) = lookup_at(c, a[0], a[1], flags & AT_SYMLINK_NOFOLLOW == 0, flags & AT_EMPTY_PATH != 0)?;
    set(&n, ids(a[2], a[3]))
}

fn resolve_time(t: Timespec, now: Timespec) -> KResult<Option<Timespec>> {
    match t.nsec {
        UTIME_OMIT => Ok(None),
        UTIME_NOW => Ok(Some(now)),
        n if (0..1_000_000_000).contains(&n) => Ok(Some(t)),
        _ => kerr!(EINVAL),
    }
}

pub fn utimensat(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let flags = a[3] as u32;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        kerr!(EINVAL);
    }
    let n = if a[1] == 0 {
        c.file(a[0])?.inode.clone()
    } else {
        lookup_at(c, a[0], a[1], flags & AT_SYMLINK_NOFOLLOW == 0, flags & AT_EMPTY_PATH != 0)?.0
    };
    let now = crate::now();
    let (at, mt) = if a[2] == 0 {
        (Some(now), Some(now))
    } else {
        let raw = c.user().read_arr::<32>(a[2])?;
        let t0 = Timespec::from_bytes(raw[0..16].try_into().expect("16"));
        let t1 = Timespec::from_bytes(raw[16..32].try_into().expect("16"));
        (resolve_time(t0, now)?, resolve_time(t1, now)?)
    };
    set(&n, SetAttr { atime: at, mtime: mt, ..Default::default() })
}

pub fn utimes(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let (n, _) = lookup_at(c, FDCWD, a[0], true, false)?;
    let now = crate::now();
    let (at, mt) = if a[1] == 0 {
        (now, now)
    } else {
        let raw = c.user().read_arr::<32>(a[1])?;
        let tv = |o: usize| -> KResult<Timespec> {
            let s = i64::from_le_bytes(raw[o..o + 8].try_into().expect("8"));
            let us = i64::from_le_bytes(raw[o + 8..o + 16].try_into().expect("8"));
            if !(0..1_000_000).contains(&us) {
                kerr!(EINVAL);
            }
            Ok(Timespec { sec: s, nsec: us * 1000 })
        };
        (tv(0)?, tv(16)?)
    };
    set(&n, SetAttr { atime: Some(at), mtime: Some(mt), ..Default::default() })
}

pub fn utime(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let (n, _) = lookup_at(c, FDCWD, a[0], true, false)?;
    let now = crate::now();
    let (at, mt) = if a[1] == 0 {
        (now, now)
    } else {
        let raw = c.user().read_arr::<16>(a[1])?;
        let at = i64::from_le_bytes(raw[0..8].try_into().expect("8"));
        let mt = i64::from_le_bytes(raw[8..16].try_into().expect("8"));
        (Timespec { sec: at, nsec: 0 }, Timespec { sec: mt, nsec: 0 })
    };
    set(&n, SetAttr { atime: Some(at), mtime: Some(mt), ..Default::default() })
}

pub fn truncate(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    if (a[1] as i64) < 0 {
        kerr!(EINVAL);
    }
    let (n, _) = lookup_at(c, FDCWD, a[0], true, false)?;
    if is_dir(&n)? {
        kerr!(EISDIR);
    }
    n.truncate(a[1])?;
    Ok(0)
}

pub fn ftruncate(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    if (a[1] as i64) < 0 {
        kerr!(EINVAL);
    }
    let f = c.file(a[0])?;
    if *f.flags.lock() & O_ACCMODE == O_RDONLY {
        kerr!(EINVAL);
    }
    f.inode.truncate(a[1])?;
    Ok(0)
}

pub fn fsync(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = c.file(a[0])?;
    f.inode.sync()?;
    Ok(0)
}

pub fn sync(_c: &mut Ctx<'_>, _a: [u64; 6]) -> KResult<u64> {
    Ok(0)
}

pub fn getcwd(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let cwd = c.proc.cwd.lock().clone();
    // A removed working directory has no path any more.
    if c.k.vfs.walk(&cwd, true).is_err() {
        kerr!(ENOENT);
    }
    let mut v: Vec<u8> = cwd;
    v.push(0);
    if (a[1] as usize) < v.len() {
        kerr!(ERANGE);
    }
    c.user().write(a[0], &v)?;
    Ok(v.len() as u64)
}

fn set_cwd(c: &Ctx<'_>, n: &InodeRef, path: Vec<u8>) -> KResult<u64> {
    if !is_dir(n)? {
        kerr!(ENOTDIR);
    }
    *c.proc.cwd.lock() = path;
    Ok(0)
}

pub fn chdir(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let (n, p) = lookup_at(c, FDCWD, a[0], true, false)?;
    set_cwd(c, &n, p)
}

pub fn fchdir(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = c.file(a[0])?;
    set_cwd(c, &f.inode, f.path.clone())
}

pub fn umask(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let mut u = c.proc.umask.lock();
    let old = *u;
    *u = a[0] as u32 & 0o777;
    Ok(old as u64)
}

pub fn statfs(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let (n, _) = lookup_at(c, FDCWD, a[0], true, false)?;
    c.user().write(a[1], &n.statfs()?.to_bytes())?;
    Ok(0)
}

pub fn fstatfs(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = c.file(a[0])?;
    c.user().write(a[1], &f.inode.statfs()?.to_bytes())?;
    Ok(0)
}
