//! The myst kernel: the Linux system-call ABI, implemented in safe Rust over the TCALL
//! interface. It never knows which target runs it.
//!
//! Flow: the target's entry gate catches an application `syscall` and calls
//! [`Upcall::syscall`] on the [`Kernel`]; the kernel looks the number up in the one
//! syscall table ([`syscall::table`]), runs the handler, and writes the result into the
//! saved registers. Handlers are thin; subsystems (`vfs`, `mm`, `process`) own the logic.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod blockdev;
pub mod error;
pub mod fdtable;
pub mod futex;
pub mod loader;
pub mod locks;
pub mod mm;
pub mod net;
pub mod process;
pub mod signal;
pub mod strace;
pub mod sync;
pub mod syscall;
pub mod timer;
pub mod uaccess;
pub mod vfs;
pub mod waitq;

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::convert::Infallible;
use myst_abi::consts::*;
use myst_abi::structs::Timespec;
use myst_tcall::{Fault, Resume, Tcall, Upcall, UserRegs};
use process::{Process, Thread};
use sync::{Mutex, Once};
use vfs::{InodeRef, Vfs};

pub use error::{Error, KResult};

static TCALL: Once<&'static dyn Tcall> = Once::new();

/// The target interface (set once at boot).
pub fn tcall() -> &'static dyn Tcall {
    *TCALL.get().expect("myst kernel used before boot")
}

/// The target interface, if booted.
pub fn tcall_opt() -> Option<&'static dyn Tcall> {
    TCALL.get().copied()
}

/// The thread making the current system call, if any.
pub fn current_thread() -> Option<Arc<Thread>> {
    let tid = tcall().current_tid();
    KERNEL.get().copied()?.thread(tid)
}

/// Wall-clock time.
pub fn now() -> Timespec {
    tcall_opt().and_then(|t| t.clock_gettime(CLOCK_REALTIME).ok()).unwrap_or_default()
}

/// Random bytes from the target (checked: the buffer is filled or an error returned).
pub fn random(buf: &mut [u8]) -> KResult<()> {
    Ok(tcall().random(buf)?)
}

/// Where the root file system comes from.
#[derive(Debug)]
pub enum RootFs {
    /// A host directory, mounted confined (hostfs).
    HostDir(String),
    /// A CPIO (newc) archive's bytes, unpacked into ramfs.
    Cpio(Vec<u8>),
    /// An ext2 image file on the host (with FSSIG trailer, verity tree, maybe LUKS).
    Ext2 {
        /// Host path of the image.
        path: String,
        /// Key for an encrypted image.
        key: Option<[u8; 64]>,
    },
}

/// What a configured mount mounts.
#[derive(Debug, Clone)]
pub enum MountKind {
    /// A host directory (hostfs, confined).
    HostDir,
    /// An ext2 image file on the host.
    Ext2 {
        /// Key for an encrypted image.
        key: Option<[u8; 64]>,
        /// Extra trusted public key (PEM) for this mount.
        pubkey: Option<String>,
        /// Extra trusted root hash for this mount.
        roothash: Option<[u8; 32]>,
        /// A file inside myst (the verified rootfs or an earlier mount) holding the key.
        key_file: Option<String>,
    },
    /// An empty ramfs.
    Ramfs,
}

/// A mount made at boot.
#[derive(Debug, Clone)]
pub struct MountSpec {
    /// Host path (directory or image); empty for ramfs.
    pub source: String,
    /// Absolute target directory inside myst.
    pub target: String,
    /// What it is.
    pub kind: MountKind,
}

/// `--strace` settings.
#[derive(Clone, Debug, Default)]
pub struct StraceConfig {
    /// Trace at all.
    pub enabled: bool,
    /// Only calls that fail.
    pub failing_only: bool,
    /// Only these syscall numbers (empty = all).
    pub filter: Vec<usize>,
}

/// Everything the kernel needs to start the first program.
#[derive(Debug)]
pub struct BootArgs {
    /// Root file system.
    pub rootfs: RootFs,
    /// Program path inside the root file system.
    pub program: String,
    /// Arguments including argv[0].
    pub argv: Vec<String>,
    /// Environment ("K=V").
    pub envp: Vec<String>,
    /// Initial working directory.
    pub cwd: String,
    /// Host name reported by uname.
    pub hostname: Option<String>,
    /// Main-thread stack size in bytes.
    pub main_stack_size: u64,
    /// Default stack size of new threads (0 = the libc's own default): glibc takes it from
    /// RLIMIT_STACK, musl from the program's PT_GNU_STACK size, which the loader raises.
    pub thread_stack_size: u64,
    /// Cap on the CPUs reported by sched_getaffinity (0 = no cap).
    pub max_affinity_cpus: u32,
    /// Syscall tracing.
    pub strace: StraceConfig,
    /// What images to trust.
    pub trust: blockdev::Trust,
    /// Mounts made after the root.
    pub mounts: Vec<MountSpec>,
    /// Files placed into the rootfs when it has none (e.g. /etc/resolv.conf, /etc/hosts).
    pub default_files: Vec<(String, Vec<u8>)>,
}

/// A boot failure, with a message for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootError(pub String);

impl core::fmt::Display for BootError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The kernel instance.
pub struct Kernel {
    /// Mounted file systems.
    pub vfs: Vfs,
    /// Live processes by pid.
    pub procs: Mutex<BTreeMap<u32, Arc<Process>>>,
    /// Live threads by tid.
    pub threads: Mutex<BTreeMap<u32, Arc<Thread>>>,
    /// Tracing settings.
    pub strace: StraceConfig,
    /// Syscalls already reported as unsupported (bit per number).
    pub reported: Mutex<[u64; 8]>,
    /// Host name.
    pub hostname: Mutex<String>,
    /// Affinity cap.
    pub max_affinity_cpus: u32,
    /// Byte-range locks (fcntl F_SETLK).
    pub locks: locks::LockTable,
    /// Boot time (monotonic), for sysinfo uptime.
    pub boot_mono: Timespec,
    /// Root file-system source and type, for /proc/mounts.
    pub root_source: String,
    /// Root file-system type.
    pub root_fstype: &'static str,
    /// Armed timers.
    pub timers: timer::Timers,
    /// Pseudo-terminals.
    pub ptys: vfs::pty::PtyTable,
    /// Which images mount(2) may trust.
    pub trust: blockdev::Trust,
    /// Futex wait queues.
    pub futexes: futex::FutexTable,
    /// Next thread/process id.
    pub next_tid: core::sync::atomic::AtomicU32,
}

impl Kernel {
    /// Looks up a thread.
    pub fn thread(&self, tid: u32) -> Option<Arc<Thread>> {
        self.threads.lock().get(&tid).cloned()
    }

    /// A fresh thread id.
    pub fn alloc_tid(&self) -> u32 {
        self.next_tid.fetch_add(1, core::sync::atomic::Ordering::Relaxed)
    }

    /// Prints a line on the host's stderr.
    pub fn log(&self, msg: &str) {
        let t = tcall();
        let mut line = Vec::with_capacity(msg.len() + 7);
        line.extend_from_slice(b"myst: ");
        line.extend_from_slice(msg.as_bytes());
        line.push(b'\n');
        let _ = t.console_write(2, &line);
    }

    /// Ends process `p` with wait status `wstatus` (Linux encoding: `code << 8`, or the
    /// signal number): it becomes a zombie for its parent, its files are closed, its children
    /// go to the first process. When the first process ends, the whole application ends and
    /// myst exits with its status. Called on one of `p`'s threads.
    pub fn exit_process(&self, p: &Arc<Process>, wstatus: i32) -> ! {
        use core::sync::atomic::Ordering;
        let first = p.pid == process::FIRST_PID;
        // The other threads leave the kernel first: the host process ends with them, and one
        // ended inside the kernel could leave a lock in the shared kernel heap held for good.
        // (The first process's end ends everything, so it does not wait.)
        if !first {
            if let Some(me) = current_thread().filter(|t| Arc::ptr_eq(&t.process, p)) {
                kill_other_threads(self, p, me.tid);
            }
        }
        // Robust futexes held by any thread of the process are released (OWNER_DIED), so
        // waiters in other processes sharing the memory are not stuck.
        let tids: Vec<u32> = p.threads.lock().clone();
        for t in tids.iter().filter_map(|t| self.thread(*t)) {
            futex::thread_exit_cleanup(self, &t);
        }
        // Close files (pipes see their ends go away) and forget threads.
        let fds = core::mem::take(&mut *p.fds.lock());
        drop(fds);
        for tid in p.threads.lock().drain(..) {
            self.threads.lock().remove(&tid);
        }
        if first {
            // (A vfork child still running in this host process goes with it.)
            let me = p.host_pid.load(Ordering::Relaxed);
            let others: Vec<i32> = self.procs.lock().values().map(|q| q.host_pid.load(Ordering::Relaxed)).filter(|h| *h != me).collect();
            for h in others {
                tcall().kill_host_process(h);
            }
            let code = if wstatus & 0x7f != 0 { 128 + (wstatus & 0x7f) } else { (wstatus >> 8) & 0xff };
            tcall().exit_process(code);
        }
        // (The host's CPU-time timers are deleted here, in their own host process.)
        crate::timer::delete_posix_timers(p);
        self.finish_exit(p, wstatus);
        if p.vfork_hosted.load(Ordering::SeqCst) {
            // A vfork child that never exec'd is a thread of its parent's host process.
            tcall().thread_exit()
        }
        tcall().exit_process(0)
    }

    /// A process whose host process ended without passing through the kernel (killed from
    /// outside myst: the OOM killer, a `kill -9` of its host pid). It becomes a zombie killed
    /// by SIGKILL, its files close (host handles and timers it held are left to the host,
    /// which ended them with the process) and its parent is told, so no waiter or pipe reader
    /// hangs. Called only by `reap_check`, from one service thread.
    pub fn reap_vanished(&self, p: &Arc<Process>) {
        if p.zombie.lock().is_some() {
            return;
        }
        self.log(&alloc::format!("process {} ({}) ended outside myst's control (its host process was killed)", p.pid, p.exe()));
        let fds = core::mem::take(&mut *p.fds.lock());
        drop(fds);
        for tid in p.threads.lock().drain(..) {
            self.threads.lock().remove(&tid);
        }
        p.posix_timers.lock().clear();
        self.finish_exit(p, SIGKILL as i32);
    }

    /// The bookkeeping of a process's end once its threads and files are gone: orphans to
    /// the first process, timers and controlling terminal released, zombie, SIGCHLD.
    fn finish_exit(&self, p: &Arc<Process>, wstatus: i32) {
        use core::sync::atomic::Ordering;
        // Orphans go to the first process.
        let kids: Vec<u32> = core::mem::take(&mut *p.children.lock());
        let init = self.procs.lock().get(&process::FIRST_PID).cloned();
        for k in &kids {
            if let Some(c) = self.procs.lock().get(k).cloned() {
                c.ppid.store(process::FIRST_PID, Ordering::Relaxed);
            }
        }
        if let Some(i) = &init {
            i.children.lock().extend(kids);
        }
        self.timers.remove_process(p.pid, false);
        if p.sid.load(Ordering::Relaxed) == p.pid {
            self.ptys.release_session(p.pid);
        }
        *p.zombie.lock() = Some(wstatus);
        p.vfork_done.store(1, Ordering::SeqCst);
        let parent = self.procs.lock().get(&p.ppid()).cloned();
        if let Some(par) = parent {
            let act = par.sigactions.lock()[SIGCHLD as usize];
            if act.handler == SIG_IGN || act.flags & SA_NOCLDWAIT != 0 {
                // Auto-reap.
                self.procs.lock().remove(&p.pid);
                par.children.lock().retain(|c| *c != p.pid);
            } else {
                let (code, status) = if wstatus & 0x7f != 0 {
                    (if wstatus & 0x80 != 0 { 3 } else { 2 }, wstatus & 0x7f)
                } else {
                    (1, (wstatus >> 8) & 0xff)
                };
                signal::send_to_process(
                    self,
                    &par,
                    signal::SigInfo { signo: SIGCHLD, code, pid: p.pid, uid: p.creds.uid, status, ..Default::default() },
                );
            }
            // Wake every thread of the parent (one may be in wait4, or waiting for vfork).
            let tids: Vec<u32> = par.threads.lock().clone();
            for t in tids.iter().filter_map(|t| self.thread(*t)) {
                t.wake.fetch_add(1, Ordering::SeqCst);
                let _ = tcall().futex_wake(&t.wake, u32::MAX);
            }
        } else {
            self.procs.lock().remove(&p.pid);
        }
    }

    /// The live (not zombie) processes of process group `pgid`.
    pub fn group_members(&self, pgid: u32) -> Vec<Arc<Process>> {
        use core::sync::atomic::Ordering;
        self.procs.lock().values().filter(|p| p.pgid.load(Ordering::Relaxed) == pgid && p.zombie.lock().is_none()).cloned().collect()
    }

    /// Ends the calling thread's process with exit code `code`.
    pub fn exit_current(&self, code: i32) -> ! {
        match current_thread() {
            Some(t) => self.exit_process(&t.process.clone(), (code & 0xff) << 8),
            None => tcall().exit_process(code),
        }
    }
}

impl Upcall for Kernel {
    fn host_signal(&self, host_pid: i32, signo: u32, code: i32) {
        use core::sync::atomic::Ordering;
        let target = self
            .procs
            .lock()
            .values()
            .find(|p| p.host_pid.load(Ordering::Relaxed) == host_pid && !p.vfork_hosted.load(Ordering::SeqCst) && p.zombie.lock().is_none())
            .cloned();
        if let Some(p) = target {
            // The sender is outside the application's pid space (or is the host's CPU-time
            // timer): si_pid 0, as Linux reports a sender from an ancestor pid namespace.
            let code = if code == signal::SI_KERNEL { code } else { signal::SI_USER };
            signal::send_to_process(self, &p, signal::SigInfo { signo, code, ..Default::default() });
        }
    }

    fn cpu_timer_expired(&self, cookie: u64, count: u64) {
        self.timers.cpu_expired(cookie, count);
    }

    fn reap_check(&self) {
        use core::sync::atomic::Ordering;
        let candidates: Vec<Arc<Process>> = self
            .procs
            .lock()
            .values()
            .filter(|p| p.pid != process::FIRST_PID && !p.vfork_hosted.load(Ordering::SeqCst) && p.host_pid.load(Ordering::Relaxed) > 0)
            .cloned()
            .collect();
        for p in candidates {
            if !tcall().host_process_alive(p.host_pid.load(Ordering::Relaxed)) {
                self.reap_vanished(&p);
            }
        }
    }

    fn syscall(&self, tid: u32, regs: &mut UserRegs) -> Resume {
        let Some(thread) = self.thread(tid) else {
            self.log("syscall from an unknown thread");
            tcall().exit_process(127);
        };
        syscall::dispatch(kernel(), &thread, regs);
        Resume::User
    }

    fn fault(&self, tid: u32, fault: Fault, regs: &mut UserRegs) -> Resume {
        let Some(t) = self.thread(tid) else {
            self.log("fault on an unknown thread");
            tcall().exit_process(128 + fault.signo as i32);
        };
        let mut code = fault.code.max(1);
        if fault.signo == SIGSEGV {
            // The host sees the whole region as mapped; the kernel knows what is.
            code = if t.process.mm.lock().is_mapped(fault.addr & !0xfff, 1) { 2 } else { 1 };
        }
        let s = signal::SigInfo { signo: fault.signo, code, addr: fault.addr, ..Default::default() };
        let sig = fault.signo;
        let act = t.process.sigactions.lock()[sig as usize];
        let blocked = *t.sigmask.lock() & signal::bit(sig) != 0;
        if act.handler <= 1 || blocked {
            // Default, ignored or blocked: a synchronous fault kills (as Linux forces it).
            signal::terminate(self, &t.process, s);
        }
        t.pending.lock().queue.insert(0, s);
        signal::deliver(self, &t, regs);
        Resume::User
    }

    fn started(&self, tid: u32, host: (i32, i32)) {
        if let Some(t) = self.thread(tid) {
            *t.host.lock() = host;
            t.process.host_pid.store(host.0, core::sync::atomic::Ordering::Relaxed);
            let settid = core::mem::take(&mut *t.settid_on_start.lock());
            if settid != 0 {
                let _ = tcall().user_write(settid, &tid.to_le_bytes());
            }
        }
    }

    fn interrupt(&self, tid: u32, regs: &mut UserRegs) -> Resume {
        if let Some(t) = self.thread(tid) {
            if t.exiting.load(core::sync::atomic::Ordering::SeqCst) {
                thread_die(self, &t);
            }
            signal::deliver(self, &t, regs);
        }
        Resume::User
    }
}

/// The kernel object lives on the heap (shared by all application processes on targets that
/// share it); the static only holds its address.
static KERNEL: Once<&'static Kernel> = Once::new();

/// The kernel, for destructors that may run before boot completes.
pub static KERNEL_REF: &Once<&'static Kernel> = &KERNEL;

/// The booted kernel.
pub fn kernel() -> &'static Kernel {
    KERNEL.get().expect("kernel not booted")
}

fn mount_root(root: &RootFs, trust: &blockdev::Trust) -> Result<(InodeRef, &'static str, String), BootError> {
    match root {
        RootFs::Ext2 { path, key } => {
            let (dev, how) = blockdev::open_ext2(path, trust, *key).map_err(BootError)?;
            if how == blockdev::Verified::Unverified {
                let _ = tcall().console_write(2, format!("myst: warning: rootfs image {path} is NOT verified (debug run)\n").as_bytes());
            }
            let r = vfs::ext2fs::mount(dev)
                .map_err(|e| BootError(format!("rootfs image {path}: not a usable ext2 file system ({})", e.errno)))?;
            Ok((r, "ext2", path.clone()))
        }
        RootFs::HostDir(p) => {
            let r = vfs::hostfs::HostFs::mount(p).map_err(|e| BootError(format!("cannot mount rootfs directory {p}: {}", e.errno)))?;
            Ok((r, "hostfs", p.clone()))
        }
        RootFs::Cpio(bytes) => {
            let r = vfs::ramfs::RamFs::new_root(0o755, RAMFS_MAGIC);
            unpack_cpio(&r, bytes)?;
            Ok((r, "ramfs", "rootfs".into()))
        }
    }
}

/// Unpacks a CPIO archive into a ramfs directory.
pub fn unpack_cpio(root: &Arc<vfs::ramfs::RamNode>, bytes: &[u8]) -> Result<(), BootError> {
    let entries = myst_cpio::parse(bytes).map_err(|e| BootError(format!("corrupt CPIO rootfs: {e}")))?;
    let mut by_ino: BTreeMap<u64, Arc<vfs::ramfs::RamNode>> = BTreeMap::new();
    for e in entries.iter() {
        let name = core::str::from_utf8(myst_cpio::normalize_name(e.name))
            .map_err(|_| BootError(format!("CPIO rootfs: entry name is not UTF-8 at offset {}", e.offset)))?;
        if name.is_empty() || name == "." {
            continue;
        }
        let (dir, base) = match name.rfind('/') {
            Some(i) => (&name[..i], &name[i + 1..]),
            None => ("", name),
        };
        let mut cur = root.clone();
        for comp in dir.split('/').filter(|c| !c.is_empty()) {
            cur = match cur.lookup_node(comp.as_bytes()) {
                Ok(n) => n,
                Err(_) => cur
                    .add_child(comp.as_bytes(), S_IFDIR | 0o755, 0, 0, 0, b"", 0)
                    .map_err(|_| BootError(format!("corrupt CPIO rootfs: cannot create directory for {name}")))?,
            };
        }
        if base == "." || base == ".." {
            continue;
        }
        let is_reg = e.mode & S_IFMT == S_IFREG;
        if is_reg && e.nlink > 1 {
            if let Some(existing) = by_ino.get(&(e.ino as u64)) {
                // newc stores the data once, on the last link of the group.
                if !e.data.is_empty() {
                    use vfs::Inode;
                    let _ = existing.truncate(0);
                    let _ = existing.write_at(0, e.data);
                }
                cur.add_link(base.as_bytes(), existing)
                    .map_err(|err| BootError(format!("corrupt CPIO rootfs: cannot link {name}: {}", err.errno)))?;
                continue;
            }
        }
        let rdev = ((e.rdevmajor as u64) << 8) | e.rdevminor as u64;
        let node = cur
            .add_child(base.as_bytes(), e.mode, e.uid, e.gid, e.mtime as i64, e.data, rdev)
            .map_err(|err| BootError(format!("corrupt CPIO rootfs: cannot add {name}: {}", err.errno)))?;
        if is_reg && e.nlink > 1 {
            by_ino.insert(e.ino as u64, node);
        }
    }
    Ok(())
}

/// Ends the calling thread, which another thread's execve doomed.
pub fn thread_die(k: &Kernel, t: &Arc<Thread>) -> ! {
    t.process.threads.lock().retain(|x| *x != t.tid);
    k.threads.lock().remove(&t.tid);
    tcall().thread_exit()
}

/// Ends every thread of `p` but `me` (execve, as Linux's de_thread does) and waits until
/// they have left application code.
pub fn kill_other_threads(k: &Kernel, p: &Process, me: u32) {
    let others: Vec<Arc<Thread>> = p.threads.lock().iter().filter(|t| **t != me).filter_map(|t| k.thread(*t)).collect();
    for t in &others {
        t.exiting.store(true, core::sync::atomic::Ordering::SeqCst);
        signal::kick(t);
    }
    let tc = tcall();
    for _ in 0..2000 {
        if p.threads.lock().iter().all(|t| *t == me) {
            return;
        }
        let _ = tc.sleep(500_000);
        for t in &others {
            signal::kick(t);
        }
    }
    k.log("other threads did not leave the kernel in time");
}

/// Creates `path` with `data` when the root file system lacks it (never on a host directory).
fn install_default_file(k: &Kernel, path: &str, data: &[u8]) {
    if k.vfs.walk(path.as_bytes(), true).is_ok() {
        return;
    }
    if k.root_fstype == "hostfs" {
        // A host directory is never modified: the file is an in-memory one attached to
        // the directory (which must exist), as a container runtime bind-mounts it.
        let Ok(par) = k.vfs.parent(path.as_bytes()) else { return };
        let holder = vfs::ramfs::RamFs::new_root(0o755, RAMFS_MAGIC);
        if let Ok(n) = vfs::Inode::create(&*holder, &par.name, S_IFREG | 0o644, 0, 0, 0) {
            if n.write_at(0, data).is_ok() {
                k.vfs.attach_at(&par.dir_path, &par.name, n, "ramfs", "none");
            }
        }
        return;
    }
    let Ok(par) = k.vfs.parent(path.as_bytes()) else {
        let dir = &path[..path.rfind('/').unwrap_or(0)];
        if !dir.is_empty() {
            let root = k.vfs.root();
            let _ = root.mkdir(dir.trim_start_matches('/').as_bytes(), 0o755, 0, 0);
        }
        if let Ok(par) = k.vfs.parent(path.as_bytes()) {
            if let Ok(n) = par.dir.create(&par.name, S_IFREG | 0o644, 0, 0, 0) {
                let _ = n.write_at(0, data);
            }
        }
        return;
    };
    if let Ok(n) = par.dir.create(&par.name, S_IFREG | 0o644, 0, 0, 0) {
        let _ = n.write_at(0, data);
    }
}

/// Mounts one configured file system.
pub fn mount_spec(k: &Kernel, m: &MountSpec, trust: &blockdev::Trust) -> Result<(), BootError> {
    let (root, fstype): (InodeRef, &'static str) = match &m.kind {
        MountKind::HostDir => {
            let r =
                vfs::hostfs::HostFs::mount(&m.source).map_err(|e| BootError(format!("mount {} on {}: {}", m.source, m.target, e.errno)))?;
            (r, "hostfs")
        }
        MountKind::Ramfs => (vfs::ramfs::RamFs::new_root(0o755, RAMFS_MAGIC), "ramfs"),
        MountKind::Ext2 { key, pubkey, roothash, key_file } => {
            let key = match (key, key_file) {
                (Some(k), _) => Some(*k),
                (None, Some(f)) => Some(read_key_file(k, f).map_err(|e| BootError(format!("mount on {}: key file {f}: {e}", m.target)))?),
                (None, None) => None,
            };
            let mut t = trust.clone();
            t.pubkeys.extend(pubkey.iter().cloned());
            t.roothashes.extend(roothash.iter().copied());
            let (dev, how) = blockdev::open_ext2(&m.source, &t, key).map_err(|e| BootError(format!("mount on {}: {e}", m.target)))?;
            if how == blockdev::Verified::Unverified {
                k.log(&format!("warning: image {} mounted on {} is NOT verified (debug run)", m.source, m.target));
            }
            let r = vfs::ext2fs::mount(dev)
                .map_err(|e| BootError(format!("mount {} on {}: not a usable ext2 image ({})", m.source, m.target, e.errno)))?;
            (r, "ext2")
        }
    };
    k.vfs
        .mount(&m.target, root, fstype, &m.source)
        .map_err(|e| BootError(format!("mount target {} must be an existing directory in the rootfs ({})", m.target, e.errno)))
}

/// Reads a 64-byte key from a file inside myst's file systems (for encrypted mounts).
pub fn read_key_file(k: &Kernel, path: &str) -> Result<[u8; 64], Error> {
    let (n, _) = k.vfs.walk(path.as_bytes(), true)?;
    let mut key = [0u8; 64];
    if n.stat()?.size != 64 || n.read_at(0, &mut key)? != 64 {
        return Err(Error::with_msg(myst_abi::Errno::EINVAL, "a key file must hold exactly 64 bytes"));
    }
    Ok(key)
}

/// Boots the kernel and starts the first program. Returns only on failure.
pub fn boot(t: &'static dyn Tcall, args: BootArgs) -> Result<Infallible, BootError> {
    TCALL.call_once(|| t);
    // Shared socket tables must exist before the first fork (see net::init).
    net::init();
    let (root, fstype, source) = mount_root(&args.rootfs, &args.trust)?;
    let vfs = Vfs::new(root);
    let k: &'static Kernel = KERNEL.call_once(|| {
        alloc::boxed::Box::leak(alloc::boxed::Box::new(Kernel {
            vfs,
            procs: Mutex::new(BTreeMap::new()),
            threads: Mutex::new(BTreeMap::new()),
            strace: args.strace.clone(),
            reported: Mutex::new([0; 8]),
            hostname: Mutex::new(args.hostname.clone().unwrap_or_else(|| {
                let mut b = [0u8; 64];
                let n = t.hostname(&mut b).unwrap_or(0).min(64);
                String::from_utf8_lossy(&b[..n]).into_owned()
            })),
            max_affinity_cpus: args.max_affinity_cpus,
            locks: locks::LockTable::default(),
            boot_mono: t.clock_gettime(CLOCK_MONOTONIC).unwrap_or_default(),
            root_source: source.clone(),
            root_fstype: fstype,
            timers: timer::Timers::default(),
            trust: args.trust.clone(),
            ptys: Default::default(),
            futexes: futex::FutexTable::default(),
            next_tid: core::sync::atomic::AtomicU32::new(process::FIRST_PID + 1),
        }))
    });
    // Standard directories: /tmp (a ramfs where the rootfs has none), /dev.
    let root = k.vfs.root();
    if root.lookup(b"tmp").is_err() {
        k.vfs.attach_top("tmp", vfs::ramfs::RamFs::new_root(0o1777, TMPFS_MAGIC), "tmpfs", "tmpfs");
    }
    let dev = vfs::devfs::build().map_err(|e| BootError(format!("cannot build /dev: {}", e.errno)))?;
    k.vfs.attach_top("dev", dev, "devtmpfs", "devtmpfs");
    k.vfs.attach_top("proc", vfs::procfs::build(), "proc", "proc");
    for (path, data) in &args.default_files {
        install_default_file(k, path, data);
    }
    // /etc/mtab, when the image has none, is the usual link to /proc/self/mounts.
    if k.root_fstype != "hostfs" && k.vfs.walk(b"/etc/mtab", false).is_err() {
        if let Ok(par) = k.vfs.parent(b"/etc/mtab") {
            let _ = par.dir.symlink(b"mtab", b"/proc/self/mounts", 0, 0);
        }
    }
    for m in &args.mounts {
        mount_spec(k, m, &args.trust)?;
    }

    // The timer service thread lives in this, the first, host process (see ensure_thread).
    k.timers.ensure_thread();
    let info = t.info();
    let proc = Process::new_init(&info, &args)?;
    let thread = Thread::new(proc.pid, proc.clone());
    // The signal mask is inherited across execve; the first process gets the host's.
    *thread.sigmask.lock() = info.initial_sigmask & !signal::UNBLOCKABLE;
    thread.nice.store(info.initial_nice.clamp(-20, 19), core::sync::atomic::Ordering::Relaxed);
    k.procs.lock().insert(proc.pid, proc.clone());
    k.threads.lock().insert(thread.tid, thread.clone());
    let regs = loader::exec_first(k, &proc, &args).map_err(|e| BootError(e.0))?;
    t.enter_user(thread.tid, &regs, k)
}
