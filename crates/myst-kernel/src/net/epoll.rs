//! epoll instances: a set of (fd, open file) items watched for readiness, level- or
//! edge-triggered, optionally one-shot. An instance is an inode, so it can be polled and
//! put into another instance.
//!
//! Items hold their open file weakly: closing the last descriptor of a file removes it
//! from every instance, as on Linux. Edge-triggered items report a readiness bit when it
//! appears after the last time the instance looked (a level change), so a reader that
//! drains to EAGAIN, as edge-triggered users must, sees every new arrival. Threads waiting
//! in an instance are kicked when another thread changes it.
//!
//! An edge-triggered item also reports again, while ready, after the object saw activity
//! since the instance last looked (a wake-up of a kernel object's wait queue, counted by a
//! stand-in waiter the item keeps there; an operation on a host socket), so data that
//! arrives after a reader drained the object is never missed.

use super::ready::{readiness, Sources};
use crate::error::KResult;
use crate::kerr;
use crate::process::Thread;
use crate::sync::Mutex;
use crate::vfs::{Inode, InodeRef, OpenFile};
use crate::waitq::WaitQueue;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicU64, Ordering};
use myst_abi::consts::*;
use myst_abi::structs::Stat;

static NEXT_INO: AtomicU64 = AtomicU64::new(1);

/// `EPOLL_CTL_*`.
pub const EPOLL_CTL_ADD: u32 = 1;
/// Remove.
pub const EPOLL_CTL_DEL: u32 = 2;
/// Modify.
pub const EPOLL_CTL_MOD: u32 = 3;
/// Edge-triggered.
pub const EPOLLET: u32 = 1 << 31;
/// One-shot.
pub const EPOLLONESHOT: u32 = 1 << 30;
/// Wake-up source (accepted, no effect).
pub const EPOLLWAKEUP: u32 = 1 << 29;
/// Exclusive wake-up (accepted; every waiter is woken).
pub const EPOLLEXCLUSIVE: u32 = 1 << 28;
const FLAGS: u32 = EPOLLET | EPOLLONESHOT | EPOLLWAKEUP | EPOLLEXCLUSIVE;

struct Item {
    fd: i32,
    file: Weak<OpenFile>,
    events: u32,
    data: u64,
    last: u32,
    disabled: bool,
    /// Counts the object's wake-ups: a stand-in waiter kept in its wait queue.
    probe: Option<Arc<Thread>>,
    /// Activity count when last looked at (edge-triggered items).
    gen: u32,
}

impl Item {
    /// How often the object changed (wake-ups of a kernel object, operations on a host
    /// socket); an edge-triggered item reports again when it moved.
    fn activity(&self, inode: &InodeRef) -> u32 {
        if let Some(h) = inode.as_any().downcast_ref::<super::host::HostSocket>() {
            return h.activity();
        }
        self.probe.as_ref().map_or(0, |t| t.wake.load(Ordering::SeqCst))
    }
}

impl Drop for Item {
    fn drop(&mut self) {
        if let (Some(t), Some(f)) = (&self.probe, self.file.upgrade()) {
            if let Some(q) = f.inode.wait_queue() {
                q.unregister(t);
            }
        }
    }
}

/// An epoll instance.
pub struct Epoll {
    items: Mutex<Vec<Item>>,
    waiters: Mutex<Vec<Arc<Thread>>>,
    wq: WaitQueue,
    ino: u64,
}

impl Default for Epoll {
    fn default() -> Self {
        Self {
            items: Mutex::new(Vec::new()),
            waiters: Mutex::new(Vec::new()),
            wq: WaitQueue::default(),
            ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
        }
    }
}

/// Whether `target` is, or (through nested instances) watches, `e`; or nests too deeply.
fn reaches(target: &InodeRef, e: *const Epoll, depth: u32) -> bool {
    let Some(t) = target.as_any().downcast_ref::<Epoll>() else { return false };
    if core::ptr::eq(t, e) || depth > 4 {
        return true;
    }
    let inner: Vec<InodeRef> = t.items.lock().iter().filter_map(|i| i.file.upgrade().map(|f| f.inode.clone())).collect();
    inner.iter().any(|i| reaches(i, e, depth + 1))
}

impl Epoll {
    /// A new instance.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn changed(&self) {
        self.wq.notify();
        let ws: Vec<Arc<Thread>> = self.waiters.lock().clone();
        for t in ws {
            crate::signal::kick(&t);
        }
    }

    /// `epoll_ctl`.
    pub fn ctl(&self, op: u32, fd: i32, file: &Arc<OpenFile>, events: u32, data: u64) -> KResult<()> {
        let ino = &file.inode;
        if reaches(ino, self, 0) {
            if ino.as_any().downcast_ref::<Epoll>().is_some_and(|e| core::ptr::eq(e, self)) {
                kerr!(EINVAL);
            }
            kerr!(ELOOP);
        }
        let mode = ino.stat()?.mode & S_IFMT;
        if mode == S_IFREG || mode == S_IFDIR {
            kerr!(EPERM);
        }
        let mut items = self.items.lock();
        items.retain(|i| i.file.strong_count() > 0);
        let pos = items.iter().position(|i| i.fd == fd && core::ptr::eq(i.file.as_ptr(), Arc::as_ptr(file)));
        match op {
            EPOLL_CTL_ADD => {
                if pos.is_some() {
                    kerr!(EEXIST);
                }
                let probe = match (ino.wait_queue(), crate::current_thread()) {
                    (Some(q), Some(t)) => {
                        let p = Thread::new(0, t.process.clone());
                        q.register(&p);
                        Some(p)
                    }
                    _ => None,
                };
                items.push(Item { fd, file: Arc::downgrade(file), events, data, last: 0, disabled: false, probe, gen: 0 });
            }
            EPOLL_CTL_MOD => {
                let Some(p) = pos else { kerr!(ENOENT) };
                if events & EPOLLEXCLUSIVE != 0 || items[p].events & EPOLLEXCLUSIVE != 0 {
                    kerr!(EINVAL);
                }
                let it = &mut items[p];
                it.events = events;
                it.data = data;
                it.last = 0;
                it.disabled = false;
            }
            EPOLL_CTL_DEL => {
                let Some(p) = pos else { kerr!(ENOENT) };
                items.remove(p);
            }
            _ => kerr!(EINVAL),
        }
        drop(items);
        self.changed();
        Ok(())
    }

    /// What a waiter on this instance watches.
    pub fn sources(&self, s: &mut Sources, depth: u32) {
        let items = self.items.lock();
        for it in items.iter() {
            if it.disabled {
                continue;
            }
            let Some(f) = it.file.upgrade() else { continue };
            let mut want = it.events & !FLAGS;
            if it.events & EPOLLET != 0 {
                // Bits already reported stay quiet until they drop.
                if it.last & (POLLERR | POLLHUP) != 0 {
                    continue;
                }
                want &= !it.last;
            }
            s.add(&f.inode, want, depth);
        }
    }

    /// Ready items as (events, data), at most `max`; `consume` applies edge-triggered and
    /// one-shot bookkeeping (false for a poll of the instance itself).
    pub fn scan(&self, max: usize, consume: bool) -> Vec<(u32, u64)> {
        let mut items = self.items.lock();
        items.retain(|i| i.file.strong_count() > 0);
        let inodes: Vec<Option<InodeRef>> =
            items.iter().map(|i| if i.disabled { None } else { i.file.upgrade().map(|f| f.inode.clone()) }).collect();
        let live: Vec<usize> = (0..items.len()).filter(|&k| inodes[k].is_some()).collect();
        let subset: Vec<Option<InodeRef>> = live.iter().map(|&k| inodes[k].clone()).collect();
        let ready = readiness(&subset);
        let mut out = Vec::new();
        for (j, &k) in live.iter().enumerate() {
            let it = &mut items[k];
            let rev = ready[j] & ((it.events & !FLAGS) | POLLERR | POLLHUP);
            let gen = inodes[k].as_ref().map_or(0, |i| it.activity(i));
            let report = if it.events & EPOLLET != 0 { rev & !it.last != 0 || (rev != 0 && gen != it.gen) } else { rev != 0 };
            if consume {
                it.last = rev;
                it.gen = gen;
            }
            if report && out.len() < max {
                out.push((rev, it.data));
                if consume && it.events & EPOLLONESHOT != 0 {
                    it.disabled = true;
                }
            } else if report && consume {
                // Not returned this time: report it again next time.
                it.last &= !rev;
                it.gen = gen.wrapping_sub(1);
            }
        }
        out
    }

    /// `epoll_wait`: blocks until something is ready, the deadline passes or a signal.
    pub fn wait(&self, max: usize, deadline: Option<u128>) -> KResult<Vec<(u32, u64)>> {
        let me = crate::current_thread();
        if let Some(t) = &me {
            self.waiters.lock().push(t.clone());
        }
        let r = super::ready::wait(
            || {
                let mut s = Sources::default();
                self.sources(&mut s, 0);
                s
            },
            deadline,
            || {
                let v = self.scan(max, true);
                Ok(if v.is_empty() { None } else { Some(v) })
            },
        );
        if let Some(t) = &me {
            let mut w = self.waiters.lock();
            if let Some(p) = w.iter().position(|x| Arc::ptr_eq(x, t)) {
                w.remove(p);
            }
        }
        Ok(r?.unwrap_or_default())
    }
}

impl Inode for Epoll {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(Stat { dev: 0xd, ino: 0x2000_0000 + self.ino, nlink: 1, mode: 0o600, blksize: 4096, ..Default::default() })
    }
    fn poll(&self) -> u32 {
        if self.scan(1, false).is_empty() {
            0
        } else {
            POLLIN
        }
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.wq)
    }
}
