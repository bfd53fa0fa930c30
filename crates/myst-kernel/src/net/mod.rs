//! Networking: sockets and readiness.
//!
//! - [`host`]: AF_INET/AF_INET6 sockets served by the host through the socket TCALLs. A
//!   host handle belongs to the host process that opened it and to host processes forked
//!   from it afterwards (they inherit it); every use checks that the handle still names the
//!   same host socket in the calling host process ([`myst_tcall::Tcall::sock_ident`]) and
//!   fails with `EBADF` elsewhere (for example after SCM_RIGHTS to an unrelated process).
//! - [`unix`]: AF_UNIX entirely in the kernel (stream, datagram, seqpacket; path, abstract
//!   and unnamed addresses; SCM_RIGHTS and SCM_CREDENTIALS). The kernel heap is shared by
//!   every application process, so passing an open file between processes is passing an
//!   `Arc`.
//! - [`epoll`]: epoll instances, as inodes (pollable, nestable).
//! - [`ready`]: readiness of any set of inodes and the one waiting loop that poll, select
//!   and epoll use: kernel objects wake the waiter through their wait queues, host sockets
//!   through a host poll; a set with both waits on the host in short slices and re-checks
//!   the kernel objects between slices.

pub mod epoll;
pub mod host;
pub mod ready;
pub mod unix;

use crate::error::KResult;
use crate::kerr;
use crate::sync::{Mutex, Once};
use crate::vfs::{InodeRef, OpenFile};
use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

/// Address families.
pub const AF_UNSPEC: u32 = 0;
/// Local sockets.
pub const AF_UNIX: u32 = 1;
/// IPv4.
pub const AF_INET: u32 = 2;
/// IPv6.
pub const AF_INET6: u32 = 10;
/// Socket types.
pub const SOCK_STREAM: u32 = 1;
/// Datagrams.
pub const SOCK_DGRAM: u32 = 2;
/// Reliable datagrams (AF_UNIX).
pub const SOCK_SEQPACKET: u32 = 5;
/// Type flags.
pub const SOCK_NONBLOCK: u32 = 0o4000;
/// Close on exec.
pub const SOCK_CLOEXEC: u32 = 0o2000000;
/// Option levels.
pub const SOL_SOCKET: u32 = 1;
/// IPv4 level.
pub const IPPROTO_IP: u32 = 0;
/// TCP level.
pub const IPPROTO_TCP: u32 = 6;
/// UDP.
pub const IPPROTO_UDP: u32 = 17;
/// IPv6 level.
pub const IPPROTO_IPV6: u32 = 41;
#[allow(missing_docs)]
pub mod so {
    pub const REUSEADDR: u32 = 2;
    pub const TYPE: u32 = 3;
    pub const ERROR: u32 = 4;
    pub const DONTROUTE: u32 = 5;
    pub const BROADCAST: u32 = 6;
    pub const SNDBUF: u32 = 7;
    pub const RCVBUF: u32 = 8;
    pub const KEEPALIVE: u32 = 9;
    pub const OOBINLINE: u32 = 10;
    pub const PRIORITY: u32 = 12;
    pub const LINGER: u32 = 13;
    pub const REUSEPORT: u32 = 15;
    pub const PASSCRED: u32 = 16;
    pub const PEERCRED: u32 = 17;
    pub const RCVLOWAT: u32 = 18;
    pub const SNDLOWAT: u32 = 19;
    pub const RCVTIMEO: u32 = 20;
    pub const SNDTIMEO: u32 = 21;
    pub const ACCEPTCONN: u32 = 30;
    pub const PROTOCOL: u32 = 38;
    pub const DOMAIN: u32 = 39;
}
#[allow(missing_docs)]
pub mod msg {
    pub const OOB: u32 = 1;
    pub const PEEK: u32 = 2;
    pub const DONTROUTE: u32 = 4;
    pub const CTRUNC: u32 = 8;
    pub const TRUNC: u32 = 0x20;
    pub const DONTWAIT: u32 = 0x40;
    pub const EOR: u32 = 0x80;
    pub const WAITALL: u32 = 0x100;
    pub const CONFIRM: u32 = 0x800;
    pub const NOSIGNAL: u32 = 0x4000;
    pub const MORE: u32 = 0x8000;
    pub const WAITFORONE: u32 = 0x10000;
    pub const CMSG_CLOEXEC: u32 = 0x4000_0000;
}
/// `SCM_RIGHTS`.
pub const SCM_RIGHTS: u32 = 1;
/// `SCM_CREDENTIALS`.
pub const SCM_CREDENTIALS: u32 = 2;
/// `POLLRDHUP`.
pub const POLLRDHUP: u32 = 0x2000;
/// Largest socket address the kernel copies.
pub const MAX_ADDR: usize = 128;

/// `struct ucred`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ucred {
    /// Process id.
    pub pid: u32,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

impl Ucred {
    /// The 12-byte encoding.
    pub fn to_bytes(&self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[0..4].copy_from_slice(&self.pid.to_le_bytes());
        b[4..8].copy_from_slice(&self.uid.to_le_bytes());
        b[8..12].copy_from_slice(&self.gid.to_le_bytes());
        b
    }

    /// Credentials of the calling process.
    pub fn current() -> Self {
        match crate::current_thread() {
            Some(t) => Ucred { pid: t.process.pid, uid: t.process.creds.uid, gid: t.process.creds.gid },
            None => Ucred::default(),
        }
    }
}

/// What a send carries besides bytes.
#[derive(Default)]
pub struct SendExtra<'a> {
    /// Destination address (sendto/sendmsg).
    pub to: Option<&'a [u8]>,
    /// `MSG_*` flags.
    pub flags: u32,
    /// SCM_RIGHTS files.
    pub rights: Vec<Arc<OpenFile>>,
    /// SCM_CREDENTIALS given by the sender.
    pub creds: Option<Ucred>,
}

/// What a receive returned besides bytes.
#[derive(Default)]
pub struct RecvExtra {
    /// Source address (may be empty).
    pub from: Vec<u8>,
    /// `MSG_*` result flags.
    pub flags: u32,
    /// SCM_RIGHTS files received.
    pub rights: Vec<Arc<OpenFile>>,
    /// Sender credentials (AF_UNIX with SO_PASSCRED).
    pub creds: Option<Ucred>,
}

/// The socket operations both kinds offer.
pub trait Socket {
    /// Domain (AF_*).
    fn domain(&self) -> u32;
    /// Type (SOCK_*).
    fn sock_type(&self) -> u32;
    /// `bind`.
    fn bind(&self, addr: &[u8]) -> KResult<()>;
    /// `listen`.
    fn listen(&self, backlog: i32) -> KResult<()>;
    /// `accept`: the new socket and the peer address.
    fn accept(&self, nonblock: bool) -> KResult<(InodeRef, Vec<u8>)>;
    /// `connect`.
    fn connect(&self, addr: &[u8], nonblock: bool) -> KResult<()>;
    /// `send*`.
    fn send(&self, data: &[u8], x: SendExtra<'_>, nonblock: bool) -> KResult<usize>;
    /// `recv*` into `buf`.
    fn recv(&self, buf: &mut [u8], flags: u32, nonblock: bool) -> KResult<(usize, RecvExtra)>;
    /// `shutdown`.
    fn shutdown(&self, how: u32) -> KResult<()>;
    /// Local or peer address.
    fn name(&self, peer: bool) -> KResult<Vec<u8>>;
    /// `getsockopt` (at most `len` bytes).
    fn getopt(&self, level: u32, name: u32, len: usize) -> KResult<Vec<u8>>;
    /// `setsockopt`.
    fn setopt(&self, level: u32, name: u32, val: &[u8]) -> KResult<()>;
}

/// The socket behind an inode, or `ENOTSOCK`.
pub fn as_socket(i: &InodeRef) -> KResult<&dyn Socket> {
    if let Some(s) = i.as_any().downcast_ref::<host::HostSocket>() {
        return Ok(s);
    }
    if let Some(s) = i.as_any().downcast_ref::<unix::UnixSocket>() {
        return Ok(s);
    }
    kerr!(ENOTSOCK)
}

/// Reads an `int` option value.
pub fn opt_int(val: &[u8]) -> KResult<i32> {
    if val.len() < 4 {
        kerr!(EINVAL);
    }
    Ok(i32::from_le_bytes([val[0], val[1], val[2], val[3]]))
}

/// Encodes a `struct timeval` from nanoseconds (0 = none).
pub fn timeval_bytes(ns: Option<u64>) -> [u8; 16] {
    let ns = ns.unwrap_or(0);
    let mut b = [0u8; 16];
    b[0..8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
    b[8..16].copy_from_slice(&((ns % 1_000_000_000) / 1000).to_le_bytes());
    b
}

/// Decodes a `struct timeval` into nanoseconds (None = no timeout).
pub fn timeval_ns(val: &[u8]) -> KResult<Option<u64>> {
    if val.len() < 16 {
        kerr!(EINVAL);
    }
    let s = i64::from_le_bytes(val[0..8].try_into().expect("8"));
    let us = i64::from_le_bytes(val[8..16].try_into().expect("8"));
    if !(0..1_000_000).contains(&us) {
        kerr!(EDOM);
    }
    if s < 0 || (s == 0 && us == 0) {
        return Ok(None);
    }
    Ok(Some((s as u64).saturating_mul(1_000_000_000).saturating_add(us as u64 * 1000)))
}

/// Monotonic time in nanoseconds.
pub fn mono_now() -> u128 {
    crate::tcall().clock_gettime(myst_abi::consts::CLOCK_MONOTONIC).unwrap_or_default().as_nanos()
}

/// Shared tables (in the kernel heap, reached from every application process).
#[derive(Default)]
pub struct NetState {
    /// Bound AF_UNIX names: abstract names start with NUL, paths are canonical absolute.
    pub names: Mutex<BTreeMap<Vec<u8>, Weak<unix::Inner>>>,
}

static NET: Once<&'static NetState> = Once::new();

/// Creates the shared tables. Call at boot, before any fork, so that every process sees
/// the same tables (the static holding their address is private to each host process).
pub fn init() {
    NET.call_once(|| alloc::boxed::Box::leak(alloc::boxed::Box::new(NetState::default())));
}

/// The shared tables.
pub fn state() -> &'static NetState {
    init();
    NET.get().copied().expect("net state")
}

/// After process `p` closed a descriptor of `f`: if `f` is a host socket that other
/// processes still hold and `p` has no other descriptor for it, closes `p`'s host copy of
/// the handle (so that the connection ends when the last process closes it, as on Linux).
pub fn on_close(p: &crate::process::Process, f: &Arc<OpenFile>) {
    let Some(h) = f.inode.as_any().downcast_ref::<host::HostSocket>() else { return };
    if Arc::strong_count(f) <= 1 {
        return;
    }
    let me = Arc::as_ptr(&f.inode) as *const u8;
    let holds = |q: &crate::process::Process| q.fds.lock().iter().any(|(_, e)| Arc::as_ptr(&e.file.inode) as *const u8 == me);
    if holds(p) {
        return;
    }
    // A vfork child shares its parent's host process, and with it the host handle.
    if p.vfork_hosted.load(core::sync::atomic::Ordering::SeqCst) {
        let parent = crate::kernel().procs.lock().get(&p.ppid()).cloned();
        if parent.is_some_and(|q| holds(&q)) {
            return;
        }
    }
    h.release_here();
}
