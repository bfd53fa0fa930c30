//! Readiness of sets of inodes, and the waiting loop behind poll, select and epoll.
//!
//! Kernel objects (pipes, AF_UNIX sockets, eventfd, timerfd, signalfd, epoll) wake a waiter
//! through their wait queues and the waiter's futex word. Host sockets can only be watched
//! by the host, with [`myst_tcall::Tcall::host_poll`], which a signal for the thread
//! interrupts without a race (the target lets its interrupt signal in only inside the
//! wait). A set holding only host sockets waits on the host for the whole timeout; a set
//! holding only kernel objects waits on the futex word; a mixed set waits on the host in
//! slices of 1 ms growing to 32 ms and re-checks the kernel objects between slices (a kernel
//! event is then seen within one slice).

use super::host::HostSocket;
use crate::error::KResult;
use crate::vfs::InodeRef;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use myst_abi::consts::*;
use myst_tcall::HostPollFd;

/// Every readiness bit a query asks the host about.
const ALL: u32 = POLLIN | POLLPRI | POLLOUT | super::POLLRDHUP;

/// Keeps only bits a host may answer for a request of `asked`.
pub fn sane(revents: u16, asked: u32) -> u32 {
    revents as u32 & (asked | POLLERR | POLLHUP | POLLNVAL)
}

/// Current readiness (`POLL*` bits, unmasked) of each inode; `None` gives `POLLNVAL`.
/// Host sockets are asked in one host poll.
pub fn readiness(set: &[Option<InodeRef>]) -> Vec<u32> {
    let mut out = alloc::vec![0u32; set.len()];
    let mut hosts: Vec<HostPollFd> = Vec::new();
    let mut idx: Vec<usize> = Vec::new();
    for (i, ino) in set.iter().enumerate() {
        match ino {
            None => out[i] = POLLNVAL,
            Some(n) => match n.as_any().downcast_ref::<HostSocket>() {
                Some(h) => match h.poll_fd(ALL) {
                    Some(p) => {
                        hosts.push(p);
                        idx.push(i);
                    }
                    None => out[i] = POLLNVAL,
                },
                None => out[i] = n.poll(),
            },
        }
    }
    if !hosts.is_empty() {
        match crate::tcall().host_poll(&mut hosts, Some(0)) {
            Ok(_) => {
                for (k, p) in hosts.iter().enumerate() {
                    out[idx[k]] = sane(p.revents, ALL);
                }
            }
            Err(_) => {
                for &i in &idx {
                    out[i] = POLLERR;
                }
            }
        }
    }
    out
}

/// What a waiter watches.
#[derive(Default)]
pub struct Sources {
    /// Kernel objects with wait queues.
    pub queues: Vec<InodeRef>,
    /// Host sockets and the events wanted from each.
    pub hosts: Vec<HostPollFd>,
}

impl Sources {
    /// Adds `i` watched for `want` (`POLL*` bits); epoll instances add what they watch.
    pub fn add(&mut self, i: &InodeRef, want: u32, depth: u32) {
        if let Some(h) = i.as_any().downcast_ref::<HostSocket>() {
            if let Some(p) = h.poll_fd(want | POLLPRI | super::POLLRDHUP) {
                self.hosts.push(p);
            }
            return;
        }
        if let Some(e) = i.as_any().downcast_ref::<super::epoll::Epoll>() {
            if depth < 6 {
                e.sources(self, depth + 1);
            }
        }
        if i.wait_queue().is_some() {
            self.queues.push(i.clone());
        }
    }
}

/// Calls `check` until it gives a value, the deadline (CLOCK_MONOTONIC ns) passes
/// (`Ok(None)`), or a signal becomes deliverable (`EINTR`). `sources` says what to watch;
/// it is asked again after each check, as what a waiter watches may change (epoll).
pub fn wait<T>(
    mut sources: impl FnMut() -> Sources,
    deadline: Option<u128>,
    mut check: impl FnMut() -> KResult<Option<T>>,
) -> KResult<Option<T>> {
    let Some(t) = crate::current_thread() else {
        return check();
    };
    let tc = crate::tcall();
    let mut slice: u64 = 1_000_000;
    let mut registered: Vec<InodeRef> = Vec::new();
    let register = |src: &Sources, registered: &mut Vec<InodeRef>| {
        for q in &src.queues {
            if registered.iter().any(|r| core::ptr::addr_eq(Arc::as_ptr(r), Arc::as_ptr(q))) {
                continue;
            }
            if let Some(w) = q.wait_queue() {
                w.register(&t);
            }
            registered.push(q.clone());
        }
    };
    let mut src = sources();
    let result = loop {
        let gen = t.wake.load(Ordering::SeqCst);
        register(&src, &mut registered);
        match check() {
            Ok(Some(v)) => break Ok(Some(v)),
            Err(e) => break Err(e),
            Ok(None) => {}
        }
        if crate::signal::has_deliverable(&t) {
            break Err(myst_abi::Errno::EINTR.into());
        }
        let left = match deadline {
            None => None,
            Some(d) => {
                let now = super::mono_now();
                if now >= d {
                    break Ok(None);
                }
                Some((d - now).min(u64::MAX as u128) as u64)
            }
        };
        src = sources();
        register(&src, &mut registered);
        let mut hosts = core::mem::take(&mut src.hosts);
        if hosts.is_empty() {
            let _ = tc.futex_wait(&t.wake, gen, left);
        } else {
            let tmo = if src.queues.is_empty() {
                left
            } else {
                let s = slice;
                slice = (slice * 2).min(32_000_000);
                Some(left.map_or(s, |l| l.min(s)))
            };
            match tc.host_poll(&mut hosts, tmo) {
                Ok(_) | Err(myst_abi::Errno::EINTR) => {}
                // A host that fails to poll: do not spin.
                Err(_) => {
                    let _ = tc.futex_wait(&t.wake, gen, Some(left.unwrap_or(10_000_000).min(10_000_000)));
                }
            }
        }
    };
    for q in &registered {
        if let Some(w) = q.wait_queue() {
            w.unregister(&t);
        }
    }
    result
}
