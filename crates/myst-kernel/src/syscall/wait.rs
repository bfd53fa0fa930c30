//! wait4, waitid, process groups and sessions.

use super::Ctx;
use crate::error::KResult;
use crate::kerr;
use crate::process::Process;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

const WNOHANG: u32 = 1;
const WUNTRACED: u32 = 2;
const WEXITED: u32 = 4;
const WCONTINUED: u32 = 8;
const WNOWAIT: u32 = 0x0100_0000;
const WALL: u32 = 0x4000_0000;
const WCLONE: u32 = 0x8000_0000;
const WNOTHREAD: u32 = 0x2000_0000;

/// Which children a wait call accepts.
#[derive(Clone, Copy)]
enum Sel {
    Any,
    Pid(u32),
    Pgid(u32),
}

fn matches(sel: Sel, p: &Process) -> bool {
    match sel {
        Sel::Any => true,
        Sel::Pid(x) => p.pid == x,
        Sel::Pgid(g) => p.pgid.load(Ordering::Relaxed) == g,
    }
}

/// What a wait reports and how.
struct WaitFor {
    /// Exits (zombies).
    exits: bool,
    /// Stops (WUNTRACED).
    stops: bool,
    /// Continues (WCONTINUED).
    conts: bool,
    /// WNOHANG.
    nohang: bool,
    /// Consume the event (reap a zombie); false for WNOWAIT.
    reap: bool,
}

/// Waits for a matching child to exit (a zombie, with `exits`), also reporting stops
/// (`stops`) and continues (`conts`) once each, with Linux's status encodings
/// (0x7f | sig << 8, and 0xffff). Returns (child, wstatus), or None with WNOHANG when nothing
/// is ready.
fn wait_child_ev(c: &Ctx<'_>, sel: Sel, w: WaitFor) -> KResult<Option<(Arc<Process>, i32)>> {
    let WaitFor { exits, stops, conts, nohang, reap } = w;
    let tc = crate::tcall();
    loop {
        let gen = c.thread.wake.load(Ordering::SeqCst);
        let kids: Vec<Arc<Process>> = {
            let ids = c.proc.children.lock().clone();
            let procs = c.k.procs.lock();
            ids.iter().filter_map(|p| procs.get(p).cloned()).filter(|p| matches(sel, p)).collect()
        };
        if kids.is_empty() {
            kerr!(ECHILD);
        }
        for k in &kids {
            let mut ev = k.wait_event.lock();
            match *ev {
                Some(0xffff) if conts => {
                    if reap {
                        *ev = None;
                    }
                    return Ok(Some((k.clone(), 0xffff)));
                }
                Some(sig) if sig != 0xffff && stops => {
                    if reap {
                        *ev = None;
                    }
                    return Ok(Some((k.clone(), 0x7f | (sig << 8))));
                }
                _ => {}
            }
        }
        if let Some((z, st)) = kids.iter().filter(|_| exits).find_map(|k| k.zombie.lock().map(|s| (k.clone(), s))) {
            if reap {
                c.k.procs.lock().remove(&z.pid);
                c.proc.children.lock().retain(|x| *x != z.pid);
                c.k.threads.lock().remove(&z.pid);
            }
            return Ok(Some((z, st)));
        }
        if nohang {
            return Ok(None);
        }
        if crate::signal::has_deliverable(c.thread) {
            kerr!(EINTR);
        }
        let _ = tc.futex_wait(&c.thread.wake, gen, None);
    }
}

pub fn wait4(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let pid = a[0] as i32;
    let opts = a[2] as u32;
    if opts & !(WNOHANG | WUNTRACED | WCONTINUED | WALL | WCLONE | WNOTHREAD) != 0 {
        kerr!(EINVAL);
    }
    let sel = match pid {
        -1 => Sel::Any,
        0 => Sel::Pgid(c.proc.pgid.load(Ordering::Relaxed)),
        p if p > 0 => Sel::Pid(p as u32),
        p => Sel::Pgid((-p) as u32),
    };
    let w = WaitFor { exits: true, stops: opts & WUNTRACED != 0, conts: opts & WCONTINUED != 0, nohang: opts & WNOHANG != 0, reap: true };
    match wait_child_ev(c, sel, w)? {
        None => Ok(0),
        Some((z, st)) => {
            if a[1] != 0 {
                c.user().write_u32(a[1], st as u32)?;
            }
            if a[3] != 0 {
                c.user().write(a[3], &[0u8; 144])?;
            }
            Ok(z.pid as u64)
        }
    }
}

pub fn waitid(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let (idtype, id, infop, opts) = (a[0] as u32, a[1] as u32, a[2], a[3] as u32);
    if opts & (WEXITED | WUNTRACED | WCONTINUED) == 0
        || opts & !(WNOHANG | WEXITED | WUNTRACED | WCONTINUED | WNOWAIT | WALL | WCLONE | WNOTHREAD) != 0
    {
        kerr!(EINVAL);
    }
    let sel = match idtype {
        0 => Sel::Any,
        1 => Sel::Pid(id),
        2 => Sel::Pgid(if id == 0 { c.proc.pgid.load(Ordering::Relaxed) } else { id }),
        _ => kerr!(EINVAL),
    };
    let w = WaitFor {
        exits: opts & WEXITED != 0,
        stops: opts & WUNTRACED != 0,
        conts: opts & WCONTINUED != 0,
        nohang: opts & WNOHANG != 0,
        reap: opts & WNOWAIT == 0,
    };
    let got = wait_child_ev(c, sel, w)?;
    if infop != 0 {
        let mut b = [0u8; 128];
        if let Some((z, st)) = &got {
            let (code, status): (i32, i32) = if *st == 0xffff {
                (6, SIGCONT_NR)
            } else if st & 0xff == 0x7f {
                (5, (st >> 8) & 0xff)
            } else if st & 0x7f != 0 {
                (if st & 0x80 != 0 { 3 } else { 2 }, st & 0x7f)
            } else {
                (1, (st >> 8) & 0xff)
            };
            b[0..4].copy_from_slice(&17u32.to_le_bytes());
            b[8..12].copy_from_slice(&code.to_le_bytes());
            b[16..20].copy_from_slice(&z.pid.to_le_bytes());
            b[20..24].copy_from_slice(&z.creds.uid.to_le_bytes());
            b[24..28].copy_from_slice(&status.to_le_bytes());
        }
        c.user().write(infop, &b)?;
    }
    Ok(0)
}

const SIGCONT_NR: i32 = 18;

fn proc_by(c: &Ctx<'_>, pid: u32) -> KResult<Arc<Process>> {
    if pid == 0 || pid == c.proc.pid {
        return Ok(c.proc.clone());
    }
    match c.k.procs.lock().get(&pid) {
        Some(p) => Ok(p.clone()),
        None => kerr!(ESRCH),
    }
}

pub fn getpgid(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    Ok(proc_by(c, a[0] as u32)?.pgid.load(Ordering::Relaxed) as u64)
}

pub fn getpgrp(c: &mut Ctx<'_>, _a: [u64; 6]) -> KResult<u64> {
    Ok(c.proc.pgid.load(Ordering::Relaxed) as u64)
}

pub fn getsid(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    Ok(proc_by(c, a[0] as u32)?.sid.load(Ordering::Relaxed) as u64)
}

pub fn setpgid(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let (pid, pgid) = (a[0] as i32, a[1] as i32);
    if pgid < 0 || pid < 0 {
        kerr!(EINVAL);
    }
    let p = proc_by(c, pid as u32)?;
    if p.pid != c.proc.pid && p.ppid() != c.proc.pid {
        kerr!(ESRCH);
    }
    if p.sid.load(Ordering::Relaxed) == p.pid {
        kerr!(EPERM);
    }
    let g = if pgid == 0 { p.pid } else { pgid as u32 };
    if g != p.pid {
        let sid = p.sid.load(Ordering::Relaxed);
        let exists = c.k.procs.lock().values().any(|q| q.pgid.load(Ordering::Relaxed) == g && q.sid.load(Ordering::Relaxed) == sid);
        if !exists {
            kerr!(EPERM);
        }
    }
    p.pgid.store(g, Ordering::Relaxed);
    Ok(0)
}

pub fn setsid(c: &mut Ctx<'_>, _a: [u64; 6]) -> KResult<u64> {
    let me = c.proc.pid;
    if c.k.procs.lock().values().any(|q| q.pgid.load(Ordering::Relaxed) == me) && c.proc.pgid.load(Ordering::Relaxed) == me {
        kerr!(EPERM);
    }
    c.proc.sid.store(me, Ordering::Relaxed);
    c.proc.pgid.store(me, Ordering::Relaxed);
    Ok(me as u64)
}
