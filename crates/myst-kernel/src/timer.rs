//! Timers: alarm, interval timers, POSIX timers and timerfds, served by one kernel timer
//! thread that sleeps until the earliest deadline.

use crate::process::Process;
use crate::signal::{self, SigInfo};
use crate::sync::Mutex;
use crate::vfs::eventfd::TimerFd;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};
use myst_abi::consts::*;

/// `si_code` of timer signals.
pub const SI_TIMER: i32 = -2;

/// What a timer does when it expires.
#[derive(Clone)]
pub enum Action {
    /// Queue a signal to a process (`tid` = a specific thread, for SIGEV_THREAD_ID).
    Signal {
        /// Process.
        pid: u32,
        /// Thread, if directed.
        tid: Option<u32>,
        /// Signal number.
        signo: u32,
        /// `si_code`.
        code: i32,
        /// POSIX timer id (0 for itimers).
        timerid: u32,
        /// sigev_value.
        value: u64,
    },
    /// Nothing (SIGEV_NONE): the timer only counts.
    None,
    /// Bump a timerfd.
    Fd(Weak<TimerFd>),
}

/// Which timer an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// ITIMER_REAL of a process (alarm is ITIMER_REAL; the CPU-time itimers are the host's).
    Itimer(u32, u32),
    /// A POSIX timer of a process.
    Posix(u32, u32),
    /// A timerfd, by its unique id.
    Fd(u64),
}

/// A POSIX timer of a process (`timer_create`).
pub struct PosixTimer {
    /// Timer id.
    pub id: u32,
    /// What it does on expiry.
    pub action: Action,
    /// Its clock.
    pub clock: u32,
    /// On a CPU-time clock: the target's timer ([`myst_tcall::Tcall::cpu_timer_create`]),
    /// which counts the CPU time and reports expiries through [`Timers::cpu_expired`].
    pub cpu: Option<u64>,
}

/// The cookie a CPU-time POSIX timer's expiry comes back with.
pub fn cpu_cookie(pid: u32, id: u32) -> u64 {
    ((pid as u64) << 32) | id as u64
}

/// One armed timer.
#[derive(Clone)]
pub struct Entry {
    /// Identity.
    pub key: Key,
    /// Next expiry, CLOCK_MONOTONIC ns.
    pub deadline: u128,
    /// Period, ns (0 = one-shot).
    pub interval: u128,
    /// What to do.
    pub action: Action,
    /// Expirations missed while the signal was already pending.
    pub overrun: u32,
    /// A CPU-time timer: the target counts it; the entry only keeps its action and overrun.
    pub cpu: bool,
}

/// All armed timers.
#[derive(Default)]
pub struct Timers {
    entries: Mutex<Vec<Entry>>,
    word: AtomicU32,
    started: AtomicU32,
}

fn now() -> u128 {
    crate::tcall().clock_gettime(CLOCK_MONOTONIC).unwrap_or_default().as_nanos()
}

impl Timers {
    /// Arms (or with `deadline == 0`, disarms) a timer; returns the old (remaining, interval).
    pub fn set(&self, key: Key, deadline: u128, interval: u128, action: Action) -> (u128, u128) {
        let old = {
            let mut e = self.entries.lock();
            let old = e.iter().position(|x| x.key == key).map(|i| e.remove(i));
            if deadline != 0 {
                e.push(Entry { key, deadline, interval, action, overrun: 0, cpu: false });
            }
            old
        };
        self.kick();
        let n = now();
        old.map(|o| (o.deadline.saturating_sub(n).max(1), o.interval)).unwrap_or((0, 0))
    }

    /// (remaining ns, interval ns) of a timer.
    pub fn get(&self, key: Key) -> (u128, u128) {
        let n = now();
        self.entries.lock().iter().find(|x| x.key == key).map(|o| (o.deadline.saturating_sub(n).max(1), o.interval)).unwrap_or((0, 0))
    }

    /// Registers the action of a CPU-time timer (armed and counted by the target).
    pub fn add_cpu(&self, key: Key, action: Action) {
        let mut e = self.entries.lock();
        e.retain(|x| x.key != key);
        e.push(Entry { key, deadline: 0, interval: 0, action, overrun: 0, cpu: true });
    }

    /// Removes a timer without waking the timer thread (a CPU-time timer).
    pub fn remove(&self, key: Key) {
        self.entries.lock().retain(|x| x.key != key);
    }

    /// A CPU-time timer expired `count` times (the target's report).
    pub fn cpu_expired(&self, cookie: u64, count: u64) {
        let key = Key::Posix((cookie >> 32) as u32, cookie as u32);
        let e = self.entries.lock().iter().find(|x| x.key == key && x.cpu).cloned();
        if let Some(e) = e {
            self.fire(&e, count.max(1));
        }
    }

    /// The overrun count of the last expiry.
    pub fn overrun(&self, key: Key) -> u32 {
        self.entries.lock().iter().find(|x| x.key == key).map(|o| o.overrun).unwrap_or(0)
    }

    /// Removes every timer of process `pid` (exit, exec for POSIX timers).
    pub fn remove_process(&self, pid: u32, posix_only: bool) {
        self.entries.lock().retain(|e| match e.key {
            Key::Itimer(p, _) => posix_only || p != pid,
            Key::Posix(p, _) => p != pid,
            Key::Fd(_) => true,
        });
        self.kick();
    }

    fn kick(&self) {
        self.word.fetch_add(1, Ordering::SeqCst);
        let _ = crate::tcall().futex_wake(&self.word, u32::MAX);
        self.ensure_thread();
    }

    /// Starts the timer thread. The kernel calls it at boot, in the first host process, so
    /// that the thread lives as long as the application: a thread started by a forked
    /// process would end with that process and stop every timer.
    pub fn ensure_thread(&self) {
        if self.started.swap(1, Ordering::SeqCst) == 0 {
            let r = crate::tcall().kthread_spawn(alloc::boxed::Box::new(|| crate::kernel().timers.run()));
            if r.is_err() {
                self.started.store(0, Ordering::SeqCst);
            }
        }
    }

    fn run(&self) -> ! {
        let tc = crate::tcall();
        loop {
            let gen = self.word.load(Ordering::SeqCst);
            let n = now();
            let mut fire = Vec::new();
            let next = {
                let mut es = self.entries.lock();
                let mut keep = Vec::with_capacity(es.len());
                for mut e in es.drain(..) {
                    if e.cpu {
                        keep.push(e);
                    } else if e.deadline <= n {
                        let mut count = 1u64;
                        if let Some(missed) = (n - e.deadline).checked_div(e.interval) {
                            count += missed as u64;
                            e.deadline += (missed + 1) * e.interval;
                            fire.push((e.clone(), count));
                            keep.push(e);
                        } else {
                            fire.push((e, count));
                        }
                    } else {
                        keep.push(e);
                    }
                }
                *es = keep;
                es.iter().filter(|e| !e.cpu).map(|e| e.deadline).min()
            };
            for (e, count) in fire {
                self.fire(&e, count);
            }
            let timeout = next.map(|d| (d.saturating_sub(now())).min(u64::MAX as u128) as u64);
            if timeout != Some(0) {
                let _ = tc.futex_wait(&self.word, gen, timeout);
            }
        }
    }

    fn fire(&self, e: &Entry, count: u64) {
        let k = crate::kernel();
        match &e.action {
            Action::None => {}
            Action::Fd(w) => {
                if let Some(fd) = w.upgrade() {
                    fd.expire(count);
                }
            }
            Action::Signal { pid, tid, signo, code, timerid, value } => {
                let Some(p) = k.procs.lock().get(pid).cloned() else { return };
                if p.zombie.lock().is_some() {
                    return;
                }
                let s = SigInfo {
                    signo: *signo,
                    code: *code,
                    pid: *timerid,
                    uid: (count - 1).min(i32::MAX as u64) as u32,
                    addr: *value,
                    ..Default::default()
                };
                // A timer signal still pending counts further expirations as overruns.
                if *code == SI_TIMER {
                    let add = count.min(i32::MAX as u64) as u32;
                    let bump = |q: &mut crate::signal::Pending| match q
                        .queue
                        .iter_mut()
                        .find(|x| x.code == SI_TIMER && x.signo == *signo && x.pid == *timerid)
                    {
                        Some(x) => {
                            x.uid = x.uid.saturating_add(add);
                            true
                        }
                        None => false,
                    };
                    let mut done = bump(&mut p.pending.lock());
                    if !done {
                        if let Some(t) = tid.and_then(|t| k.thread(t)) {
                            done = bump(&mut t.pending.lock());
                        }
                    }
                    if done {
                        if let Some(x) = self.entries.lock().iter_mut().find(|x| x.key == e.key) {
                            x.overrun = x.overrun.saturating_add(add);
                        }
                        return;
                    }
                }
                if let Some(t) = tid.and_then(|t| k.thread(t)) {
                    signal::send_to_thread(&t, s);
                } else {
                    signal::send_to_process(k, &p, s);
                }
                let mut es = self.entries.lock();
                if let Some(x) = es.iter_mut().find(|x| x.key == e.key) {
                    x.overrun = (count - 1).min(i32::MAX as u64) as u32;
                }
            }
        }
    }
}

/// Deletes every POSIX timer of a process (exec, exit), the target's CPU-time timers
/// included (so it runs in the process's own host process).
pub fn delete_posix_timers(p: &Process) {
    let timers = core::mem::take(&mut *p.posix_timers.lock());
    for t in timers {
        if let Some(h) = t.cpu {
            let _ = crate::tcall().cpu_timer_delete(h);
        }
    }
}

/// The next POSIX timer id of a process.
pub fn next_posix_id(p: &Process) -> u32 {
    p.next_timer.fetch_add(1, Ordering::Relaxed)
}

/// Keeps `Arc` in scope for callers creating timerfds.
pub type FdRef = Arc<TimerFd>;
