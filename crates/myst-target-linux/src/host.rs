//! `Tcall` over host system calls.

use crate::region::Region;
use myst_abi::structs::{Stat, Statfs, Timespec};
use myst_abi::Errno;
use myst_tcall::{HostDirent, HostPollFd, Prot, TResult, TargetInfo, Tcall, Upcall, UserRegs};
use std::ffi::CString;
use std::sync::atomic::AtomicU32;

/// The linux target.
#[derive(Debug)]
pub struct LinuxTarget {
    region: Region,
    roots: Roots,
    info: TargetInfo,
}

/// Host directories mounted as hostfs roots (their `O_PATH` fds), append-only and
/// lock-free: the target lives in the heap every host process shares, where a std mutex
/// (a process-private futex) could leave another process waiting forever.
#[derive(Debug)]
struct Roots {
    fds: [std::sync::atomic::AtomicI32; MAX_ROOTS],
    len: std::sync::atomic::AtomicUsize,
}

/// Most hostfs mounts one run can make.
const MAX_ROOTS: usize = 256;

impl Roots {
    fn new() -> Self {
        Self { fds: std::array::from_fn(|_| std::sync::atomic::AtomicI32::new(-1)), len: std::sync::atomic::AtomicUsize::new(0) }
    }

    fn push(&self, fd: i32) -> TResult<u32> {
        use std::sync::atomic::Ordering::SeqCst;
        let i = self.len.fetch_add(1, SeqCst);
        if i >= MAX_ROOTS {
            self.len.fetch_sub(1, SeqCst);
            return Err(Errno::ENOMEM);
        }
        self.fds[i].store(fd, SeqCst);
        Ok(i as u32)
    }

    fn get(&self, i: u32) -> TResult<i32> {
        match self.fds.get(i as usize).map(|f| f.load(std::sync::atomic::Ordering::SeqCst)) {
            Some(fd) if fd >= 0 => Ok(fd),
            _ => Err(Errno::EBADF),
        }
    }
}

fn last_errno() -> Errno {
    Errno::from_raw(std::io::Error::last_os_error().raw_os_error().unwrap_or(5)).unwrap_or(Errno::EIO)
}

fn check(r: libc::c_long) -> TResult<usize> {
    if r < 0 {
        Err(last_errno())
    } else {
        Ok(r as usize)
    }
}

fn cstr(s: impl AsRef<[u8]>) -> TResult<CString> {
    CString::new(s.as_ref()).map_err(|_| Errno::EINVAL)
}

fn to_stat(s: &libc::stat) -> Stat {
    Stat {
        dev: s.st_dev,
        ino: s.st_ino,
        nlink: s.st_nlink,
        mode: s.st_mode,
        uid: s.st_uid,
        gid: s.st_gid,
        rdev: s.st_rdev,
        size: s.st_size,
        blksize: s.st_blksize,
        blocks: s.st_blocks,
        atime: Timespec { sec: s.st_atime, nsec: s.st_atime_nsec },
        mtime: Timespec { sec: s.st_mtime, nsec: s.st_mtime_nsec },
        ctime: Timespec { sec: s.st_ctime, nsec: s.st_ctime_nsec },
    }
}

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_BENEATH: u64 = 0x08;

/// `openat2` confined beneath `dirfd`, following no symlink at all.
fn open_beneath(dirfd: i32, rel: &[u8], flags: i32, mode: u32) -> TResult<i32> {
    let p = cstr(rel)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC | libc::O_NOFOLLOW) as u64,
        mode: if flags & (libc::O_CREAT | libc::O_TMPFILE) != 0 { mode as u64 } else { 0 },
        resolve: RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    loop {
        // SAFETY: valid C string and open_how of the size passed.
        let r = unsafe { libc::syscall(libc::SYS_openat2, dirfd, p.as_ptr(), &how as *const OpenHow, std::mem::size_of::<OpenHow>()) };
        if r < 0 && last_errno() == Errno::EAGAIN {
            continue;
        }
        return check(r).map(|fd| fd as i32);
    }
}

/// An fd closed on drop.
struct Fd(i32);
impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: closes an fd we own.
        unsafe { libc::close(self.0) };
    }
}

/// Size of the host signal frame's FP state at `p`: the XSAVE size announced in the
/// software-reserved bytes, or the 512-byte FXSAVE image.
fn fp_size(p: *const u8) -> usize {
    // SAFETY: the area is at least the 512-byte FXSAVE image.
    let (magic, size) = unsafe {
        let mut m = [0u8; 4];
        let mut z = [0u8; 4];
        std::ptr::copy_nonoverlapping(p.add(464), m.as_mut_ptr(), 4);
        std::ptr::copy_nonoverlapping(p.add(480), z.as_mut_ptr(), 4);
        (u32::from_le_bytes(m), u32::from_le_bytes(z) as usize)
    };
    if magic == 0x4650_5853 && (512..=256 * 1024).contains(&size) {
        size
    } else {
        512
    }
}

fn raw_auxv(key: u64) -> Option<u64> {
    let b = std::fs::read("/proc/self/auxv").ok()?;
    for c in b.chunks_exact(16) {
        let k = u64::from_le_bytes(c[0..8].try_into().ok()?);
        if k == key {
            return Some(u64::from_le_bytes(c[8..16].try_into().ok()?));
        }
    }
    None
}

/// Copies a kernel-checked socket address into host storage.
fn to_storage(addr: &[u8]) -> TResult<(libc::sockaddr_storage, libc::socklen_t)> {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let n = std::mem::size_of::<libc::sockaddr_storage>();
    if addr.len() > n {
        return Err(Errno::EINVAL);
    }
    // SAFETY: copies at most sizeof(sockaddr_storage) bytes into it.
    unsafe { std::ptr::copy_nonoverlapping(addr.as_ptr(), (&mut ss as *mut libc::sockaddr_storage).cast::<u8>(), addr.len()) };
    Ok((ss, addr.len() as libc::socklen_t))
}

/// Copies a host address out (truncated to `out`); returns the full length.
fn from_storage(ss: &libc::sockaddr_storage, len: libc::socklen_t, out: &mut [u8]) -> usize {
    let len = (len as usize).min(std::mem::size_of::<libc::sockaddr_storage>());
    let k = len.min(out.len());
    // SAFETY: reads k <= sizeof(sockaddr_storage) bytes of ss.
    unsafe { std::ptr::copy_nonoverlapping((ss as *const libc::sockaddr_storage).cast::<u8>(), out.as_mut_ptr(), k) };
    k
}

fn sock_ino(fd: i32) -> TResult<u64> {
    // SAFETY: zeroed stat is a valid out-buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid buffer.
    check(unsafe { libc::fstat(fd, &mut st) } as libc::c_long)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(Errno::EBADF);
    }
    Ok(st.st_ino)
}

fn retry_eintr(mut f: impl FnMut() -> libc::c_long) -> TResult<usize> {
    loop {
        let r = f();
        if r < 0 && last_errno() == Errno::EINTR {
            continue;
        }
        return check(r);
    }
}

impl LinuxTarget {
    /// Creates the target with an application region of `memory_size` bytes.
    pub fn new(memory_size: u64) -> Result<&'static LinuxTarget, String> {
        let sup = crate::probe::probe();
        if !sup.fsgsbase {
            return Err(
                "this host does not allow user-space FSGSBASE (needs Linux 5.9+ on a CPU with FSGSBASE); the linux target needs it".into(),
            );
        }
        if !sup.sud_inclusive {
            return Err(format!(
                "this host kernel ({}) lacks inclusive Syscall User Dispatch (PR_SYS_DISPATCH_INCLUSIVE_ON); the linux target needs it",
                sup.kernel
            ));
        }
        let memory_size = memory_size.div_ceil(4096) * 4096;
        // The region is address space; the kernel limits what is committed in it to
        // `memory_size`. Reserving more lets programs reserve address space as they do on
        // Linux (glibc reserves 64 MiB per malloc arena, Go and V8 reserve far more).
        let len = memory_size.max(crate::region::ADDRESS_SPACE);
        let region = Region::reserve(crate::region::DEFAULT_START, len)?;
        let (initial_sigmask, initial_sigignored) = host_signal_state();
        crate::vdso::install_guard();
        // SAFETY: getpid has no preconditions.
        ROOT_HOST_PID.store(unsafe { libc::getpid() }, std::sync::atomic::Ordering::Relaxed);
        crate::gate::install_handlers()?;
        // Signals from outside go to the application through the watcher thread; every
        // thread (this one and those it starts) keeps them blocked.
        // SAFETY: blocks the forwarded set on this thread; the sigset is initialised.
        unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &forwarded_sigset(), std::ptr::null_mut()) };
        start_watcher(None)?;
        // Host child processes (the application's forked processes) are reaped by the host
        // kernel; the myst kernel keeps its own wait statuses.
        // SAFETY: plain signal-disposition change.
        unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
        let mut info = Self::probe_info(&region);
        info.memory_size = memory_size;
        info.initial_sigmask = initial_sigmask;
        info.initial_sigignored = initial_sigignored;
        Ok(Box::leak(Box::new(LinuxTarget { region, roots: Roots::new(), info })))
    }

    fn probe_info(region: &Region) -> TargetInfo {
        // SAFETY: getauxval/sysconf/getuid have no preconditions.
        let (hwcap, hwcap2, minsig, ncpu, uid, gid, pages) = unsafe {
            (
                libc::getauxval(libc::AT_HWCAP),
                libc::getauxval(libc::AT_HWCAP2),
                libc::getauxval(51),
                libc::sysconf(libc::_SC_NPROCESSORS_ONLN),
                libc::getuid(),
                libc::getgid(),
                libc::sysconf(libc::_SC_PHYS_PAGES),
            )
        };
        // glibc's getauxval(AT_HWCAP) reports its own view; the raw kernel word is in
        // /proc/self/auxv.
        let hwcap = raw_auxv(16).unwrap_or(hwcap);
        TargetInfo {
            name: "linux",
            region_start: region.start,
            region_len: region.len,
            memory_size: region.len,
            hwcap,
            hwcap2,
            minsigstksz: if minsig == 0 { 2048 } else { minsig },
            ncpus: ncpu.max(1) as u32,
            uid,
            gid,
            total_ram: pages.max(0) as u64 * 4096,
            vdso: if crate::vdso::guard_installed() { raw_auxv(libc::AT_SYSINFO_EHDR).unwrap_or(0) } else { 0 },
            initial_sigmask: 0,
            initial_sigignored: 0,
            // SAFETY: no preconditions (-1 is a valid nice value: errno is not consulted,
            // and a failure leaves the default).
            initial_nice: unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) },
            has_ctty: has_ctty(),
        }
    }

    fn root(&self, root: u32) -> TResult<i32> {
        self.roots.get(root)
    }

    /// Opens the parent directory of `rel` beneath `root`; returns it and the last component.
    fn parent(&self, root: u32, rel: &[u8]) -> TResult<(Fd, CString)> {
        let rfd = self.root(root)?;
        let (dir, last): (&[u8], &[u8]) = match rel.iter().rposition(|&b| b == b'/') {
            Some(i) => (&rel[..i], &rel[i + 1..]),
            None => (b".", rel),
        };
        if last.is_empty() || last == b"." || last == b".." {
            return Err(Errno::EINVAL);
        }
        let fd = open_beneath(rfd, dir, libc::O_PATH | libc::O_DIRECTORY, 0)?;
        Ok((Fd(fd), cstr(last)?))
    }
}

/// Host pid of the first application process (the `myst` process itself).
static ROOT_HOST_PID: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// Signals from outside the application (`kill` of a myst process, the terminal's Ctrl-C,
/// Ctrl-\\, hang-up, resize) that are passed on to the application process running in the
/// host process that got them. They stay blocked in every thread of the host process and
/// are read by its watcher thread.
/// SIGVTALRM and SIGPROF are the host CPU-time timers of [`Tcall::cpu_itimer`];
/// [`SIG_CPUTIMER`] those of [`Tcall::cpu_timer_create`].
pub const FORWARDED: [i32; 10] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGVTALRM,
    libc::SIGPROF,
    SIG_CPUTIMER,
];

/// The host signal of the CPU-time POSIX timers ([`Tcall::cpu_timer_create`]); its
/// `si_value` is the kernel's cookie.
pub const SIG_CPUTIMER: i32 = 62;

/// [`FORWARDED`] as a host sigset.
pub fn forwarded_sigset() -> libc::sigset_t {
    // SAFETY: a zeroed sigset initialised by sigemptyset and filled by sigaddset.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in FORWARDED {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// Starts this host process's watcher thread: it passes [`FORWARDED`] signals to the kernel
/// and, in a forked host process (`root_pidfd`), ends the process when the first host
/// process ends, however that happens (PR_SET_PDEATHSIG would fire when the forking *thread*
/// ends, which for an application thread or a vfork child is long before the application
/// does). The calling thread must have [`FORWARDED`] blocked.
fn start_watcher(root_pidfd: Option<i32>) -> Result<(), String> {
    // SAFETY: signalfd only reads the sigset; the result is checked.
    let sfd = unsafe { libc::signalfd(-1, &forwarded_sigset(), libc::SFD_CLOEXEC) };
    if sfd < 0 {
        return Err(format!("signalfd: {}", std::io::Error::last_os_error()));
    }
    // A raw pthread, not std::thread: std allocates from the global allocator (the shared
    // kernel heap) while a thread starts, and a forked process that exits at once would end
    // the thread halfway, with the heap's lock held for every other process.
    let arg = ((sfd as u64) << 32) | (root_pidfd.unwrap_or(-1) as u32 as u64);
    // SAFETY: a zeroed pthread_t out-parameter; the start routine takes its argument by value
    // (two fds packed in the pointer) and never returns.
    let r = unsafe {
        let mut th: libc::pthread_t = std::mem::zeroed();
        libc::pthread_create(&mut th, std::ptr::null(), watch_main, arg as usize as *mut libc::c_void)
    };
    if r != 0 {
        return Err(format!("cannot start the watcher thread: {}", std::io::Error::from_raw_os_error(r)));
    }
    Ok(())
}

/// The watcher thread (see [`start_watcher`]): waits in `poll` and touches kernel state only
/// to hand over a signal.
extern "C" fn watch_main(arg: *mut libc::c_void) -> *mut libc::c_void {
    let arg = arg as usize as u64;
    let (sfd, root_pidfd) = ((arg >> 32) as i32, arg as u32 as i32);
    // SAFETY: blocks every signal on this thread only (the forwarded ones are read from the
    // signalfd; the gate's own signals must never land here).
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, std::ptr::null_mut());
    }
    let mut next_check = mono_secs() + 1;
    loop {
        let mut fds =
            [libc::pollfd { fd: sfd, events: libc::POLLIN, revents: 0 }, libc::pollfd { fd: root_pidfd, events: libc::POLLIN, revents: 0 }];
        // The first process's watcher lets the kernel look for application processes killed
        // from outside about once a second (Upcall::reap_check), however busy it is.
        let timeout = if root_pidfd < 0 { 1000 } else { -1 };
        // SAFETY: two valid pollfds (a negative fd is ignored by poll).
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout) };
        if root_pidfd < 0 {
            let now = mono_secs();
            if now >= next_check {
                next_check = now + 1;
                if let Some(up) = crate::gate::upcall() {
                    up.reap_check();
                }
            }
        }
        if n <= 0 {
            continue;
        }
        if fds[1].revents != 0 {
            // The first process has ended.
            // SAFETY: _exit has no preconditions.
            unsafe { libc::_exit(137) };
        }
        if fds[0].revents != 0 {
            // SAFETY: plain-old-data, all-zero is valid.
            let mut si: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            // SAFETY: reads at most one signalfd_siginfo into `si`, which is exactly that size.
            let n =
                unsafe { libc::read(sfd, (&mut si as *mut libc::signalfd_siginfo).cast(), std::mem::size_of::<libc::signalfd_siginfo>()) };
            if n == std::mem::size_of::<libc::signalfd_siginfo>() as isize {
                if let Some(up) = crate::gate::upcall() {
                    if si.ssi_signo == SIG_CPUTIMER as u32 {
                        up.cpu_timer_expired(si.ssi_ptr, si.ssi_overrun as u64 + 1);
                    } else {
                        // SAFETY: getpid has no preconditions.
                        up.host_signal(unsafe { libc::getpid() }, si.ssi_signo, si.ssi_code);
                    }
                }
            }
        }
    }
}

/// In a newly forked host process: start its watcher (see [`start_watcher`]).
fn die_with_root() {
    let root = ROOT_HOST_PID.load(std::sync::atomic::Ordering::Relaxed);
    // SAFETY: pidfd_open has no memory arguments; the result is checked.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, root, 0) } as i32;
    if fd < 0 {
        // The first process is already gone.
        // SAFETY: _exit has no preconditions.
        unsafe { libc::_exit(137) };
    }
    if let Err(e) = start_watcher(Some(fd)) {
        eprintln!("myst: {e}");
        // Without a watcher fall back to the parent-death signal.
        // SAFETY: plain prctl.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    }
}

/// The host signal mask and the set of ignored signals this process started with, before
/// the gate installs its handlers. SIGPIPE is left out of the ignored set: the Rust runtime
/// ignores it before `main`, so its inherited disposition is unknowable here.
fn host_signal_state() -> (u64, u64) {
    let mut mask = 0u64;
    // SAFETY: reads the current mask into a local 8-byte buffer (the kernel sigset size).
    unsafe { libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_BLOCK, std::ptr::null::<u64>(), &mut mask as *mut u64, 8usize) };
    let mut ignored = 0u64;
    for sig in 1..=64i32 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP || sig == libc::SIGPIPE {
            continue;
        }
        // SAFETY: a query-only sigaction (null new action) into a zeroed local.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        if unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) } == 0 && old.sa_sigaction == libc::SIG_IGN {
            ignored |= 1 << (sig - 1);
        }
    }
    let never = (1u64 << (libc::SIGKILL - 1)) | (1u64 << (libc::SIGSTOP - 1));
    (mask & !never, ignored)
}

impl Tcall for LinuxTarget {
    fn info(&self) -> TargetInfo {
        self.info.clone()
    }

    fn console_write(&self, fd: u32, buf: &[u8]) -> TResult<usize> {
        if fd != 1 && fd != 2 {
            return Err(Errno::EBADF);
        }
        // SAFETY: valid buffer.
        check(unsafe { libc::write(fd as i32, buf.as_ptr().cast(), buf.len()) } as libc::c_long)
    }

    fn console_read(&self, buf: &mut [u8]) -> TResult<usize> {
        // SAFETY: valid buffer. EINTR (a signal for the application) goes to the kernel.
        check(unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) } as libc::c_long)
    }

    fn console_isatty(&self, fd: u32) -> Option<(u16, u16)> {
        // SAFETY: isatty/ioctl on a standard fd with a valid winsize buffer.
        unsafe {
            if libc::isatty(fd as i32) != 1 {
                return None;
            }
            let mut ws: libc::winsize = std::mem::zeroed();
            if libc::ioctl(fd as i32, libc::TIOCGWINSZ, &mut ws) == 0 {
                Some((ws.ws_row, ws.ws_col))
            } else {
                Some((24, 80))
            }
        }
    }

    fn console_termios(&self, fd: u32, req: u32, new: Option<[u8; 36]>) -> TResult<[u8; 36]> {
        if fd > 2 || !matches!(req, 0x5401..=0x5404) {
            return Err(Errno::EINVAL);
        }
        let mut buf = new.unwrap_or([0u8; 36]);
        // SAFETY: TCGETS writes and TCSETS* read the kernel's 36-byte termios, which `buf` is.
        check(unsafe { libc::ioctl(fd as i32, req as libc::c_ulong, buf.as_mut_ptr()) } as libc::c_long)?;
        Ok(buf)
    }

    fn console_pending(&self) -> TResult<usize> {
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD writes an int.
        check(unsafe { libc::ioctl(0, libc::FIONREAD, &mut n) } as libc::c_long)?;
        Ok(n.max(0) as usize)
    }

    fn clock_gettime(&self, clock: u32) -> TResult<Timespec> {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        if (clock as i32) < 0 {
            // A CPU clock of a host process or thread: through the one syscall site the
            // seccomp filter lets such clock reads through (see `crate::vdso`).
            check(crate::vdso::raw_clock_gettime(clock as i32, &mut ts))?;
        } else {
            // SAFETY: valid timespec out-pointer.
            check(unsafe { libc::clock_gettime(clock as i32, &mut ts) } as libc::c_long)?;
        }
        Ok(Timespec { sec: ts.tv_sec, nsec: ts.tv_nsec })
    }

    fn sleep(&self, ns: u64) -> TResult<()> {
        let req = ns_ts(ns);
        // SAFETY: valid timespec; an interrupt returns EINTR to the kernel.
        let r = unsafe { libc::nanosleep(&req, std::ptr::null_mut()) };
        if r != 0 {
            return Err(last_errno());
        }
        Ok(())
    }

    fn random(&self, buf: &mut [u8]) -> TResult<()> {
        let mut done = 0;
        while done < buf.len() {
            // SAFETY: valid buffer slice.
            let r = unsafe { libc::getrandom(buf[done..].as_mut_ptr().cast(), buf.len() - done, 0) };
            if r < 0 {
                if last_errno() == Errno::EINTR {
                    continue;
                }
                return Err(last_errno());
            }
            done += r as usize;
        }
        Ok(())
    }

    fn cpu_times(&self) -> (u64, u64) {
        // SAFETY: valid rusage out-pointer.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
        let ns = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
        (ns(ru.ru_utime), ns(ru.ru_stime))
    }

    fn hostname(&self, buf: &mut [u8]) -> TResult<usize> {
        // SAFETY: valid buffer.
        check(unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } as libc::c_long)?;
        Ok(buf.iter().position(|&b| b == 0).unwrap_or(buf.len()))
    }

    fn mem_commit(&self, addr: u64, len: u64, prot: Prot) -> TResult<()> {
        self.region.commit(addr, len, prot)
    }
    fn mem_commit_shared(&self, addr: u64, len: u64, prot: Prot) -> TResult<()> {
        self.region.commit_shared(addr, len, prot)
    }
    fn mem_map_host_file(&self, addr: u64, len: u64, prot: Prot, fh: u32, off: u64) -> TResult<()> {
        self.region.map_file(addr, len, prot, fh as i32, off)
    }
    fn mem_protect(&self, addr: u64, len: u64, prot: Prot) -> TResult<()> {
        self.region.protect(addr, len, prot)
    }
    fn mem_release(&self, addr: u64, len: u64) -> TResult<()> {
        self.region.release(addr, len)
    }
    fn mem_zero(&self, addr: u64, len: u64) -> TResult<()> {
        self.region.zero(addr, len)
    }
    fn mem_move(&self, from: u64, to: u64, len: u64, prot: Prot) -> TResult<()> {
        self.region.move_pages(from, to, len, prot)
    }
    fn user_read(&self, addr: u64, buf: &mut [u8]) -> TResult<()> {
        self.region.read(addr, buf)
    }
    fn user_write(&self, addr: u64, buf: &[u8]) -> TResult<()> {
        self.region.write(addr, buf)
    }

    fn enter_user(&self, tid: u32, regs: &UserRegs, upcall: &'static dyn Upcall) -> ! {
        if let Err(e) = crate::gate::install_altstack(4 << 20) {
            eprintln!("myst: {e}");
            std::process::exit(127);
        }
        crate::gate::enter(tid, regs, upcall, (self.region.start, self.region.len))
    }

    fn futex_wait(&self, word: &AtomicU32, val: u32, timeout_ns: Option<u64>) -> TResult<()> {
        let ts = timeout_ns.map(ns_ts);
        let tp = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: word is a live AtomicU32; FUTEX_WAIT (shared) only reads it.
        let r = unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAIT, val, tp) };
        if r < 0 {
            let e = last_errno();
            if e == Errno::EAGAIN || e == Errno::EINTR {
                return Ok(());
            }
            return Err(e);
        }
        Ok(())
    }

    fn futex_wake(&self, word: &AtomicU32, n: u32) -> TResult<u32> {
        // SAFETY: word is a live AtomicU32.
        let r = unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, n) };
        check(r).map(|v| v as u32)
    }

    fn membarrier(&self, cmd: u32) -> TResult<u64> {
        // SAFETY: plain membarrier syscall; PRIVATE_EXPEDITED needs this host process to have
        // registered, which the kernel does on the application's REGISTER command.
        check(unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0, 0) }).map(|v| v as u64)
    }

    fn yield_now(&self) {
        // SAFETY: no preconditions.
        unsafe { libc::sched_yield() };
    }

    fn cpu_itimer(&self, which: u32, new: Option<(u64, u64)>) -> TResult<(u64, u64)> {
        let which = match which {
            1 => libc::ITIMER_VIRTUAL,
            2 => libc::ITIMER_PROF,
            _ => return Err(Errno::EINVAL),
        };
        let tv = |ns: u64| libc::timeval { tv_sec: (ns / 1_000_000_000) as i64, tv_usec: ((ns % 1_000_000_000) / 1000) as i64 };
        let ns = |t: &libc::timeval| t.tv_sec.max(0) as u64 * 1_000_000_000 + t.tv_usec.max(0) as u64 * 1000;
        // SAFETY: plain-old-data, all-zero is valid.
        let mut old: libc::itimerval = unsafe { std::mem::zeroed() };
        let r = match new {
            // SAFETY: valid itimerval in and out.
            Some((value, interval)) => unsafe {
                libc::setitimer(which, &libc::itimerval { it_interval: tv(interval), it_value: tv(value) }, &mut old)
            },
            // SAFETY: valid itimerval out.
            None => unsafe { libc::getitimer(which, &mut old) },
        };
        if r != 0 {
            return Err(last_errno());
        }
        Ok((ns(&old.it_value), ns(&old.it_interval)))
    }

    fn cpu_timer_create(&self, clock: u32, cookie: u64) -> TResult<u64> {
        // struct sigevent as the kernel reads it: value, signo, notify, then the union.
        #[repr(C)]
        struct SigEvent {
            value: u64,
            signo: i32,
            notify: i32,
            pad: [i32; 12],
        }
        // A process-directed signal: it stays pending (blocked in every thread) until the
        // watcher's signalfd reads it.
        let ev = SigEvent { value: cookie, signo: SIG_CPUTIMER, notify: libc::SIGEV_SIGNAL, pad: [0; 12] };
        let mut id: i32 = -1;
        // SAFETY: a valid sigevent in and a timer id out.
        check(unsafe { libc::syscall(libc::SYS_timer_create, clock as i32, &ev as *const SigEvent, &mut id as *mut i32) })?;
        Ok(id as u32 as u64)
    }

    fn cpu_timer_set(&self, h: u64, value: u64, interval: u64, abs: bool) -> TResult<(u64, u64)> {
        let new = libc::itimerspec { it_interval: ns_ts(interval), it_value: ns_ts(value) };
        // SAFETY: plain-old-data, all-zero is valid.
        let mut old: libc::itimerspec = unsafe { std::mem::zeroed() };
        let flags = if abs { libc::TIMER_ABSTIME } else { 0 };
        // SAFETY: valid itimerspecs in and out.
        check(unsafe {
            libc::syscall(libc::SYS_timer_settime, h as i32, flags, &new as *const libc::itimerspec, &mut old as *mut libc::itimerspec)
        })?;
        Ok((ts_ns(&old.it_value), ts_ns(&old.it_interval)))
    }

    fn cpu_timer_get(&self, h: u64) -> TResult<(u64, u64)> {
        // SAFETY: plain-old-data, all-zero is valid.
        let mut cur: libc::itimerspec = unsafe { std::mem::zeroed() };
        // SAFETY: a valid itimerspec out.
        check(unsafe { libc::syscall(libc::SYS_timer_gettime, h as i32, &mut cur as *mut libc::itimerspec) })?;
        Ok((ts_ns(&cur.it_value), ts_ns(&cur.it_interval)))
    }

    fn cpu_timer_delete(&self, h: u64) -> TResult<()> {
        // SAFETY: no memory arguments.
        check(unsafe { libc::syscall(libc::SYS_timer_delete, h as i32) }).map(|_| ())
    }

    fn set_nice(&self, host_tid: i32, nice: i32) -> TResult<()> {
        // SAFETY: no memory arguments; PRIO_PROCESS with a tid names one host thread.
        check(unsafe { libc::setpriority(libc::PRIO_PROCESS, host_tid as libc::id_t, nice) } as libc::c_long).map(|_| ())
    }

    fn exit_process(&self, status: i32) -> ! {
        // SAFETY: ends the process; the kernel has no buffered state to flush.
        unsafe { libc::_exit(status) }
    }

    fn thread_create(&self, tid: u32, regs: &UserRegs, upcall: &'static dyn Upcall) -> TResult<()> {
        let regs = *regs;
        let region = (self.region.start, self.region.len);
        std::thread::Builder::new()
            .name(format!("myst-{tid}"))
            .stack_size(256 << 10)
            .spawn(move || {
                if let Err(e) = crate::gate::install_altstack(1 << 20) {
                    eprintln!("myst: {e}");
                    std::process::exit(127);
                }
                crate::gate::enter(tid, &regs, upcall, region)
            })
            .map(|_| ())
            .map_err(|_| Errno::EAGAIN)
    }

    fn kthread_spawn(&self, f: Box<dyn FnOnce() + Send>) -> TResult<()> {
        std::thread::Builder::new().name("myst-kthread".into()).stack_size(256 << 10).spawn(f).map(|_| ()).map_err(|_| Errno::EAGAIN)
    }

    fn current_tid(&self) -> u32 {
        crate::gate::current_tid_checked()
    }

    fn thread_exit(&self) -> ! {
        // SAFETY: ends only the calling host thread; its kernel state is already gone and
        // its leaked block and stacks are never touched again.
        unsafe {
            libc::syscall(libc::SYS_exit, 0);
        }
        unreachable!("SYS_exit returned")
    }

    fn thread_interrupt(&self, host: (i32, i32)) {
        if host.0 > 0 && host.1 > 0 {
            // SAFETY: tgkill to a thread of one of this application's host processes, with the
            // target's own signal (handled by the gate in every process).
            unsafe { libc::syscall(libc::SYS_tgkill, host.0, host.1, crate::gate::SIG_INTERRUPT) };
        }
    }

    fn fork(&self, tid: u32, start: Box<dyn FnOnce() -> UserRegs + Send>, upcall: &'static dyn Upcall) -> TResult<i32> {
        // SAFETY: fork from the kernel (inside the gate's handler); the child continues only
        // into `start` and `gate::enter`, never back through the parent's kernel frames.
        let r = unsafe { libc::fork() };
        if r < 0 {
            return Err(last_errno());
        }
        if r > 0 {
            // The child owns `start` and what it holds (all in the shared kernel heap).
            std::mem::forget(start);
            return Ok(r);
        }
        die_with_root();
        crate::gate::enter_with(tid, upcall, (self.region.start, self.region.len), start)
    }

    fn kill_host_process(&self, host_pid: i32) {
        if host_pid > 0 {
            // SAFETY: SIGKILL to a host process of this application.
            unsafe { libc::kill(host_pid, libc::SIGKILL) };
        }
    }

    fn host_process_alive(&self, host_pid: i32) -> bool {
        // (The application's host processes are reaped by the host at once: SIGCHLD is
        // ignored, so an ended one is gone, not a zombie.)
        // SAFETY: signal 0 only checks for existence.
        host_pid <= 0 || unsafe { libc::kill(host_pid, 0) } == 0 || last_errno() != Errno::ESRCH
    }

    fn user_cmpxchg32(&self, addr: u64, old: u32, new: u32) -> TResult<u32> {
        if !addr.is_multiple_of(4) || !self.region.contains(addr, 4) {
            return Err(Errno::EFAULT);
        }
        // SAFETY: aligned, inside the region, and the kernel checked the page is writable.
        let a = unsafe { AtomicU32::from_ptr(addr as *mut u32) };
        Ok(match a.compare_exchange(old, new, std::sync::atomic::Ordering::SeqCst, std::sync::atomic::Ordering::SeqCst) {
            Ok(v) | Err(v) => v,
        })
    }

    fn fpu_get(&self) -> Vec<u8> {
        let Some(p) = crate::gate::fpu_area() else { return vec![0u8; 512] };
        let n = fp_size(p);
        let mut v = vec![0u8; n];
        // SAFETY: the host FP state area of the live signal frame holds `n` bytes.
        unsafe { std::ptr::copy_nonoverlapping(p, v.as_mut_ptr(), n) };
        v
    }

    fn fpu_set(&self, buf: &[u8]) {
        let Some(p) = crate::gate::fpu_area() else { return };
        let n = fp_size(p).min(buf.len());
        if n < 512 {
            return;
        }
        let mut b = buf[..n].to_vec();
        // MXCSR reserved bits must stay clear or the host's sigreturn faults.
        let mxcsr = u32::from_le_bytes([b[24], b[25], b[26], b[27]]) & 0xffff;
        b[24..28].copy_from_slice(&mxcsr.to_le_bytes());
        // Keep the host's own software bytes (they describe the host frame).
        // SAFETY: reads the 48 software-reserved bytes of the live host FP area.
        unsafe { std::ptr::copy_nonoverlapping(p.add(464), b.as_mut_ptr().add(464), 48) };
        // SAFETY: writes at most the size of the live host FP state area.
        unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), p, n) };
    }

    fn host_mount(&self, path: &str) -> TResult<u32> {
        let p = cstr(path)?;
        // SAFETY: valid C string.
        let fd = unsafe { libc::open(p.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(last_errno());
        }
        self.roots.push(fd).inspect_err(|_| {
            // SAFETY: closes the fd just opened, which nothing else holds.
            unsafe { libc::close(fd) };
        })
    }

    fn host_lstat(&self, root: u32, rel: &[u8]) -> TResult<Stat> {
        // SAFETY: zeroed stat is a valid out-buffer.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        if rel == b"." {
            let rfd = self.root(root)?;
            // SAFETY: valid fd and buffer.
            check(unsafe { libc::fstat(rfd, &mut st) } as libc::c_long)?;
            return Ok(to_stat(&st));
        }
        let (dir, last) = self.parent(root, rel)?;
        // SAFETY: valid fd, C string and buffer.
        check(unsafe { libc::fstatat(dir.0, last.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) } as libc::c_long)?;
        Ok(to_stat(&st))
    }

    fn host_open(&self, root: u32, rel: &[u8], flags: u32, mode: u32) -> TResult<u32> {
        let rfd = self.root(root)?;
        open_beneath(rfd, rel, flags as i32, mode).map(|fd| fd as u32)
    }

    fn host_close(&self, fh: u32) -> TResult<()> {
        // SAFETY: closes a handle this target opened for the kernel.
        check(unsafe { libc::close(fh as i32) } as libc::c_long).map(|_| ())
    }

    fn host_pread(&self, fh: u32, buf: &mut [u8], off: u64) -> TResult<usize> {
        loop {
            // SAFETY: valid buffer.
            let r = unsafe { libc::pread(fh as i32, buf.as_mut_ptr().cast(), buf.len(), off as i64) } as libc::c_long;
            if r < 0 && last_errno() == Errno::EINTR {
                continue;
            }
            return check(r);
        }
    }

    fn host_pwrite(&self, fh: u32, buf: &[u8], off: u64) -> TResult<usize> {
        // SAFETY: valid buffer.
        check(unsafe { libc::pwrite(fh as i32, buf.as_ptr().cast(), buf.len(), off as i64) } as libc::c_long)
    }

    fn host_fstat(&self, fh: u32) -> TResult<Stat> {
        // SAFETY: zeroed stat is a valid out-buffer.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: valid buffer.
        check(unsafe { libc::fstat(fh as i32, &mut st) } as libc::c_long)?;
        Ok(to_stat(&st))
    }

    fn host_ftruncate(&self, fh: u32, len: u64) -> TResult<()> {
        // SAFETY: plain syscall.
        check(unsafe { libc::ftruncate(fh as i32, len as i64) } as libc::c_long).map(|_| ())
    }

    fn host_fsync(&self, fh: u32) -> TResult<()> {
        // SAFETY: plain syscall.
        check(unsafe { libc::fsync(fh as i32) } as libc::c_long).map(|_| ())
    }

    fn host_readdir(&self, root: u32, rel: &[u8], f: &mut dyn FnMut(&[u8], HostDirent)) -> TResult<()> {
        let rfd = self.root(root)?;
        let fd = open_beneath(rfd, rel, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
        // SAFETY: fdopendir takes ownership of fd; closedir releases both.
        let d = unsafe { libc::fdopendir(fd) };
        if d.is_null() {
            // SAFETY: fd is ours.
            unsafe { libc::close(fd) };
            return Err(last_errno());
        }
        loop {
            // SAFETY: d is a valid DIR*.
            let e = unsafe { libc::readdir64(d) };
            if e.is_null() {
                break;
            }
            // SAFETY: readdir returned a valid entry with a NUL-terminated name.
            let (name, ino, ty) = unsafe { (std::ffi::CStr::from_ptr((*e).d_name.as_ptr()).to_bytes(), (*e).d_ino, (*e).d_type) };
            if name == b"." || name == b".." {
                continue;
            }
            f(name, HostDirent { ino, dtype: ty });
        }
        // SAFETY: d is valid.
        unsafe { libc::closedir(d) };
        Ok(())
    }

    fn host_readlink(&self, root: u32, rel: &[u8], buf: &mut [u8]) -> TResult<usize> {
        let (dir, last) = self.parent(root, rel)?;
        // SAFETY: valid fd, C string, buffer.
        check(unsafe { libc::readlinkat(dir.0, last.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) } as libc::c_long)
    }

    fn host_mkdir(&self, root: u32, rel: &[u8], mode: u32) -> TResult<()> {
        let (dir, last) = self.parent(root, rel)?;
        // SAFETY: valid fd and C string.
        check(unsafe { libc::mkdirat(dir.0, last.as_ptr(), mode) } as libc::c_long).map(|_| ())
    }

    fn host_mksock(&self, root: u32, rel: &[u8], mode: u32) -> TResult<()> {
        let (dir, last) = self.parent(root, rel)?;
        // SAFETY: valid fd and C string; a socket node needs no privilege.
        check(unsafe { libc::mknodat(dir.0, last.as_ptr(), libc::S_IFSOCK | (mode & 0o7777), 0) } as libc::c_long).map(|_| ())
    }

    fn host_unlink(&self, root: u32, rel: &[u8], is_dir: bool) -> TResult<()> {
        let (dir, last) = self.parent(root, rel)?;
        let fl = if is_dir { libc::AT_REMOVEDIR } else { 0 };
        // SAFETY: valid fd and C string.
        check(unsafe { libc::unlinkat(dir.0, last.as_ptr(), fl) } as libc::c_long).map(|_| ())
    }

    fn host_rename(&self, root: u32, from: &[u8], to: &[u8], flags: u32) -> TResult<()> {
        let (d1, l1) = self.parent(root, from)?;
        let (d2, l2) = self.parent(root, to)?;
        // SAFETY: valid fds and C strings.
        check(unsafe { libc::syscall(libc::SYS_renameat2, d1.0, l1.as_ptr(), d2.0, l2.as_ptr(), flags) }).map(|_| ())
    }

    fn host_symlink(&self, root: u32, target: &[u8], rel: &[u8]) -> TResult<()> {
        let (dir, last) = self.parent(root, rel)?;
        let t = CString::new(target).map_err(|_| Errno::EINVAL)?;
        // SAFETY: valid fd and C strings.
        check(unsafe { libc::symlinkat(t.as_ptr(), dir.0, last.as_ptr()) } as libc::c_long).map(|_| ())
    }

    fn host_link(&self, root: u32, from: &[u8], to: &[u8]) -> TResult<()> {
        let (d1, l1) = self.parent(root, from)?;
        let (d2, l2) = self.parent(root, to)?;
        // SAFETY: valid fds and C strings.
        check(unsafe { libc::linkat(d1.0, l1.as_ptr(), d2.0, l2.as_ptr(), 0) } as libc::c_long).map(|_| ())
    }

    fn host_chmod(&self, root: u32, rel: &[u8], mode: u32) -> TResult<()> {
        let rfd = self.root(root)?;
        // Open the node itself without following, then change it through the handle.
        let fd = Fd(open_beneath(rfd, rel, libc::O_PATH, 0)?);
        let path = cstr(format!("/proc/self/fd/{}", fd.0))?;
        // SAFETY: chmod through the magic link of an O_PATH handle we hold (never a symlink:
        // O_NOFOLLOW|O_PATH on a symlink yields the link, and chmod on it fails cleanly).
        check(unsafe { libc::chmod(path.as_ptr(), mode) } as libc::c_long).map(|_| ())
    }

    fn host_chown(&self, root: u32, rel: &[u8], uid: u32, gid: u32) -> TResult<()> {
        let (dir, last) = self.parent(root, rel)?;
        // SAFETY: valid fd and C string.
        check(unsafe { libc::fchownat(dir.0, last.as_ptr(), uid, gid, libc::AT_SYMLINK_NOFOLLOW) } as libc::c_long).map(|_| ())
    }

    fn host_utimens(&self, root: u32, rel: &[u8], atime: Timespec, mtime: Timespec) -> TResult<()> {
        let (dir, last) = self.parent(root, rel)?;
        let ts = [libc::timespec { tv_sec: atime.sec, tv_nsec: atime.nsec }, libc::timespec { tv_sec: mtime.sec, tv_nsec: mtime.nsec }];
        // SAFETY: valid fd, C string and two timespecs.
        check(unsafe { libc::utimensat(dir.0, last.as_ptr(), ts.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) } as libc::c_long).map(|_| ())
    }

    fn host_statfs(&self, root: u32) -> TResult<Statfs> {
        let rfd = self.root(root)?;
        // SAFETY: zeroed statfs is a valid out-buffer.
        let mut s: libc::statfs = unsafe { std::mem::zeroed() };
        // SAFETY: valid fd and buffer.
        check(unsafe { libc::fstatfs(rfd, &mut s) } as libc::c_long)?;
        Ok(Statfs {
            fs_type: s.f_type,
            bsize: s.f_bsize,
            blocks: s.f_blocks,
            bfree: s.f_bfree,
            bavail: s.f_bavail,
            files: s.f_files,
            ffree: s.f_ffree,
            fsid: 0,
            namelen: s.f_namelen,
            frsize: s.f_frsize,
            flags: 0,
        })
    }

    fn blk_open(&self, path: &str) -> TResult<(u32, u64)> {
        let p = cstr(path)?;
        // SAFETY: valid C string.
        let fd = unsafe { libc::open(p.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(last_errno());
        }
        let st = self.host_fstat(fd as u32)?;
        Ok((fd as u32, st.size.max(0) as u64))
    }

    fn blk_read(&self, h: u32, off: u64, buf: &mut [u8]) -> TResult<usize> {
        self.host_pread(h, buf, off)
    }

    fn sock_open(&self, domain: u32, ty: u32, proto: u32) -> TResult<(u32, u64)> {
        if domain != libc::AF_INET as u32 && domain != libc::AF_INET6 as u32 {
            return Err(Errno::EAFNOSUPPORT);
        }
        // SAFETY: plain socket(2).
        let fd = check(
            unsafe { libc::socket(domain as i32, ty as i32 | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, proto as i32) } as libc::c_long
        )? as i32;
        match sock_ino(fd) {
            Ok(ino) => Ok((fd as u32, ino)),
            Err(e) => {
                // SAFETY: closes the fd just opened.
                unsafe { libc::close(fd) };
                Err(e)
            }
        }
    }

    fn sock_ident(&self, h: u32) -> TResult<u64> {
        sock_ino(h as i32)
    }

    fn sock_bind(&self, h: u32, addr: &[u8]) -> TResult<()> {
        let (ss, len) = to_storage(addr)?;
        // SAFETY: valid address of the given length.
        check(unsafe { libc::bind(h as i32, (&ss as *const libc::sockaddr_storage).cast(), len) } as libc::c_long).map(|_| ())
    }

    fn sock_listen(&self, h: u32, backlog: i32) -> TResult<()> {
        // SAFETY: plain listen(2).
        check(unsafe { libc::listen(h as i32, backlog) } as libc::c_long).map(|_| ())
    }

    fn sock_accept(&self, h: u32, addr: &mut [u8]) -> TResult<(u32, u64, usize)> {
        // SAFETY: zeroed storage is valid.
        let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        let fd = retry_eintr(|| {
            // SAFETY: valid storage and length.
            unsafe {
                libc::accept4(h as i32, (&mut ss as *mut libc::sockaddr_storage).cast(), &mut len, libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
                    as libc::c_long
            }
        })? as i32;
        let n = from_storage(&ss, len, addr);
        match sock_ino(fd) {
            Ok(ino) => Ok((fd as u32, ino, n)),
            Err(e) => {
                // SAFETY: closes the fd just accepted.
                unsafe { libc::close(fd) };
                Err(e)
            }
        }
    }

    fn sock_connect(&self, h: u32, addr: &[u8]) -> TResult<()> {
        let (ss, len) = to_storage(addr)?;
        // SAFETY: valid address of the given length. EINTR on a non-blocking socket cannot
        // happen; EINPROGRESS/EALREADY/EISCONN go to the kernel.
        check(unsafe { libc::connect(h as i32, (&ss as *const libc::sockaddr_storage).cast(), len) } as libc::c_long).map(|_| ())
    }

    fn sock_send(&self, h: u32, buf: &[u8], flags: u32, to: Option<&[u8]>) -> TResult<usize> {
        let fl = flags as i32 | libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
        match to {
            Some(a) => {
                let (ss, len) = to_storage(a)?;
                retry_eintr(|| {
                    // SAFETY: valid buffer and address.
                    unsafe {
                        libc::sendto(h as i32, buf.as_ptr().cast(), buf.len(), fl, (&ss as *const libc::sockaddr_storage).cast(), len)
                            as libc::c_long
                    }
                })
            }
            // SAFETY: valid buffer.
            None => retry_eintr(|| unsafe { libc::send(h as i32, buf.as_ptr().cast(), buf.len(), fl) as libc::c_long }),
        }
    }

    fn sock_recv(&self, h: u32, buf: &mut [u8], flags: u32, from: &mut [u8]) -> TResult<(usize, usize, u32)> {
        // SAFETY: zeroed storage and msghdr are valid.
        let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        // SAFETY: as above.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&mut ss as *mut libc::sockaddr_storage).cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        let fl = flags as i32 | libc::MSG_DONTWAIT;
        // SAFETY: msg points at valid storage and one iovec over `buf`.
        let n = retry_eintr(|| unsafe { libc::recvmsg(h as i32, &mut msg, fl) as libc::c_long })?;
        let alen = if msg.msg_namelen == 0 { 0 } else { from_storage(&ss, msg.msg_namelen, from) };
        Ok((n, alen, msg.msg_flags as u32))
    }

    fn sock_shutdown(&self, h: u32, how: u32) -> TResult<()> {
        // SAFETY: plain shutdown(2).
        check(unsafe { libc::shutdown(h as i32, how as i32) } as libc::c_long).map(|_| ())
    }

    fn sock_name(&self, h: u32, peer: bool, addr: &mut [u8]) -> TResult<usize> {
        // SAFETY: zeroed storage is valid.
        let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        let p = (&mut ss as *mut libc::sockaddr_storage).cast();
        // SAFETY: valid storage and length.
        let r = unsafe {
            if peer {
                libc::getpeername(h as i32, p, &mut len)
            } else {
                libc::getsockname(h as i32, p, &mut len)
            }
        };
        check(r as libc::c_long)?;
        Ok(from_storage(&ss, len, addr))
    }

    fn sock_getopt(&self, h: u32, level: u32, name: u32, val: &mut [u8]) -> TResult<usize> {
        let mut len = val.len() as libc::socklen_t;
        // SAFETY: valid buffer of `len` bytes.
        check(unsafe { libc::getsockopt(h as i32, level as i32, name as i32, val.as_mut_ptr().cast(), &mut len) } as libc::c_long)?;
        Ok(len as usize)
    }

    fn sock_setopt(&self, h: u32, level: u32, name: u32, val: &[u8]) -> TResult<()> {
        // SAFETY: valid buffer.
        check(unsafe { libc::setsockopt(h as i32, level as i32, name as i32, val.as_ptr().cast(), val.len() as libc::socklen_t) }
            as libc::c_long)
        .map(|_| ())
    }

    fn sock_pending(&self, h: u32) -> TResult<usize> {
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD writes an int.
        check(unsafe { libc::ioctl(h as i32, libc::FIONREAD, &mut n) } as libc::c_long)?;
        Ok(n.max(0) as usize)
    }

    fn sock_close(&self, h: u32) -> TResult<()> {
        // SAFETY: closes a handle this target opened (the kernel checked its identity).
        check(unsafe { libc::close(h as i32) } as libc::c_long).map(|_| ())
    }

    fn host_poll(&self, fds: &mut [HostPollFd], timeout_ns: Option<u64>) -> TResult<usize> {
        let mut pfds: Vec<libc::pollfd> =
            fds.iter().map(|f| libc::pollfd { fd: f.handle as i32, events: f.events as i16, revents: 0 }).collect();
        let ts = timeout_ns.map(ns_ts);
        let tp = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // The kernel runs with the interrupt signal blocked; let it in only while waiting,
        // so an interrupt sent just before this call makes it return EINTR at once.
        let mut cur: u64 = 0;
        // SAFETY: reads the calling thread's mask into an 8-byte set.
        unsafe { libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_BLOCK, std::ptr::null::<u64>(), &mut cur as *mut u64, 8usize) };
        let mask = cur & !(1u64 << (crate::gate::SIG_INTERRUPT - 1));
        // SAFETY: valid pollfd array, timespec and 8-byte mask.
        let r = unsafe { libc::syscall(libc::SYS_ppoll, pfds.as_mut_ptr(), pfds.len(), tp, &mask as *const u64, 8usize) };
        let n = check(r)?;
        for (f, p) in fds.iter_mut().zip(&pfds) {
            f.revents = p.revents as u16;
        }
        Ok(n)
    }
}

fn ns_ts(ns: u64) -> libc::timespec {
    libc::timespec { tv_sec: (ns / 1_000_000_000) as i64, tv_nsec: (ns % 1_000_000_000) as i64 }
}

fn ts_ns(t: &libc::timespec) -> u64 {
    t.tv_sec.max(0) as u64 * 1_000_000_000 + t.tv_nsec.max(0) as u64
}

/// Whether this process has a controlling terminal (`/dev/tty` opens).
fn has_ctty() -> bool {
    // SAFETY: a NUL-terminated path; the fd, if any, is closed at once.
    unsafe {
        let fd = libc::open(c"/dev/tty".as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        if fd >= 0 {
            libc::close(fd);
        }
        fd >= 0
    }
}

/// CLOCK_MONOTONIC in whole seconds (no allocation: the watcher thread calls it).
fn mono_secs() -> i64 {
    // SAFETY: a zeroed timespec out-parameter.
    unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
        ts.tv_sec
    }
}
