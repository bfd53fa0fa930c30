//! Processes and threads.

use crate::fdtable::{FdEntry, FdTable};
use crate::mm::Mm;
use crate::sync::Mutex;
use crate::vfs::{console::Console, OpenFile};
use crate::{BootArgs, BootError};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use myst_abi::consts::*;
use myst_abi::structs::Rlimit;
use myst_tcall::TargetInfo;

/// pid of the first process (Mystikos numbers processes from 101 as well).
pub const FIRST_PID: u32 = 101;

/// A signal disposition as `rt_sigaction` stores it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigAction {
    /// Handler address, SIG_DFL (0) or SIG_IGN (1).
    pub handler: u64,
    /// `SA_*` flags.
    pub flags: u64,
    /// Restorer.
    pub restorer: u64,
    /// Mask during the handler.
    pub mask: u64,
}

/// Credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Creds {
    /// Real, effective user id.
    pub uid: u32,
    /// Real, effective group id.
    pub gid: u32,
}

/// The program a process runs.
#[derive(Clone, Debug, Default)]
pub struct ExecInfo {
    /// Program path (inside myst), for messages and /proc/self/exe.
    pub exe: String,
    /// argv as NUL-separated bytes (for /proc/<pid>/cmdline).
    pub cmdline: Vec<u8>,
    /// envp as NUL-separated bytes (for /proc/<pid>/environ).
    pub environ: Vec<u8>,
}

/// A process.
pub struct Process {
    /// Process id.
    pub pid: u32,
    /// Parent pid (changes when the parent dies: orphans go to the first process).
    pub ppid: AtomicU32,
    /// Process group.
    pub pgid: AtomicU32,
    /// Session.
    pub sid: AtomicU32,
    /// Host process id (set when the process's first thread starts).
    pub host_pid: AtomicI32,
    /// Child pids (live and zombie).
    pub children: Mutex<Vec<u32>>,
    /// `None` while running; the wait status once it has exited (a zombie).
    pub zombie: Mutex<Option<i32>>,
    /// Set when a vfork child execs or exits (the parent waits for it).
    pub vfork_done: AtomicU32,
    /// A vfork child that runs as a thread of its parent's host process, in the parent's
    /// memory, until it execs (in a host process of its own) or exits.
    pub vfork_hosted: core::sync::atomic::AtomicBool,
    /// The stop signal while the process is stopped (job control), else 0.
    pub stopped: AtomicU32,
    /// A stop (signal number) or a continue (0xffff) not yet reported to `wait`.
    pub wait_event: Mutex<Option<i32>>,
    /// What the process runs (replaced by execve).
    pub image: Mutex<ExecInfo>,
    /// Start time (monotonic ns since boot), for /proc/<pid>/stat.
    pub start_ns: u64,
    /// Address space.
    pub mm: Mutex<Mm>,
    /// Descriptors.
    pub fds: Mutex<FdTable>,
    /// Working directory (absolute, canonical).
    pub cwd: Mutex<Vec<u8>>,
    /// File-creation mask.
    pub umask: Mutex<u32>,
    /// Resource limits.
    pub rlimits: Mutex<[Rlimit; 16]>,
    /// Signal dispositions, index = signal number.
    pub sigactions: Mutex<[SigAction; 65]>,
    /// Credentials.
    pub creds: Creds,
    /// Supplementary groups.
    pub groups: Mutex<Vec<u32>>,
    /// Live thread ids.
    pub threads: Mutex<Vec<u32>>,
    /// Signals directed at the process.
    pub pending: Mutex<crate::signal::Pending>,
    /// signalfd readers and pollers of this process.
    pub sigwq: crate::waitq::WaitQueue,
    /// Next POSIX timer id.
    pub next_timer: AtomicU32,
    /// POSIX timers.
    pub posix_timers: Mutex<Vec<crate::timer::PosixTimer>>,
    /// `--thread-stack-size` (0 = libc default).
    pub thread_stack_size: u64,
}

/// A thread.
pub struct Thread {
    /// Thread id.
    pub tid: u32,
    /// Owning process.
    pub process: Arc<Process>,
    /// `set_tid_address` pointer.
    pub clear_child_tid: Mutex<u64>,
    /// `set_robust_list` head and length.
    pub robust_list: Mutex<(u64, u64)>,
    /// Blocked signals.
    pub sigmask: Mutex<u64>,
    /// `sigaltstack` (sp, flags, size).
    pub altstack: Mutex<(u64, u32, u64)>,
    /// Signals directed at this thread.
    pub pending: Mutex<crate::signal::Pending>,
    /// Mask to restore after the next handler (rt_sigsuspend).
    pub saved_mask: Mutex<Option<u64>>,
    /// Host (pid, tid) running this thread.
    pub host: Mutex<(i32, i32)>,
    /// Write the tid here when the thread starts (CLONE_CHILD_SETTID in a forked child).
    pub settid_on_start: Mutex<u64>,
    /// Set when another thread's execve or exit_group ends this thread.
    pub exiting: core::sync::atomic::AtomicBool,
    /// Bumped and futex-woken to interrupt a kernel wait of this thread.
    pub wake: core::sync::atomic::AtomicU32,
    /// CPU affinity set by sched_setaffinity (bit per CPU); `None` = every CPU.
    pub affinity: Mutex<Option<Vec<u8>>>,
    /// What `restart_syscall` continues after an `ERESTART_RESTARTBLOCK` interruption.
    pub restart: Mutex<Option<Restart>>,
    /// Nice value (-20..=19); per thread, as on Linux. New threads and forked children
    /// start with their creator's.
    pub nice: core::sync::atomic::AtomicI32,
}

/// An interrupted call that `restart_syscall` continues where it stopped (Linux's
/// `restart_block`): the deadline is absolute, so the restarted call does not wait again
/// for the whole relative time.
#[derive(Clone, Copy, Debug)]
pub enum Restart {
    /// A relative nanosleep/clock_nanosleep: sleep until `deadline` (ns on `clock`); the
    /// time left goes to `rmtp` (if not 0) if it is interrupted again.
    Sleep {
        /// Clock.
        clock: u32,
        /// Absolute deadline, ns.
        deadline: u128,
        /// User pointer for the remaining time.
        rmtp: u64,
    },
    /// FUTEX_WAIT/FUTEX_WAIT_BITSET with a timeout.
    Futex {
        /// Futex word.
        addr: u64,
        /// Expected value.
        val: u32,
        /// Wake bitset.
        bitset: u32,
        /// Absolute deadline, ns.
        deadline: u128,
        /// The deadline is on CLOCK_REALTIME (else CLOCK_MONOTONIC).
        realtime: bool,
    },
}

fn default_rlimits(nofile: u64, stack: u64) -> [Rlimit; 16] {
    let inf = Rlimit { cur: RLIM_INFINITY, max: RLIM_INFINITY };
    let mut r = [inf; 16];
    r[RLIMIT_STACK as usize] = Rlimit { cur: stack, max: RLIM_INFINITY };
    r[RLIMIT_CORE as usize] = Rlimit { cur: 0, max: RLIM_INFINITY };
    r[RLIMIT_NOFILE as usize] = Rlimit { cur: nofile, max: nofile };
    r[RLIMIT_NPROC as usize] = Rlimit { cur: 4096, max: 4096 };
    r[RLIMIT_MEMLOCK as usize] = Rlimit { cur: 8 << 20, max: 8 << 20 };
    r[13] = Rlimit { cur: 0, max: 0 }; // RLIMIT_NICE
    r[14] = Rlimit { cur: 0, max: 0 }; // RLIMIT_RTPRIO
    r[11] = Rlimit { cur: 4096, max: 4096 }; // RLIMIT_SIGPENDING
    r[12] = Rlimit { cur: 819200, max: 819200 }; // RLIMIT_MSGQUEUE
    r
}

impl Process {
    /// The first process, with the host's standard streams on fds 0–2.
    pub fn new_init(info: &TargetInfo, args: &BootArgs) -> Result<Arc<Process>, BootError> {
        let mut fds = FdTable::new(1024);
        for fd in 0..3u32 {
            let flags = if fd == 0 { O_RDONLY } else { O_WRONLY };
            // A terminal is /dev/console (what /proc/self/fd/N and ttyname() report).
            let path = if crate::tcall().console_isatty(fd).is_some() {
                alloc::string::String::from("/dev/console")
            } else {
                alloc::format!("/dev/fd/{fd}")
            };
            let f = OpenFile::new(Arc::new(Console { fd }), path, flags);
            fds.alloc(FdEntry { file: f, cloexec: false }, fd as usize).map_err(|_| BootError("fd table".into()))?;
        }
        let start = info.region_start;
        let end = info.region_start.saturating_add(info.region_len);
        Ok(Arc::new(Process {
            pid: FIRST_PID,
            ppid: AtomicU32::new(FIRST_PID - 1),
            pgid: AtomicU32::new(FIRST_PID),
            sid: AtomicU32::new(FIRST_PID),
            host_pid: AtomicI32::new(0),
            children: Mutex::new(Vec::new()),
            zombie: Mutex::new(None),
            vfork_done: AtomicU32::new(0),
            vfork_hosted: core::sync::atomic::AtomicBool::new(false),
            stopped: AtomicU32::new(0),
            wait_event: Mutex::new(None),
            image: Mutex::new(ExecInfo { exe: args.program.clone(), cmdline: nul_join(&args.argv), environ: nul_join(&args.envp) }),
            start_ns: 0,
            mm: Mutex::new(Mm { limit: info.memory_size, ..Mm::new(start, end) }),
            fds: Mutex::new(fds),
            cwd: Mutex::new(b"/".to_vec()),
            umask: Mutex::new(0o022),
            rlimits: Mutex::new(default_rlimits(
                1024,
                if args.thread_stack_size > 0 { args.thread_stack_size } else { args.main_stack_size },
            )),
            thread_stack_size: args.thread_stack_size,
            sigactions: Mutex::new(core::array::from_fn(|i| {
                // Dispositions ignored by the host parent stay ignored, as across execve.
                let ignored = i > 0 && info.initial_sigignored & (1u64 << (i - 1)) != 0;
                SigAction { handler: u64::from(ignored), ..SigAction::default() }
            })),
            creds: Creds { uid: info.uid, gid: info.gid },
            groups: Mutex::new(alloc::vec![info.gid]),
            threads: Mutex::new(alloc::vec![FIRST_PID]),
            pending: Mutex::new(Default::default()),
            sigwq: Default::default(),
            next_timer: AtomicU32::new(0),
            posix_timers: Mutex::new(Vec::new()),
        }))
    }
}

impl Thread {
    /// A thread of `process`.
    pub fn new(tid: u32, process: Arc<Process>) -> Arc<Thread> {
        Arc::new(Thread {
            tid,
            process,
            clear_child_tid: Mutex::new(0),
            robust_list: Mutex::new((0, 0)),
            sigmask: Mutex::new(0),
            altstack: Mutex::new((0, 2, 0)),
            pending: Mutex::new(Default::default()),
            saved_mask: Mutex::new(None),
            host: Mutex::new((0, 0)),
            settid_on_start: Mutex::new(0),
            exiting: core::sync::atomic::AtomicBool::new(false),
            wake: core::sync::atomic::AtomicU32::new(0),
            affinity: Mutex::new(None),
            restart: Mutex::new(None),
            nice: core::sync::atomic::AtomicI32::new(0),
        })
    }
}

impl Process {
    /// A child made by fork: a copy of `parent` with the same open files (shared), the
    /// same address-space layout, dispositions, limits and working directory.
    pub fn fork_from(parent: &Process, pid: u32) -> Arc<Process> {
        let mm = parent.mm.lock();
        let mut child_mm = Mm::new(mm.start, mm.end);
        child_mm.vmas = mm.vmas.clone();
        child_mm.brk_start = mm.brk_start;
        child_mm.brk = mm.brk;
        child_mm.committed = mm.committed;
        child_mm.limit = mm.limit;
        drop(mm);
        Arc::new(Process {
            pid,
            ppid: AtomicU32::new(parent.pid),
            pgid: AtomicU32::new(parent.pgid.load(Ordering::Relaxed)),
            sid: AtomicU32::new(parent.sid.load(Ordering::Relaxed)),
            host_pid: AtomicI32::new(0),
            children: Mutex::new(Vec::new()),
            zombie: Mutex::new(None),
            vfork_done: AtomicU32::new(0),
            vfork_hosted: core::sync::atomic::AtomicBool::new(false),
            stopped: AtomicU32::new(0),
            wait_event: Mutex::new(None),
            image: Mutex::new(parent.image.lock().clone()),
            start_ns: 0,
            mm: Mutex::new(child_mm),
            fds: Mutex::new(parent.fds.lock().clone()),
            cwd: Mutex::new(parent.cwd.lock().clone()),
            umask: Mutex::new(*parent.umask.lock()),
            rlimits: Mutex::new(*parent.rlimits.lock()),
            sigactions: Mutex::new(*parent.sigactions.lock()),
            creds: parent.creds,
            groups: Mutex::new(parent.groups.lock().clone()),
            threads: Mutex::new(alloc::vec![pid]),
            pending: Mutex::new(Default::default()),
            sigwq: Default::default(),
            next_timer: AtomicU32::new(0),
            posix_timers: Mutex::new(Vec::new()),
            thread_stack_size: parent.thread_stack_size,
        })
    }

    /// Parent pid.
    pub fn ppid(&self) -> u32 {
        self.ppid.load(Ordering::Relaxed)
    }

    /// The program path.
    pub fn exe(&self) -> String {
        self.image.lock().exe.clone()
    }

    /// The program's base name, as `comm` (at most 15 bytes).
    pub fn comm(&self) -> String {
        let e = self.exe();
        let b = e.rsplit('/').next().unwrap_or("");
        b.chars().take(15).collect()
    }
}

/// Joins strings with NUL terminators.
pub fn nul_join(v: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for s in v {
        out.extend_from_slice(s.as_bytes());
        out.push(0);
    }
    out
}
