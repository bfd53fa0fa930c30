//! Timers and kernel-event descriptors: alarm, setitimer/getitimer, timer_*, timerfd_*,
//! eventfd, signalfd; the sched_* family and priorities.

use super::Ctx;
use crate::error::KResult;
use crate::fdtable::FdEntry;
use crate::kerr;
use crate::timer::{Action, Key, SI_TIMER};
use crate::vfs::eventfd::{EventFd, SignalFd, TimerFd};
use crate::vfs::OpenFile;
use alloc::sync::Arc;
use myst_abi::consts::*;
use myst_abi::structs::Timespec;

fn now_mono() -> u128 {
    crate::tcall().clock_gettime(CLOCK_MONOTONIC).unwrap_or_default().as_nanos()
}

fn tv_ns(b: &[u8]) -> KResult<u128> {
    let s = i64::from_le_bytes(b[0..8].try_into().expect("8"));
    let us = i64::from_le_bytes(b[8..16].try_into().expect("8"));
    if s < 0 || !(0..1_000_000).contains(&us) {
        kerr!(EINVAL);
    }
    Ok(s as u128 * 1_000_000_000 + us as u128 * 1000)
}

fn ns_tv(ns: u128) -> [u8; 16] {
    let mut b = [0u8; 16];
    // Round up so a running timer never reads as disarmed.
    let us = ns.div_ceil(1000);
    b[0..8].copy_from_slice(&((us / 1_000_000) as i64).to_le_bytes());
    b[8..16].copy_from_slice(&((us % 1_000_000) as i64).to_le_bytes());
    b
}

/// What ITIMER_REAL (and alarm) does on expiry. (The CPU-time itimers are the host's.)
fn alarm_action(c: &Ctx<'_>) -> Action {
    Action::Signal { pid: c.proc.pid, tid: None, signo: SIGALRM, code: crate::signal::SI_KERNEL, timerid: 0, value: 0 }
}

pub fn alarm(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let secs = a[0] as u32 as u128;
    let dl = if secs == 0 { 0 } else { now_mono() + secs * 1_000_000_000 };
    let (old, _) = c.k.timers.set(Key::Itimer(c.proc.pid, 0), dl, 0, alarm_action(c));
    Ok(old.div_ceil(1_000_000_000) as u64)
}

pub fn setitimer(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let which = a[0] as u32;
    if which > 2 {
        kerr!(EINVAL);
    }
    let (interval, value) = if a[1] != 0 {
        let b = c.user().read_arr::<32>(a[1])?;
        (tv_ns(&b[0..16])?, tv_ns(&b[16..32])?)
    } else {
        (0, 0)
    };
    let (old, oint) = if which == 0 {
        let dl = if value == 0 { 0 } else { now_mono() + value };
        c.k.timers.set(Key::Itimer(c.proc.pid, 0), dl, interval, alarm_action(c))
    } else {
        // CPU-time timers: the host's own, on this process's host process.
        let (o, i) = crate::tcall().cpu_itimer(which, Some((value as u64, interval as u64)))?;
        (o as u128, i as u128)
    };
    if a[2] != 0 {
        let mut b = [0u8; 32];
        b[0..16].copy_from_slice(&ns_tv(oint));
        b[16..32].copy_from_slice(&ns_tv(old));
        c.user().write(a[2], &b)?;
    }
    Ok(0)
}

pub fn getitimer(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let which = a[0] as u32;
    if which > 2 {
        kerr!(EINVAL);
    }
    let (rem, int) = if which == 0 {
        c.k.timers.get(Key::Itimer(c.proc.pid, which))
    } else {
        let (r, i) = crate::tcall().cpu_itimer(which, None)?;
        (r as u128, i as u128)
    };
    let mut b = [0u8; 32];
    b[0..16].copy_from_slice(&ns_tv(int));
    b[16..32].copy_from_slice(&ns_tv(rem));
    c.user().write(a[1], &b)?;
    Ok(0)
}

fn read_itimerspec(c: &Ctx<'_>, p: u64) -> KResult<(Timespec, Timespec)> {
    let b = c.user().read_arr::<32>(p)?;
    let i = Timespec::from_bytes(b[0..16].try_into().expect("16"));
    let v = Timespec::from_bytes(b[16..32].try_into().expect("16"));
    if !i.is_valid() || !v.is_valid() {
        kerr!(EINVAL);
    }
    Ok((i, v))
}

fn write_itimerspec(c: &Ctx<'_>, p: u64, rem: u128, int: u128) -> KResult<()> {
    if p == 0 {
        return Ok(());
    }
    let mut b = [0u8; 32];
    b[0..16].copy_from_slice(&Timespec::from_nanos(int).to_bytes());
    b[16..32].copy_from_slice(&Timespec::from_nanos(rem).to_bytes());
    c.user().write(p, &b)
}

/// Converts an it_value to a monotonic deadline (0 = disarm).
fn deadline(clock: u32, v: Timespec, abs: bool) -> KResult<u128> {
    if v.sec == 0 && v.nsec == 0 {
        return Ok(0);
    }
    if !abs {
        return Ok(now_mono() + v.as_nanos());
    }
    let cnow = crate::tcall().clock_gettime(clock)?.as_nanos();
    Ok(now_mono() + v.as_nanos().saturating_sub(cnow).max(1))
}

pub fn timer_create(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let clock = a[0] as u32;
    // A CPU-time clock (also a pid- or tid-encoded one, from clock_getcpuclockid or
    // pthread_getcpuclockid) is counted by the target on the host's own clock.
    let cpu_clock = if (clock as i32) < 0 || matches!(clock, CLOCK_PROCESS_CPUTIME_ID | CLOCK_THREAD_CPUTIME_ID) {
        Some(super::time::host_clock(c, a[0])?)
    } else if matches!(clock, CLOCK_REALTIME | CLOCK_MONOTONIC | CLOCK_BOOTTIME | CLOCK_TAI) {
        None
    } else {
        kerr!(EINVAL);
    };
    let id = crate::timer::next_posix_id(c.proc);
    let action = if a[1] == 0 {
        Action::Signal { pid: c.proc.pid, tid: None, signo: SIGALRM, code: SI_TIMER, timerid: id, value: id as u64 }
    } else {
        let b = c.user().read_arr::<64>(a[1])?;
        let value = u64::from_le_bytes(b[0..8].try_into().expect("8"));
        let signo = u32::from_le_bytes(b[8..12].try_into().expect("4"));
        let notify = u32::from_le_bytes(b[12..16].try_into().expect("4"));
        let tid = u32::from_le_bytes(b[16..20].try_into().expect("4"));
        match notify {
            1 => Action::None,
            0 | 4 => {
                if signo == 0 || signo > NSIG {
                    kerr!(EINVAL);
                }
                let tid = if notify == 4 {
                    match c.k.thread(tid) {
                        Some(t) if t.process.pid == c.proc.pid => Some(tid),
                        _ => kerr!(EINVAL),
                    }
                } else {
                    None
                };
                Action::Signal { pid: c.proc.pid, tid, signo, code: SI_TIMER, timerid: id, value }
            }
            _ => kerr!(EINVAL),
        }
    };
    // (the id is written first: a bad pointer then leaves nothing behind)
    c.user().write_u32(a[2], id)?;
    let cpu = match cpu_clock {
        Some(host) => {
            let h = crate::tcall().cpu_timer_create(host, crate::timer::cpu_cookie(c.proc.pid, id))?;
            c.k.timers.add_cpu(Key::Posix(c.proc.pid, id), action.clone());
            Some(h)
        }
        None => None,
    };
    c.proc.posix_timers.lock().push(crate::timer::PosixTimer { id, action, clock, cpu });
    Ok(0)
}

fn posix_timer(c: &Ctx<'_>, id: u32) -> KResult<(Action, u32, Option<u64>)> {
    match c.proc.posix_timers.lock().iter().find(|t| t.id == id) {
        Some(t) => Ok((t.action.clone(), t.clock, t.cpu)),
        None => kerr!(EINVAL),
    }
}

pub fn timer_settime(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let id = a[0] as u32;
    let (action, clock, cpu) = posix_timer(c, id)?;
    let (int, val) = read_itimerspec(c, a[2])?;
    let abs = a[1] as u32 & TIMER_ABSTIME != 0;
    let (old, oint) = match cpu {
        Some(h) => {
            let v = val.as_nanos().min(u64::MAX as u128) as u64;
            let i = int.as_nanos().min(u64::MAX as u128) as u64;
            let (o, oi) = crate::tcall().cpu_timer_set(h, v, i, abs)?;
            (o as u128, oi as u128)
        }
        None => {
            let dl = deadline(clock, val, abs)?;
            c.k.timers.set(Key::Posix(c.proc.pid, id), dl, int.as_nanos(), action)
        }
    };
    write_itimerspec(c, a[3], old, oint)?;
    Ok(0)
}

pub fn timer_gettime(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let id = a[0] as u32;
    let (rem, int) = match posix_timer(c, id)?.2 {
        Some(h) => {
            let (r, i) = crate::tcall().cpu_timer_get(h)?;
            (r as u128, i as u128)
        }
        None => c.k.timers.get(Key::Posix(c.proc.pid, id)),
    };
    write_itimerspec(c, a[1], rem, int)?;
    Ok(0)
}

pub fn timer_getoverrun(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let id = a[0] as u32;
    posix_timer(c, id)?;
    Ok(c.k.timers.overrun(Key::Posix(c.proc.pid, id)) as u64)
}

pub fn timer_delete(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let id = a[0] as u32;
    match posix_timer(c, id)?.2 {
        Some(h) => {
            crate::tcall().cpu_timer_delete(h)?;
            c.k.timers.remove(Key::Posix(c.proc.pid, id));
        }
        None => {
            c.k.timers.set(Key::Posix(c.proc.pid, id), 0, 0, Action::None);
        }
    }
    c.proc.posix_timers.lock().retain(|t| t.id != id);
    Ok(0)
}

fn install(c: &Ctx<'_>, inode: crate::vfs::InodeRef, name: &str, flags: u32) -> KResult<u64> {
    let f = OpenFile::new(inode, name, O_RDWR | (flags & O_NONBLOCK));
    Ok(c.proc.fds.lock().alloc(FdEntry { file: f, cloexec: flags & O_CLOEXEC != 0 }, 0)? as u64)
}

pub fn timerfd_create(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let clock = a[0] as u32;
    let flags = a[1] as u32;
    if !matches!(clock, CLOCK_REALTIME | CLOCK_MONOTONIC | CLOCK_BOOTTIME | CLOCK_REALTIME_ALARM | CLOCK_BOOTTIME_ALARM) {
        kerr!(EINVAL);
    }
    if flags & !(O_CLOEXEC | O_NONBLOCK) != 0 {
        kerr!(EINVAL);
    }
    install(c, TimerFd::new(clock), "anon_inode:[timerfd]", flags)
}

fn timerfd_of(c: &Ctx<'_>, fd: u64) -> KResult<Arc<OpenFile>> {
    let f = c.file(fd)?;
    if f.inode.as_any().downcast_ref::<TimerFd>().is_none() {
        kerr!(EINVAL);
    }
    Ok(f)
}

pub fn timerfd_settime(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = timerfd_of(c, a[0])?;
    let tfd = f.inode.as_any().downcast_ref::<TimerFd>().expect("checked");
    if a[1] as u32 & !3 != 0 {
        kerr!(EINVAL);
    }
    let (int, val) = read_itimerspec(c, a[2])?;
    let dl = deadline(tfd.clock, val, a[1] as u32 & 1 != 0)?;
    *tfd.expirations.lock() = 0;
    let (old, oint) = c.k.timers.set(Key::Fd(tfd.id), dl, int.as_nanos(), Action::Fd(tfd.weak()));
    write_itimerspec(c, a[3], old, oint)?;
    Ok(0)
}

pub fn timerfd_gettime(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let f = timerfd_of(c, a[0])?;
    let tfd = f.inode.as_any().downcast_ref::<TimerFd>().expect("checked");
    let (rem, int) = c.k.timers.get(Key::Fd(tfd.id));
    write_itimerspec(c, a[1], rem, int)?;
    Ok(0)
}

pub fn eventfd2(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let flags = a[1] as u32;
    if flags & !(O_CLOEXEC | O_NONBLOCK | 1) != 0 {
        kerr!(EINVAL);
    }
    install(c, EventFd::new(a[0] as u32 as u64, flags & 1 != 0), "anon_inode:[eventfd]", flags)
}

pub fn eventfd(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    eventfd2(c, [a[0], 0, 0, 0, 0, 0])
}

pub fn signalfd4(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    if a[2] != 8 {
        kerr!(EINVAL);
    }
    let flags = a[3] as u32;
    if flags & !(O_CLOEXEC | O_NONBLOCK) != 0 {
        kerr!(EINVAL);
    }
    let mask = c.user().read_u64(a[1])? & !crate::signal::UNBLOCKABLE;
    if a[0] as i32 != -1 {
        let f = c.file(a[0])?;
        let Some(s) = f.inode.as_any().downcast_ref::<SignalFd>() else { kerr!(EINVAL) };
        *s.mask.lock() = mask;
        return Ok(a[0]);
    }
    install(c, SignalFd::new(c.proc.clone(), mask), "anon_inode:[signalfd]", flags)
}

pub fn signalfd(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    signalfd4(c, [a[0], a[1], a[2], 0, 0, 0])
}

pub fn sched_getparam(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    super::proc::sched_thread(c, a[0], false, myst_abi::Errno::EINVAL)?;
    c.user().write_u32(a[1], 0)?;
    Ok(0)
}

pub fn sched_setparam(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    super::proc::sched_thread(c, a[0], true, myst_abi::Errno::EINVAL)?;
    let p = u32::from_le_bytes(c.user().read_arr::<4>(a[1])?);
    if p != 0 {
        kerr!(EINVAL);
    }
    Ok(0)
}

pub fn sched_getscheduler(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    super::proc::sched_thread(c, a[0], false, myst_abi::Errno::EINVAL)?;
    Ok(0)
}

pub fn sched_setscheduler(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    super::proc::sched_thread(c, a[0], true, myst_abi::Errno::EINVAL)?;
    let policy = a[1] as u32 & !0x4000_0000;
    let p = u32::from_le_bytes(c.user().read_arr::<4>(a[2])?);
    match policy {
        0 | 3 | 5 if p == 0 => Ok(0),
        1 | 2 if (1..=99).contains(&p) => kerr!(EPERM, "real-time scheduling is not available in myst"),
        _ => kerr!(EINVAL),
    }
}

pub fn sched_get_priority_max(_c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    match a[0] {
        1 | 2 => Ok(99),
        0 | 3 | 5 | 6 => Ok(0),
        _ => kerr!(EINVAL),
    }
}

pub fn sched_get_priority_min(_c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    match a[0] {
        1 | 2 => Ok(1),
        0 | 3 | 5 | 6 => Ok(0),
        _ => kerr!(EINVAL),
    }
}

pub fn sched_rr_get_interval(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    c.user().write(a[1], &Timespec { sec: 0, nsec: 100_000_000 }.to_bytes())?;
    Ok(0)
}

const PRIO_PROCESS: u64 = 0;
const PRIO_PGRP: u64 = 1;
const PRIO_USER: u64 = 2;

/// The threads getpriority/setpriority(`which`, `who`) name: PRIO_PROCESS a thread (0 = the
/// caller; a tid, which for a process's main thread is its pid), PRIO_PGRP every thread of
/// a process group (0 = the caller's), PRIO_USER every thread of a user's processes
/// (0 = the caller's uid). None found: ESRCH.
fn prio_targets(c: &Ctx<'_>, which: u64, who: u64) -> KResult<alloc::vec::Vec<Arc<crate::process::Thread>>> {
    let who = who as u32;
    let mut out = alloc::vec::Vec::new();
    match which {
        PRIO_PROCESS => {
            if who == 0 {
                out.push(c.thread.clone());
            } else if let Some(t) = c.k.thread(who) {
                out.push(t);
            }
        }
        PRIO_PGRP | PRIO_USER => {
            let procs = if which == PRIO_PGRP {
                c.k.group_members(if who == 0 { c.proc.pgid.load(core::sync::atomic::Ordering::Relaxed) } else { who })
            } else {
                let uid = if who == 0 { c.proc.creds.uid } else { who };
                c.k.procs.lock().values().filter(|p| p.creds.uid == uid && p.zombie.lock().is_none()).cloned().collect()
            };
            for p in procs {
                let tids = p.threads.lock().clone();
                out.extend(tids.into_iter().filter_map(|t| c.k.thread(t)));
            }
        }
        _ => kerr!(EINVAL),
    }
    if out.is_empty() {
        kerr!(ESRCH);
    }
    Ok(out)
}

pub fn getpriority(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let ts = prio_targets(c, a[0], a[1])?;
    // The highest priority (lowest nice) of them, as 20 - nice (libc turns it back).
    let nice = ts.iter().map(|t| t.nice.load(core::sync::atomic::Ordering::Relaxed)).min().unwrap_or(0);
    Ok((20 - nice) as u64)
}

pub fn setpriority(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let ts = prio_targets(c, a[0], a[1])?;
    let n = (a[2] as i32).clamp(-20, 19);
    for t in &ts {
        if c.proc.creds.uid != 0 && t.process.creds.uid != c.proc.creds.uid {
            kerr!(EPERM);
        }
        // Raising a priority (a lower nice) needs privilege, as RLIMIT_NICE is 0.
        if n < t.nice.load(core::sync::atomic::Ordering::Relaxed) && c.proc.creds.uid != 0 {
            kerr!(EACCES);
        }
    }
    for t in &ts {
        t.nice.store(n, core::sync::atomic::Ordering::Relaxed);
        // The host thread runs at that nice too, where the host allows it (an unprivileged
        // myst cannot raise a priority on the host; the application still sees its value).
        let host_tid = t.host.lock().1;
        if host_tid > 0 {
            let _ = crate::tcall().set_nice(host_tid, n);
        }
    }
    Ok(0)
}

pub fn membarrier(_c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    // The application's threads are host threads of this host process: the host's own
    // membarrier does exactly what is asked. Only the non-RSEQ commands are offered.
    const OFFERED: u64 = 1 | 2 | 4 | 8 | 16;
    match a[0] {
        0 => Ok(crate::tcall().membarrier(0)? & OFFERED),
        cmd if cmd & OFFERED == cmd && cmd.count_ones() == 1 => {
            if a[1] != 0 {
                kerr!(EINVAL);
            }
            Ok(crate::tcall().membarrier(cmd as u32)?)
        }
        _ => kerr!(EINVAL),
    }
}
