//! Identity, limits, process-wide settings, exit and (minimal) signals.

use super::Ctx;
use crate::error::KResult;
use crate::kerr;
use myst_abi::consts::*;
use myst_abi::structs::{Enc, Rlimit, Utsname};

pub fn getpid(c: &mut Ctx<'_>, _a: [u64; 6]) -> KResult<u64> {
    Ok(c.proc.pid as u64)
}
pub fn getppid(c: &mut Ctx<'_>, _a: [u64; 6]) -> KResult<u64> {
    Ok(c.proc.ppid() as u64)
}
pub fn gettid(c: &mut Ctx<'_>, _a: [u64; 6]) -> KResult<u64> {
    Ok(c.thread.tid as u64)
}
pub fn getuid(c: &mut Ctx<'_>, _a: [u64; 6]) -> KResult<u64> {
    Ok(c.proc.creds.uid as u64)
}
pub fn getgid(c: &mut Ctx<'_>, _a: [u64; 6]) -> KResult<u64> {
    Ok(c.proc.creds.gid as u64)
}

pub fn getgroups(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let g = c.proc.groups.lock().clone();
    let n = a[0] as i32;
    if n < 0 {
        kerr!(EINVAL);
    }
    if n == 0 {
        return Ok(g.len() as u64);
    }
    if (n as usize) < g.len() {
        kerr!(EINVAL);
    }
    for (i, id) in g.iter().enumerate() {
        c.user().write_u32(a[1] + 4 * i as u64, *id)?;
    }
    Ok(g.len() as u64)
}

pub fn getresuid(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    for p in &a[..3] {
        c.user().write_u32(*p, c.proc.creds.uid)?;
    }
    Ok(0)
}

pub fn getresgid(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    for p in &a[..3] {
        c.user().write_u32(*p, c.proc.creds.gid)?;
    }
    Ok(0)
}

/// Kernel release reported to applications (a current long-term Linux).
pub const RELEASE: &str = "6.6.0-myst";

pub fn uname(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let host = c.k.hostname.lock().clone();
    let u =
        Utsname { sysname: "Linux", nodename: &host, release: RELEASE, version: "#1 SMP myst", machine: "x86_64", domainname: "(none)" };
    c.user().write(a[0], &u.to_bytes())?;
    Ok(0)
}

pub fn sethostname(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    if a[1] > 64 {
        kerr!(EINVAL);
    }
    let b = c.user().read_vec(a[0], a[1] as usize)?;
    *c.k.hostname.lock() = alloc::string::String::from_utf8_lossy(&b).into_owned();
    Ok(0)
}

pub fn sysinfo(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let t = crate::tcall();
    let now = t.clock_gettime(CLOCK_MONOTONIC)?;
    let up = (now.sec - c.k.boot_mono.sec).max(0);
    let mm = c.proc.mm.lock();
    let total = mm.total();
    let free = total.saturating_sub(mm.committed);
    drop(mm);
    let b = Enc::<112>::new()
        .i64(up)
        .u64(0)
        .u64(0)
        .u64(0)
        .u64(total)
        .u64(free)
        .u64(0)
        .u64(0)
        .u64(0)
        .u64(0)
        .u16(c.k.procs.lock().len() as u16)
        .pad(6)
        .u64(0)
        .u64(0)
        .u32(1)
        .finish();
    c.user().write(a[0], &b)?;
    Ok(0)
}

fn get_lim(c: &Ctx<'_>, res: u64) -> KResult<Rlimit> {
    if res >= RLIMIT_NLIMITS as u64 {
        kerr!(EINVAL);
    }
    Ok(c.proc.rlimits.lock()[res as usize])
}

fn set_lim(c: &Ctx<'_>, res: u64, new: Rlimit) -> KResult<()> {
    if res >= RLIMIT_NLIMITS as u64 || new.cur > new.max {
        kerr!(EINVAL);
    }
    let mut l = c.proc.rlimits.lock();
    if new.max > l[res as usize].max && c.proc.creds.uid != 0 {
        kerr!(EPERM);
    }
    if res == RLIMIT_NOFILE as u64 {
        if new.cur > 1 << 20 {
            kerr!(EPERM);
        }
        c.proc.fds.lock().limit = new.cur as usize;
    }
    l[res as usize] = new;
    Ok(())
}

pub fn prlimit64(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    if a[0] != 0 && a[0] as u32 != c.proc.pid {
        kerr!(ESRCH);
    }
    let old = get_lim(c, a[1])?;
    if a[2] != 0 {
        let n = Rlimit::from_bytes(&c.user().read_arr::<16>(a[2])?);
        set_lim(c, a[1], n)?;
    }
    if a[3] != 0 {
        c.user().write(a[3], &old.to_bytes())?;
    }
    Ok(0)
}

pub fn getrlimit(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let l = get_lim(c, a[0])?;
    c.user().write(a[1], &l.to_bytes())?;
    Ok(0)
}

pub fn setrlimit(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let n = Rlimit::from_bytes(&c.user().read_arr::<16>(a[1])?);
    set_lim(c, a[0], n)?;
    Ok(0)
}

pub fn getrusage(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let who = a[0] as i32;
    if !matches!(who, -1..=1) {
        kerr!(EINVAL);
    }
    let (u, s) = if who == -1 { (0, 0) } else { crate::tcall().cpu_times() };
    let b = Enc::<144>::new()
        .i64((u / 1_000_000_000) as i64)
        .i64(((u % 1_000_000_000) / 1000) as i64)
        .i64((s / 1_000_000_000) as i64)
        .i64(((s % 1_000_000_000) / 1000) as i64)
        .finish();
    c.user().write(a[1], &b)?;
    Ok(0)
}

pub fn times(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let t = crate::tcall();
    let (u, s) = t.cpu_times();
    if a[0] != 0 {
        let b = Enc::<32>::new().u64(u / 10_000_000).u64(s / 10_000_000).u64(0).u64(0).finish();
        c.user().write(a[0], &b)?;
    }
    let now = t.clock_gettime(CLOCK_MONOTONIC)?;
    Ok((now.as_nanos() / 10_000_000) as u64)
}

pub fn arch_prctl(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    match a[0] as u32 {
        ARCH_SET_FS => {
            if a[1] >= 1 << 47 {
                kerr!(EPERM);
            }
            c.regs.fs_base = a[1];
            Ok(0)
        }
        ARCH_GET_FS => {
            c.user().write_u64(a[1], c.regs.fs_base)?;
            Ok(0)
        }
        ARCH_SET_GS | ARCH_GET_GS => kerr!(EINVAL, "the gs base is reserved for the myst runtime"),
        ARCH_GET_CPUID => Ok(1),
        _ => kerr!(EINVAL),
    }
}

pub fn set_tid_address(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    *c.thread.clear_child_tid.lock() = a[0];
    Ok(c.thread.tid as u64)
}

pub fn set_robust_list(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    if a[1] != 24 {
        kerr!(EINVAL);
    }
    *c.thread.robust_list.lock() = (a[0], a[1]);
    Ok(0)
}

pub fn get_robust_list(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    if a[0] != 0 && a[0] as u32 != c.thread.tid {
        kerr!(ESRCH);
    }
    let (h, l) = *c.thread.robust_list.lock();
    c.user().write_u64(a[1], h)?;
    c.user().write_u64(a[2], l)?;
    Ok(0)
}

/// The thread a sched_* call names: 0 is the caller; the first process's parent (outside
/// myst) exists but may only be read; a negative pid is `neg`.
pub fn sched_thread(c: &Ctx<'_>, pid: u64, write: bool, neg: myst_abi::Errno) -> KResult<Option<alloc::sync::Arc<crate::process::Thread>>> {
    let pid = pid as i32;
    if pid < 0 {
        return Err(neg.into());
    }
    if pid == 0 {
        return Ok(Some(c.thread.clone()));
    }
    if let Some(t) = c.k.thread(pid as u32) {
        return Ok(Some(t));
    }
    if pid as u32 == crate::process::FIRST_PID - 1 {
        if write {
            kerr!(EPERM, "the parent of the first process is outside myst");
        }
        return Ok(None);
    }
    kerr!(ESRCH)
}

/// The CPUs a thread may report: every CPU, up to --max-affinity-cpus.
fn cpu_count(c: &Ctx<'_>) -> u32 {
    let n = crate::tcall().info().ncpus.max(1);
    if c.k.max_affinity_cpus > 0 {
        n.min(c.k.max_affinity_cpus)
    } else {
        n
    }
}

pub fn sched_getaffinity(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let t = sched_thread(c, a[0], false, myst_abi::Errno::ESRCH)?;
    let size = a[1] as usize;
    if size == 0 || !size.is_multiple_of(8) {
        kerr!(EINVAL);
    }
    let n = cpu_count(c);
    let bytes = (n as usize).div_ceil(64) * 8;
    if size < bytes {
        kerr!(EINVAL);
    }
    let mut mask = alloc::vec![0u8; bytes];
    for i in 0..n as usize {
        mask[i / 8] |= 1 << (i % 8);
    }
    if let Some(set) = t.as_ref().and_then(|t| t.affinity.lock().clone()) {
        for (m, s) in mask.iter_mut().zip(set.iter()) {
            *m &= *s;
        }
    }
    c.user().write(a[2], &mask)?;
    Ok(bytes as u64)
}

pub fn sched_setaffinity(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let t = sched_thread(c, a[0], true, myst_abi::Errno::ESRCH)?.ok_or(myst_abi::Errno::ESRCH)?;
    let n = cpu_count(c) as usize;
    let given = c.user().read_vec(a[2], (a[1] as usize).min(1024))?;
    let mut mask = alloc::vec![0u8; n.div_ceil(64) * 8];
    for i in 0..n {
        if given.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0) {
            mask[i / 8] |= 1 << (i % 8);
        }
    }
    if mask.iter().all(|b| *b == 0) {
        kerr!(EINVAL, "the mask names no available CPU");
    }
    *t.affinity.lock() = Some(mask);
    Ok(0)
}

pub fn sched_yield(_c: &mut Ctx<'_>, _a: [u64; 6]) -> KResult<u64> {
    crate::tcall().yield_now();
    Ok(0)
}

pub fn getcpu(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    if a[0] != 0 {
        c.user().write_u32(a[0], 0)?;
    }
    if a[1] != 0 {
        c.user().write_u32(a[1], 0)?;
    }
    Ok(0)
}

pub fn prctl(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    match a[0] {
        15 => Ok(0), // PR_SET_NAME
        16 => {
            // PR_GET_NAME
            let name = c.proc.comm();
            let mut b = [0u8; 16];
            let n = name.len().min(15);
            b[..n].copy_from_slice(&name.as_bytes()[..n]);
            c.user().write(a[1], &b)?;
            Ok(0)
        }
        3 => Ok(1),  // PR_GET_DUMPABLE
        4 => Ok(0),  // PR_SET_DUMPABLE
        1 => Ok(0),  // PR_SET_PDEATHSIG
        38 => Ok(0), // PR_SET_NO_NEW_PRIVS
        39 => Ok(0), // PR_GET_NO_NEW_PRIVS
        _ => kerr!(EINVAL, "unsupported prctl option"),
    }
}

pub fn getrandom(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    if a[2] as u32 & !(GRND_NONBLOCK | GRND_RANDOM | 4) != 0 {
        kerr!(EINVAL);
    }
    let len = (a[1] as usize).min(32 << 20);
    let mut buf = alloc::vec![0u8; len];
    crate::random(&mut buf)?;
    c.user().write(a[0], &buf)?;
    Ok(len as u64)
}
