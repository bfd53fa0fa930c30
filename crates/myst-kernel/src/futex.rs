//! Futexes over application memory, with the kernel's own wait queues (so the design works
//! on every target): a waiter blocks on its own word through the `futex_wait` TCALL.

use crate::error::KResult;
use crate::kerr;
use crate::process::Thread;
use crate::sync::Mutex;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};
use myst_abi::structs::Timespec;

/// One waiting thread.
pub struct Waiter {
    /// Set to 1 by a waker.
    pub woken: AtomicU32,
    /// FUTEX_WAIT_BITSET mask.
    pub bitset: u32,
    /// The waiting thread.
    pub thread: Arc<Thread>,
}

impl Waiter {
    fn wake(&self) {
        self.woken.store(1, Ordering::SeqCst);
        self.thread.wake.fetch_add(1, Ordering::SeqCst);
        let _ = crate::tcall().futex_wake(&self.thread.wake, u32::MAX);
    }
}

/// Blocks `t` until waiter `w` is woken, a signal is deliverable, or the deadline (ns on
/// CLOCK_REALTIME if the flag is set, else CLOCK_MONOTONIC) passes. Wakers and signal
/// senders both bump and wake `t.wake`, so no wake-up is lost.
fn block(t: &Thread, w: &Waiter, deadline: Option<(u128, bool)>) -> WaitEnd {
    let tc = crate::tcall();
    loop {
        let gen = t.wake.load(Ordering::SeqCst);
        if w.woken.load(Ordering::SeqCst) != 0 {
            return WaitEnd::Woken;
        }
        if crate::signal::has_deliverable(t) {
            return WaitEnd::Interrupted;
        }
        let timeout = match deadline {
            None => None,
            Some((d, realtime)) => {
                let clock = if realtime { myst_abi::consts::CLOCK_REALTIME } else { myst_abi::consts::CLOCK_MONOTONIC };
                let now = tc.clock_gettime(clock).unwrap_or_default().as_nanos();
                if now >= d {
                    return WaitEnd::TimedOut;
                }
                Some((d - now).min(u64::MAX as u128) as u64)
            }
        };
        let _ = tc.futex_wait(&t.wake, gen, timeout);
    }
}

/// Wait queues keyed by application address.
#[derive(Default)]
pub struct FutexTable {
    queues: Mutex<BTreeMap<u64, Vec<Arc<Waiter>>>>,
}

/// Why a wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitEnd {
    /// Woken by FUTEX_WAKE (or requeue target wake).
    Woken,
    /// Deadline passed.
    TimedOut,
    /// A signal is pending.
    Interrupted,
}

/// How a FUTEX_WAIT_REQUEUE_PI wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequeuePiEnd {
    /// The caller owns the PI lock.
    Owner,
    /// The deadline passed.
    TimedOut,
    /// A signal came while the caller still waited on the first futex.
    InterruptedBeforeRequeue,
    /// A signal came after the caller was moved to wait for the lock.
    InterruptedAfterRequeue,
}

impl FutexTable {
    /// FUTEX_WAIT: blocks while `*addr == val` until woken, the deadline (monotonic ns or
    /// realtime ns, per `realtime`) or a signal.
    pub fn wait(&self, t: &Arc<Thread>, addr: u64, val: u32, bitset: u32, deadline: Option<(u128, bool)>) -> KResult<WaitEnd> {
        self.wait_moved(t, addr, val, bitset, deadline).map(|(end, _)| end)
    }

    /// [`FutexTable::wait`], also saying whether a wait that was not woken had been requeued
    /// to another futex.
    fn wait_moved(&self, t: &Arc<Thread>, addr: u64, val: u32, bitset: u32, deadline: Option<(u128, bool)>) -> KResult<(WaitEnd, bool)> {
        if bitset == 0 {
            kerr!(EINVAL);
        }
        if !addr.is_multiple_of(4) {
            kerr!(EINVAL);
        }
        let user = crate::uaccess::User { mm: &t.process.mm };
        let w = Arc::new(Waiter { woken: AtomicU32::new(0), bitset, thread: t.clone() });
        {
            let mut q = self.queues.lock();
            let cur = u32::from_le_bytes(user.read_arr::<4>(addr)?);
            if cur != val {
                kerr!(EAGAIN);
            }
            q.entry(addr).or_default().push(w.clone());
        }
        let end = block(t, &w, deadline);
        let mut moved = false;
        if end != WaitEnd::Woken {
            let mut q = self.queues.lock();
            if w.woken.load(Ordering::SeqCst) != 0 {
                return Ok((WaitEnd::Woken, false));
            }
            let mut empty = false;
            for (key, v) in q.iter_mut() {
                let before = v.len();
                v.retain(|x| !Arc::ptr_eq(x, &w));
                moved |= *key != addr && v.len() != before;
            }
            if let Some(v) = q.get(&addr) {
                empty = v.is_empty();
            }
            if empty {
                q.remove(&addr);
            }
        }
        Ok((end, moved))
    }

    /// FUTEX_WAKE: wakes up to `n` waiters whose bitset intersects `bitset`.
    pub fn wake(&self, addr: u64, n: u32, bitset: u32) -> u32 {
        let mut q = self.queues.lock();
        let woken = Self::wake_locked(&mut q, addr, n, bitset);
        drop(q);
        woken
    }

    fn wake_locked(q: &mut BTreeMap<u64, Vec<Arc<Waiter>>>, addr: u64, n: u32, bitset: u32) -> u32 {
        let Some(v) = q.get_mut(&addr) else { return 0 };
        let mut count = 0;
        v.retain(|w| {
            if count < n && w.bitset & bitset != 0 {
                count += 1;
                w.wake();
                false
            } else {
                true
            }
        });
        if v.is_empty() {
            q.remove(&addr);
        }
        count
    }

    /// FUTEX_REQUEUE / FUTEX_CMP_REQUEUE: wakes `n_wake` on `addr`, moves up to `n_move` of
    /// the rest to `addr2`. With `cmp`, first checks `*addr == val`.
    pub fn requeue(&self, t: &Thread, addr: u64, n_wake: u32, n_move: u32, addr2: u64, cmp: Option<u32>) -> KResult<u32> {
        let mut q = self.queues.lock();
        if let Some(val) = cmp {
            let user = crate::uaccess::User { mm: &t.process.mm };
            if u32::from_le_bytes(user.read_arr::<4>(addr)?) != val {
                kerr!(EAGAIN);
            }
        }
        let woken = Self::wake_locked(&mut q, addr, n_wake, u32::MAX);
        let mut moved = 0;
        if addr != addr2 {
            if let Some(mut v) = q.remove(&addr) {
                let k = (n_move as usize).min(v.len());
                let rest = v.split_off(k);
                moved = v.len() as u32;
                q.entry(addr2).or_default().extend(v);
                if !rest.is_empty() {
                    q.insert(addr, rest);
                }
            }
        }
        Ok(woken + if cmp.is_some() { moved } else { 0 })
    }

    /// FUTEX_WAKE_OP.
    pub fn wake_op(&self, t: &Thread, addr: u64, n1: u32, n2: u32, addr2: u64, op: u32) -> KResult<u32> {
        let mut q = self.queues.lock();
        let tc = crate::tcall();
        let user = crate::uaccess::User { mm: &t.process.mm };
        if !t.process.mm.lock().check_access(addr2, 4, myst_abi::consts::PROT_WRITE) {
            kerr!(EFAULT);
        }
        let opcode = (op >> 28) & 7;
        let shift = op & (8 << 28) != 0;
        let cmp = (op >> 24) & 15;
        let mut oparg = (op >> 12) & 0xfff;
        let cmparg = op & 0xfff;
        if shift {
            oparg = 1u32.checked_shl(oparg).unwrap_or(0);
        }
        let old = loop {
            let cur = u32::from_le_bytes(user.read_arr::<4>(addr2)?);
            let new = match opcode {
                0 => oparg,
                1 => cur.wrapping_add(oparg),
                2 => cur | oparg,
                3 => cur & !oparg,
                4 => cur ^ oparg,
                _ => kerr!(ENOSYS),
            };
            if tc.user_cmpxchg32(addr2, cur, new)? == cur {
                break cur;
            }
        };
        let mut n = Self::wake_locked(&mut q, addr, n1, u32::MAX);
        let (o, a) = (old as i32, cmparg as i32);
        let hit = match cmp {
            0 => o == a,
            1 => o != a,
            2 => o < a,
            3 => o <= a,
            4 => o > a,
            5 => o >= a,
            _ => kerr!(ENOSYS),
        };
        if hit {
            n += Self::wake_locked(&mut q, addr2, n2, u32::MAX);
        }
        Ok(n)
    }
}

/// Converts a user timeout to an absolute deadline in ns.
pub fn deadline(rel: Option<Timespec>, abs: Option<(Timespec, bool)>) -> Option<(u128, bool)> {
    if let Some((t, realtime)) = abs {
        return Some((t.as_nanos(), realtime));
    }
    rel.map(|t| {
        let now = crate::tcall().clock_gettime(myst_abi::consts::CLOCK_MONOTONIC).unwrap_or_default().as_nanos();
        (now + t.as_nanos(), false)
    })
}

/// Runs on thread exit: the robust list and the clear-child-tid word.
pub fn thread_exit_cleanup(k: &crate::Kernel, t: &Thread) {
    let user = crate::uaccess::User { mm: &t.process.mm };
    // Robust list: struct robust_list_head { next, futex_offset, list_op_pending }.
    let (head, _) = *t.robust_list.lock();
    if head != 0 {
        if let (Ok(first), Ok(off)) = (user.read_u64(head), user.read_u64(head + 8)) {
            let pending = user.read_u64(head + 16).unwrap_or(0);
            let mut entry = first;
            let mut n = 0;
            let handle = |e: u64| {
                let word = e.wrapping_add(off);
                if let Ok(b) = user.read_arr::<4>(word) {
                    let v = u32::from_le_bytes(b);
                    if v & 0x3fff_ffff == t.tid {
                        let new = (v & 0x8000_0000) | 0x4000_0000; // keep WAITERS, set OWNER_DIED
                        let _ = crate::tcall().user_cmpxchg32(word, v, new);
                        k.futexes.wake(word, 1, u32::MAX);
                    }
                }
            };
            while entry != head && entry != 0 && n < 2048 {
                handle(entry);
                entry = user.read_u64(entry).unwrap_or(head);
                n += 1;
            }
            if pending != 0 {
                handle(pending);
            }
        }
    }
    let ctid = *t.clear_child_tid.lock();
    if ctid != 0 && user.write(ctid, &0u32.to_le_bytes()).is_ok() {
        k.futexes.wake(ctid, 1, u32::MAX);
    }
}

const FUTEX_WAITERS: u32 = 0x8000_0000;
const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
const FUTEX_TID_MASK: u32 = 0x3fff_ffff;

impl FutexTable {
    /// FUTEX_LOCK_PI / FUTEX_TRYLOCK_PI: takes the lock word for the calling thread, waiting
    /// (unless `try_only`) until its owner hands it over. (No priority boosting: myst has no
    /// thread priorities to inherit.)
    pub fn lock_pi(&self, t: &Arc<Thread>, addr: u64, try_only: bool, deadline: Option<(u128, bool)>) -> KResult<WaitEnd> {
        if !addr.is_multiple_of(4) {
            kerr!(EINVAL);
        }
        let user = crate::uaccess::User { mm: &t.process.mm };
        if !t.process.mm.lock().check_access(addr, 4, myst_abi::consts::PROT_WRITE) {
            kerr!(EFAULT);
        }
        let tc = crate::tcall();
        loop {
            let w = {
                let mut q = self.queues.lock();
                let v = u32::from_le_bytes(user.read_arr::<4>(addr)?);
                let owner = v & FUTEX_TID_MASK;
                if owner == 0 {
                    let new = t.tid | (v & FUTEX_OWNER_DIED) | if q.get(&addr).is_some_and(|x| !x.is_empty()) { FUTEX_WAITERS } else { 0 };
                    if tc.user_cmpxchg32(addr, v, new)? == v {
                        return Ok(WaitEnd::Woken);
                    }
                    continue;
                }
                if owner == t.tid {
                    kerr!(EDEADLK);
                }
                if try_only {
                    kerr!(EAGAIN);
                }
                // An owner that no longer exists: the lock is recoverable.
                if crate::kernel().thread(owner).is_none() {
                    let new = t.tid | FUTEX_OWNER_DIED | (v & FUTEX_WAITERS);
                    if tc.user_cmpxchg32(addr, v, new)? == v {
                        return Ok(WaitEnd::Woken);
                    }
                    continue;
                }
                if v & FUTEX_WAITERS == 0 && tc.user_cmpxchg32(addr, v, v | FUTEX_WAITERS)? != v {
                    continue;
                }
                let w = Arc::new(Waiter { woken: AtomicU32::new(0), bitset: u32::MAX, thread: t.clone() });
                q.entry(addr).or_default().push(w.clone());
                w
            };
            let end = block(t, &w, deadline);
            let mut q = self.queues.lock();
            if w.woken.load(Ordering::SeqCst) != 0 {
                // Handed over by unlock_pi: the word already names us.
                return Ok(WaitEnd::Woken);
            }
            if let Some(v) = q.get_mut(&addr) {
                v.retain(|x| !Arc::ptr_eq(x, &w));
                if v.is_empty() {
                    q.remove(&addr);
                }
            }
            if end != WaitEnd::Woken {
                return Ok(end);
            }
        }
    }

    /// FUTEX_WAIT_REQUEUE_PI: waits on the plain futex `addr` (while `*addr == val`) to be
    /// requeued to the PI lock `addr2`; returns owning `addr2`. Woken by CMP_REQUEUE_PI (the
    /// lock already taken for us), by UNLOCK_PI after a requeue (handed over), or by a plain
    /// wake (then the lock is taken here, waiting for it like LOCK_PI).
    pub fn wait_requeue_pi(
        &self,
        t: &Arc<Thread>,
        addr: u64,
        val: u32,
        addr2: u64,
        deadline: Option<(u128, bool)>,
    ) -> KResult<RequeuePiEnd> {
        if addr == addr2 || !addr2.is_multiple_of(4) {
            kerr!(EINVAL);
        }
        if !t.process.mm.lock().check_access(addr2, 4, myst_abi::consts::PROT_WRITE) {
            kerr!(EFAULT);
        }
        let (end, moved) = self.wait_moved(t, addr, val, u32::MAX, deadline)?;
        match end {
            WaitEnd::Woken => {}
            WaitEnd::TimedOut => return Ok(RequeuePiEnd::TimedOut),
            WaitEnd::Interrupted if moved => return Ok(RequeuePiEnd::InterruptedAfterRequeue),
            WaitEnd::Interrupted => return Ok(RequeuePiEnd::InterruptedBeforeRequeue),
        }
        let user = crate::uaccess::User { mm: &t.process.mm };
        if u32::from_le_bytes(user.read_arr::<4>(addr2)?) & FUTEX_TID_MASK == t.tid {
            return Ok(RequeuePiEnd::Owner);
        }
        Ok(match self.lock_pi(t, addr2, false, deadline)? {
            WaitEnd::Woken => RequeuePiEnd::Owner,
            WaitEnd::TimedOut => RequeuePiEnd::TimedOut,
            WaitEnd::Interrupted => RequeuePiEnd::InterruptedAfterRequeue,
        })
    }

    /// FUTEX_CMP_REQUEUE_PI: if `*addr == val`, takes the PI lock `addr2` for the first waiter
    /// on `addr` and wakes it (or, if the lock is held, queues it on the lock), and moves up to
    /// `n_move` more waiters to wait for the lock. Returns how many were woken or moved.
    pub fn cmp_requeue_pi(&self, t: &Thread, addr: u64, n_wake: u32, n_move: u32, addr2: u64, val: u32) -> KResult<u32> {
        if n_wake != 1 || addr == addr2 || !addr2.is_multiple_of(4) {
            kerr!(EINVAL);
        }
        let user = crate::uaccess::User { mm: &t.process.mm };
        if !t.process.mm.lock().check_access(addr2, 4, myst_abi::consts::PROT_WRITE) {
            kerr!(EFAULT);
        }
        let tc = crate::tcall();
        let mut q = self.queues.lock();
        if u32::from_le_bytes(user.read_arr::<4>(addr)?) != val {
            kerr!(EAGAIN);
        }
        let Some(mut waiting) = q.remove(&addr) else { return Ok(0) };
        let top = waiting.remove(0);
        let n_move = (n_move as usize).min(waiting.len());
        let mut queued: Vec<Arc<Waiter>> = waiting.drain(..n_move).collect();
        if !waiting.is_empty() {
            q.insert(addr, waiting);
        }
        let count = 1 + queued.len() as u32;
        loop {
            let w2 = u32::from_le_bytes(user.read_arr::<4>(addr2)?);
            let owner = w2 & FUTEX_TID_MASK;
            let others = !queued.is_empty() || q.get(&addr2).is_some_and(|x| !x.is_empty());
            if owner == 0 {
                // Free: it becomes the top waiter's, which wakes owning it.
                let new = top.thread.tid | (w2 & FUTEX_OWNER_DIED) | if others { FUTEX_WAITERS } else { 0 };
                if tc.user_cmpxchg32(addr2, w2, new)? != w2 {
                    continue;
                }
                top.wake();
                break;
            }
            // Held: the top waiter queues for it too; the owner's unlock hands it over.
            if w2 & FUTEX_WAITERS == 0 && tc.user_cmpxchg32(addr2, w2, w2 | FUTEX_WAITERS)? != w2 {
                continue;
            }
            queued.insert(0, top);
            break;
        }
        // FUTEX_WAITERS is set on the word whenever anyone is queued (above, in either branch),
        // so the owner's unlock comes to the kernel, which hands the lock on.
        if !queued.is_empty() {
            q.entry(addr2).or_default().extend(queued);
        }
        Ok(count)
    }

    /// FUTEX_UNLOCK_PI: hands the lock to the first waiter, or frees it.
    pub fn unlock_pi(&self, t: &Thread, addr: u64) -> KResult<()> {
        let user = crate::uaccess::User { mm: &t.process.mm };
        let tc = crate::tcall();
        let mut q = self.queues.lock();
        loop {
            let v = u32::from_le_bytes(user.read_arr::<4>(addr)?);
            if v & FUTEX_TID_MASK != t.tid {
                kerr!(EPERM);
            }
            let next = q.get_mut(&addr).and_then(|ws| if ws.is_empty() { None } else { Some(ws.remove(0)) });
            match next {
                Some(w) => {
                    let more = q.get(&addr).is_some_and(|x| !x.is_empty());
                    let new = w.thread.tid | if more { FUTEX_WAITERS } else { 0 };
                    if tc.user_cmpxchg32(addr, v, new)? != v {
                        q.entry(addr).or_default().insert(0, w);
                        continue;
                    }
                    if !more {
                        q.remove(&addr);
                    }
                    w.wake();
                    return Ok(());
                }
                None => {
                    if tc.user_cmpxchg32(addr, v, 0)? == v {
                        return Ok(());
                    }
                }
            }
        }
    }
}
