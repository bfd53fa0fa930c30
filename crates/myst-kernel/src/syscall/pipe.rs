//! pipe, pipe2, and readiness: poll, ppoll, select, pselect6.

use super::Ctx;
use crate::error::KResult;
use crate::fdtable::FdEntry;
use crate::kerr;
use crate::vfs::{InodeRef, OpenFile};
use alloc::sync::Arc;
use alloc::vec::Vec;
use myst_abi::consts::*;
use myst_abi::structs::Timespec;

fn do_pipe(c: &mut Ctx<'_>, ptr: u64, flags: u32) -> KResult<u64> {
    if flags & !(O_CLOEXEC | O_NONBLOCK | O_DIRECT) != 0 {
        kerr!(EINVAL);
    }
    let (r, w) = crate::vfs::pipe::new_pipe();
    let st = flags & O_NONBLOCK;
    let rf = OpenFile::new(r, "pipe:", O_RDONLY | st);
    let wf = OpenFile::new(w, "pipe:", O_WRONLY | st);
    let cloexec = flags & O_CLOEXEC != 0;
    let (a, b) = {
        let mut t = c.proc.fds.lock();
        let a = t.alloc(FdEntry { file: rf, cloexec }, 0)?;
        match t.alloc(FdEntry { file: wf, cloexec }, 0) {
            Ok(b) => (a, b),
            Err(e) => {
                let _ = t.close(a);
                return Err(e);
            }
        }
    };
    let mut out = [0u8; 8];
    out[0..4].copy_from_slice(&a.to_le_bytes());
    out[4..8].copy_from_slice(&b.to_le_bytes());
    if let Err(e) = c.user().write(ptr, &out) {
        let mut t = c.proc.fds.lock();
        let _ = t.close(a);
        let _ = t.close(b);
        return Err(e);
    }
    Ok(0)
}

pub fn pipe(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_pipe(c, a[0], 0)
}

pub fn pipe2(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_pipe(c, a[0], a[1] as u32)
}

/// One polled descriptor.
struct Polled {
    fd: i32,
    events: u32,
    inode: Option<InodeRef>,
}

/// Waits until one of `set` is ready or the deadline passes; returns their revents.
/// Kernel objects and host sockets alike (see `net::ready`).
fn poll_wait(c: &Ctx<'_>, set: &[Polled], deadline: Option<u128>) -> KResult<Vec<u32>> {
    let _ = c;
    let inodes: Vec<Option<InodeRef>> = set.iter().map(|p| p.inode.clone()).collect();
    let compute = || -> Vec<u32> {
        let r = crate::net::ready::readiness(&inodes);
        // POLLERR and POLLHUP are always reported.
        set.iter().zip(r).map(|(p, ev)| if p.fd < 0 { 0 } else { ev & (p.events | POLLERR | POLLHUP | POLLNVAL) }).collect()
    };
    let sources = || {
        let mut s = crate::net::ready::Sources::default();
        for p in set.iter().filter(|p| p.fd >= 0) {
            if let Some(i) = &p.inode {
                s.add(i, p.events, 0);
            }
        }
        s
    };
    let r = crate::net::ready::wait(sources, deadline, || {
        let r = compute();
        Ok(if r.iter().any(|&x| x != 0) { Some(r) } else { None })
    })?;
    Ok(r.unwrap_or_else(|| alloc::vec![0; set.len()]))
}

fn deadline_ms(ms: i64) -> KResult<Option<u128>> {
    if ms < 0 {
        return Ok(None);
    }
    let now = crate::tcall().clock_gettime(CLOCK_MONOTONIC)?.as_nanos();
    Ok(Some(now + ms as u128 * 1_000_000))
}

fn deadline_ts(c: &Ctx<'_>, p: u64) -> KResult<Option<u128>> {
    if p == 0 {
        return Ok(None);
    }
    let t = Timespec::from_bytes(&c.user().read_arr::<16>(p)?);
    if !t.is_valid() {
        kerr!(EINVAL);
    }
    let now = crate::tcall().clock_gettime(CLOCK_MONOTONIC)?.as_nanos();
    Ok(Some(now + t.as_nanos()))
}

fn do_poll(c: &mut Ctx<'_>, fds: u64, n: u64, deadline: Option<u128>) -> KResult<u64> {
    if n > 65536 {
        kerr!(EINVAL);
    }
    let mut raw = c.user().read_vec(fds, n as usize * 8)?;
    let set: Vec<Polled> = (0..n as usize)
        .map(|i| {
            let fd = i32::from_le_bytes(raw[i * 8..i * 8 + 4].try_into().expect("4"));
            let events = u16::from_le_bytes(raw[i * 8 + 4..i * 8 + 6].try_into().expect("2")) as u32;
            let inode = if fd < 0 { None } else { c.file(fd as u64).ok().map(|f| f.inode.clone()) };
            Polled { fd, events, inode }
        })
        .collect();
    let r = poll_wait(c, &set, deadline)?;
    let mut ready = 0;
    for (i, ev) in r.iter().enumerate() {
        raw[i * 8 + 6..i * 8 + 8].copy_from_slice(&(*ev as u16).to_le_bytes());
        if *ev != 0 {
            ready += 1;
        }
    }
    c.user().write(fds, &raw)?;
    Ok(ready)
}

pub fn poll(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let d = deadline_ms(a[2] as i32 as i64)?;
    do_poll(c, a[0], a[1], d)
}

fn with_mask<T>(c: &mut Ctx<'_>, mask_ptr: u64, f: impl FnOnce(&mut Ctx<'_>) -> KResult<T>) -> KResult<T> {
    if mask_ptr == 0 {
        return f(c);
    }
    let m = c.user().read_u64(mask_ptr)?;
    with_mask_value(c, Some(m), f)
}

/// Runs `f` with the signal mask `mask` (if any), as ppoll/pselect6/epoll_pwait do.
pub(super) fn with_mask_value<T>(c: &mut Ctx<'_>, mask: Option<u64>, f: impl FnOnce(&mut Ctx<'_>) -> KResult<T>) -> KResult<T> {
    let Some(m) = mask else { return f(c) };
    let m = m & !crate::signal::UNBLOCKABLE;
    let old = core::mem::replace(&mut *c.thread.sigmask.lock(), m);
    let r = f(c);
    if r.as_ref().is_err_and(|e| e.errno == myst_abi::Errno::EINTR) {
        // Restore after the handler runs, as sigsuspend does.
        c.thread.saved_mask.lock().get_or_insert(old);
    } else {
        *c.thread.sigmask.lock() = old;
    }
    r
}

pub fn ppoll(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let d = deadline_ts(c, a[2])?;
    if a[3] != 0 && a[4] != 8 {
        kerr!(EINVAL);
    }
    with_mask(c, a[3], |c| do_poll(c, a[0], a[1], d))
}

fn do_select(c: &mut Ctx<'_>, n: u64, r: u64, w: u64, e: u64, deadline: Option<u128>) -> KResult<u64> {
    if n > 1 << 20 {
        kerr!(EINVAL);
    }
    let bytes = (n as usize).div_ceil(64) * 8;
    let read_set = |p: u64| -> KResult<Vec<u8>> {
        if p == 0 {
            Ok(alloc::vec![0; bytes])
        } else {
            c.user().read_vec(p, bytes)
        }
    };
    let (rs, ws, es) = (read_set(r)?, read_set(w)?, read_set(e)?);
    let mut set = Vec::new();
    let mut idx = Vec::new();
    for fd in 0..n as usize {
        let bit = |s: &Vec<u8>| s[fd / 8] & (1 << (fd % 8)) != 0;
        let mut ev = 0;
        if bit(&rs) {
            ev |= POLLIN;
        }
        if bit(&ws) {
            ev |= POLLOUT;
        }
        if bit(&es) {
            ev |= POLLPRI;
        }
        if ev != 0 {
            let inode = match c.file(fd as u64) {
                Ok(f) => Some(f.inode.clone()),
                Err(_) => kerr!(EBADF),
            };
            set.push(Polled { fd: fd as i32, events: ev, inode });
            idx.push(fd);
        }
    }
    let res = poll_wait(c, &set, deadline)?;
    let (mut ro, mut wo, mut eo) = (alloc::vec![0u8; bytes], alloc::vec![0u8; bytes], alloc::vec![0u8; bytes]);
    let mut count = 0;
    for (k, ev) in res.iter().enumerate() {
        let fd = idx[k];
        let want = set[k].events;
        if ev & (POLLIN | POLLHUP | POLLERR) != 0 && want & POLLIN != 0 {
            ro[fd / 8] |= 1 << (fd % 8);
            count += 1;
        }
        if ev & (POLLOUT | POLLERR) != 0 && want & POLLOUT != 0 {
            wo[fd / 8] |= 1 << (fd % 8);
            count += 1;
        }
        if ev & POLLPRI != 0 && want & POLLPRI != 0 {
            eo[fd / 8] |= 1 << (fd % 8);
            count += 1;
        }
    }
    for (p, v) in [(r, &ro), (w, &wo), (e, &eo)] {
        if p != 0 {
            c.user().write(p, v)?;
        }
    }
    Ok(count)
}

pub fn select(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let d = if a[4] != 0 {
        let raw = c.user().read_arr::<16>(a[4])?;
        let s = i64::from_le_bytes(raw[0..8].try_into().expect("8"));
        let us = i64::from_le_bytes(raw[8..16].try_into().expect("8"));
        if s < 0 || !(0..1_000_000).contains(&us) {
            kerr!(EINVAL);
        }
        let now = crate::tcall().clock_gettime(CLOCK_MONOTONIC)?.as_nanos();
        Some(now + s as u128 * 1_000_000_000 + us as u128 * 1000)
    } else {
        None
    };
    do_select(c, a[0], a[1], a[2], a[3], d)
}

pub fn pselect6(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let d = deadline_ts(c, a[4])?;
    let mask_ptr = if a[5] != 0 { c.user().read_u64(a[5])? } else { 0 };
    with_mask(c, mask_ptr, |c| do_select(c, a[0], a[1], a[2], a[3], d))
}

/// F_GETPIPE_SZ / F_SETPIPE_SZ.
pub fn pipe_size(f: &Arc<OpenFile>, set: Option<usize>) -> KResult<u64> {
    let Some(p) = f.inode.as_any().downcast_ref::<crate::vfs::pipe::PipeEnd>() else { kerr!(EBADF) };
    Ok(match set {
        None => p.capacity(),
        Some(n) => p.set_capacity(n)?,
    } as u64)
}
