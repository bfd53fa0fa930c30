//! execve and execveat: the new program replaces the old one completely.

use super::Ctx;
use crate::error::{Error, KResult};
use crate::kerr;
use crate::loader::{install, join_nul, prepare, Prepared};
use crate::process::{Process, SigAction, Thread};
use crate::signal::SigInfo;
use crate::Kernel;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use myst_abi::consts::*;
use myst_tcall::UserRegs;

/// Linux's limit on argv + envp strings.
const ARG_MAX: usize = 2 << 20;

fn do_execve(c: &mut Ctx<'_>, dirfd: u64, pathp: u64, argvp: u64, envpp: u64, flags: u32) -> KResult<u64> {
    if flags & !(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0 {
        kerr!(EINVAL);
    }
    let path = c.path_arg(pathp)?;
    let abs: Vec<u8> = if path.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            kerr!(ENOENT);
        }
        c.file(dirfd)?.path.clone()
    } else {
        c.abs_path(dirfd, &path)?
    };
    let argv = c.user().read_str_array(argvp, 1 << 16)?;
    let envp = c.user().read_str_array(envpp, 1 << 16)?;
    let total: usize = argv.iter().chain(envp.iter()).map(|s| s.len() + 1).sum();
    if total > ARG_MAX {
        kerr!(E2BIG);
    }
    let cwd = c.proc.cwd.lock().clone();
    let prep = prepare(c.k, &cwd, &abs, argv, 0).map_err(|e| Error { errno: e.errno, msg: None })?;
    // Other threads end before the old image goes away.
    crate::kill_other_threads(c.k, c.proc, c.thread.tid);
    if c.proc.vfork_hosted.load(Ordering::SeqCst) {
        // A vfork child runs in its parent's memory and host process: the new image goes
        // into a new host process (a copy of this one), which takes this kernel thread over.
        let (k, p, t) = (c.k, c.proc.clone(), c.thread.clone());
        let start = alloc::boxed::Box::new(move || {
            p.vfork_hosted.store(false, Ordering::SeqCst);
            commit(k, &p, &t, &prep, &envp)
        });
        let host = crate::tcall().fork(c.thread.tid, start, c.k)?;
        c.proc.host_pid.store(host, Ordering::Relaxed);
        release_vfork_parent(c.k, c.proc);
        // This host thread's part is over; the thread lives on in the new host process.
        crate::tcall().thread_exit()
    }
    *c.regs = commit(c.k, c.proc, c.thread, &prep, &envp);
    Ok(0)
}

/// Past the point of no return: tears the old image down, installs the new one and resets
/// what execve resets. Returns the new program's registers.
fn commit(k: &'static Kernel, proc: &Arc<Process>, thread: &Arc<Thread>, prep: &Prepared, envp: &[Vec<u8>]) -> UserRegs {
    let t = crate::tcall();
    {
        let mut mm = proc.mm.lock();
        let (s, e) = (mm.start, mm.end);
        if mm.unmap(t, s, e - s).is_err() {
            drop(mm);
            crate::signal::terminate(k, proc, SigInfo { signo: SIGSEGV, code: crate::signal::SI_KERNEL, ..Default::default() });
        }
        mm.brk_start = 0;
        mm.brk = 0;
        mm.committed = 0;
    }
    let stack = proc.rlimits.lock()[RLIMIT_STACK as usize].cur.clamp(128 << 10, 64 << 20);
    let regs = match install(proc, prep, envp, stack) {
        Ok(r) => r,
        Err(e) => {
            k.log(&alloc::format!("execve of {}: {}", prep.given, e.msg));
            crate::signal::terminate(k, proc, SigInfo { signo: SIGSEGV, code: crate::signal::SI_KERNEL, ..Default::default() });
        }
    };
    // Close-on-exec descriptors.
    let closing: Vec<_> = {
        let mut fds = proc.fds.lock();
        let ids: Vec<i32> = fds.iter().filter(|(_, e)| e.cloexec).map(|(fd, _)| fd).collect();
        ids.into_iter().filter_map(|fd| fds.close(fd).ok()).collect()
    };
    for e in closing {
        if let Ok(st) = e.file.inode.stat() {
            k.locks.release((st.dev, st.ino), proc.pid);
        }
    }
    // Caught signals go back to their defaults; ignored ones stay ignored.
    for a in proc.sigactions.lock().iter_mut() {
        if a.handler > 1 {
            *a = SigAction::default();
        }
    }
    k.timers.remove_process(proc.pid, true);
    crate::timer::delete_posix_timers(proc);
    *thread.altstack.lock() = (0, 2, 0);
    *thread.saved_mask.lock() = None;
    *thread.robust_list.lock() = (0, 0);
    *thread.clear_child_tid.lock() = 0;
    {
        let mut img = proc.image.lock();
        img.exe = prep.path.clone();
        img.cmdline = join_nul(&prep.argv);
        img.environ = join_nul(envp);
    }
    release_vfork_parent(k, proc);
    regs
}

/// A vfork parent may go on now (its child exec'd).
fn release_vfork_parent(k: &Kernel, proc: &Process) {
    if proc.vfork_done.swap(1, Ordering::SeqCst) == 0 {
        let parent = k.procs.lock().get(&proc.ppid()).cloned();
        if let Some(par) = parent {
            let tids: Vec<u32> = par.threads.lock().clone();
            for t in tids.iter().filter_map(|t| k.thread(*t)) {
                t.wake.fetch_add(1, Ordering::SeqCst);
                let _ = crate::tcall().futex_wake(&t.wake, u32::MAX);
            }
        }
    }
}

pub fn execve(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_execve(c, AT_FDCWD as u32 as u64 | 0xffff_ffff_0000_0000, a[0], a[1], a[2], 0)
}

pub fn execveat(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_execve(c, a[0], a[1], a[2], a[3], a[4] as u32)
}
