//! Clocks and sleeping: the system calls. (Through libc, the common clock reads go to the vDSO the target offers in `AT_SYSINFO_EHDR`, without entering the kernel.)

use super::Ctx;
use crate::error::KResult;
use crate::kerr;
use myst_abi::consts::*;
use myst_abi::structs::{Enc, Timespec};

fn clock_ok(id: u64) -> KResult<u32> {
    let id = id as u32;
    match id {
        CLOCK_REALTIME
        | CLOCK_MONOTONIC
        | CLOCK_PROCESS_CPUTIME_ID
        | CLOCK_THREAD_CPUTIME_ID
        | CLOCK_MONOTONIC_RAW
        | CLOCK_REALTIME_COARSE
        | CLOCK_MONOTONIC_COARSE
        | CLOCK_BOOTTIME
        | CLOCK_TAI => Ok(id),
        _ => kerr!(EINVAL),
    }
}

/// A clock id for the host: the fixed clocks as they are; a CPU-time clock of a process or
/// thread (the negative ids `clock_getcpuclockid`/`pthread_getcpuclockid` make: `~pid << 3`
/// plus PROF 0 / VIRT 1 / SCHED 2, plus 4 for a thread) is mapped to the same clock of the
/// host process or host thread that runs it.
pub(crate) fn host_clock(c: &Ctx<'_>, id: u64) -> KResult<u32> {
    let raw = id as u32 as i32;
    if raw >= 0 {
        return clock_ok(id);
    }
    let which = raw & 3;
    if which == 3 {
        kerr!(EINVAL);
    }
    let pid = !(raw >> 3) as u32;
    let host_id = if raw & 4 != 0 {
        // A thread of the caller's own process (Linux refuses others with EINVAL).
        let t = if pid == 0 { Some(c.thread.clone()) } else { c.k.thread(pid) };
        let Some(t) = t.filter(|t| alloc::sync::Arc::ptr_eq(&t.process, c.proc)) else { kerr!(EINVAL) };
        let host_tid = t.host.lock().1;
        (!host_tid << 3) | 4 | which
    } else {
        let host_pid = if pid == 0 || pid == c.proc.pid {
            c.proc.host_pid.load(core::sync::atomic::Ordering::Relaxed)
        } else {
            match c.k.procs.lock().get(&pid) {
                Some(p) => p.host_pid.load(core::sync::atomic::Ordering::Relaxed),
                None => kerr!(EINVAL),
            }
        };
        (!host_pid << 3) | which
    };
    Ok(host_id as u32)
}

pub fn clock_gettime(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let id = host_clock(c, a[0])?;
    let t = crate::tcall().clock_gettime(id)?;
    if !t.is_valid() {
        kerr!(EIO, "host returned an invalid time");
    }
    c.user().write(a[1], &t.to_bytes())?;
    Ok(0)
}

pub fn clock_getres(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let id = host_clock(c, a[0])?;
    if a[1] != 0 {
        let res = if id == CLOCK_REALTIME_COARSE || id == CLOCK_MONOTONIC_COARSE { 4_000_000 } else { 1 };
        c.user().write(a[1], &Timespec { sec: 0, nsec: res }.to_bytes())?;
    }
    Ok(0)
}

pub fn gettimeofday(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let t = crate::tcall().clock_gettime(CLOCK_REALTIME)?;
    if a[0] != 0 {
        c.user().write(a[0], &Enc::<16>::new().i64(t.sec).i64(t.nsec / 1000).finish())?;
    }
    if a[1] != 0 {
        c.user().write(a[1], &[0u8; 8])?;
    }
    Ok(0)
}

pub fn time(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let t = crate::tcall().clock_gettime(CLOCK_REALTIME)?;
    if a[0] != 0 {
        c.user().write_u64(a[0], t.sec as u64)?;
    }
    Ok(t.sec as u64)
}

fn read_ts(c: &Ctx<'_>, p: u64) -> KResult<Timespec> {
    let t = Timespec::from_bytes(&c.user().read_arr::<16>(p)?);
    if !t.is_valid() {
        kerr!(EINVAL);
    }
    Ok(t)
}

/// Sleeps until `deadline` (ns on `clock`, a host clock id); a deliverable signal ends it
/// with the time left. On a CPU-time clock it rechecks the clock in steps that the
/// process's CPU time cannot outrun (it runs on at most a few CPUs at once).
fn sleep_until(c: &Ctx<'_>, clock: u32, deadline: u128) -> Result<(), u128> {
    let tc = crate::tcall();
    let cpu_clock = clock == CLOCK_PROCESS_CPUTIME_ID || (clock as i32) < 0;
    loop {
        let gen = c.thread.wake.load(core::sync::atomic::Ordering::SeqCst);
        let now = tc.clock_gettime(clock).unwrap_or_default().as_nanos();
        if now >= deadline {
            return Ok(());
        }
        if crate::signal::has_deliverable(c.thread) {
            return Err(deadline - now);
        }
        let left = deadline - now;
        let wait = if cpu_clock { (left / 8).max(1_000_000) } else { left };
        let _ = tc.futex_wait(&c.thread.wake, gen, Some(wait.min(u64::MAX as u128) as u64));
    }
}

fn now(clock: u32) -> u128 {
    crate::tcall().clock_gettime(clock).unwrap_or_default().as_nanos()
}

/// A relative sleep until `deadline`: interrupted, it writes the time left to `rmtp` and
/// leaves a restart block, so that a signal with no handler (a stop and continue, an
/// ignored signal) resumes it for the time left, as Linux's `restart_syscall` does.
pub(crate) fn sleep_restartable(c: &Ctx<'_>, clock: u32, deadline: u128, rmtp: u64) -> KResult<u64> {
    if let Err(left) = sleep_until(c, clock, deadline) {
        if rmtp != 0 {
            c.user().write(rmtp, &Timespec::from_nanos(left).to_bytes())?;
        }
        *c.thread.restart.lock() = Some(crate::process::Restart::Sleep { clock, deadline, rmtp });
        kerr!(ERESTART_RESTARTBLOCK);
    }
    Ok(0)
}

pub fn nanosleep(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let t = read_ts(c, a[0])?;
    let d = now(CLOCK_MONOTONIC) + t.as_nanos();
    sleep_restartable(c, CLOCK_MONOTONIC, d, a[1])
}

pub fn clock_nanosleep(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    // Linux sleeps on any clock but a thread's CPU time (the caller would never wake).
    let raw = a[0] as u32 as i32;
    if a[0] as u32 == CLOCK_THREAD_CPUTIME_ID || (raw < 0 && raw & 4 != 0) {
        kerr!(EINVAL);
    }
    let clock = host_clock(c, a[0])?;
    let t = read_ts(c, a[2])?;
    if a[1] as u32 & TIMER_ABSTIME != 0 {
        // Absolute: restarted as it is when no handler runs (ERESTARTNOHAND).
        if sleep_until(c, clock, t.as_nanos()).is_err() {
            kerr!(ERESTARTNOHAND);
        }
        return Ok(0);
    }
    let d = now(clock) + t.as_nanos();
    sleep_restartable(c, clock, d, a[3])
}

/// restart_syscall: continues the call a signal interrupted (see [`crate::process::Restart`]).
pub fn restart_syscall(c: &mut Ctx<'_>, _a: [u64; 6]) -> KResult<u64> {
    let r = c.thread.restart.lock().take();
    match r {
        Some(crate::process::Restart::Sleep { clock, deadline, rmtp }) => sleep_restartable(c, clock, deadline, rmtp),
        Some(crate::process::Restart::Futex { addr, val, bitset, deadline, realtime }) => {
            super::thread::futex_wait_restartable(c, addr, val, bitset, (deadline, realtime))
        }
        None => kerr!(EINTR),
    }
}
