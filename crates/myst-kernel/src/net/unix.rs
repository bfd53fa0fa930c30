//! AF_UNIX sockets, entirely in the kernel: stream, datagram and seqpacket; path names (an
//! S_IFSOCK node in the VFS where the file system can hold one, always with an entry in the
//! kernel's name table), abstract names (leading NUL) and unnamed sockets; SCM_RIGHTS and
//! SCM_CREDENTIALS.
//!
//! Each socket queues what it receives. A sender locks only the receiver, a receiver only
//! itself, and state that depends on the other end (EOF, EPIPE) is pushed by that end into
//! this one, so no two socket locks are ever held together. Every change notifies the wait
//! queues of both ends.

use super::{msg, so, RecvExtra, SendExtra, Socket, Ucred, AF_UNIX, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_STREAM, SOL_SOCKET};
use crate::error::KResult;
use crate::kerr;
use crate::sync::Mutex;
use crate::vfs::{Inode, InodeRef, OpenFile};
use crate::waitq::WaitQueue;
use alloc::collections::VecDeque;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicU64, Ordering};
use myst_abi::consts::*;
use myst_abi::structs::Stat;
use myst_abi::Errno;

static NEXT_INO: AtomicU64 = AtomicU64::new(1);

/// Receive buffer size (bytes queued per socket).
const RCVBUF: usize = 212_992;
/// Largest datagram.
const MAX_DGRAM: usize = RCVBUF - 32;
/// Most datagrams queued per socket.
const MAX_MSGS: usize = 1024;

struct Msg {
    data: Vec<u8>,
    off: usize,
    from: Vec<u8>,
    rights: Vec<Arc<OpenFile>>,
    creds: Ucred,
}

#[derive(Default)]
struct St {
    /// Address reported by getsockname (sockaddr_un bytes) and the name-table key.
    addr: Option<(Vec<u8>, Vec<u8>)>,
    /// Whether bind made a node in the file system.
    node: bool,
    peer: Option<Weak<Inner>>,
    connected: bool,
    listening: bool,
    backlog: usize,
    accept_q: VecDeque<Arc<Inner>>,
    rx: VecDeque<Msg>,
    rx_bytes: usize,
    shut_rd: bool,
    shut_wr: bool,
    /// The peer will send nothing more (it shut down writing or closed).
    peer_eof: bool,
    /// The peer is gone.
    peer_closed: bool,
    closed: bool,
    passcred: bool,
    peercred: Option<Ucred>,
    /// Credentials at listen time (given to connecting clients as SO_PEERCRED).
    listencred: Ucred,
    sndbuf: usize,
    rcvbuf: usize,
    rcvtimeo: Option<u64>,
    sndtimeo: Option<u64>,
}

/// The shared part of a socket (what peers and the name table point at).
pub struct Inner {
    ty: u32,
    st: Mutex<St>,
    wq: WaitQueue,
    ino: u64,
}

/// One open AF_UNIX socket (dropping the last reference closes it).
pub struct UnixSocket {
    inner: Arc<Inner>,
}

impl Inner {
    fn new(ty: u32) -> Arc<Inner> {
        Arc::new(Inner {
            ty,
            st: Mutex::new(St { sndbuf: RCVBUF, rcvbuf: RCVBUF, ..Default::default() }),
            wq: WaitQueue::default(),
            ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
        })
    }

    fn peer(&self) -> Option<Arc<Inner>> {
        self.st.lock().peer.as_ref().and_then(|w| w.upgrade())
    }

    fn close(self: &Arc<Self>) {
        let (peer, rx, acc, key) = {
            let mut s = self.st.lock();
            s.closed = true;
            let rx = core::mem::take(&mut s.rx);
            s.rx_bytes = 0;
            let acc = core::mem::take(&mut s.accept_q);
            (s.peer.take(), rx, acc, s.addr.as_ref().map(|a| a.1.clone()))
        };
        if let Some(k) = key {
            let mut names = super::state().names.lock();
            if names.get(&k).is_some_and(|w| core::ptr::eq(w.as_ptr(), Arc::as_ptr(self))) {
                names.remove(&k);
            }
        }
        if let Some(p) = peer.and_then(|w| w.upgrade()) {
            {
                let mut ps = p.st.lock();
                ps.peer_eof = true;
                ps.peer_closed = true;
            }
            p.wq.notify();
        }
        self.wq.notify();
        drop(rx);
        for s in acc {
            s.close();
        }
    }
}

impl Drop for UnixSocket {
    fn drop(&mut self) {
        self.inner.close();
    }
}

/// Parses a sockaddr_un: (address to report, name-table key). The key of a path is its
/// canonical absolute path.
fn parse_addr(addr: &[u8], for_bind: bool) -> KResult<(Vec<u8>, Vec<u8>, Option<crate::vfs::Parent>)> {
    if addr.len() < 2 || addr.len() > 110 {
        kerr!(EINVAL);
    }
    if u16::from_le_bytes([addr[0], addr[1]]) as u32 != AF_UNIX {
        kerr!(EINVAL);
    }
    let path = &addr[2..];
    if path.is_empty() {
        kerr!(EINVAL);
    }
    if path[0] == 0 {
        return Ok((addr.to_vec(), path.to_vec(), None));
    }
    let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
    let p = &path[..end];
    let cwd = crate::current_thread().map(|t| t.process.cwd.lock().clone()).unwrap_or_else(|| "/".into());
    let abs = crate::vfs::join(&cwd, p);
    let parent = crate::kernel().vfs.parent(&abs)?;
    if parent.name.is_empty() {
        if for_bind {
            kerr!(EADDRINUSE);
        }
        kerr!(ECONNREFUSED);
    }
    let mut key = parent.dir_path.clone();
    if key.last() != Some(&b'/') {
        key.push(b'/');
    }
    key.extend_from_slice(&parent.name);
    let mut rep = addr[..2].to_vec();
    rep.extend_from_slice(p);
    rep.push(0);
    Ok((rep, key, Some(parent)))
}

impl UnixSocket {
    /// Binding to an address that is only the family: as Linux, a unique abstract name of
    /// five hex digits ("\0" + "00001"…).
    fn autobind(&self) -> KResult<()> {
        static NEXT: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(1);
        let mut names = super::state().names.lock();
        for _ in 0..0x10_0000 {
            let n = NEXT.fetch_add(1, core::sync::atomic::Ordering::Relaxed) & 0xf_ffff;
            let mut key = alloc::vec![0u8];
            key.extend_from_slice(alloc::format!("{n:05x}").as_bytes());
            if names.get(&key).and_then(|w| w.upgrade()).is_some_and(|s| !s.st.lock().closed) {
                continue;
            }
            names.insert(key.clone(), Arc::downgrade(&self.inner));
            drop(names);
            let mut rep = (AF_UNIX as u16).to_le_bytes().to_vec();
            rep.extend_from_slice(&key);
            let mut st = self.inner.st.lock();
            st.addr = Some((rep, key));
            st.node = false;
            return Ok(());
        }
        kerr!(ENOSPC)
    }
}

/// Finds the socket bound to `addr`.
fn lookup(addr: &[u8]) -> KResult<Arc<Inner>> {
    let (_, key, parent) = parse_addr(addr, false)?;
    let found = super::state().names.lock().get(&key).and_then(|w| w.upgrade());
    if let Some(p) = &parent {
        // A path whose node was removed no longer reaches the socket.
        if p.dir.lookup(&p.name).is_err() && (found.is_none() || found.as_ref().is_some_and(|s| s.st.lock().node)) {
            kerr!(ENOENT);
        }
    }
    match found {
        Some(s) if !s.st.lock().closed => Ok(s),
        _ => kerr!(ECONNREFUSED),
    }
}

fn deadline(t: Option<u64>) -> Option<u128> {
    t.map(|t| super::mono_now() + t as u128)
}

fn timeout_to_eagain(e: crate::Error) -> crate::Error {
    if e.errno == Errno::ETIMEDOUT {
        Errno::EAGAIN.into()
    } else {
        e
    }
}

impl UnixSocket {
    /// A new unconnected socket.
    pub fn new(ty: u32) -> Arc<UnixSocket> {
        Arc::new(UnixSocket { inner: Inner::new(ty) })
    }

    /// A connected pair (socketpair).
    pub fn pair(ty: u32) -> (Arc<UnixSocket>, Arc<UnixSocket>) {
        let a = Inner::new(ty);
        let b = Inner::new(ty);
        let cred = Ucred::current();
        for (x, y) in [(&a, &b), (&b, &a)] {
            let mut s = x.st.lock();
            s.peer = Some(Arc::downgrade(y));
            s.connected = true;
            s.peercred = Some(cred);
        }
        (Arc::new(UnixSocket { inner: a }), Arc::new(UnixSocket { inner: b }))
    }

    fn notify_both(&self, peer: Option<&Arc<Inner>>) {
        self.inner.wq.notify();
        if let Some(p) = peer {
            p.wq.notify();
        }
    }

    /// Queues a message into `to`, waiting for room.
    fn deliver(&self, to: &Arc<Inner>, m: Msg, nonblock: bool, stream_ok_partial: bool) -> KResult<usize> {
        let tmo = self.inner.st.lock().sndtimeo;
        let mut m = Some(m);
        let r = to.wq.wait_until(deadline(tmo), || {
            let mut ts = to.st.lock();
            if ts.closed || ts.shut_rd {
                if self.inner.ty == SOCK_DGRAM {
                    kerr!(ECONNREFUSED);
                }
                kerr!(EPIPE);
            }
            let room = ts.rcvbuf.saturating_sub(ts.rx_bytes);
            let msg_ref = m.as_ref().expect("message");
            let len = msg_ref.data.len();
            let fits = if stream_ok_partial {
                room > 0 || len == 0
            } else {
                (ts.rx_bytes + len <= ts.rcvbuf || ts.rx.is_empty()) && ts.rx.len() < MAX_MSGS
            };
            if !fits {
                if nonblock {
                    kerr!(EAGAIN);
                }
                return Ok(None);
            }
            let mut mm = m.take().expect("message");
            let n = if stream_ok_partial { len.min(room.max(1)) } else { len };
            mm.data.truncate(n);
            ts.rx_bytes += n;
            ts.rx.push_back(mm);
            Ok(Some(n))
        });
        to.wq.notify();
        r.map_err(timeout_to_eagain)
    }

    fn sigpipe(e: &crate::Error, flags: u32) {
        if e.errno == Errno::EPIPE && flags & msg::NOSIGNAL == 0 {
            if let Some(t) = crate::current_thread() {
                crate::signal::send_to_thread(&t, crate::signal::SigInfo { signo: SIGPIPE, code: 0, ..Default::default() });
            }
        }
    }

    fn do_send(&self, data: &[u8], x: SendExtra<'_>, nonblock: bool) -> KResult<usize> {
        let nb = nonblock || x.flags & msg::DONTWAIT != 0;
        let creds = x.creds.unwrap_or_else(Ucred::current);
        let (from, shut_wr, connected) = {
            let s = self.inner.st.lock();
            (s.addr.as_ref().map(|a| a.0.clone()).unwrap_or_default(), s.shut_wr, s.connected)
        };
        if shut_wr {
            kerr!(EPIPE);
        }
        let ty = self.inner.ty;
        if ty == SOCK_DGRAM {
            if data.len() > MAX_DGRAM {
                kerr!(EMSGSIZE);
            }
            let to = match x.to {
                Some(a) => lookup(a)?,
                None => match self.inner.peer() {
                    Some(p) => p,
                    None if connected => kerr!(ECONNREFUSED),
                    None => kerr!(ENOTCONN),
                },
            };
            let m = Msg { data: data.to_vec(), off: 0, from, rights: x.rights, creds };
            let n = self.deliver(&to, m, nb, false)?;
            self.inner.wq.notify();
            return Ok(n);
        }
        if x.to.is_some() && !connected {
            kerr!(EOPNOTSUPP);
        }
        if !connected {
            kerr!(ENOTCONN);
        }
        let Some(peer) = self.inner.peer() else { kerr!(EPIPE) };
        if ty == SOCK_SEQPACKET {
            if data.len() > MAX_DGRAM {
                kerr!(EMSGSIZE);
            }
            let m = Msg { data: data.to_vec(), off: 0, from, rights: x.rights, creds };
            let r = self.deliver(&peer, m, nb, false);
            self.notify_both(Some(&peer));
            return r;
        }
        let mut done = 0;
        let mut rights = Some(x.rights);
        loop {
            let chunk = &data[done..];
            let m = Msg { data: chunk.to_vec(), off: 0, from: Vec::new(), rights: rights.take().unwrap_or_default(), creds };
            match self.deliver(&peer, m, nb, true) {
                Ok(n) => done += n,
                Err(e) if done > 0 && (e.errno == Errno::EAGAIN || e.errno == Errno::EINTR) => break,
                Err(e) => return Err(e),
            }
            if done >= data.len() {
                break;
            }
        }
        self.notify_both(Some(&peer));
        Ok(done)
    }

    fn do_recv(&self, buf: &mut [u8], flags: u32, nonblock: bool) -> KResult<(usize, RecvExtra)> {
        let nb = nonblock || flags & msg::DONTWAIT != 0;
        let peek = flags & msg::PEEK != 0;
        let ty = self.inner.ty;
        let waitall = flags & msg::WAITALL != 0 && ty == SOCK_STREAM && !peek;
        let tmo = self.inner.st.lock().rcvtimeo;
        let mut x = RecvExtra::default();
        let mut done = 0usize;
        let mut dropped: Vec<Msg> = Vec::new();
        let r = self.inner.wq.wait_until(deadline(tmo), || {
            let mut s = self.inner.st.lock();
            if s.rx.is_empty() {
                if done > 0 || s.shut_rd || s.peer_eof {
                    return Ok(Some(()));
                }
                if ty != SOCK_DGRAM && !s.connected {
                    if ty == SOCK_STREAM {
                        kerr!(EINVAL);
                    }
                    kerr!(ENOTCONN);
                }
                if nb {
                    kerr!(EAGAIN);
                }
                return Ok(None);
            }
            x.creds = if s.passcred { Some(s.rx[0].creds) } else { None };
            if ty != SOCK_STREAM {
                let m = if peek { None } else { s.rx.pop_front() };
                let mref = match m.as_ref() {
                    Some(m) => m,
                    None => &s.rx[0],
                };
                let n = mref.data.len().min(buf.len());
                buf[..n].copy_from_slice(&mref.data[..n]);
                if mref.data.len() > n {
                    x.flags |= msg::TRUNC;
                }
                done = if flags & msg::TRUNC != 0 { mref.data.len() } else { n };
                x.from = mref.from.clone();
                if let Some(mut m) = m {
                    s.rx_bytes -= m.data.len();
                    x.rights = core::mem::take(&mut m.rights);
                    dropped.push(m);
                } else {
                    x.rights = mref.rights.clone();
                }
                return Ok(Some(()));
            }
            // Stream: gather bytes across messages, stopping at one that carries files.
            let mut i = 0;
            while done < buf.len() && i < s.rx.len() {
                if (i > 0 || done > 0) && !s.rx[i].rights.is_empty() {
                    break;
                }
                let m = &mut s.rx[i];
                let avail = &m.data[m.off..];
                let n = avail.len().min(buf.len() - done);
                buf[done..done + n].copy_from_slice(&avail[..n]);
                done += n;
                let has_rights = !m.rights.is_empty();
                if !peek {
                    if has_rights {
                        x.rights = core::mem::take(&mut m.rights);
                    }
                    m.off += n;
                } else if has_rights {
                    x.rights = m.rights.clone();
                }
                if peek || m.off < m.data.len() {
                    i += 1;
                    if has_rights || m.off < m.data.len() {
                        break;
                    }
                    continue;
                }
                s.rx_bytes -= m.data.len();
                if let Some(m) = s.rx.pop_front() {
                    dropped.push(m);
                }
                if has_rights {
                    break;
                }
            }
            if waitall && done < buf.len() && !(s.shut_rd || s.peer_eof) {
                drop(s);
                // Room was made: let writers go on, then wait for more.
                self.inner.wq.notify();
                if let Some(p) = self.inner.peer() {
                    p.wq.notify();
                }
                return Ok(None);
            }
            Ok(Some(()))
        });
        drop(dropped);
        let peer = self.inner.peer();
        self.notify_both(peer.as_ref());
        match r {
            Ok(()) => Ok((done, x)),
            Err(e) if done > 0 && (e.errno == Errno::EINTR || e.errno == Errno::ETIMEDOUT) => Ok((done, x)),
            Err(e) => Err(timeout_to_eagain(e)),
        }
    }
}

impl Socket for UnixSocket {
    fn domain(&self) -> u32 {
        AF_UNIX
    }
    fn sock_type(&self) -> u32 {
        self.inner.ty
    }

    fn bind(&self, addr: &[u8]) -> KResult<()> {
        if self.inner.st.lock().addr.is_some() {
            kerr!(EINVAL);
        }
        if addr.len() == 2 && u16::from_le_bytes([addr[0], addr[1]]) as u32 == AF_UNIX {
            return self.autobind();
        }
        let (rep, key, parent) = parse_addr(addr, true)?;
        let mut node = false;
        if let Some(p) = parent {
            let (uid, gid, umask) = match crate::current_thread() {
                Some(t) => (t.process.creds.uid, t.process.creds.gid, *t.process.umask.lock()),
                None => (0, 0, 0o022),
            };
            match p.dir.create(&p.name, S_IFSOCK | (0o777 & !umask), 0, uid, gid) {
                Ok(_) => node = true,
                Err(e) if e.errno == Errno::EEXIST => kerr!(EADDRINUSE),
                // A file system that cannot hold socket nodes: the name table alone.
                Err(e) if matches!(e.errno, Errno::EPERM | Errno::EINVAL | Errno::EOPNOTSUPP | Errno::ENOSYS) => {}
                Err(e) => return Err(e),
            }
        }
        let mut names = super::state().names.lock();
        if names.get(&key).and_then(|w| w.upgrade()).is_some_and(|s| !s.st.lock().closed) && !node {
            kerr!(EADDRINUSE);
        }
        names.insert(key.clone(), Arc::downgrade(&self.inner));
        drop(names);
        let mut s = self.inner.st.lock();
        s.addr = Some((rep, key));
        s.node = node;
        Ok(())
    }

    fn listen(&self, backlog: i32) -> KResult<()> {
        if self.inner.ty == SOCK_DGRAM {
            kerr!(EOPNOTSUPP);
        }
        let mut s = self.inner.st.lock();
        if s.connected {
            kerr!(EINVAL);
        }
        if s.addr.is_none() {
            // Linux autobinds an unnamed listener; an abstract name nobody can guess.
            kerr!(EINVAL);
        }
        s.listening = true;
        s.backlog = backlog.clamp(1, 4096) as usize;
        s.listencred = Ucred::current();
        drop(s);
        self.inner.wq.notify();
        Ok(())
    }

    fn accept(&self, nonblock: bool) -> KResult<(InodeRef, Vec<u8>)> {
        let tmo = self.inner.st.lock().rcvtimeo;
        let s = self
            .inner
            .wq
            .wait_until(deadline(tmo), || {
                let mut st = self.inner.st.lock();
                if !st.listening {
                    kerr!(EINVAL);
                }
                if let Some(c) = st.accept_q.pop_front() {
                    return Ok(Some(c));
                }
                if nonblock {
                    kerr!(EAGAIN);
                }
                Ok(None)
            })
            .map_err(timeout_to_eagain)?;
        self.inner.wq.notify();
        let peer_addr = s
            .peer()
            .and_then(|p| p.st.lock().addr.as_ref().map(|a| a.0.clone()))
            .unwrap_or_else(|| (AF_UNIX as u16).to_le_bytes().to_vec());
        let sock: InodeRef = Arc::new(UnixSocket { inner: s });
        Ok((sock, peer_addr))
    }

    fn connect(&self, addr: &[u8], nonblock: bool) -> KResult<()> {
        let ty = self.inner.ty;
        if ty == SOCK_DGRAM {
            if addr.len() >= 2 && u16::from_le_bytes([addr[0], addr[1]]) == 0 {
                let mut s = self.inner.st.lock();
                s.peer = None;
                s.connected = false;
                return Ok(());
            }
            let to = lookup(addr)?;
            let mut s = self.inner.st.lock();
            s.peer = Some(Arc::downgrade(&to));
            s.connected = true;
            return Ok(());
        }
        {
            let s = self.inner.st.lock();
            if s.connected {
                kerr!(EISCONN);
            }
            if s.listening {
                kerr!(EINVAL);
            }
        }
        let l = lookup(addr)?;
        if l.ty != ty {
            kerr!(ECONNREFUSED);
        }
        let me = Ucred::current();
        let srv = Inner::new(ty);
        let (laddr, lcred) = {
            let ls = l.st.lock();
            (ls.addr.clone(), ls.listencred)
        };
        {
            let mut ss = srv.st.lock();
            ss.addr = laddr;
            ss.peer = Some(Arc::downgrade(&self.inner));
            ss.connected = true;
            ss.peercred = Some(me);
        }
        let tmo = self.inner.st.lock().sndtimeo;
        let mut pending = Some(srv.clone());
        l.wq.wait_until(deadline(tmo), || {
            let mut ls = l.st.lock();
            if !ls.listening || ls.closed {
                kerr!(ECONNREFUSED);
            }
            if ls.accept_q.len() >= ls.backlog {
                if nonblock {
                    kerr!(EAGAIN);
                }
                return Ok(None);
            }
            ls.accept_q.push_back(pending.take().expect("server end"));
            Ok(Some(()))
        })
        .map_err(timeout_to_eagain)?;
        {
            let mut s = self.inner.st.lock();
            s.peer = Some(Arc::downgrade(&srv));
            s.connected = true;
            s.peercred = Some(lcred);
        }
        l.wq.notify();
        self.inner.wq.notify();
        Ok(())
    }

    fn send(&self, data: &[u8], x: SendExtra<'_>, nonblock: bool) -> KResult<usize> {
        let fl = x.flags;
        self.do_send(data, x, nonblock).inspect_err(|e| Self::sigpipe(e, fl))
    }

    fn recv(&self, buf: &mut [u8], flags: u32, nonblock: bool) -> KResult<(usize, RecvExtra)> {
        self.do_recv(buf, flags, nonblock)
    }

    fn shutdown(&self, how: u32) -> KResult<()> {
        if how > 2 {
            kerr!(EINVAL);
        }
        let peer = {
            let mut s = self.inner.st.lock();
            if !s.connected && self.inner.ty != SOCK_DGRAM {
                kerr!(ENOTCONN);
            }
            if how != 1 {
                s.shut_rd = true;
            }
            if how != 0 {
                s.shut_wr = true;
            }
            s.peer.as_ref().and_then(|w| w.upgrade())
        };
        if let Some(p) = &peer {
            let mut ps = p.st.lock();
            if how != 0 {
                ps.peer_eof = true;
            }
        }
        self.notify_both(peer.as_ref());
        Ok(())
    }

    fn name(&self, peer: bool) -> KResult<Vec<u8>> {
        let unnamed = (AF_UNIX as u16).to_le_bytes().to_vec();
        if peer {
            let (connected, p) = {
                let s = self.inner.st.lock();
                (s.connected, s.peer.as_ref().and_then(|w| w.upgrade()))
            };
            if !connected {
                kerr!(ENOTCONN);
            }
            return Ok(p.and_then(|p| p.st.lock().addr.as_ref().map(|a| a.0.clone())).unwrap_or(unnamed));
        }
        Ok(self.inner.st.lock().addr.as_ref().map(|a| a.0.clone()).unwrap_or(unnamed))
    }

    fn getopt(&self, level: u32, name: u32, _len: usize) -> KResult<Vec<u8>> {
        if level != SOL_SOCKET {
            kerr!(EOPNOTSUPP);
        }
        let s = self.inner.st.lock();
        let int = |v: u32| Ok(v.to_le_bytes().to_vec());
        match name {
            so::TYPE => int(self.inner.ty),
            so::DOMAIN => int(AF_UNIX),
            so::PROTOCOL | so::ERROR | so::REUSEADDR | so::KEEPALIVE | so::BROADCAST | so::OOBINLINE => int(0),
            so::ACCEPTCONN => int(s.listening as u32),
            so::PASSCRED => int(s.passcred as u32),
            so::SNDBUF => int(s.sndbuf as u32),
            so::RCVBUF => int(s.rcvbuf as u32),
            so::LINGER => Ok(alloc::vec![0u8; 8]),
            so::RCVTIMEO => Ok(super::timeval_bytes(s.rcvtimeo).to_vec()),
            so::SNDTIMEO => Ok(super::timeval_bytes(s.sndtimeo).to_vec()),
            so::PEERCRED => {
                let c = s.peercred.unwrap_or(Ucred { pid: 0, uid: u32::MAX, gid: u32::MAX });
                Ok(c.to_bytes().to_vec())
            }
            _ => kerr!(ENOPROTOOPT),
        }
    }

    fn setopt(&self, level: u32, name: u32, val: &[u8]) -> KResult<()> {
        if level != SOL_SOCKET {
            kerr!(EOPNOTSUPP);
        }
        let mut s = self.inner.st.lock();
        match name {
            so::PASSCRED => s.passcred = super::opt_int(val)? != 0,
            so::SNDBUF => s.sndbuf = (super::opt_int(val)?.clamp(2304, 4 << 20) as usize) * 2,
            so::RCVBUF => s.rcvbuf = (super::opt_int(val)?.clamp(2304, 4 << 20) as usize) * 2,
            so::RCVTIMEO => s.rcvtimeo = super::timeval_ns(val)?,
            so::SNDTIMEO => s.sndtimeo = super::timeval_ns(val)?,
            so::REUSEADDR | so::KEEPALIVE | so::LINGER | so::BROADCAST | so::OOBINLINE | so::PRIORITY => {}
            _ => kerr!(ENOPROTOOPT),
        }
        Ok(())
    }
}

impl Inode for UnixSocket {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(Stat { dev: 0x8, ino: 0x4000_0000 + self.inner.ino, nlink: 1, mode: S_IFSOCK | 0o777, blksize: 4096, ..Default::default() })
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
        Ok(self.do_recv(buf, 0, nonblock)?.0)
    }
    fn write_stream(&self, buf: &[u8], nonblock: bool) -> KResult<usize> {
        self.send(buf, SendExtra::default(), nonblock)
    }
    fn pending(&self) -> KResult<usize> {
        let s = self.inner.st.lock();
        Ok(if self.inner.ty == SOCK_STREAM {
            s.rx.iter().map(|m| m.data.len() - m.off).sum()
        } else {
            s.rx.front().map_or(0, |m| m.data.len())
        })
    }
    fn poll(&self) -> u32 {
        let (mut ev, peer, connected, shut_wr) = {
            let s = self.inner.st.lock();
            let mut ev = 0;
            if !s.rx.is_empty() || s.shut_rd || s.peer_eof || !s.accept_q.is_empty() {
                ev |= POLLIN;
            }
            if s.peer_eof || s.shut_rd {
                ev |= super::POLLRDHUP;
            }
            if s.peer_closed || (s.shut_rd && s.shut_wr) {
                ev |= POLLHUP;
            }
            (ev, s.peer.as_ref().and_then(|w| w.upgrade()), s.connected, s.shut_wr)
        };
        let listening = self.inner.st.lock().listening;
        if !listening && !shut_wr {
            match peer {
                Some(p) => {
                    let ps = p.st.lock();
                    if ps.closed || ps.rx_bytes < ps.rcvbuf {
                        ev |= POLLOUT;
                    }
                }
                None if self.inner.ty == SOCK_DGRAM || connected => ev |= POLLOUT,
                None => {}
            }
        }
        ev
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.inner.wq)
    }
}
