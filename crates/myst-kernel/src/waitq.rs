//! Wait queues: a thread blocks on its own `wake` word, so one wake-up source (data, a
//! signal, a timeout) never gets lost behind another.

use crate::error::KResult;
use crate::kerr;
use crate::process::Thread;
use crate::sync::Mutex;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

/// Threads waiting for something.
#[derive(Default)]
pub struct WaitQueue {
    waiters: Mutex<Vec<Arc<Thread>>>,
}

impl WaitQueue {
    /// Wakes every waiter (they re-check their condition).
    pub fn notify(&self) {
        let ws: Vec<Arc<Thread>> = self.waiters.lock().clone();
        for t in ws {
            wake(&t);
        }
    }

    /// Adds `t` (idempotent).
    pub fn register(&self, t: &Arc<Thread>) {
        let mut w = self.waiters.lock();
        if !w.iter().any(|x| Arc::ptr_eq(x, t)) {
            w.push(t.clone());
        }
    }

    /// Removes `t`.
    pub fn unregister(&self, t: &Arc<Thread>) {
        self.waiters.lock().retain(|x| !Arc::ptr_eq(x, t));
    }

    /// Blocks the calling thread until `f` gives a value. `EINTR` if a signal becomes
    /// deliverable first, `ETIMEDOUT` at `deadline` (CLOCK_MONOTONIC ns).
    pub fn wait_until<T>(&self, deadline: Option<u128>, mut f: impl FnMut() -> KResult<Option<T>>) -> KResult<T> {
        let Some(t) = crate::current_thread() else {
            // Not on an application thread (boot): nothing can block.
            return match f()? {
                Some(v) => Ok(v),
                None => kerr!(EAGAIN),
            };
        };
        let tc = crate::tcall();
        let r = loop {
            let gen = t.wake.load(Ordering::SeqCst);
            self.register(&t);
            match f() {
                Ok(Some(v)) => break Ok(v),
                Err(e) => break Err(e),
                Ok(None) => {}
            }
            if crate::signal::has_deliverable(&t) {
                break Err(myst_abi::Errno::EINTR.into());
            }
            let timeout = match deadline {
                None => None,
                Some(d) => {
                    let now = tc.clock_gettime(myst_abi::consts::CLOCK_MONOTONIC).unwrap_or_default().as_nanos();
                    if now >= d {
                        break Err(myst_abi::Errno::ETIMEDOUT.into());
                    }
                    Some((d - now).min(u64::MAX as u128) as u64)
                }
            };
            let _ = tc.futex_wait(&t.wake, gen, timeout);
        };
        self.unregister(&t);
        r
    }
}

/// Wakes one thread's kernel wait.
pub fn wake(t: &Thread) {
    t.wake.fetch_add(1, Ordering::SeqCst);
    let _ = crate::tcall().futex_wake(&t.wake, u32::MAX);
}
