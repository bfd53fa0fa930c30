//! AF_INET and AF_INET6 sockets served by the host.
//!
//! The host handle is non-blocking on the host; blocking calls wait with a host poll that a
//! signal interrupts. A handle is usable in the host process that opened it and in host
//! processes forked from it later; before the first use in a host process the kernel
//! checks that the handle names the same host socket there (its identity), and remembers
//! the answer per host pid. Closing the last reference closes the handle in the calling
//! host process; closing a descriptor while other processes still hold the socket closes
//! only this process's copy ([`HostSocket::release_here`]), so that a peer sees the end
//! of a connection when the last process lets go, as on Linux.

use super::ready::sane;
use super::{msg, so, RecvExtra, SendExtra, Socket, IPPROTO_IP, IPPROTO_IPV6, IPPROTO_TCP, MAX_ADDR, SOL_SOCKET};
use crate::error::{Error, KResult};
use crate::kerr;
use crate::sync::Mutex;
use crate::vfs::{Inode, InodeRef};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use myst_abi::consts::*;
use myst_abi::structs::Stat;
use myst_abi::Errno;
use myst_tcall::checked::len_within;
use myst_tcall::HostPollFd;

static NEXT_INO: AtomicU64 = AtomicU64::new(1);

/// A host socket.
pub struct HostSocket {
    handle: u32,
    ident: u64,
    domain: u32,
    ty: u32,
    proto: u32,
    /// Per host pid: whether the handle names this socket there (false once closed there).
    here: Mutex<Vec<(i32, bool)>>,
    rcvtimeo: Mutex<Option<u64>>,
    sndtimeo: Mutex<Option<u64>>,
    listening: AtomicBool,
    ino: u64,
    /// Operations tried (edge-triggered epoll reports again after activity).
    ops: AtomicU32,
}

fn host_pid() -> i32 {
    crate::current_thread().map(|t| t.host.lock().0).unwrap_or(0)
}

fn family(addr: &[u8]) -> u32 {
    if addr.len() < 2 {
        0
    } else {
        u16::from_le_bytes([addr[0], addr[1]]) as u32
    }
}

impl HostSocket {
    fn wrap(handle: u32, ident: u64, domain: u32, ty: u32, proto: u32) -> Arc<Self> {
        let hp = host_pid();
        Arc::new(Self {
            handle,
            ident,
            domain,
            ty,
            proto,
            here: Mutex::new(if hp != 0 { vec![(hp, true)] } else { Vec::new() }),
            rcvtimeo: Mutex::new(None),
            sndtimeo: Mutex::new(None),
            listening: AtomicBool::new(false),
            ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
            ops: AtomicU32::new(0),
        })
    }

    /// Opens a host socket.
    pub fn open(domain: u32, ty: u32, proto: u32) -> KResult<Arc<Self>> {
        let (h, id) = crate::tcall().sock_open(domain, ty, proto)?;
        Ok(Self::wrap(h, id, domain, ty, proto))
    }

    /// The host handle, if it names this socket in the calling host process.
    pub fn handle(&self) -> KResult<u32> {
        let hp = host_pid();
        if hp != 0 {
            if let Some(&(_, ok)) = self.here.lock().iter().find(|(p, _)| *p == hp) {
                if ok {
                    return Ok(self.handle);
                }
                kerr!(EBADF, "host socket not open in this host process");
            }
        }
        let ok = crate::tcall().sock_ident(self.handle) == Ok(self.ident);
        if hp != 0 {
            self.here.lock().push((hp, ok));
        }
        if ok {
            Ok(self.handle)
        } else {
            kerr!(EBADF, "host socket belongs to another host process")
        }
    }

    /// How many operations were tried on the socket.
    pub fn activity(&self) -> u32 {
        self.ops.load(Ordering::Relaxed)
    }

    /// A host poll entry for `events`, if usable here.
    pub fn poll_fd(&self, events: u32) -> Option<HostPollFd> {
        self.handle().ok().map(|handle| HostPollFd { handle, events: events as u16, revents: 0 })
    }

    /// Closes this host process's copy of the handle (other processes keep theirs).
    pub fn release_here(&self) {
        if self.handle().is_ok() {
            let _ = crate::tcall().sock_close(self.handle);
            let hp = host_pid();
            let mut h = self.here.lock();
            h.retain(|(p, _)| *p != hp);
            if hp != 0 {
                h.push((hp, false));
            }
        }
    }

    /// Runs `op` until it stops saying EAGAIN, waiting for `events` in between (unless
    /// `nonblock`). `EAGAIN` after `timeout`, `EINTR` on a signal.
    fn block<T>(&self, events: u32, nonblock: bool, timeout: Option<u64>, mut op: impl FnMut(u32) -> Result<T, Errno>) -> KResult<T> {
        let h = self.handle()?;
        let deadline = timeout.map(|t| super::mono_now() + t as u128);
        let tc = crate::tcall();
        loop {
            self.ops.fetch_add(1, Ordering::Relaxed);
            match op(h) {
                Err(Errno::EAGAIN) if !nonblock => {}
                r => return r.map_err(Error::from),
            }
            if let Some(t) = crate::current_thread() {
                if crate::signal::has_deliverable(&t) {
                    kerr!(EINTR);
                }
            }
            let left = match deadline {
                None => None,
                Some(d) => {
                    let now = super::mono_now();
                    if now >= d {
                        kerr!(EAGAIN);
                    }
                    Some((d - now) as u64)
                }
            };
            let mut p = [HostPollFd { handle: h, events: events as u16, revents: 0 }];
            match tc.host_poll(&mut p, left) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn check_addr(&self, addr: &[u8], unspec_ok: bool) -> KResult<()> {
        let f = family(addr);
        if unspec_ok && f == super::AF_UNSPEC && addr.len() >= 2 {
            return Ok(());
        }
        let min = if self.domain == super::AF_INET6 { 24 } else { 16 };
        if addr.len() < min {
            kerr!(EINVAL);
        }
        if f != self.domain {
            kerr!(EAFNOSUPPORT);
        }
        Ok(())
    }

    fn sigpipe(e: Errno, flags: u32) {
        if e == Errno::EPIPE && flags & msg::NOSIGNAL == 0 {
            if let Some(t) = crate::current_thread() {
                crate::signal::send_to_thread(&t, crate::signal::SigInfo { signo: SIGPIPE, code: 0, ..Default::default() });
            }
        }
    }
}

impl Drop for HostSocket {
    fn drop(&mut self) {
        self.release_here();
    }
}

/// Options passed through to the host (level, name).
fn allowed(level: u32, name: u32) -> bool {
    match level {
        SOL_SOCKET => matches!(
            name,
            so::REUSEADDR
                | so::REUSEPORT
                | so::KEEPALIVE
                | so::RCVBUF
                | so::SNDBUF
                | so::ERROR
                | so::ACCEPTCONN
                | so::LINGER
                | so::BROADCAST
                | so::OOBINLINE
                | so::DONTROUTE
                | so::PRIORITY
                | so::RCVLOWAT
                | so::SNDLOWAT
        ),
        // TCP_NODELAY, MAXSEG, CORK, KEEPIDLE, KEEPINTVL, KEEPCNT, SYNCNT, LINGER2,
        // DEFER_ACCEPT, WINDOW_CLAMP, QUICKACK, USER_TIMEOUT, FASTOPEN
        IPPROTO_TCP => matches!(name, 1..=10 | 12 | 18 | 23),
        // IP_TOS, IP_TTL, IP_MTU_DISCOVER, IP_RECVERR, IP_MULTICAST_TTL, IP_MULTICAST_LOOP
        IPPROTO_IP => matches!(name, 1 | 2 | 10 | 11 | 33 | 34),
        // IPV6_UNICAST_HOPS, MULTICAST_HOPS, MULTICAST_LOOP, V6ONLY, RECVERR, TCLASS
        IPPROTO_IPV6 => matches!(name, 16 | 18 | 19 | 25 | 26 | 67),
        _ => false,
    }
}

impl Socket for HostSocket {
    fn domain(&self) -> u32 {
        self.domain
    }
    fn sock_type(&self) -> u32 {
        self.ty
    }

    fn bind(&self, addr: &[u8]) -> KResult<()> {
        self.check_addr(addr, false)?;
        Ok(crate::tcall().sock_bind(self.handle()?, addr)?)
    }

    fn listen(&self, backlog: i32) -> KResult<()> {
        if self.ty != super::SOCK_STREAM {
            kerr!(EOPNOTSUPP);
        }
        crate::tcall().sock_listen(self.handle()?, backlog.clamp(0, 4096))?;
        self.listening.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn accept(&self, nonblock: bool) -> KResult<(InodeRef, Vec<u8>)> {
        if !self.listening.load(Ordering::Relaxed) {
            kerr!(EINVAL);
        }
        let mut addr = [0u8; MAX_ADDR];
        let (h, id, n) = self.block(POLLIN, nonblock, None, |h| crate::tcall().sock_accept(h, &mut addr))?;
        let n = match len_within(Ok(n), MAX_ADDR) {
            Ok(n) => n,
            Err(e) => {
                let _ = crate::tcall().sock_close(h);
                return Err(e.into());
            }
        };
        let s: InodeRef = Self::wrap(h, id, self.domain, self.ty, self.proto);
        Ok((s, addr[..n].to_vec()))
    }

    fn connect(&self, addr: &[u8], nonblock: bool) -> KResult<()> {
        self.check_addr(addr, self.ty == super::SOCK_DGRAM)?;
        let h = self.handle()?;
        match crate::tcall().sock_connect(h, addr) {
            Ok(()) => Ok(()),
            Err(Errno::EINPROGRESS) if !nonblock => {
                let t = *self.sndtimeo.lock();
                match self.block(POLLOUT, false, t, |h| {
                    let mut p = [HostPollFd { handle: h, events: POLLOUT as u16, revents: 0 }];
                    match crate::tcall().host_poll(&mut p, Some(0)) {
                        Ok(_) if sane(p[0].revents, POLLOUT) != 0 => Ok(()),
                        Ok(_) => Err(Errno::EAGAIN),
                        Err(e) => Err(e),
                    }
                }) {
                    Ok(()) => {}
                    Err(e) if e.errno == Errno::EAGAIN => kerr!(EINPROGRESS),
                    Err(e) => return Err(e),
                }
                let mut v = [0u8; 4];
                let n = len_within(crate::tcall().sock_getopt(h, SOL_SOCKET, so::ERROR, &mut v), 4)?;
                let err = if n == 4 { i32::from_le_bytes(v) } else { 0 };
                if err != 0 {
                    return Err(Errno::from_raw(err).unwrap_or(Errno::EIO).into());
                }
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    fn send(&self, data: &[u8], x: SendExtra<'_>, nonblock: bool) -> KResult<usize> {
        if let Some(a) = x.to {
            self.check_addr(a, false)?;
        }
        let nb = nonblock || x.flags & msg::DONTWAIT != 0;
        let fl = x.flags & (msg::OOB | msg::DONTROUTE | msg::EOR | msg::MORE | msg::CONFIRM);
        let t = *self.sndtimeo.lock();
        let mut done = 0;
        loop {
            let r = self.block(POLLOUT, nb, t, |h| len_within(crate::tcall().sock_send(h, &data[done..], fl, x.to), data.len() - done));
            match r {
                Ok(n) => done += n,
                Err(e) if done > 0 && (e.errno == Errno::EAGAIN || e.errno == Errno::EINTR) => break,
                Err(e) => {
                    Self::sigpipe(e.errno, x.flags);
                    return Err(e);
                }
            }
            if done >= data.len() || nb || self.ty != super::SOCK_STREAM {
                break;
            }
        }
        Ok(done)
    }

    fn recv(&self, buf: &mut [u8], flags: u32, nonblock: bool) -> KResult<(usize, RecvExtra)> {
        let nb = nonblock || flags & msg::DONTWAIT != 0;
        let fl = flags & (msg::PEEK | msg::TRUNC | msg::OOB);
        let t = *self.rcvtimeo.lock();
        let waitall = flags & msg::WAITALL != 0 && self.ty == super::SOCK_STREAM && fl & msg::PEEK == 0;
        let mut from = [0u8; MAX_ADDR];
        let mut done = 0;
        let mut x = RecvExtra::default();
        loop {
            let asked = buf.len() - done;
            let r = self.block(POLLIN, nb, t, |h| {
                let (n, al, f) = crate::tcall().sock_recv(h, &mut buf[done..], fl, &mut from)?;
                // MSG_TRUNC on a datagram may report its real length.
                let n = if fl & msg::TRUNC != 0 && self.ty != super::SOCK_STREAM { n } else { len_within(Ok(n), asked)? };
                Ok((n, len_within(Ok(al), MAX_ADDR)?, f))
            });
            match r {
                Ok((n, al, f)) => {
                    if done == 0 {
                        x.from = from[..al].to_vec();
                    }
                    x.flags = f & (msg::TRUNC | msg::CTRUNC | msg::OOB | msg::EOR);
                    done += n;
                    if !waitall || n == 0 || done >= buf.len() {
                        break;
                    }
                }
                Err(e) if done > 0 && (e.errno == Errno::EAGAIN || e.errno == Errno::EINTR) => break,
                Err(e) => return Err(e),
            }
        }
        Ok((done, x))
    }

    fn shutdown(&self, how: u32) -> KResult<()> {
        if how > 2 {
            kerr!(EINVAL);
        }
        Ok(crate::tcall().sock_shutdown(self.handle()?, how)?)
    }

    fn name(&self, peer: bool) -> KResult<Vec<u8>> {
        let mut a = [0u8; MAX_ADDR];
        let n = len_within(crate::tcall().sock_name(self.handle()?, peer, &mut a), MAX_ADDR)?;
        Ok(a[..n].to_vec())
    }

    fn getopt(&self, level: u32, name: u32, len: usize) -> KResult<Vec<u8>> {
        let int = |v: u32| Ok(v.to_le_bytes().to_vec());
        if level == SOL_SOCKET {
            match name {
                so::TYPE => return int(self.ty),
                so::DOMAIN => return int(self.domain),
                so::PROTOCOL => {
                    let p = if self.proto != 0 {
                        self.proto
                    } else if self.ty == super::SOCK_STREAM {
                        IPPROTO_TCP
                    } else {
                        super::IPPROTO_UDP
                    };
                    return int(p);
                }
                so::RCVTIMEO => return Ok(super::timeval_bytes(*self.rcvtimeo.lock()).to_vec()),
                so::SNDTIMEO => return Ok(super::timeval_bytes(*self.sndtimeo.lock()).to_vec()),
                _ => {}
            }
        }
        if !allowed(level, name) {
            kerr!(ENOPROTOOPT);
        }
        let mut v = vec![0u8; len.min(256)];
        let n = len_within(crate::tcall().sock_getopt(self.handle()?, level, name, &mut v), v.len())?;
        v.truncate(n);
        Ok(v)
    }

    fn setopt(&self, level: u32, name: u32, val: &[u8]) -> KResult<()> {
        if level == SOL_SOCKET {
            match name {
                so::RCVTIMEO => {
                    *self.rcvtimeo.lock() = super::timeval_ns(val)?;
                    return Ok(());
                }
                so::SNDTIMEO => {
                    *self.sndtimeo.lock() = super::timeval_ns(val)?;
                    return Ok(());
                }
                so::TYPE | so::DOMAIN | so::PROTOCOL | so::ACCEPTCONN | so::ERROR => kerr!(ENOPROTOOPT),
                _ => {}
            }
        }
        if !allowed(level, name) {
            kerr!(ENOPROTOOPT);
        }
        if val.len() > 256 {
            kerr!(EINVAL);
        }
        Ok(crate::tcall().sock_setopt(self.handle()?, level, name, val)?)
    }
}

impl Inode for HostSocket {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(Stat { dev: 0x8, ino: self.ino, nlink: 1, mode: S_IFSOCK | 0o777, blksize: 4096, ..Default::default() })
    }
    fn is_stream(&self) -> bool {
        true
    }
    fn read_at(&self, _off: u64, buf: &mut [u8]) -> KResult<usize> {
        self.read_stream(buf, false)
    }
    fn write_at(&self, _off: u64, buf: &[u8]) -> KResult<usize> {
        self.write_stream(buf, false)
    }
    fn read_stream(&self, buf: &mut [u8], nonblock: bool) -> KResult<usize> {
        Ok(self.recv(buf, 0, nonblock)?.0)
    }
    fn write_stream(&self, buf: &[u8], nonblock: bool) -> KResult<usize> {
        self.send(buf, SendExtra::default(), nonblock)
    }
    fn poll(&self) -> u32 {
        let Ok(h) = self.handle() else { return POLLNVAL };
        let ev = POLLIN | POLLOUT | POLLPRI | super::POLLRDHUP;
        let mut p = [HostPollFd { handle: h, events: ev as u16, revents: 0 }];
        match crate::tcall().host_poll(&mut p, Some(0)) {
            Ok(_) => sane(p[0].revents, ev),
            Err(_) => POLLERR,
        }
    }
    fn pending(&self) -> KResult<usize> {
        Ok(crate::tcall().sock_pending(self.handle()?)?.min(i32::MAX as usize))
    }
}
