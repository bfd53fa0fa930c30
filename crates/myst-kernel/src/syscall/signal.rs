//! Signal system calls.

use super::Ctx;
use crate::error::KResult;
use crate::kerr;
use crate::process::SigAction;
use crate::signal::{self, SigInfo, SI_TKILL, SI_USER, UNBLOCKABLE};
use myst_abi::consts::*;
use myst_abi::structs::{Enc, Timespec};

pub fn rt_sigaction(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let sig = a[0] as u32;
    if sig == 0 || sig > NSIG || a[3] != 8 {
        kerr!(EINVAL);
    }
    if a[1] != 0 && (sig == SIGKILL || sig == SIGSTOP) {
        kerr!(EINVAL);
    }
    let old = c.proc.sigactions.lock()[sig as usize];
    if a[1] != 0 {
        let raw = c.user().read_arr::<32>(a[1])?;
        let w = |i: usize| u64::from_le_bytes(raw[i * 8..i * 8 + 8].try_into().expect("8"));
        let act = SigAction { handler: w(0), flags: w(1), restorer: w(2), mask: w(3) & !UNBLOCKABLE };
        c.proc.sigactions.lock()[sig as usize] = act;
        if signal::is_ignored(&act, sig) {
            // Setting a signal to be ignored discards what is pending.
            c.proc.pending.lock().queue.retain(|s| s.signo != sig);
            c.thread.pending.lock().queue.retain(|s| s.signo != sig);
        }
    }
    if a[2] != 0 {
        let b = Enc::<32>::new().u64(old.handler).u64(old.flags).u64(old.restorer).u64(old.mask).finish();
        c.user().write(a[2], &b)?;
    }
    Ok(0)
}

pub fn rt_sigprocmask(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    if a[3] != 8 {
        kerr!(EINVAL);
    }
    let old = *c.thread.sigmask.lock();
    if a[1] != 0 {
        let set = c.user().read_u64(a[1])? & !UNBLOCKABLE;
        let new = match a[0] as u32 {
            SIG_BLOCK => old | set,
            SIG_UNBLOCK => old & !set,
            SIG_SETMASK => set,
            _ => kerr!(EINVAL),
        };
        *c.thread.sigmask.lock() = new;
    }
    if a[2] != 0 {
        c.user().write_u64(a[2], old)?;
    }
    Ok(0)
}

pub fn rt_sigreturn(c: &mut Ctx<'_>, _a: [u64; 6]) -> KResult<u64> {
    if signal::sigreturn(c.thread, c.regs).is_err() {
        signal::terminate(c.k, c.proc, SigInfo { signo: SIGSEGV, code: signal::SI_KERNEL, ..Default::default() });
    }
    Ok(c.regs.rax)
}

pub fn rt_sigpending(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    if a[1] > 8 {
        kerr!(EINVAL);
    }
    let set = (c.thread.pending.lock().set() | c.proc.pending.lock().set()) & *c.thread.sigmask.lock();
    c.user().write(a[0], &set.to_le_bytes()[..a[1] as usize])?;
    Ok(0)
}

/// Blocks until a signal is deliverable (or `deadline_ns` on CLOCK_MONOTONIC passes).
fn wait_signal(c: &Ctx<'_>, deadline_ns: Option<u128>) -> bool {
    let tc = crate::tcall();
    loop {
        let gen = c.thread.wake.load(core::sync::atomic::Ordering::SeqCst);
        if signal::has_deliverable(c.thread) {
            return true;
        }
        let timeout = match deadline_ns {
            None => None,
            Some(d) => {
                let now = tc.clock_gettime(CLOCK_MONOTONIC).unwrap_or_default().as_nanos();
                if now >= d {
                    return false;
                }
                Some((d - now).min(u64::MAX as u128) as u64)
            }
        };
        let _ = tc.futex_wait(&c.thread.wake, gen, timeout);
    }
}

pub fn pause(c: &mut Ctx<'_>, _a: [u64; 6]) -> KResult<u64> {
    wait_signal(c, None);
    kerr!(EINTR)
}

pub fn rt_sigsuspend(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    if a[1] != 8 {
        kerr!(EINVAL);
    }
    let set = c.user().read_u64(a[0])? & !UNBLOCKABLE;
    let old = core::mem::replace(&mut *c.thread.sigmask.lock(), set);
    c.thread.saved_mask.lock().get_or_insert(old);
    wait_signal(c, None);
    kerr!(EINTR)
}

pub fn rt_sigtimedwait(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    if a[3] != 8 {
        kerr!(EINVAL);
    }
    let set = c.user().read_u64(a[0])? & !UNBLOCKABLE;
    let deadline = if a[2] != 0 {
        let t = Timespec::from_bytes(&c.user().read_arr::<16>(a[2])?);
        if !t.is_valid() {
            kerr!(EINVAL);
        }
        let now = crate::tcall().clock_gettime(CLOCK_MONOTONIC)?.as_nanos();
        Some(now + t.as_nanos())
    } else {
        None
    };
    // Wait with the awaited signals unblocked, but take them here instead of delivering.
    let old = *c.thread.sigmask.lock();
    let tc = crate::tcall();
    loop {
        let gen = c.thread.wake.load(core::sync::atomic::Ordering::SeqCst);
        let got = c.thread.pending.lock().take_in(set).or_else(|| c.proc.pending.lock().take_in(set));
        if let Some(s) = got {
            if a[1] != 0 {
                c.user().write(a[1], &s.to_bytes())?;
            }
            return Ok(s.signo as u64);
        }
        if signal::has_deliverable(c.thread) {
            kerr!(EINTR);
        }
        let timeout = match deadline {
            None => None,
            Some(d) => {
                let now = tc.clock_gettime(CLOCK_MONOTONIC)?.as_nanos();
                if now >= d {
                    kerr!(EAGAIN);
                }
                Some((d - now) as u64)
            }
        };
        let _ = old;
        let _ = tc.futex_wait(&c.thread.wake, gen, timeout);
    }
}

fn check_sig(sig: u64) -> KResult<u32> {
    if sig > NSIG as u64 {
        kerr!(EINVAL);
    }
    Ok(sig as u32)
}

pub fn kill(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let pid = a[0] as i32;
    let sig = check_sig(a[1])?;
    let me = c.proc.pid;
    let my_pgid = c.proc.pgid.load(core::sync::atomic::Ordering::Relaxed);
    let targets: alloc::vec::Vec<_> = match pid {
        // Every process but the caller and the first one (Linux spares itself and init).
        -1 => {
            c.k.procs
                .lock()
                .values()
                .filter(|p| p.zombie.lock().is_none() && p.pid != me && p.pid != crate::process::FIRST_PID)
                .cloned()
                .collect()
        }
        0 => c.k.group_members(my_pgid),
        p if p > 0 => c.k.procs.lock().get(&(p as u32)).cloned().into_iter().collect(),
        p => c.k.group_members((-p) as u32),
    };
    if targets.is_empty() {
        if pid == -1 {
            return Ok(0);
        }
        kerr!(ESRCH);
    }
    if sig == 0 {
        return Ok(0);
    }
    for p in targets {
        signal::send_to_process(
            c.k,
            &p,
            SigInfo { signo: sig, code: SI_USER, pid: c.proc.pid, uid: c.proc.creds.uid, ..Default::default() },
        );
    }
    Ok(0)
}

fn to_thread(c: &Ctx<'_>, tgid: Option<u32>, tid: u64, s: SigInfo) -> KResult<u64> {
    if (tid as i32) <= 0 {
        kerr!(EINVAL);
    }
    let Some(t) = c.k.thread(tid as u32) else { kerr!(ESRCH) };
    if let Some(g) = tgid {
        if t.process.pid != g {
            kerr!(ESRCH);
        }
    }
    if s.signo != 0 {
        signal::send_to_thread(&t, s);
    }
    Ok(0)
}

pub fn tkill(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let sig = check_sig(a[1])?;
    to_thread(c, None, a[0], SigInfo { signo: sig, code: SI_TKILL, pid: c.proc.pid, uid: c.proc.creds.uid, ..Default::default() })
}

pub fn tgkill(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let sig = check_sig(a[2])?;
    if (a[0] as i32) <= 0 {
        kerr!(EINVAL);
    }
    to_thread(
        c,
        Some(a[0] as u32),
        a[1],
        SigInfo { signo: sig, code: SI_TKILL, pid: c.proc.pid, uid: c.proc.creds.uid, ..Default::default() },
    )
}

fn queued_info(c: &Ctx<'_>, sig: u32, ptr: u64) -> KResult<SigInfo> {
    let raw = c.user().read_arr::<128>(ptr)?;
    let code = i32::from_le_bytes(raw[8..12].try_into().expect("4"));
    if code >= 0 || code == SI_TKILL {
        // Applications may not forge kernel-generated codes.
        kerr!(EPERM);
    }
    Ok(SigInfo {
        signo: sig,
        code,
        pid: u32::from_le_bytes(raw[16..20].try_into().expect("4")),
        uid: u32::from_le_bytes(raw[20..24].try_into().expect("4")),
        addr: u64::from_le_bytes(raw[24..32].try_into().expect("8")),
        ..Default::default()
    })
}

pub fn rt_sigqueueinfo(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let sig = check_sig(a[1])?;
    let s = queued_info(c, sig, a[2])?;
    let Some(p) = c.k.procs.lock().get(&(a[0] as u32)).cloned() else { kerr!(ESRCH) };
    if sig != 0 {
        signal::send_to_process(c.k, &p, s);
    }
    Ok(0)
}

pub fn rt_tgsigqueueinfo(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let sig = check_sig(a[2])?;
    let s = queued_info(c, sig, a[3])?;
    to_thread(c, Some(a[0] as u32), a[1], s)
}

pub fn sigaltstack(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let old = *c.thread.altstack.lock();
    let on = old.2 > 0 && c.regs.rsp > old.0 && c.regs.rsp <= old.0 + old.2;
    if a[0] != 0 {
        if on {
            kerr!(EPERM);
        }
        let raw = c.user().read_arr::<24>(a[0])?;
        let sp = u64::from_le_bytes(raw[0..8].try_into().expect("8"));
        let flags = u32::from_le_bytes(raw[8..12].try_into().expect("4"));
        let size = u64::from_le_bytes(raw[16..24].try_into().expect("8"));
        if flags & !(2 | 0x8000_0000) != 0 {
            kerr!(EINVAL);
        }
        if flags & 2 != 0 {
            *c.thread.altstack.lock() = (0, 2, 0);
        } else {
            if size < 2048 {
                kerr!(ENOMEM);
            }
            *c.thread.altstack.lock() = (sp, flags, size);
        }
    }
    if a[1] != 0 {
        let flags = if on {
            1
        } else if old.2 == 0 {
            2
        } else {
            old.1
        };
        let b = Enc::<24>::new().u64(old.0).u32(flags).pad(4).u64(old.2).finish();
        c.user().write(a[1], &b)?;
    }
    Ok(0)
}
