//! execve and execveat: the new program replaces the old one completely.

use super::Ctx;
use crate::error::{Error, KResult};
use crate::kerr;
use crate::loader::{install, join_nul, prepare};
use crate::process::SigAction;
use crate::signal::SigInfo;
use alloc::vec::Vec;
use myst_abi::consts::*;

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
        c.file(dirfd)?.path.clone().into_bytes()
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
    // Point of no return: tear the old image down.
    let t = crate::tcall();
    {
        let mut mm = c.proc.mm.lock();
        let (s, e) = (mm.start, mm.end);
        if mm.unmap(t, s, e - s).is_err() {
            drop(mm);
            crate::signal::terminate(c.k, c.proc, SigInfo { signo: SIGSEGV, code: crate::signal::SI_KERNEL, ..Default::default() });
        }
        mm.brk_start = 0;
        mm.brk = 0;
        mm.committed = 0;
    }
    let stack = c.proc.rlimits.lock()[RLIMIT_STACK as usize].cur.clamp(128 << 10, 64 << 20);
    let regs = match install(c.proc, &prep, &envp, stack) {
        Ok(r) => r,
        Err(e) => {
            c.k.log(&alloc::format!("execve of {}: {}", prep.given, e.msg));
            crate::signal::terminate(c.k, c.proc, SigInfo { signo: SIGSEGV, code: crate::signal::SI_KERNEL, ..Default::default() });
        }
    };
    // Close-on-exec descriptors.
    let closing: Vec<_> = {
        let mut fds = c.proc.fds.lock();
        let ids: Vec<i32> = fds.iter().filter(|(_, e)| e.cloexec).map(|(fd, _)| fd).collect();
        ids.into_iter().filter_map(|fd| fds.close(fd).ok()).collect()
    };
    for e in closing {
        if let Ok(st) = e.file.inode.stat() {
            c.k.locks.release((st.dev, st.ino), c.proc.pid);
        }
    }
    // Caught signals go back to their defaults; ignored ones stay ignored.
    for a in c.proc.sigactions.lock().iter_mut() {
        if a.handler > 1 {
            *a = SigAction::default();
        }
    }
    c.k.timers.remove_process(c.proc.pid, true);
    c.proc.posix_timers.lock().clear();
    *c.thread.altstack.lock() = (0, 2, 0);
    *c.thread.saved_mask.lock() = None;
    *c.thread.robust_list.lock() = (0, 0);
    *c.thread.clear_child_tid.lock() = 0;
    {
        let mut img = c.proc.image.lock();
        img.exe = prep.path.clone();
        img.cmdline = join_nul(&prep.argv);
        img.environ = join_nul(&envp);
    }
    *c.regs = regs;
    // A vfork parent may go on now.
    if c.proc.vfork_done.swap(1, core::sync::atomic::Ordering::SeqCst) == 0 {
        let parent = c.k.procs.lock().get(&c.proc.ppid()).cloned();
        if let Some(par) = parent {
            let tids: Vec<u32> = par.threads.lock().clone();
            for t in tids.iter().filter_map(|t| c.k.thread(*t)) {
                t.wake.fetch_add(1, core::sync::atomic::Ordering::SeqCst);
                let _ = crate::tcall().futex_wake(&t.wake, u32::MAX);
            }
        }
    }
    Ok(0)
}

pub fn execve(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_execve(c, AT_FDCWD as u32 as u64 | 0xffff_ffff_0000_0000, a[0], a[1], a[2], 0)
}

pub fn execveat(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_execve(c, a[0], a[1], a[2], a[3], a[4] as u32)
}
