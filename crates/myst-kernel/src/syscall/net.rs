//! Sockets: socket, socketpair, bind, listen, accept(4), connect, send*/recv* (and the
//! mmsg forms), shutdown, get{sock,peer}name, {get,set}sockopt; splice and tee.
//! Addresses and control messages are copied and checked here; `net` does the rest.

use super::Ctx;
use crate::error::KResult;
use crate::fdtable::FdEntry;
use crate::kerr;
use crate::net::{self, msg, RecvExtra, SendExtra, Ucred, MAX_ADDR, SCM_CREDENTIALS, SCM_RIGHTS, SOL_SOCKET};
use crate::uaccess::MAX_COPY;
use crate::vfs::{InodeRef, OpenFile};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use myst_abi::consts::*;

fn install(c: &Ctx<'_>, inode: InodeRef, flags: u32) -> KResult<i32> {
    let f = OpenFile::new(inode, "socket:", O_RDWR | (flags & O_NONBLOCK));
    c.proc.fds.lock().alloc(FdEntry { file: f, cloexec: flags & O_CLOEXEC != 0 }, 0)
}

fn nonblock(f: &OpenFile) -> bool {
    *f.flags.lock() & O_NONBLOCK != 0
}

fn read_addr(c: &Ctx<'_>, ptr: u64, len: u64) -> KResult<Vec<u8>> {
    if (len as i32) < 0 || len as usize > MAX_ADDR {
        kerr!(EINVAL);
    }
    if ptr == 0 && len != 0 {
        kerr!(EFAULT);
    }
    c.user().read_vec(ptr, len as usize)
}

/// Writes an address to (`ptr`, `*lenp`), truncating, and stores its full length.
fn write_addr(c: &Ctx<'_>, ptr: u64, lenp: u64, addr: &[u8]) -> KResult<()> {
    if ptr == 0 || lenp == 0 {
        return Ok(());
    }
    let room = u32::from_le_bytes(c.user().read_arr::<4>(lenp)?);
    if (room as i32) < 0 {
        kerr!(EINVAL);
    }
    let n = addr.len().min(room as usize);
    c.user().write(ptr, &addr[..n])?;
    c.user().write_u32(lenp, addr.len() as u32)
}

fn sock(c: &Ctx<'_>, fd: u64) -> KResult<Arc<OpenFile>> {
    let f = c.file(fd)?;
    net::as_socket(&f.inode)?;
    Ok(f)
}

pub fn socket(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let (domain, raw, proto) = (a[0] as u32, a[1] as u32, a[2] as u32);
    let flags = raw & (net::SOCK_NONBLOCK | net::SOCK_CLOEXEC);
    let ty = raw & !flags;
    let inode: InodeRef = match domain {
        net::AF_UNIX => {
            if !matches!(ty, net::SOCK_STREAM | net::SOCK_DGRAM | net::SOCK_SEQPACKET) {
                kerr!(ESOCKTNOSUPPORT);
            }
            if proto != 0 {
                kerr!(EPROTONOSUPPORT);
            }
            net::unix::UnixSocket::new(ty)
        }
        net::AF_INET | net::AF_INET6 => {
            if !matches!(ty, net::SOCK_STREAM | net::SOCK_DGRAM) {
                kerr!(ESOCKTNOSUPPORT, "only TCP and UDP sockets are supported");
            }
            net::host::HostSocket::open(domain, ty, proto)?
        }
        _ => kerr!(EAFNOSUPPORT),
    };
    Ok(install(c, inode, flags)? as u64)
}

pub fn socketpair(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let (domain, raw, proto) = (a[0] as u32, a[1] as u32, a[2] as u32);
    let flags = raw & (net::SOCK_NONBLOCK | net::SOCK_CLOEXEC);
    let ty = raw & !flags;
    if domain != net::AF_UNIX {
        if domain == net::AF_INET || domain == net::AF_INET6 {
            kerr!(EOPNOTSUPP);
        }
        kerr!(EAFNOSUPPORT);
    }
    if !matches!(ty, net::SOCK_STREAM | net::SOCK_DGRAM | net::SOCK_SEQPACKET) {
        kerr!(ESOCKTNOSUPPORT);
    }
    if proto != 0 {
        kerr!(EPROTONOSUPPORT);
    }
    let (x, y) = net::unix::UnixSocket::pair(ty);
    let fa = install(c, x, flags)?;
    let fb = match install(c, y, flags) {
        Ok(b) => b,
        Err(e) => {
            let _ = c.proc.fds.lock().close(fa);
            return Err(e);
        }
    };
    let mut out = [0u8; 8];
    out[0..4].copy_from_slice(&fa.to_le_bytes());
    out[4..8].copy_from_slice(&fb.to_le_bytes());
    if let Err(e) = c.user().write(a[3], &out) {
        let mut t = c.proc.fds.lock();
        let _ = t.close(fa);
        let _ = t.close(fb);
        return Err(e);
    }
    Ok(0)
}

pub fn bind(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(c, a[0])?;
    let addr = read_addr(c, a[1], a[2])?;
    net::as_socket(&f.inode)?.bind(&addr)?;
    Ok(0)
}

pub fn listen(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(c, a[0])?;
    net::as_socket(&f.inode)?.listen(a[1] as i32)?;
    Ok(0)
}

pub fn connect(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(c, a[0])?;
    let addr = read_addr(c, a[1], a[2])?;
    net::as_socket(&f.inode)?.connect(&addr, nonblock(&f))?;
    Ok(0)
}

fn do_accept(c: &mut Ctx<'_>, a: [u64; 6], flags: u32) -> KResult<u64> {
    if flags & !(net::SOCK_NONBLOCK | net::SOCK_CLOEXEC) != 0 {
        kerr!(EINVAL);
    }
    let f = sock(c, a[0])?;
    let s = net::as_socket(&f.inode)?;
    if s.sock_type() == net::SOCK_DGRAM {
        kerr!(EOPNOTSUPP);
    }
    let (n, peer) = s.accept(nonblock(&f))?;
    let fd = install(c, n, flags)?;
    if let Err(e) = write_addr(c, a[1], a[2], &peer) {
        let _ = c.proc.fds.lock().close(fd);
        return Err(e);
    }
    Ok(fd as u64)
}

pub fn accept(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_accept(c, a, 0)
}

pub fn accept4(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_accept(c, a, a[3] as u32)
}

pub fn sendto(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(c, a[0])?;
    let data = c.user().read_vec(a[1], (a[2] as usize).min(MAX_COPY))?;
    let to = if a[4] != 0 { Some(read_addr(c, a[4], a[5])?) } else { None };
    let x = SendExtra { to: to.as_deref(), flags: a[3] as u32, ..Default::default() };
    Ok(net::as_socket(&f.inode)?.send(&data, x, nonblock(&f))? as u64)
}

pub fn recvfrom(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(c, a[0])?;
    let len = (a[2] as usize).min(MAX_COPY);
    if len > 0 && !c.proc.mm.lock().check_access(a[1], len as u64, PROT_WRITE) {
        kerr!(EFAULT);
    }
    let mut buf = vec![0u8; len];
    let (n, x) = net::as_socket(&f.inode)?.recv(&mut buf, a[3] as u32, nonblock(&f))?;
    c.user().write(a[1], &buf[..n.min(len)])?;
    write_addr(c, a[4], a[5], &x.from)?;
    Ok(n as u64)
}

/// A decoded `struct msghdr`.
struct MsgHdr {
    name: u64,
    namelen: u32,
    iov: Vec<(u64, usize)>,
    control: u64,
    controllen: usize,
}

fn read_msghdr(c: &Ctx<'_>, p: u64) -> KResult<MsgHdr> {
    let r = c.user().read_arr::<56>(p)?;
    let u = |o: usize| u64::from_le_bytes(r[o..o + 8].try_into().expect("8"));
    let (iovp, iovlen) = (u(16), u(24));
    if iovlen > 1024 {
        kerr!(EMSGSIZE);
    }
    let raw = c.user().read_vec(iovp, iovlen as usize * 16)?;
    let mut iov = Vec::new();
    let mut total = 0usize;
    for i in 0..iovlen as usize {
        let b = u64::from_le_bytes(raw[i * 16..i * 16 + 8].try_into().expect("8"));
        let l = u64::from_le_bytes(raw[i * 16 + 8..i * 16 + 16].try_into().expect("8"));
        if (l as i64) < 0 {
            kerr!(EINVAL);
        }
        total = total.saturating_add(l as usize);
        iov.push((b, l as usize));
    }
    if total > isize::MAX as usize {
        kerr!(EINVAL);
    }
    let controllen = u(40);
    if controllen > 1 << 20 {
        kerr!(ENOBUFS);
    }
    Ok(MsgHdr {
        name: u(0),
        namelen: u32::from_le_bytes(r[8..12].try_into().expect("4")),
        iov,
        control: u(32),
        controllen: controllen as usize,
    })
}

/// Reads SCM_RIGHTS and SCM_CREDENTIALS from a control buffer.
fn read_control(c: &Ctx<'_>, h: &MsgHdr, unix: bool) -> KResult<(Vec<Arc<OpenFile>>, Option<Ucred>)> {
    let mut rights = Vec::new();
    let mut creds = None;
    if h.controllen == 0 {
        return Ok((rights, creds));
    }
    let raw = c.user().read_vec(h.control, h.controllen)?;
    let mut off = 0;
    while off + 16 <= raw.len() {
        let clen = u64::from_le_bytes(raw[off..off + 8].try_into().expect("8")) as usize;
        let level = u32::from_le_bytes(raw[off + 8..off + 12].try_into().expect("4"));
        let ty = u32::from_le_bytes(raw[off + 12..off + 16].try_into().expect("4"));
        if clen < 16 || clen > raw.len() - off {
            kerr!(EINVAL);
        }
        let data = &raw[off + 16..off + clen];
        if level == SOL_SOCKET && unix {
            match ty {
                SCM_RIGHTS => {
                    if rights.len() + data.len() / 4 > 253 {
                        kerr!(EINVAL);
                    }
                    for ch in data.chunks_exact(4) {
                        let fd = i32::from_le_bytes(ch.try_into().expect("4"));
                        rights.push(c.proc.fds.lock().get(fd)?.file.clone());
                    }
                }
                SCM_CREDENTIALS => {
                    if data.len() < 12 {
                        kerr!(EINVAL);
                    }
                    let w = |o: usize| u32::from_le_bytes(data[o..o + 4].try_into().expect("4"));
                    let cr = Ucred { pid: w(0), uid: w(4), gid: w(8) };
                    if cr.pid != c.proc.pid || cr.uid != c.proc.creds.uid || cr.gid != c.proc.creds.gid {
                        kerr!(EPERM);
                    }
                    creds = Some(cr);
                }
                _ => kerr!(EINVAL),
            }
        } else if level == SOL_SOCKET {
            kerr!(EINVAL);
        }
        off += clen.div_ceil(8) * 8;
    }
    Ok((rights, creds))
}

fn do_sendmsg(c: &Ctx<'_>, f: &Arc<OpenFile>, p: u64, flags: u32) -> KResult<usize> {
    let s = net::as_socket(&f.inode)?;
    let h = read_msghdr(c, p)?;
    let to = if h.name != 0 && h.namelen != 0 { Some(read_addr(c, h.name, h.namelen as u64)?) } else { None };
    let mut data = Vec::new();
    for &(b, l) in &h.iov {
        if data.len() + l > MAX_COPY {
            kerr!(EMSGSIZE);
        }
        data.extend_from_slice(&c.user().read_vec(b, l)?);
    }
    let (rights, creds) = read_control(c, &h, s.domain() == net::AF_UNIX)?;
    let x = SendExtra { to: to.as_deref(), flags, rights, creds };
    s.send(&data, x, nonblock(f))
}

/// Writes received control messages; returns (bytes used, whether something was cut).
fn write_control(c: &Ctx<'_>, h: &MsgHdr, x: RecvExtra, cloexec: bool) -> KResult<(usize, bool)> {
    let mut out: Vec<u8> = Vec::new();
    let mut trunc = false;
    let cap = if h.control == 0 { 0 } else { h.controllen };
    let put = |out: &mut Vec<u8>, ty: u32, data: &[u8]| {
        let len = 16 + data.len();
        out.extend_from_slice(&(len as u64).to_le_bytes());
        out.extend_from_slice(&SOL_SOCKET.to_le_bytes());
        out.extend_from_slice(&ty.to_le_bytes());
        out.extend_from_slice(data);
        while !out.len().is_multiple_of(8) {
            out.push(0);
        }
    };
    if let Some(cr) = x.creds {
        if out.len() + 28 <= cap {
            put(&mut out, SCM_CREDENTIALS, &cr.to_bytes());
        } else {
            trunc = true;
        }
    }
    if !x.rights.is_empty() {
        let room = cap.saturating_sub(out.len() + 16) / 4;
        let take = x.rights.len().min(room);
        if take < x.rights.len() {
            trunc = true;
        }
        let mut fds = Vec::new();
        for file in x.rights.into_iter().take(take) {
            match c.proc.fds.lock().alloc(FdEntry { file, cloexec }, 0) {
                Ok(fd) => fds.extend_from_slice(&fd.to_le_bytes()),
                Err(_) => trunc = true,
            }
        }
        if !fds.is_empty() {
            put(&mut out, SCM_RIGHTS, &fds);
        }
    }
    let used = out.len().min(cap);
    c.user().write(h.control, &out[..used])?;
    Ok((used, trunc))
}

/// recvmsg on one header; returns the byte count.
fn recv_one(c: &Ctx<'_>, f: &Arc<OpenFile>, p: u64, flags: u32) -> KResult<usize> {
    let s = net::as_socket(&f.inode)?;
    let h = read_msghdr(c, p)?;
    for &(b, l) in &h.iov {
        if l > 0 && !c.proc.mm.lock().check_access(b, l as u64, PROT_WRITE) {
            kerr!(EFAULT);
        }
    }
    let total: usize = h.iov.iter().map(|x| x.1).sum::<usize>().min(MAX_COPY);
    let mut buf = vec![0u8; total];
    let (n, x) = s.recv(&mut buf, flags & !msg::CMSG_CLOEXEC, nonblock(f))?;
    let got = n.min(total);
    let mut done = 0;
    for &(b, l) in &h.iov {
        if done >= got {
            break;
        }
        let k = l.min(got - done);
        c.user().write(b, &buf[done..done + k])?;
        done += k;
    }
    if h.name != 0 {
        let k = x.from.len().min(h.namelen as usize);
        c.user().write(h.name, &x.from[..k])?;
    }
    c.user().write_u32(p + 8, if h.name != 0 { x.from.len() as u32 } else { 0 })?;
    let mut rf = x.flags;
    let (clen, ctrunc) =
        write_control(c, &h, RecvExtra { rights: x.rights, creds: x.creds, ..Default::default() }, flags & msg::CMSG_CLOEXEC != 0)?;
    if ctrunc {
        rf |= msg::CTRUNC;
    }
    c.user().write_u64(p + 40, clen as u64)?;
    c.user().write_u32(p + 48, rf)?;
    Ok(n)
}

pub fn sendmsg(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(c, a[0])?;
    Ok(do_sendmsg(c, &f, a[1], a[2] as u32)? as u64)
}

pub fn recvmsg(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(c, a[0])?;
    Ok(recv_one(c, &f, a[1], a[2] as u32)? as u64)
}

pub fn sendmmsg(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(c, a[0])?;
    let n = (a[2] as usize).min(1024);
    let mut i = 0;
    while i < n {
        let p = a[1] + i as u64 * 64;
        match do_sendmsg(c, &f, p, a[3] as u32) {
            Ok(k) => c.user().write_u32(p + 56, k as u32)?,
            Err(e) if i == 0 => return Err(e),
            Err(_) => break,
        }
        i += 1;
    }
    Ok(i as u64)
}

/// recvmmsg: as Linux, the timeout is checked after each datagram (a call that has
/// received some and then waits for more is not cut short), and the time left is written back.
pub fn recvmmsg(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(c, a[0])?;
    let n = (a[2] as usize).min(1024);
    let mut flags = a[3] as u32;
    let end = if a[4] != 0 {
        let t = myst_abi::structs::Timespec::from_bytes(&c.user().read_arr::<16>(a[4])?);
        if !t.is_valid() {
            kerr!(EINVAL);
        }
        Some(net::mono_now() + t.as_nanos())
    } else {
        None
    };
    let mut i = 0;
    let mut left = 0u128;
    while i < n {
        let p = a[1] + i as u64 * 64;
        match recv_one(c, &f, p, flags & !msg::WAITFORONE) {
            Ok(k) => c.user().write_u32(p + 56, k as u32)?,
            Err(e) if i == 0 => return Err(e),
            Err(_) => break,
        }
        if flags & msg::WAITFORONE != 0 {
            flags |= msg::DONTWAIT;
        }
        i += 1;
        if let Some(end) = end {
            left = end.saturating_sub(net::mono_now());
            if left == 0 {
                break;
            }
        }
    }
    if end.is_some() && i > 0 {
        let t = myst_abi::structs::Timespec { sec: (left / 1_000_000_000) as i64, nsec: (left % 1_000_000_000) as i64 };
        c.user().write(a[4], &t.to_bytes())?;
    }
    Ok(i as u64)
}

pub fn shutdown(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(c, a[0])?;
    net::as_socket(&f.inode)?.shutdown(a[1] as u32)?;
    Ok(0)
}

pub fn getsockname(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(c, a[0])?;
    let n = net::as_socket(&f.inode)?.name(false)?;
    if a[1] == 0 || a[2] == 0 {
        kerr!(EFAULT);
    }
    write_addr(c, a[1], a[2], &n)?;
    Ok(0)
}

pub fn getpeername(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(c, a[0])?;
    let n = net::as_socket(&f.inode)?.name(true)?;
    if a[1] == 0 || a[2] == 0 {
        kerr!(EFAULT);
    }
    write_addr(c, a[1], a[2], &n)?;
    Ok(0)
}

pub fn setsockopt(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(c, a[0])?;
    if (a[4] as i32) < 0 || a[4] > 4096 {
        kerr!(EINVAL);
    }
    let v = c.user().read_vec(a[3], a[4] as usize)?;
    net::as_socket(&f.inode)?.setopt(a[1] as u32, a[2] as u32, &v)?;
    Ok(0)
}

pub fn getsockopt(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = sock(c, a[0])?;
    let room = u32::from_le_bytes(c.user().read_arr::<4>(a[4])?);
    if (room as i32) < 0 {
        kerr!(EINVAL);
    }
    let v = net::as_socket(&f.inode)?.getopt(a[1] as u32, a[2] as u32, room as usize)?;
    let n = v.len().min(room as usize);
    c.user().write(a[3], &v[..n])?;
    c.user().write_u32(a[4], n as u32)?;
    Ok(0)
}

fn is_pipe(f: &OpenFile) -> bool {
    f.inode.as_any().downcast_ref::<crate::vfs::pipe::PipeEnd>().is_some()
}

/// splice: copies through the kernel when one end is a pipe.
pub fn splice(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let inp = c.file(a[0])?;
    let out = c.file(a[2])?;
    if !is_pipe(&inp) && !is_pipe(&out) {
        kerr!(EINVAL, "splice needs a pipe at one end");
    }
    if (a[1] != 0 && is_pipe(&inp)) || (a[3] != 0 && is_pipe(&out)) {
        kerr!(ESPIPE);
    }
    let len = (a[4] as usize).min(1 << 20);
    let mut buf = vec![0u8; len];
    let n = if a[1] != 0 {
        let off = c.user().read_u64(a[1])?;
        let n = inp.pread(&mut buf, off)?;
        c.user().write_u64(a[1], off + n as u64)?;
        n
    } else {
        inp.read(&mut buf)?
    };
    if n == 0 {
        return Ok(0);
    }
    let w = if a[3] != 0 {
        let off = c.user().read_u64(a[3])?;
        let w = out.pwrite(&buf[..n], off)?;
        c.user().write_u64(a[3], off + w as u64)?;
        w
    } else {
        out.write(&buf[..n])?
    };
    Ok(w as u64)
}

/// tee: not supported (needs a non-consuming pipe read).
pub fn tee(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let _ = (c.file(a[0])?, c.file(a[1])?);
    kerr!(EINVAL, "tee is not supported")
}
