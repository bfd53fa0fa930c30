//! TCALL: the narrow interface through which the myst kernel asks its target (the host side)
//! for the few things that must come from outside the trusted boundary.
//!
//! Every method is typed and slice-based. The kernel treats every result as hostile: the
//! wrappers in [`checked`] turn impossible answers (a length larger than the buffer, a
//! nonsense errno) into `EIO` before kernel code sees them, so a target implementation
//! only has to be honest to be correct and cannot make the kernel overflow by lying.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod checked;

use core::sync::atomic::AtomicU32;
use myst_abi::structs::{Stat, Statfs, Timespec};
pub use myst_abi::Errno;

/// Result of a TCALL: a value or a Linux errno.
pub type TResult<T> = Result<T, Errno>;

/// The application's general-purpose registers at a system call or fault, as the entry gate
/// saw them. The kernel may change them (a return value in `rax`, or a whole new context for
/// `execve` and `rt_sigreturn`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
#[repr(C)]
pub struct UserRegs {
    pub rax: u64,
    pub rbx: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub rbp: u64,
    pub rsp: u64,
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    pub rip: u64,
    pub rflags: u64,
    /// The application's thread pointer (fs base).
    pub fs_base: u64,
}

impl UserRegs {
    /// System-call number and its six arguments in x86-64 order.
    pub fn syscall_args(&self) -> (usize, [u64; 6]) {
        (self.rax as usize, [self.rdi, self.rsi, self.rdx, self.r10, self.r8, self.r9])
    }
}

/// A synchronous fault taken by application code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Linux signal number (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP).
    pub signo: u32,
    /// `si_code` as the host reported it.
    pub code: i32,
    /// Faulting address (`si_addr`).
    pub addr: u64,
}

/// What the entry gate does after the kernel handled an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resume {
    /// Return to the application with the (possibly modified) registers.
    User,
}

/// The kernel side of the gate: the target calls these when application code traps.
pub trait Upcall: Sync {
    /// The application on kernel thread `tid` made system call `regs.rax`. The kernel writes
    /// the result into `regs.rax` (or replaces the context).
    fn syscall(&self, tid: u32, regs: &mut UserRegs) -> Resume;
    /// The application on kernel thread `tid` took a synchronous fault.
    fn fault(&self, tid: u32, fault: Fault, regs: &mut UserRegs) -> Resume;
    /// Kernel thread `tid` started on host thread (pid, tid), before running application code.
    fn started(&self, tid: u32, host: (i32, i32));
    /// Kernel thread `tid` was interrupted while running application code (a signal is
    /// probably pending for it).
    fn interrupt(&self, tid: u32, regs: &mut UserRegs) -> Resume;
    /// Something outside the application (the user's `kill`, the terminal's Ctrl-C) sent
    /// `signo` to host process `host_pid`; the kernel delivers it to the application process
    /// that runs there, with `code` as its `si_code` (`SI_USER`, or `SI_KERNEL` for a
    /// [`Tcall::cpu_itimer`] expiry). Called from a target service thread, not an application
    /// thread.
    fn host_signal(&self, host_pid: i32, signo: u32, code: i32);
    /// A [`Tcall::cpu_timer_create`] timer made with `cookie` expired `count` times (1 plus
    /// the overruns) since it was last reported. Called from a target service thread.
    fn cpu_timer_expired(&self, cookie: u64, count: u64);
    /// Called about once a second from a target service thread of the first host process:
    /// the kernel looks for application processes whose host process ended without passing
    /// through it (killed from outside) and accounts for their end.
    fn reap_check(&self);
}

/// Memory protection for region operations (Linux `PROT_*` bits).
pub type Prot = u32;

/// Static facts about the target, fetched once at boot.
#[derive(Clone, Debug, Default)]
pub struct TargetInfo {
    /// Short name ("linux", "kvm", "sgx").
    pub name: &'static str,
    /// Start of the application region (page aligned).
    pub region_start: u64,
    /// Length of the application region.
    pub region_len: u64,
    /// Application memory the kernel lets the program commit (`--memory-size`); may be less
    /// than the region, which is address space.
    pub memory_size: u64,
    /// `AT_HWCAP` to report.
    pub hwcap: u64,
    /// `AT_HWCAP2` to report.
    pub hwcap2: u64,
    /// `AT_MINSIGSTKSZ` to report.
    pub minsigstksz: u64,
    /// Number of host CPUs available.
    pub ncpus: u32,
    /// Host user and group ids, reported to the application.
    pub uid: u32,
    /// Host group id.
    pub gid: u32,
    /// Host physical memory in bytes (for sysinfo).
    pub total_ram: u64,
    /// Address of a vDSO image the application may call for the time (0: none). Its code
    /// reads a clock the target keeps (on the linux target, the host's own vDSO and clock).
    pub vdso: u64,
    /// Signals blocked when the target started (bit `n - 1` for signal `n`): the first
    /// process inherits them, as a Linux program inherits its parent's mask across execve.
    pub initial_sigmask: u64,
    /// Signals whose disposition was SIG_IGN when the target started (same bits); inherited
    /// like the mask. A target whose own runtime changes a disposition leaves that bit clear.
    pub initial_sigignored: u64,
    /// The nice value the target started with; the first process inherits it.
    pub initial_nice: i32,
    /// Whether the target runs with a controlling terminal (the first session's
    /// `/dev/tty` is then the console).
    pub has_ctty: bool,
}

/// Kind of a host directory entry or file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostDirent {
    /// Host inode number.
    pub ino: u64,
    /// `DT_*` type.
    pub dtype: u8,
}

/// One entry of a [`Tcall::host_poll`] set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostPollFd {
    /// A socket handle from [`Tcall::sock_open`] or [`Tcall::sock_accept`].
    pub handle: u32,
    /// Linux `POLL*` bits asked for.
    pub events: u16,
    /// Linux `POLL*` bits the host reported (the kernel masks them: hostile).
    pub revents: u16,
}

/// The kernel→target interface. Around forty calls, grouped.
///
/// Paths given to the `host_*` file calls are relative to the host directory that was
/// registered as hostfs root `root` (an index returned by [`Tcall::host_mount`]). Targets
/// must resolve them without following any symlink and without leaving that directory; the
/// kernel itself resolves symlinks inside the myst namespace.
pub trait Tcall: Sync {
    // ----- facts, console, clock, random
    /// Static target facts.
    fn info(&self) -> TargetInfo;
    /// Writes to a host standard stream (1 or 2). Returns bytes written.
    fn console_write(&self, fd: u32, buf: &[u8]) -> TResult<usize>;
    /// Reads from host standard input.
    fn console_read(&self, buf: &mut [u8]) -> TResult<usize>;
    /// Whether host fd 0/1/2 is a terminal, and its window size (rows, cols).
    fn console_isatty(&self, fd: u32) -> Option<(u16, u16)>;
    /// Bytes available to read on host stdin, if known.
    fn console_pending(&self) -> TResult<usize>;
    /// The console terminal's settings (the kernel's 36-byte `struct termios`) on standard
    /// fd `fd`: `TCGETS` reads them; `TCSETS`/`TCSETSW`/`TCSETSF` with `new` set them (raw
    /// mode for an editor, no echo for a password prompt) and return them.
    fn console_termios(&self, fd: u32, req: u32, new: Option<[u8; 36]>) -> TResult<[u8; 36]>;
    /// Host clock: `clock` is a Linux clock id.
    fn clock_gettime(&self, clock: u32) -> TResult<Timespec>;
    /// Sleeps for `ns` nanoseconds (relative).
    fn sleep(&self, ns: u64) -> TResult<()>;
    /// Fills `buf` with random bytes from the host (the kernel mixes them; never trusted alone
    /// for secrets on a TEE target, where the target uses RDRAND).
    fn random(&self, buf: &mut [u8]) -> TResult<()>;
    /// Current process CPU time (user, system) in nanoseconds.
    fn cpu_times(&self) -> (u64, u64);
    /// The calling host process's CPU-time interval timer `which` (1 = user time, as
    /// ITIMER_VIRTUAL; 2 = user + system, as ITIMER_PROF): sets it to (value, interval) ns when
    /// `new` is given (value 0 disarms) and returns the old (remaining, interval). Expiry
    /// reaches the kernel as [`Upcall::host_signal`] with SIGVTALRM / SIGPROF and `SI_KERNEL`.
    fn cpu_itimer(&self, which: u32, new: Option<(u64, u64)>) -> TResult<(u64, u64)>;
    /// A timer of the calling host process on CPU-time clock `clock` (a host clock id:
    /// CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID of the calling thread, or a pid- or
    /// tid-encoded CPU clock of this host process); disarmed. Each expiry reaches the kernel
    /// as [`Upcall::cpu_timer_expired`] with `cookie`. Returns a handle.
    fn cpu_timer_create(&self, clock: u32, cookie: u64) -> TResult<u64>;
    /// Arms timer `h` to expire at CPU time `value` ns from now (or at `value` on its clock
    /// when `abs`), then every `interval` ns; `value` 0 disarms. Returns the old
    /// (remaining, interval) ns.
    fn cpu_timer_set(&self, h: u64, value: u64, interval: u64, abs: bool) -> TResult<(u64, u64)>;
    /// (remaining, interval) ns of timer `h`.
    fn cpu_timer_get(&self, h: u64) -> TResult<(u64, u64)>;
    /// Deletes timer `h`.
    fn cpu_timer_delete(&self, h: u64) -> TResult<()>;
    /// Sets the scheduling nice value of host thread `host_tid` (a thread of this
    /// application); a host that refuses (no privilege to raise a priority) says so.
    fn set_nice(&self, host_tid: i32, nice: i32) -> TResult<()>;
    /// Host name.
    fn hostname(&self, buf: &mut [u8]) -> TResult<usize>;

    // ----- memory inside the application region
    /// Makes `[addr, addr+len)` accessible with `prot`, zero-filled.
    fn mem_commit(&self, addr: u64, len: u64, prot: Prot) -> TResult<()>;
    /// Like [`Tcall::mem_commit`], but the pages stay shared with processes later made by
    /// [`Tcall::fork`] (MAP_SHARED mappings).
    fn mem_commit_shared(&self, addr: u64, len: u64, prot: Prot) -> TResult<()>;
    /// Changes the protection of committed pages.
    fn mem_protect(&self, addr: u64, len: u64, prot: Prot) -> TResult<()>;
    /// Maps `len` bytes of host file handle `fh` (from `host_open`) at file offset `off`
    /// shared at `addr` (replacing what is there): a `MAP_SHARED` mapping of a host file,
    /// coherent with the file's reads and writes and shared by every process that maps it.
    fn mem_map_host_file(&self, addr: u64, len: u64, prot: Prot, fh: u32, off: u64) -> TResult<()>;
    /// Releases pages back to the reserved, inaccessible state.
    fn mem_release(&self, addr: u64, len: u64) -> TResult<()>;
    /// Zeroes committed pages (MADV_DONTNEED).
    fn mem_zero(&self, addr: u64, len: u64) -> TResult<()>;
    /// Moves committed pages from `from` to `to` (both in the region, not overlapping);
    /// `from` becomes released.
    fn mem_move(&self, from: u64, to: u64, len: u64, prot: Prot) -> TResult<()>;
    /// Copies application memory into `buf`. The kernel has already checked the range
    /// against its own mappings; the target still refuses anything outside the region.
    fn user_read(&self, addr: u64, buf: &mut [u8]) -> TResult<()>;
    /// Copies `buf` into application memory.
    fn user_write(&self, addr: u64, buf: &[u8]) -> TResult<()>;

    // ----- threads and waiting
    /// Starts executing application code on the current host thread; never returns.
    /// System calls and faults reach `upcall` on this thread as kernel thread `tid`.
    fn enter_user(&self, tid: u32, regs: &UserRegs, upcall: &'static dyn Upcall) -> !;
    /// Blocks while `*word == val`, for at most `timeout_ns` (None = forever).
    /// Returns `ETIMEDOUT` on timeout; spurious wake-ups are allowed.
    fn futex_wait(&self, word: &AtomicU32, val: u32, timeout_ns: Option<u64>) -> TResult<()>;
    /// Wakes up to `n` waiters on `word`.
    fn futex_wake(&self, word: &AtomicU32, n: u32) -> TResult<u32>;
    /// Issues a memory barrier on every CPU running threads of this application
    /// (`membarrier` command `cmd`; 0 queries what is supported).
    fn membarrier(&self, cmd: u32) -> TResult<u64>;
    /// Yields the host CPU.
    fn yield_now(&self);
    /// Ends the calling host process (all its threads) with `status`.
    fn exit_process(&self, status: i32) -> !;
    /// Starts a new host thread that runs application code from `regs` as kernel thread
    /// `tid` (its syscalls and faults reach `upcall`).
    fn thread_create(&self, tid: u32, regs: &UserRegs, upcall: &'static dyn Upcall) -> TResult<()>;
    /// Starts a kernel service thread (no application code) running `f`.
    fn kthread_spawn(&self, f: alloc::boxed::Box<dyn FnOnce() + Send>) -> TResult<()>;
    /// Kernel thread id of the calling host thread (0 if it runs no application thread).
    fn current_tid(&self) -> u32;
    /// Ends the calling host thread (the kernel has already torn its state down).
    fn thread_exit(&self) -> !;
    /// Makes the thread running as host (pid, tid) enter the kernel soon: interrupts a
    /// blocking host call it is in, or, if it runs application code, makes it call
    /// [`Upcall::interrupt`].
    fn thread_interrupt(&self, host: (i32, i32));
    /// Copies the calling host process (application memory copy-on-write, kernel heap
    /// shared). Returns the child's host pid in the parent; in the child it never returns:
    /// the child's only thread runs `start` (kernel code, in the new host process, as kernel
    /// thread `tid`) and then application code from the registers `start` returns.
    /// The parent never runs or drops `start`: the child owns it.
    fn fork(&self, tid: u32, start: alloc::boxed::Box<dyn FnOnce() -> UserRegs + Send>, upcall: &'static dyn Upcall) -> TResult<i32>;
    /// Forcibly ends another host process of this application.
    fn kill_host_process(&self, host_pid: i32);
    /// Whether host process `host_pid` (one of this application's) still runs.
    fn host_process_alive(&self, host_pid: i32) -> bool;
    /// Atomically compares-and-exchanges the u32 at `addr` in application memory; returns the
    /// value found.
    fn user_cmpxchg32(&self, addr: u64, old: u32, new: u32) -> TResult<u32>;
    /// The application's floating-point/vector state at the current kernel entry on this
    /// thread, in the XSAVE layout Linux puts in signal frames (FXSAVE image, software bytes
    /// at 464, extended state after 512).
    fn fpu_get(&self) -> alloc::vec::Vec<u8>;
    /// Replaces the application's floating-point/vector state (same layout) for when this
    /// kernel entry returns. Bytes beyond what the host frame holds are ignored.
    fn fpu_set(&self, buf: &[u8]);

    // ----- hostfs
    /// Registers host directory `path` (host syntax) as a hostfs root; returns its handle.
    fn host_mount(&self, path: &str) -> TResult<u32>;
    /// `lstat` of `rel` under root (never follows a final symlink).
    fn host_lstat(&self, root: u32, rel: &[u8]) -> TResult<Stat>;
    /// Opens `rel` (never following symlinks) and returns a host file handle.
    fn host_open(&self, root: u32, rel: &[u8], flags: u32, mode: u32) -> TResult<u32>;
    /// Closes a host file handle.
    fn host_close(&self, fh: u32) -> TResult<()>;
    /// Reads at `off`.
    fn host_pread(&self, fh: u32, buf: &mut [u8], off: u64) -> TResult<usize>;
    /// Writes at `off`.
    fn host_pwrite(&self, fh: u32, buf: &[u8], off: u64) -> TResult<usize>;
    /// `fstat` of an open handle.
    fn host_fstat(&self, fh: u32) -> TResult<Stat>;
    /// Truncates an open handle.
    fn host_ftruncate(&self, fh: u32, len: u64) -> TResult<()>;
    /// Flushes an open handle.
    fn host_fsync(&self, fh: u32) -> TResult<()>;
    /// Lists directory `rel`: calls `f(name, entry)` for each entry except "." and "..".
    fn host_readdir(&self, root: u32, rel: &[u8], f: &mut dyn FnMut(&[u8], HostDirent)) -> TResult<()>;
    /// Reads the target of symlink `rel`.
    fn host_readlink(&self, root: u32, rel: &[u8], buf: &mut [u8]) -> TResult<usize>;
    /// Creates a directory.
    fn host_mkdir(&self, root: u32, rel: &[u8], mode: u32) -> TResult<()>;
    /// Creates a socket node (`S_IFSOCK`, what `bind` of an AF_UNIX path leaves); other
    /// kinds are refused with EPERM.
    fn host_mksock(&self, root: u32, rel: &[u8], mode: u32) -> TResult<()>;
    /// Removes a file (`dir == false`) or an empty directory.
    fn host_unlink(&self, root: u32, rel: &[u8], dir: bool) -> TResult<()>;
    /// Renames within the same root.
    fn host_rename(&self, root: u32, from: &[u8], to: &[u8], flags: u32) -> TResult<()>;
    /// Creates symlink `rel` pointing to `target` (stored verbatim).
    fn host_symlink(&self, root: u32, target: &[u8], rel: &[u8]) -> TResult<()>;
    /// Creates hard link `to` to `from`.
    fn host_link(&self, root: u32, from: &[u8], to: &[u8]) -> TResult<()>;
    /// Changes mode bits of `rel` (no symlink following).
    fn host_chmod(&self, root: u32, rel: &[u8], mode: u32) -> TResult<()>;
    /// Changes owner of `rel` (no symlink following); `u32::MAX` leaves an id unchanged.
    fn host_chown(&self, root: u32, rel: &[u8], uid: u32, gid: u32) -> TResult<()>;
    /// Sets access and modification times (`UTIME_NOW`/`UTIME_OMIT` honoured).
    fn host_utimens(&self, root: u32, rel: &[u8], atime: Timespec, mtime: Timespec) -> TResult<()>;
    /// File-system statistics of the root.
    fn host_statfs(&self, root: u32) -> TResult<Statfs>;

    // ----- block devices (image files)
    /// Opens a host image file read-only; returns a handle and its size in bytes.
    fn blk_open(&self, path: &str) -> TResult<(u32, u64)>;
    /// Reads from an image at a byte offset.
    fn blk_read(&self, h: u32, off: u64, buf: &mut [u8]) -> TResult<usize>;

    // ----- sockets (AF_INET/AF_INET6 on the host network)
    //
    // A handle belongs to the host process that opened it and to host processes later made
    // from it by [`Tcall::fork`] (which inherit it); anywhere else the number may name
    // something else, so the kernel checks [`Tcall::sock_ident`] before using a handle in a
    // process other than the one that opened it. Handles are always non-blocking on the host:
    // operations that would block give `EAGAIN`, and the kernel waits with
    // [`Tcall::host_poll`]. Socket addresses are Linux `sockaddr` bytes, checked by the kernel.
    /// Opens a socket (`ty` without SOCK_NONBLOCK/SOCK_CLOEXEC); returns its handle and an
    /// identity that [`Tcall::sock_ident`] gives back for the same socket.
    fn sock_open(&self, domain: u32, ty: u32, proto: u32) -> TResult<(u32, u64)>;
    /// Identity of the socket that `h` names in the calling host process.
    fn sock_ident(&self, h: u32) -> TResult<u64>;
    /// Binds to `addr`.
    fn sock_bind(&self, h: u32, addr: &[u8]) -> TResult<()>;
    /// Listens.
    fn sock_listen(&self, h: u32, backlog: i32) -> TResult<()>;
    /// Accepts a pending connection without blocking; writes the peer address into `addr`
    /// and returns (new handle, its identity, address length).
    fn sock_accept(&self, h: u32, addr: &mut [u8]) -> TResult<(u32, u64, usize)>;
    /// Starts or completes a connection (`EINPROGRESS` while in progress).
    fn sock_connect(&self, h: u32, addr: &[u8]) -> TResult<()>;
    /// Sends without blocking (and without SIGPIPE); `to` is a destination address.
    fn sock_send(&self, h: u32, buf: &[u8], flags: u32, to: Option<&[u8]>) -> TResult<usize>;
    /// Receives without blocking; writes the source address into `from`. Returns (bytes,
    /// address length, `MSG_*` result flags).
    fn sock_recv(&self, h: u32, buf: &mut [u8], flags: u32, from: &mut [u8]) -> TResult<(usize, usize, u32)>;
    /// Shuts down one or both directions.
    fn sock_shutdown(&self, h: u32, how: u32) -> TResult<()>;
    /// Local (`peer == false`) or peer address; returns its length.
    fn sock_name(&self, h: u32, peer: bool, addr: &mut [u8]) -> TResult<usize>;
    /// Reads an option (the kernel passes only options it allows); returns its length.
    fn sock_getopt(&self, h: u32, level: u32, name: u32, val: &mut [u8]) -> TResult<usize>;
    /// Sets an option (the kernel passes only options it allows).
    fn sock_setopt(&self, h: u32, level: u32, name: u32, val: &[u8]) -> TResult<()>;
    /// Bytes ready to read (FIONREAD).
    fn sock_pending(&self, h: u32) -> TResult<usize>;
    /// Closes the handle in the calling host process.
    fn sock_close(&self, h: u32) -> TResult<()>;
    /// Waits until one of `fds` is ready or `timeout_ns` passes (None = forever); fills
    /// `revents` and returns how many are ready. [`Tcall::thread_interrupt`] makes it
    /// return `EINTR`, also when the interrupt came just before the call.
    fn host_poll(&self, fds: &mut [HostPollFd], timeout_ns: Option<u64>) -> TResult<usize>;
}
