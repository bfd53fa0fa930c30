//! eventfd, timerfd and signalfd: file descriptors whose readiness comes from the kernel.

use super::Inode;
use crate::error::KResult;
use crate::kerr;
use crate::process::Process;
use crate::sync::Mutex;
use crate::waitq::WaitQueue;
use alloc::sync::{Arc, Weak};
use core::any::Any;
use core::sync::atomic::{AtomicU64, Ordering};
use myst_abi::consts::*;
use myst_abi::structs::Stat;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn anon_stat(ino: u64) -> Stat {
    Stat { dev: 0xd, ino, nlink: 1, mode: 0o600, blksize: 4096, ..Default::default() }
}

/// An eventfd counter.
pub struct EventFd {
    count: Mutex<u64>,
    semaphore: bool,
    wq: WaitQueue,
    id: u64,
}

impl EventFd {
    /// A new eventfd.
    pub fn new(init: u64, semaphore: bool) -> Arc<Self> {
        Arc::new(Self { count: Mutex::new(init), semaphore, wq: WaitQueue::default(), id: NEXT_ID.fetch_add(1, Ordering::Relaxed) })
    }
}

impl Inode for EventFd {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(anon_stat(self.id))
    }
    fn is_stream(&self) -> bool {
        true
    }
    fn read_at(&self, _o: u64, buf: &mut [u8]) -> KResult<usize> {
        self.read_stream(buf, false)
    }
    fn write_at(&self, _o: u64, buf: &[u8]) -> KResult<usize> {
        self.write_stream(buf, false)
    }
    fn read_stream(&self, buf: &mut [u8], nonblock: bool) -> KResult<usize> {
        if buf.len() < 8 {
            kerr!(EINVAL);
        }
        let v = self.wq.wait_until(None, || {
            let mut c = self.count.lock();
            if *c > 0 {
                let v = if self.semaphore { 1 } else { *c };
                *c -= v;
                return Ok(Some(v));
            }
            if nonblock {
                kerr!(EAGAIN);
            }
            Ok(None)
        })?;
        buf[..8].copy_from_slice(&v.to_le_bytes());
        self.wq.notify();
        Ok(8)
    }
    fn write_stream(&self, buf: &[u8], nonblock: bool) -> KResult<usize> {
        if buf.len() < 8 {
            kerr!(EINVAL);
        }
        let add = u64::from_le_bytes(buf[..8].try_into().expect("8"));
        if add == u64::MAX {
            kerr!(EINVAL);
        }
        self.wq.wait_until(None, || {
            let mut c = self.count.lock();
            if u64::MAX - 1 - *c >= add {
                *c += add;
                return Ok(Some(()));
            }
            if nonblock {
                kerr!(EAGAIN);
            }
            Ok(None)
        })?;
        self.wq.notify();
        Ok(8)
    }
    fn poll(&self) -> u32 {
        let c = *self.count.lock();
        let mut ev = 0;
        if c > 0 {
            ev |= POLLIN;
        }
        if c < u64::MAX - 1 {
            ev |= POLLOUT;
        }
        ev
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.wq)
    }
    fn pending(&self) -> KResult<usize> {
        Ok(8)
    }
}

/// A timerfd.
pub struct TimerFd {
    /// Expirations not yet read.
    pub expirations: Mutex<u64>,
    /// Clock id.
    pub clock: u32,
    wq: WaitQueue,
    /// Unique id (timer key).
    pub id: u64,
    me: Weak<TimerFd>,
}

impl TimerFd {
    /// A new, disarmed timerfd.
    pub fn new(clock: u32) -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            expirations: Mutex::new(0),
            clock,
            wq: WaitQueue::default(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            me: me.clone(),
        })
    }

    /// A weak reference for the timer thread.
    pub fn weak(&self) -> Weak<TimerFd> {
        self.me.clone()
    }

    /// Called by the timer thread.
    pub fn expire(&self, n: u64) {
        *self.expirations.lock() += n;
        self.wq.notify();
    }
}

impl Drop for TimerFd {
    fn drop(&mut self) {
        if let Some(k) = crate::KERNEL_REF.get() {
            k.timers.set(crate::timer::Key::Fd(self.id), 0, 0, crate::timer::Action::None);
        }
    }
}

impl Inode for TimerFd {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(anon_stat(self.id))
    }
    fn is_stream(&self) -> bool {
        true
    }
    fn read_at(&self, _o: u64, buf: &mut [u8]) -> KResult<usize> {
        self.read_stream(buf, false)
    }
    fn read_stream(&self, buf: &mut [u8], nonblock: bool) -> KResult<usize> {
        if buf.len() < 8 {
            kerr!(EINVAL);
        }
        let v = self.wq.wait_until(None, || {
            let mut e = self.expirations.lock();
            if *e > 0 {
                return Ok(Some(core::mem::take(&mut *e)));
            }
            if nonblock {
                kerr!(EAGAIN);
            }
            Ok(None)
        })?;
        buf[..8].copy_from_slice(&v.to_le_bytes());
        Ok(8)
    }
    fn write_stream(&self, _buf: &[u8], _nb: bool) -> KResult<usize> {
        kerr!(EINVAL)
    }
    fn poll(&self) -> u32 {
        if *self.expirations.lock() > 0 {
            POLLIN
        } else {
            0
        }
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.wq)
    }
}

/// A signalfd: reads the calling thread's (and its process's) pending signals in `mask`.
pub struct SignalFd {
    /// Signals it accepts.
    pub mask: Mutex<u64>,
    process: Arc<Process>,
    id: u64,
}

impl SignalFd {
    /// A new signalfd for `process`.
    pub fn new(process: Arc<Process>, mask: u64) -> Arc<Self> {
        Arc::new(Self { mask: Mutex::new(mask), process, id: NEXT_ID.fetch_add(1, Ordering::Relaxed) })
    }
}

impl Inode for SignalFd {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(anon_stat(self.id))
    }
    fn is_stream(&self) -> bool {
        true
    }
    fn read_at(&self, _o: u64, buf: &mut [u8]) -> KResult<usize> {
        self.read_stream(buf, false)
    }
    fn read_stream(&self, buf: &mut [u8], nonblock: bool) -> KResult<usize> {
        if buf.len() < 128 {
            kerr!(EINVAL);
        }
        let mask = *self.mask.lock();
        let t = crate::current_thread();
        let n = self.process.sigwq.wait_until(None, || {
            let mut n = 0;
            while n + 128 <= buf.len() {
                let s = t.as_ref().and_then(|t| t.pending.lock().take_in(mask)).or_else(|| self.process.pending.lock().take_in(mask));
                let Some(s) = s else { break };
                let mut r = [0u8; 128];
                r[0..4].copy_from_slice(&s.signo.to_le_bytes());
                r[4..8].copy_from_slice(&s.errno.to_le_bytes());
                r[8..12].copy_from_slice(&s.code.to_le_bytes());
                r[12..16].copy_from_slice(&s.pid.to_le_bytes());
                r[16..20].copy_from_slice(&s.uid.to_le_bytes());
                r[40..44].copy_from_slice(&s.status.to_le_bytes());
                r[44..48].copy_from_slice(&(s.addr as u32).to_le_bytes());
                r[48..56].copy_from_slice(&s.addr.to_le_bytes());
                r[72..80].copy_from_slice(&s.addr.to_le_bytes());
                buf[n..n + 128].copy_from_slice(&r);
                n += 128;
            }
            if n > 0 {
                return Ok(Some(n));
            }
            if nonblock {
                kerr!(EAGAIN);
            }
            Ok(None)
        })?;
        Ok(n)
    }
    fn write_stream(&self, _buf: &[u8], _nb: bool) -> KResult<usize> {
        kerr!(EINVAL)
    }
    fn poll(&self) -> u32 {
        let mask = *self.mask.lock();
        let t = crate::current_thread();
        let th = t.map(|t| t.pending.lock().set()).unwrap_or(0);
        if (th | self.process.pending.lock().set()) & mask != 0 {
            POLLIN
        } else {
            0
        }
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.process.sigwq)
    }
}
