//! Threads: clone/clone3 (threads; fork comes with the processes work), exit, futex.

use super::Ctx;
use crate::error::KResult;
use crate::futex::{deadline, RequeuePiEnd, WaitEnd};
use crate::kerr;
use crate::process::Thread;
use core::sync::atomic::Ordering;
use myst_abi::structs::Timespec;
use myst_tcall::UserRegs;

const CLONE_VM: u64 = 0x100;
const CLONE_FS: u64 = 0x200;
const CLONE_FILES: u64 = 0x400;
const CLONE_SIGHAND: u64 = 0x800;
const CLONE_VFORK: u64 = 0x4000;
const CLONE_THREAD: u64 = 0x10000;
const CLONE_SYSVSEM: u64 = 0x40000;
const CLONE_SETTLS: u64 = 0x80000;
const CLONE_PARENT_SETTID: u64 = 0x100000;
const CLONE_CHILD_CLEARTID: u64 = 0x200000;
const CLONE_DETACHED: u64 = 0x400000;
const CLONE_CHILD_SETTID: u64 = 0x1000000;

struct CloneArgs {
    flags: u64,
    stack: u64,
    ptid: u64,
    ctid: u64,
    tls: u64,
}

fn do_clone(c: &mut Ctx<'_>, ca: CloneArgs) -> KResult<u64> {
    let f = ca.flags;
    let thread_flags = CLONE_VM | CLONE_THREAD | CLONE_SIGHAND;
    if f & thread_flags != thread_flags {
        if f & CLONE_THREAD != 0 {
            kerr!(EINVAL);
        }
        return do_fork(c, &ca);
    }
    let known = thread_flags
        | CLONE_FS
        | CLONE_FILES
        | CLONE_SYSVSEM
        | CLONE_SETTLS
        | CLONE_PARENT_SETTID
        | CLONE_CHILD_CLEARTID
        | CLONE_CHILD_SETTID
        | CLONE_DETACHED
        | 0xff;
    if f & !known != 0 {
        kerr!(EINVAL, "unsupported clone flags for a thread");
    }
    if f & (CLONE_FS | CLONE_FILES) != CLONE_FS | CLONE_FILES {
        kerr!(EINVAL, "threads must share the file table and fs info");
    }
    let tid = c.k.alloc_tid();
    let t = Thread::new(tid, c.proc.clone());
    *t.sigmask.lock() = *c.thread.sigmask.lock();
    *t.affinity.lock() = c.thread.affinity.lock().clone();
    t.nice.store(c.thread.nice.load(Ordering::Relaxed), Ordering::Relaxed);
    if f & CLONE_CHILD_CLEARTID != 0 {
        *t.clear_child_tid.lock() = ca.ctid;
    }
    if f & CLONE_PARENT_SETTID != 0 {
        c.user().write_u32(ca.ptid, tid)?;
    }
    if f & CLONE_CHILD_SETTID != 0 {
        c.user().write_u32(ca.ctid, tid)?;
    }
    let mut regs: UserRegs = *c.regs;
    regs.rax = 0;
    if ca.stack != 0 {
        regs.rsp = ca.stack;
    }
    if f & CLONE_SETTLS != 0 {
        regs.fs_base = ca.tls;
    }
    c.k.threads.lock().insert(tid, t.clone());
    c.proc.threads.lock().push(tid);
    if let Err(e) = crate::tcall().thread_create(tid, &regs, c.k) {
        c.k.threads.lock().remove(&tid);
        c.proc.threads.lock().retain(|x| *x != tid);
        return Err(e.into());
    }
    Ok(tid as u64)
}

/// fork, vfork and clone without CLONE_VM (or with CLONE_VM|CLONE_VFORK, as posix_spawn
/// uses it). A fork child is a new host process with a copy-on-write copy of the caller's
/// memory. A vfork child shares the caller's memory: it runs as a new thread of the
/// caller's host process while the caller waits, until it exits or execs (the exec moves it
/// into a host process of its own; see exec.rs).
fn do_fork(c: &mut Ctx<'_>, ca: &CloneArgs) -> KResult<u64> {
    let f = ca.flags;
    if f & CLONE_VM != 0 && f & CLONE_VFORK == 0 {
        kerr!(EINVAL, "sharing memory with a new process (CLONE_VM without CLONE_VFORK) is not supported");
    }
    if f & (0x2000_0000 | 0x4000_0000 | 0x0800_0000 | 0x0200_0000 | 0x8000_0000 | 0x0002_0000) != 0 {
        kerr!(EINVAL, "namespaces are not supported");
    }
    let shared_vm = f & CLONE_VM != 0;
    let pid = c.k.alloc_tid();
    let child = crate::process::Process::fork_from(c.proc, pid);
    child.vfork_hosted.store(shared_vm, Ordering::SeqCst);
    let t = Thread::new(pid, child.clone());
    *t.sigmask.lock() = *c.thread.sigmask.lock();
    *t.affinity.lock() = c.thread.affinity.lock().clone();
    t.nice.store(c.thread.nice.load(Ordering::Relaxed), Ordering::Relaxed);
    *t.altstack.lock() = *c.thread.altstack.lock();
    if f & CLONE_CHILD_CLEARTID != 0 {
        *t.clear_child_tid.lock() = ca.ctid;
    }
    if f & CLONE_CHILD_SETTID != 0 {
        *t.settid_on_start.lock() = ca.ctid;
    }
    if f & CLONE_PARENT_SETTID != 0 {
        c.user().write_u32(ca.ptid, pid)?;
    }
    let mut regs: UserRegs = *c.regs;
    regs.rax = 0;
    if ca.stack != 0 {
        regs.rsp = ca.stack;
    }
    if f & CLONE_SETTLS != 0 {
        regs.fs_base = ca.tls;
    }
    c.k.procs.lock().insert(pid, child.clone());
    c.k.threads.lock().insert(pid, t);
    c.proc.children.lock().push(pid);
    let started = if shared_vm {
        crate::tcall().thread_create(pid, &regs, c.k).map(|()| c.proc.host_pid.load(Ordering::Relaxed))
    } else {
        crate::tcall().fork(pid, alloc::boxed::Box::new(move || regs), c.k)
    };
    match started {
        Ok(host) => child.host_pid.store(host, Ordering::Relaxed),
        Err(e) => {
            c.k.procs.lock().remove(&pid);
            c.k.threads.lock().remove(&pid);
            c.proc.children.lock().retain(|x| *x != pid);
            return Err(e.into());
        }
    }
    if f & CLONE_VFORK != 0 {
        // Wait (uninterruptibly, as Linux does) until the child execs or exits.
        let tc = crate::tcall();
        loop {
            let gen = c.thread.wake.load(Ordering::SeqCst);
            if child.vfork_done.load(Ordering::SeqCst) != 0 {
                break;
            }
            let _ = tc.futex_wait(&c.thread.wake, gen, Some(100_000_000));
        }
    }
    Ok(pid as u64)
}

pub fn fork(c: &mut Ctx<'_>, _a: [u64; 6]) -> KResult<u64> {
    do_fork(c, &CloneArgs { flags: 17, stack: 0, ptid: 0, ctid: 0, tls: 0 })
}

pub fn vfork(c: &mut Ctx<'_>, _a: [u64; 6]) -> KResult<u64> {
    do_fork(c, &CloneArgs { flags: CLONE_VM | CLONE_VFORK | 17, stack: 0, ptid: 0, ctid: 0, tls: 0 })
}

pub fn clone(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    // x86-64 order: flags, stack, parent_tid, child_tid, tls.
    do_clone(c, CloneArgs { flags: a[0], stack: a[1], ptid: a[2], ctid: a[3], tls: a[4] })
}

pub fn clone3(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let size = a[1] as usize;
    if !(64..=4096).contains(&size) {
        kerr!(EINVAL);
    }
    let raw = c.user().read_vec(a[0], size)?;
    let w = |i: usize| u64::from_le_bytes(raw[i * 8..i * 8 + 8].try_into().expect("8"));
    // struct clone_args: flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, ...
    if size > 88 && raw[88..].iter().any(|&b| b != 0) && w(11) != 0 {
        kerr!(EINVAL, "clone3 set_tid/cgroup are not supported");
    }
    let (stack, stack_size) = (w(5), w(6));
    if (stack == 0) != (stack_size == 0) {
        kerr!(EINVAL);
    }
    let top = if stack != 0 { stack + stack_size } else { 0 };
    if w(4) != 0 && w(0) & CLONE_THREAD != 0 {
        kerr!(EINVAL);
    }
    do_clone(c, CloneArgs { flags: w(0), stack: top, ptid: w(3), ctid: w(2), tls: w(7) })
}

pub fn exit(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    crate::futex::thread_exit_cleanup(c.k, c.thread);
    let last = {
        let mut ts = c.proc.threads.lock();
        ts.retain(|x| *x != c.thread.tid);
        ts.is_empty()
    };
    if last {
        c.k.exit_process(c.proc, ((a[0] & 0xff) as i32) << 8);
    }
    c.k.threads.lock().remove(&c.thread.tid);
    crate::tcall().thread_exit()
}

pub fn exit_group(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    // exit_process ends the other threads (waiting for them to leave the kernel).
    c.k.exit_process(c.proc, ((a[0] & 0xff) as i32) << 8)
}

const FUTEX_WAIT: u32 = 0;
const FUTEX_WAKE: u32 = 1;
const FUTEX_REQUEUE: u32 = 3;
const FUTEX_CMP_REQUEUE: u32 = 4;
const FUTEX_WAKE_OP: u32 = 5;
const FUTEX_LOCK_PI: u32 = 6;
const FUTEX_UNLOCK_PI: u32 = 7;
const FUTEX_TRYLOCK_PI: u32 = 8;
const FUTEX_LOCK_PI2: u32 = 13;
const FUTEX_WAIT_BITSET: u32 = 9;
const FUTEX_WAKE_BITSET: u32 = 10;
const FUTEX_WAIT_REQUEUE_PI: u32 = 11;
const FUTEX_CMP_REQUEUE_PI: u32 = 12;
const FUTEX_CLOCK_REALTIME: u32 = 256;

pub fn futex(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let (addr, op, val, uts, addr2, val3) = (a[0], a[1] as u32, a[2] as u32, a[3], a[4], a[5] as u32);
    let cmd = op & 127;
    let realtime = op & FUTEX_CLOCK_REALTIME != 0;
    let fx = &c.k.futexes;
    match cmd {
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            if realtime && cmd == FUTEX_WAIT {
                kerr!(ENOSYS);
            }
            let ts = if uts != 0 {
                let t = Timespec::from_bytes(&c.user().read_arr::<16>(uts)?);
                if !t.is_valid() {
                    kerr!(EINVAL);
                }
                Some(t)
            } else {
                None
            };
            let dl = if cmd == FUTEX_WAIT { deadline(ts, None) } else { deadline(None, ts.map(|t| (t, realtime))) };
            let bitset = if cmd == FUTEX_WAIT { u32::MAX } else { val3 };
            match dl {
                // With a timeout, an interrupted wait continues through restart_syscall with
                // the same absolute deadline (and only when no handler runs), as on Linux.
                Some(dl) => futex_wait_restartable(c, addr, val, bitset, dl),
                None => match fx.wait(c.thread, addr, val, bitset, None)? {
                    WaitEnd::Woken => Ok(0),
                    WaitEnd::TimedOut => kerr!(ETIMEDOUT),
                    WaitEnd::Interrupted => kerr!(ERESTARTSYS),
                },
            }
        }
        FUTEX_WAKE => Ok(fx.wake(addr, val, u32::MAX) as u64),
        FUTEX_WAKE_BITSET => {
            if val3 == 0 {
                kerr!(EINVAL);
            }
            Ok(fx.wake(addr, val, val3) as u64)
        }
        FUTEX_REQUEUE => Ok(fx.requeue(c.thread, addr, val, uts as u32, addr2, None)? as u64),
        FUTEX_CMP_REQUEUE => Ok(fx.requeue(c.thread, addr, val, uts as u32, addr2, Some(val3))? as u64),
        FUTEX_WAKE_OP => Ok(fx.wake_op(c.thread, addr, val, uts as u32, addr2, val3)? as u64),
        FUTEX_LOCK_PI | FUTEX_LOCK_PI2 | FUTEX_TRYLOCK_PI => {
            let dl = if uts != 0 && cmd != FUTEX_TRYLOCK_PI {
                let t = Timespec::from_bytes(&c.user().read_arr::<16>(uts)?);
                if !t.is_valid() {
                    kerr!(EINVAL);
                }
                // LOCK_PI timeouts are absolute CLOCK_REALTIME; LOCK_PI2 follows the flag.
                Some((t.as_nanos(), cmd == FUTEX_LOCK_PI || realtime))
            } else {
                None
            };
            match fx.lock_pi(c.thread, addr, cmd == FUTEX_TRYLOCK_PI, dl)? {
                WaitEnd::Woken => Ok(0),
                WaitEnd::TimedOut => kerr!(ETIMEDOUT),
                // Linux always restarts a lock wait (its deadline is absolute).
                WaitEnd::Interrupted => kerr!(ERESTARTNOINTR),
            }
        }
        FUTEX_UNLOCK_PI => {
            fx.unlock_pi(c.thread, addr)?;
            Ok(0)
        }
        FUTEX_WAIT_REQUEUE_PI => {
            let dl = if uts != 0 {
                let t = Timespec::from_bytes(&c.user().read_arr::<16>(uts)?);
                if !t.is_valid() {
                    kerr!(EINVAL);
                }
                // Absolute, CLOCK_MONOTONIC unless FUTEX_CLOCK_REALTIME.
                Some((t.as_nanos(), realtime))
            } else {
                None
            };
            match fx.wait_requeue_pi(c.thread, addr, val, addr2, dl)? {
                RequeuePiEnd::Owner => Ok(0),
                RequeuePiEnd::TimedOut => kerr!(ETIMEDOUT),
                // Interrupted while still on the condition futex: restarted whatever the
                // handler; once requeued to the lock the call cannot restart (the condition
                // word has moved on): EAGAIN, as Linux returns.
                RequeuePiEnd::InterruptedBeforeRequeue => kerr!(ERESTARTNOINTR),
                RequeuePiEnd::InterruptedAfterRequeue => kerr!(EAGAIN),
            }
        }
        FUTEX_CMP_REQUEUE_PI => Ok(fx.cmp_requeue_pi(c.thread, addr, val, uts as u32, addr2, val3)? as u64),
        _ => kerr!(ENOSYS, "unknown futex operation"),
    }
}

/// FUTEX_WAIT(_BITSET) with an absolute deadline `dl` (ns, realtime flag); interrupted, it
/// leaves a restart block for restart_syscall.
pub(crate) fn futex_wait_restartable(c: &Ctx<'_>, addr: u64, val: u32, bitset: u32, dl: (u128, bool)) -> KResult<u64> {
    match c.k.futexes.wait(c.thread, addr, val, bitset, Some(dl))? {
        WaitEnd::Woken => Ok(0),
        WaitEnd::TimedOut => kerr!(ETIMEDOUT),
        WaitEnd::Interrupted => {
            *c.thread.restart.lock() = Some(crate::process::Restart::Futex { addr, val, bitset, deadline: dl.0, realtime: dl.1 });
            kerr!(ERESTART_RESTARTBLOCK)
        }
    }
}
