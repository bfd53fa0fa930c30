//! read/write family, lseek, close, dup, fcntl, ioctl.

use super::Ctx;
use crate::error::KResult;
use crate::fdtable::FdEntry;
use crate::kerr;
use crate::uaccess::MAX_COPY;
use crate::vfs::{IoctlAnswer, OpenFile};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use myst_abi::consts::*;
use myst_abi::structs::Flock;

const IOV_MAX: u64 = 1024;

fn check_out(c: &Ctx<'_>, buf: u64, len: usize) -> KResult<()> {
    if len > 0 && !c.proc.mm.lock().check_access(buf, len as u64, PROT_WRITE) {
        kerr!(EFAULT);
    }
    Ok(())
}

pub fn read(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = c.file(a[0])?;
    let len = (a[2] as usize).min(MAX_COPY);
    check_out(c, a[1], len)?;
    let mut buf = vec![0u8; len];
    let n = f.read(&mut buf)?;
    c.user().write(a[1], &buf[..n])?;
    Ok(n as u64)
}

pub fn write(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = c.file(a[0])?;
    let len = (a[2] as usize).min(MAX_COPY);
    let buf = c.user().read_vec(a[1], len)?;
    Ok(f.write(&buf)? as u64)
}

pub fn pread64(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = c.file(a[0])?;
    if (a[3] as i64) < 0 {
        kerr!(EINVAL);
    }
    let len = (a[2] as usize).min(MAX_COPY);
    check_out(c, a[1], len)?;
    let mut buf = vec![0u8; len];
    let n = f.pread(&mut buf, a[3])?;
    c.user().write(a[1], &buf[..n])?;
    Ok(n as u64)
}

pub fn pwrite64(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = c.file(a[0])?;
    if (a[3] as i64) < 0 {
        kerr!(EINVAL);
    }
    let len = (a[2] as usize).min(MAX_COPY);
    let buf = c.user().read_vec(a[1], len)?;
    Ok(f.pwrite(&buf, a[3])? as u64)
}

fn iovecs(c: &Ctx<'_>, ptr: u64, cnt: u64) -> KResult<Vec<(u64, usize)>> {
    if cnt > IOV_MAX {
        kerr!(EINVAL);
    }
    let raw = c.user().read_vec(ptr, cnt as usize * 16)?;
    let mut v = Vec::with_capacity(cnt as usize);
    let mut total: u64 = 0;
    for i in 0..cnt as usize {
        let base = u64::from_le_bytes(raw[i * 16..i * 16 + 8].try_into().expect("8 bytes"));
        let len = u64::from_le_bytes(raw[i * 16 + 8..i * 16 + 16].try_into().expect("8 bytes"));
        if (len as i64) < 0 {
            kerr!(EINVAL);
        }
        total = total.saturating_add(len);
        if total > isize::MAX as u64 {
            kerr!(EINVAL);
        }
        v.push((base, len as usize));
    }
    Ok(v)
}

fn do_readv(c: &Ctx<'_>, f: &Arc<OpenFile>, iov: &[(u64, usize)], off: Option<u64>) -> KResult<u64> {
    // Like Linux, read into the valid prefix of the vector; a bad first buffer is EFAULT.
    let mut valid = 0;
    for (i, &(b, l)) in iov.iter().enumerate() {
        if check_out(c, b, l).is_err() {
            if i == 0 {
                kerr!(EFAULT);
            }
            break;
        }
        valid = i + 1;
    }
    let iov = &iov[..valid];
    let total: usize = iov.iter().map(|x| x.1).sum::<usize>().min(MAX_COPY);
    let mut buf = vec![0u8; total];
    let n = match off {
        Some(o) => f.pread(&mut buf, o)?,
        None => f.read(&mut buf)?,
    };
    let mut done = 0;
    for &(b, l) in iov {
        if done >= n {
            break;
        }
        let k = l.min(n - done);
        c.user().write(b, &buf[done..done + k])?;
        done += k;
    }
    Ok(n as u64)
}

fn do_writev(c: &Ctx<'_>, f: &Arc<OpenFile>, iov: &[(u64, usize)], off: Option<u64>) -> KResult<u64> {
    let mut buf = Vec::new();
    for &(b, l) in iov {
        if buf.len() + l > MAX_COPY {
            break;
        }
        buf.extend_from_slice(&c.user().read_vec(b, l)?);
    }
    Ok(match off {
        Some(o) => f.pwrite(&buf, o)?,
        None => f.write(&buf)?,
    } as u64)
}

pub fn readv(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = c.file(a[0])?;
    let iov = iovecs(c, a[1], a[2])?;
    do_readv(c, &f, &iov, None)
}

pub fn writev(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = c.file(a[0])?;
    let iov = iovecs(c, a[1], a[2])?;
    do_writev(c, &f, &iov, None)
}

pub fn preadv(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = c.file(a[0])?;
    let iov = iovecs(c, a[1], a[2])?;
    do_readv(c, &f, &iov, Some(a[3]))
}

pub fn pwritev(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = c.file(a[0])?;
    let iov = iovecs(c, a[1], a[2])?;
    do_writev(c, &f, &iov, Some(a[3]))
}

pub fn lseek(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = c.file(a[0])?;
    f.seek(a[1] as i64, a[2] as u32)
}

fn file_key(f: &OpenFile) -> Option<(u64, u64)> {
    f.inode.stat().ok().map(|s| (s.dev, s.ino))
}

pub fn close(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let e = c.proc.fds.lock().close(a[0] as i32)?;
    if let Some(k) = file_key(&e.file) {
        c.k.locks.release(k, c.proc.pid);
    }
    crate::net::on_close(c.proc, &e.file);
    Ok(0)
}

pub fn dup(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let mut t = c.proc.fds.lock();
    let f = t.get(a[0] as i32)?.file.clone();
    Ok(t.alloc(FdEntry { file: f, cloexec: false }, 0)? as u64)
}

fn dup_to(c: &Ctx<'_>, old: u64, new: u64, cloexec: bool) -> KResult<u64> {
    let mut t = c.proc.fds.lock();
    let f = t.get(old as i32)?.file.clone();
    if (new as i32) < 0 {
        kerr!(EBADF);
    }
    let prev = t.set(new as i32, FdEntry { file: f, cloexec })?;
    drop(t);
    if let Some(p) = prev {
        if let Some(k) = file_key(&p.file) {
            c.k.locks.release(k, c.proc.pid);
        }
    }
    Ok(new)
}

pub fn dup2(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    if a[0] == a[1] {
        c.file(a[0])?;
        return Ok(a[1]);
    }
    dup_to(c, a[0], a[1], false)
}

pub fn dup3(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    if a[0] == a[1] {
        kerr!(EINVAL);
    }
    if a[2] as u32 & !O_CLOEXEC != 0 {
        kerr!(EINVAL);
    }
    dup_to(c, a[0], a[1], a[2] as u32 & O_CLOEXEC != 0)
}

pub fn fcntl(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let fd = a[0] as i32;
    let cmd = a[1] as u32;
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            let mut t = c.proc.fds.lock();
            let f = t.get(fd)?.file.clone();
            if a[2] as usize >= t.limit {
                kerr!(EINVAL);
            }
            Ok(t.alloc(FdEntry { file: f, cloexec: cmd == F_DUPFD_CLOEXEC }, a[2] as usize)? as u64)
        }
        F_GETFD => Ok(c.proc.fds.lock().get(fd)?.cloexec as u64),
        F_SETFD => {
            c.proc.fds.lock().get_mut(fd)?.cloexec = a[2] as u32 & FD_CLOEXEC != 0;
            Ok(0)
        }
        F_GETFL => {
            let f = c.file(a[0])?;
            let v = *f.flags.lock();
            Ok((v & !O_CLOEXEC) as u64)
        }
        F_SETFL => {
            let f = c.file(a[0])?;
            let settable = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;
            let mut fl = f.flags.lock();
            *fl = (*fl & !settable) | (a[2] as u32 & settable);
            Ok(0)
        }
        F_GETLK | F_SETLK | F_SETLKW | F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW => lock_cmd(c, a),
        F_GETOWN => Ok(0),
        F_SETOWN => Ok(0),
        F_GETPIPE_SZ => super::pipe::pipe_size(&c.file(a[0])?, None),
        F_SETPIPE_SZ => super::pipe::pipe_size(&c.file(a[0])?, Some(a[2] as usize)),
        _ => kerr!(EINVAL, "unsupported fcntl command"),
    }
}

fn lock_cmd(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = c.file(a[0])?;
    let cmd = a[1] as u32;
    let raw = c.user().read_arr::<32>(a[2])?;
    let mut fl = Flock::from_bytes(&raw);
    let st = f.inode.stat()?;
    let key = (st.dev, st.ino);
    let base: i64 = match fl.l_whence as u32 {
        SEEK_SET => 0,
        SEEK_CUR => *f.pos.lock() as i64,
        SEEK_END => st.size,
        _ => kerr!(EINVAL),
    };
    let Some(start) = base.checked_add(fl.l_start) else { kerr!(EOVERFLOW) };
    let (start, end) = if fl.l_len > 0 {
        (start, start.checked_add(fl.l_len).ok_or(crate::Error::from(myst_abi::Errno::EOVERFLOW))?)
    } else if fl.l_len < 0 {
        (start + fl.l_len, start)
    } else {
        (start, i64::MAX)
    };
    if start < 0 {
        kerr!(EINVAL);
    }
    let (start, end) = (start as u64, if end == i64::MAX { u64::MAX } else { end as u64 });
    // OFD locks are owned by the open file description; approximate its owner id by the pid
    // space above all pids.
    let owner = if matches!(cmd, F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW) {
        0x8000_0000 | (Arc::as_ptr(&f) as *const u8 as usize as u32 & 0x7fff_ffff)
    } else {
        c.proc.pid
    };
    match cmd {
        F_GETLK | F_OFD_GETLK => {
            if !matches!(fl.l_type, F_RDLCK | F_WRLCK) {
                kerr!(EINVAL);
            }
            match c.k.locks.conflict(key, owner, fl.l_type, start, end) {
                Some(l) => {
                    fl.l_type = l.kind;
                    fl.l_whence = SEEK_SET as i16;
                    fl.l_start = l.start as i64;
                    fl.l_len = if l.end == u64::MAX { 0 } else { (l.end - l.start) as i64 };
                    fl.l_pid = if l.pid & 0x8000_0000 != 0 { -1 } else { l.pid as i32 };
                }
                None => fl.l_type = F_UNLCK,
            }
            c.user().write(a[2], &fl.to_bytes())?;
            Ok(0)
        }
        _ => {
            if !matches!(fl.l_type, F_RDLCK | F_WRLCK | F_UNLCK) {
                kerr!(EINVAL);
            }
            let flags = *f.flags.lock() & O_ACCMODE;
            if (fl.l_type == F_RDLCK && flags == O_WRONLY) || (fl.l_type == F_WRLCK && flags == O_RDONLY) {
                kerr!(EBADF);
            }
            if fl.l_type != F_UNLCK && c.k.locks.conflict(key, owner, fl.l_type, start, end).is_some() {
                if matches!(cmd, F_SETLKW | F_OFD_SETLKW) {
                    kerr!(EDEADLK, "blocking lock wait across processes is not supported yet");
                }
                kerr!(EAGAIN);
            }
            c.k.locks.set(key, owner, fl.l_type, start, end);
            Ok(0)
        }
    }
}

pub fn ioctl(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = c.file(a[0])?;
    let req = a[1] as u32;
    match req {
        FIOCLEX | FIONCLEX => {
            c.proc.fds.lock().get_mut(a[0] as i32)?.cloexec = req == FIOCLEX;
            Ok(0)
        }
        FIONBIO => {
            let on = u32::from_le_bytes(c.user().read_arr::<4>(a[2])?) != 0;
            let mut fl = f.flags.lock();
            if on {
                *fl |= O_NONBLOCK;
            } else {
                *fl &= !O_NONBLOCK;
            }
            Ok(0)
        }
        FIONREAD => {
            if f.inode.stat()?.mode & S_IFMT == S_IFDIR {
                kerr!(EINVAL);
            }
            let n = if f.inode.is_stream() {
                f.inode.pending()?
            } else {
                let st = f.inode.stat()?;
                (st.size.max(0) as u64).saturating_sub(*f.pos.lock()) as usize
            };
            c.user().write_u32(a[2], n.min(i32::MAX as usize) as u32)?;
            Ok(0)
        }
        _ if f.inode.as_any().downcast_ref::<crate::vfs::pty::PtyEnd>().is_some() => pty_ioctl(c, &f, req, a[2]),
        TIOCSCTTY | TIOCNOTTY => {
            if f.inode.ioctl(req).is_none() {
                kerr!(ENOTTY);
            }
            Ok(0)
        }
        TCGETS | TCSETS | TCSETSW | TCSETSF | TIOCGWINSZ | TIOCSWINSZ | TIOCGPGRP | TIOCSPGRP => {
            let Some(ans) = f.inode.ioctl(req) else { kerr!(ENOTTY) };
            let IoctlAnswer::Tty { rows, cols } = ans?;
            match req {
                TCGETS | TCSETS | TCSETSW | TCSETSF => {
                    // The console is the host's terminal: its settings are the host's.
                    let Some(con) = f.inode.as_any().downcast_ref::<crate::vfs::console::Console>() else { kerr!(ENOTTY) };
                    if req == TCGETS {
                        let t = crate::tcall().console_termios(con.fd, req, None)?;
                        c.user().write(a[2], &t)?;
                    } else {
                        let t = c.user().read_arr::<36>(a[2])?;
                        crate::tcall().console_termios(con.fd, req, Some(t))?;
                    }
                }
                TIOCGWINSZ => {
                    let mut w = [0u8; 8];
                    w[0..2].copy_from_slice(&rows.to_le_bytes());
                    w[2..4].copy_from_slice(&cols.to_le_bytes());
                    c.user().write(a[2], &w)?;
                }
                TIOCGPGRP => c.user().write_u32(a[2], c.proc.pid)?,
                _ => {}
            }
            Ok(0)
        }
        _ => {
            if f.inode.ioctl(req).is_some() {
                kerr!(EINVAL, "unsupported terminal ioctl");
            }
            kerr!(ENOTTY)
        }
    }
}

const TCSBRK: u32 = 0x5409;
const TCXONC: u32 = 0x540a;
const TCFLSH: u32 = 0x540b;
const TIOCOUTQ: u32 = 0x5411;
const TCSBRKP: u32 = 0x5425;
const TIOCGSID: u32 = 0x5429;
const TIOCGPTPEER: u32 = 0x5441;

/// Terminal ioctls on either end of a pseudo-terminal (termios calls on the master act
/// on the slave's settings, as on Linux).
fn pty_ioctl(c: &Ctx<'_>, f: &Arc<crate::vfs::OpenFile>, req: u32, arg: u64) -> KResult<u64> {
    use core::sync::atomic::Ordering::Relaxed;
    let p = f.inode.as_any().downcast_ref::<crate::vfs::pty::PtyEnd>().expect("checked by the caller");
    let sid = c.proc.sid.load(Relaxed);
    let is_my_ctty = || p.ctty().0 == sid && sid != 0;
    match req {
        TCGETS => c.user().write(arg, &p.termios().to_bytes())?,
        TCSETS | TCSETSW | TCSETSF => {
            let t = crate::vfs::pty::Termios::from_bytes(&c.user().read_arr::<36>(arg)?);
            p.set_termios(t, req == TCSETSF);
        }
        TIOCGWINSZ => {
            let (rows, cols) = p.winsize();
            let mut w = [0u8; 8];
            w[0..2].copy_from_slice(&rows.to_le_bytes());
            w[2..4].copy_from_slice(&cols.to_le_bytes());
            c.user().write(arg, &w)?;
        }
        TIOCSWINSZ => {
            let w = c.user().read_arr::<8>(arg)?;
            p.set_winsize(u16::from_le_bytes([w[0], w[1]]), u16::from_le_bytes([w[2], w[3]]));
        }
        TCFLSH => p.flush(arg as u32)?,
        TCSBRK | TCSBRKP | TCXONC => {}
        TIOCOUTQ => c.user().write_u32(arg, 0)?,
        TIOCGPTN | TIOCSPTLCK | TIOCGPTLCK | TIOCGPTPEER if !p.is_master() => kerr!(ENOTTY),
        TIOCGPTN => c.user().write_u32(arg, p.index())?,
        TIOCSPTLCK => p.set_lock(u32::from_le_bytes(c.user().read_arr::<4>(arg)?) != 0),
        TIOCGPTLCK => c.user().write_u32(arg, 0)?,
        TIOCGPTPEER => {
            // A new descriptor for the slave, opened with the flags in `arg`.
            let flags = arg as u32;
            let slave = c.k.ptys.slave(p.index())?;
            let file = crate::vfs::OpenFile::new(slave, alloc::format!("/dev/pts/{}", p.index()), flags & (O_ACCMODE | O_NONBLOCK));
            let fd = c.proc.fds.lock().alloc(FdEntry { file, cloexec: flags & O_CLOEXEC != 0 }, 0)?;
            return Ok(fd as u64);
        }
        TIOCSCTTY => {
            if c.proc.pid != sid {
                kerr!(EPERM, "only a session leader can take a controlling terminal");
            }
            if !is_my_ctty() && c.k.ptys.session_has_tty(sid) {
                kerr!(EPERM, "the session already has a controlling terminal");
            }
            p.set_ctty(sid, c.proc.pgid.load(Relaxed), arg == 1 && c.proc.creds.uid == 0)?;
        }
        TIOCNOTTY => {
            if !is_my_ctty() {
                kerr!(ENOTTY);
            }
            if c.proc.pid == sid {
                p.clear_ctty();
            }
        }
        TIOCGPGRP | TIOCGSID => {
            let (session, fg) = p.ctty();
            if session == 0 || (!p.is_master() && !is_my_ctty()) {
                kerr!(ENOTTY);
            }
            c.user().write_u32(arg, if req == TIOCGPGRP { fg } else { session })?;
        }
        TIOCSPGRP => {
            if !is_my_ctty() {
                kerr!(ENOTTY);
            }
            let pgrp = u32::from_le_bytes(c.user().read_arr::<4>(arg)?) as i32;
            if pgrp < 0 {
                kerr!(EINVAL);
            }
            match c.k.group_members(pgrp as u32).first() {
                None => kerr!(ESRCH),
                Some(q) if q.sid.load(Relaxed) != sid => kerr!(EPERM),
                Some(_) => {}
            }
            p.set_fg(pgrp as u32);
        }
        _ => kerr!(ENOTTY),
    }
    Ok(0)
}

pub fn sendfile(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let out = c.file(a[0])?;
    let inp = c.file(a[1])?;
    if *out.flags.lock() & O_APPEND != 0 {
        kerr!(EINVAL);
    }
    let len = (a[3] as usize).min(1 << 20);
    let mut buf = vec![0u8; len];
    let n = if a[2] != 0 {
        let off = c.user().read_u64(a[2])?;
        if (off as i64) < 0 {
            kerr!(EINVAL);
        }
        let n = inp.pread(&mut buf, off)?;
        c.user().write_u64(a[2], off + n as u64)?;
        n
    } else {
        inp.read(&mut buf)?
    };
    if n == 0 {
        return Ok(0);
    }
    let w = out.write(&buf[..n])?;
    if w < n && a[2] == 0 && !inp.inode.is_stream() {
        // Give back what was not written so the input offset matches the output.
        let _ = inp.seek(-((n - w) as i64), SEEK_CUR);
    }
    Ok(w as u64)
}
