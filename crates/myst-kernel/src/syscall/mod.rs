//! The syscall table and dispatcher.
//!
//! One table, one row per x86-64 syscall number, implemented or not: name, argument kinds
//! (for `--strace`), support level, note and handler. The same table drives dispatch,
//! `--strace`, `myst syscalls` and `docs/syscalls.md`.

mod epoll;
mod exec;
mod extra;
mod fs;
mod io;
mod mem;
mod misc;
mod mount;
mod net;
mod pipe;
mod proc;
pub use proc::RELEASE;
mod signal;
mod thread;
mod time;
mod timer;
mod wait;

use crate::error::{Error, KResult};
use crate::process::{Process, Thread};
use crate::uaccess::User;
use crate::vfs::OpenFile;
use crate::{kerr, Kernel};
use alloc::sync::Arc;
use alloc::vec::Vec;
use myst_abi::consts::*;
use myst_abi::nr::*;
use myst_abi::Errno;
use myst_tcall::UserRegs;

/// What the kernel knows of one syscall's arguments, for decoding in `--strace`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum A {
    /// Signed integer.
    Int,
    /// Unsigned integer shown in hex.
    Hex,
    /// File descriptor.
    Fd,
    /// Directory fd (shows AT_FDCWD).
    DirFd,
    /// NUL-terminated path in application memory.
    Path,
    /// Input buffer whose length is argument N.
    Buf(u8),
    /// Output buffer (shown as an address).
    Out,
    /// Pointer.
    Ptr,
    /// `open` flags.
    OFlags,
    /// Octal mode.
    Mode,
    /// `PROT_*`.
    Prot,
    /// `MAP_*`.
    MFlags,
    /// Signal number.
    Sig,
}

/// How a result is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum R {
    /// Decimal.
    Int,
    /// Hexadecimal (addresses).
    Hex,
    /// Never returns.
    NoReturn,
}

/// Support level of a syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    /// Implemented with Linux semantics.
    Full,
    /// Implemented; the note says what is missing.
    Partial,
    /// Not implemented: returns ENOSYS.
    None,
}

impl Support {
    /// Lower-case label.
    pub fn label(self) -> &'static str {
        match self {
            Support::Full => "full",
            Support::Partial => "partial",
            Support::None => "none",
        }
    }
}

/// A syscall handler: decoded arguments in, result or errno out.
pub type Handler = fn(&mut Ctx<'_>, [u64; 6]) -> KResult<u64>;

/// One row of the table.
#[derive(Clone, Copy)]
pub struct Row {
    /// Syscall number.
    pub nr: usize,
    /// Name.
    pub name: &'static str,
    /// Argument kinds.
    pub args: &'static [A],
    /// Result kind.
    pub ret: R,
    /// Support level.
    pub support: Support,
    /// What is missing or special.
    pub note: &'static str,
    /// Handler, if implemented.
    pub handler: Option<Handler>,
}

/// The context a handler runs in: the calling thread, its process, its registers.
pub struct Ctx<'a> {
    /// The kernel.
    pub k: &'static Kernel,
    /// Calling thread.
    pub thread: &'a Arc<Thread>,
    /// Its process.
    pub proc: &'a Arc<Process>,
    /// Saved registers (handlers that replace the context write here).
    pub regs: &'a mut UserRegs,
}

impl Ctx<'_> {
    /// Application memory of the calling process.
    pub fn user(&self) -> User<'_> {
        User { mm: &self.proc.mm }
    }

    /// The open file behind `fd`.
    pub fn file(&self, fd: u64) -> KResult<Arc<OpenFile>> {
        Ok(self.proc.fds.lock().get(fd as i32)?.file.clone())
    }

    /// Reads a path argument.
    pub fn path_arg(&self, ptr: u64) -> KResult<Vec<u8>> {
        if ptr == 0 {
            kerr!(EFAULT);
        }
        self.user().read_cstr(ptr, crate::vfs::PATH_MAX - 1)
    }

    /// Makes `path` absolute relative to `dirfd` (AT_FDCWD = the cwd).
    pub fn abs_path(&self, dirfd: u64, path: &[u8]) -> KResult<Vec<u8>> {
        if path.first() == Some(&b'/') {
            return Ok(path.to_vec());
        }
        if dirfd as i32 == AT_FDCWD {
            let cwd = self.proc.cwd.lock().clone();
            return Ok(crate::vfs::join(&cwd, path));
        }
        let f = self.file(dirfd)?;
        if path.is_empty() {
            return Ok(f.path.clone());
        }
        if f.inode.stat()?.mode & S_IFMT != S_IFDIR {
            kerr!(ENOTDIR);
        }
        Ok(crate::vfs::join(&f.path, path))
    }
}

macro_rules! row {
    ($nr:expr, $name:literal, $h:expr, [$($a:ident $(($n:literal))?),*], $r:ident, $s:ident, $note:literal) => {
        Row {
            nr: $nr,
            name: $name,
            args: &[$(A::$a $(($n))?),*],
            ret: R::$r,
            support: Support::$s,
            note: $note,
            handler: Some($h),
        }
    };
}

/// Implemented rows. Every other number is "none" (ENOSYS).
static ROWS: &[Row] = &[
    // files
    row!(SYS_READ, "read", io::read, [Fd, Out, Int], Int, Full, ""),
    row!(SYS_WRITE, "write", io::write, [Fd, Buf(2), Int], Int, Full, ""),
    row!(
        SYS_OPEN,
        "open",
        fs::open,
        [Path, OFlags, Mode],
        Int,
        Partial,
        "no permission checks (the application runs as the owner of every file)"
    ),
    row!(
        SYS_OPENAT,
        "openat",
        fs::openat,
        [DirFd, Path, OFlags, Mode],
        Int,
        Partial,
        "no permission checks (the application runs as the owner of every file)"
    ),
    row!(SYS_CREAT, "creat", fs::creat, [Path, Mode], Int, Full, ""),
    row!(SYS_CLOSE, "close", io::close, [Fd], Int, Full, ""),
    row!(SYS_STAT, "stat", fs::stat, [Path, Out], Int, Full, ""),
    row!(SYS_FSTAT, "fstat", fs::fstat, [Fd, Out], Int, Full, ""),
    row!(SYS_LSTAT, "lstat", fs::lstat, [Path, Out], Int, Full, ""),
    row!(SYS_NEWFSTATAT, "newfstatat", fs::newfstatat, [DirFd, Path, Out, Hex], Int, Full, ""),
    row!(SYS_STATX, "statx", fs::statx, [DirFd, Path, Hex, Hex, Out], Int, Partial, "basic stats only; no birth time"),
    row!(SYS_LSEEK, "lseek", io::lseek, [Fd, Int, Int], Int, Full, ""),
    row!(SYS_PREAD64, "pread64", io::pread64, [Fd, Out, Int, Int], Int, Full, ""),
    row!(SYS_PWRITE64, "pwrite64", io::pwrite64, [Fd, Buf(2), Int, Int], Int, Full, ""),
    row!(SYS_READV, "readv", io::readv, [Fd, Ptr, Int], Int, Full, ""),
    row!(SYS_WRITEV, "writev", io::writev, [Fd, Ptr, Int], Int, Full, ""),
    row!(SYS_PREADV, "preadv", io::preadv, [Fd, Ptr, Int, Int], Int, Full, ""),
    row!(SYS_PWRITEV, "pwritev", io::pwritev, [Fd, Ptr, Int, Int], Int, Full, ""),
    row!(SYS_GETDENTS64, "getdents64", fs::getdents64, [Fd, Out, Int], Int, Full, ""),
    row!(SYS_ACCESS, "access", fs::access, [Path, Int], Int, Partial, "existence and execute-bit checks only (root semantics)"),
    row!(
        SYS_FACCESSAT,
        "faccessat",
        fs::faccessat,
        [DirFd, Path, Int],
        Int,
        Partial,
        "existence and execute-bit checks only (root semantics)"
    ),
    row!(
        SYS_FACCESSAT2,
        "faccessat2",
        fs::faccessat2,
        [DirFd, Path, Int, Hex],
        Int,
        Partial,
        "existence and execute-bit checks only (root semantics)"
    ),
    row!(SYS_READLINK, "readlink", fs::readlink, [Path, Out, Int], Int, Full, ""),
    row!(SYS_READLINKAT, "readlinkat", fs::readlinkat, [DirFd, Path, Out, Int], Int, Full, ""),
    row!(SYS_MKDIR, "mkdir", fs::mkdir, [Path, Mode], Int, Full, ""),
    row!(SYS_MKDIRAT, "mkdirat", fs::mkdirat, [DirFd, Path, Mode], Int, Full, ""),
    row!(SYS_RMDIR, "rmdir", fs::rmdir, [Path], Int, Full, ""),
    row!(SYS_UNLINK, "unlink", fs::unlink, [Path], Int, Full, ""),
    row!(SYS_UNLINKAT, "unlinkat", fs::unlinkat, [DirFd, Path, Hex], Int, Full, ""),
    row!(SYS_RENAME, "rename", fs::rename, [Path, Path], Int, Full, ""),
    row!(SYS_RENAMEAT, "renameat", fs::renameat, [DirFd, Path, DirFd, Path], Int, Full, ""),
    row!(SYS_RENAMEAT2, "renameat2", fs::renameat2, [DirFd, Path, DirFd, Path, Hex], Int, Partial, "RENAME_WHITEOUT unsupported"),
    row!(SYS_SYMLINK, "symlink", fs::symlink, [Path, Path], Int, Full, ""),
    row!(SYS_SYMLINKAT, "symlinkat", fs::symlinkat, [Path, DirFd, Path], Int, Full, ""),
    row!(SYS_LINK, "link", fs::link, [Path, Path], Int, Full, ""),
    row!(SYS_LINKAT, "linkat", fs::linkat, [DirFd, Path, DirFd, Path, Hex], Int, Full, ""),
    row!(SYS_CHMOD, "chmod", fs::chmod, [Path, Mode], Int, Full, ""),
    row!(SYS_FCHMOD, "fchmod", fs::fchmod, [Fd, Mode], Int, Full, ""),
    row!(SYS_FCHMODAT, "fchmodat", fs::fchmodat, [DirFd, Path, Mode], Int, Full, ""),
    row!(SYS_FCHMODAT2, "fchmodat2", fs::fchmodat2, [DirFd, Path, Mode, Hex], Int, Full, ""),
    row!(SYS_CHOWN, "chown", fs::chown, [Path, Int, Int], Int, Full, ""),
    row!(SYS_FCHOWN, "fchown", fs::fchown, [Fd, Int, Int], Int, Full, ""),
    row!(SYS_LCHOWN, "lchown", fs::lchown, [Path, Int, Int], Int, Full, ""),
    row!(SYS_FCHOWNAT, "fchownat", fs::fchownat, [DirFd, Path, Int, Int, Hex], Int, Full, ""),
    row!(SYS_UTIMENSAT, "utimensat", fs::utimensat, [DirFd, Path, Ptr, Hex], Int, Full, ""),
    row!(SYS_UTIMES, "utimes", fs::utimes, [Path, Ptr], Int, Full, ""),
    row!(SYS_UTIME, "utime", fs::utime, [Path, Ptr], Int, Full, ""),
    row!(SYS_TRUNCATE, "truncate", fs::truncate, [Path, Int], Int, Full, ""),
    row!(SYS_FTRUNCATE, "ftruncate", fs::ftruncate, [Fd, Int], Int, Full, ""),
    row!(SYS_FSYNC, "fsync", fs::fsync, [Fd], Int, Full, ""),
    row!(SYS_FDATASYNC, "fdatasync", fs::fsync, [Fd], Int, Full, ""),
    row!(SYS_SYNC, "sync", fs::sync, [], Int, Full, ""),
    row!(SYS_SYNCFS, "syncfs", fs::fsync, [Fd], Int, Full, ""),
    row!(
        SYS_FCNTL,
        "fcntl",
        io::fcntl,
        [Fd, Int, Hex],
        Int,
        Partial,
        "F_SETLKW never blocks across processes yet (single process: no conflicts); no leases, no F_SETOWN signals"
    ),
    row!(SYS_DUP, "dup", io::dup, [Fd], Int, Full, ""),
    row!(SYS_DUP2, "dup2", io::dup2, [Fd, Fd], Int, Full, ""),
    row!(SYS_DUP3, "dup3", io::dup3, [Fd, Fd, OFlags], Int, Full, ""),
    row!(
        SYS_IOCTL,
        "ioctl",
        io::ioctl,
        [Fd, Hex, Hex],
        Int,
        Partial,
        "terminals: termios get/set (a pty's line discipline; the console's on the host), window size, controlling terminal and foreground group, flush, pty number/lock/peer; FIONREAD, FIONBIO, FIOCLEX, FIONCLEX"
    ),
    row!(SYS_GETCWD, "getcwd", fs::getcwd, [Out, Int], Int, Full, ""),
    row!(SYS_CHDIR, "chdir", fs::chdir, [Path], Int, Full, ""),
    row!(SYS_FCHDIR, "fchdir", fs::fchdir, [Fd], Int, Full, ""),
    row!(SYS_UMASK, "umask", fs::umask, [Mode], Int, Full, ""),
    row!(SYS_STATFS, "statfs", fs::statfs, [Path, Out], Int, Full, ""),
    row!(SYS_FSTATFS, "fstatfs", fs::fstatfs, [Fd, Out], Int, Full, ""),
    row!(SYS_MKNOD, "mknod", fs::mknod, [Path, Mode, Hex], Int, Partial, "regular files and fifos; device nodes only on ramfs"),
    row!(
        SYS_MKNODAT,
        "mknodat",
        fs::mknodat,
        [DirFd, Path, Mode, Hex],
        Int,
        Partial,
        "regular files and fifos; device nodes only on ramfs"
    ),
    // smaller file and identity calls
    row!(SYS_CLOSE_RANGE, "close_range", extra::close_range, [Fd, Fd, Hex], Int, Full, ""),
    row!(SYS_GETXATTR, "getxattr", extra::xattr_path, [Path, Path, Out, Int], Int, Partial, "no file system stores extended attributes: EOPNOTSUPP"),
    row!(SYS_LGETXATTR, "lgetxattr", extra::xattr_lpath, [Path, Path, Out, Int], Int, Partial, "EOPNOTSUPP (no xattr storage)"),
    row!(SYS_FGETXATTR, "fgetxattr", extra::xattr_fd, [Fd, Path, Out, Int], Int, Partial, "EOPNOTSUPP (no xattr storage)"),
    row!(SYS_SETXATTR, "setxattr", extra::xattr_path, [Path, Path, Ptr, Int, Hex], Int, Partial, "EOPNOTSUPP (no xattr storage)"),
    row!(SYS_LSETXATTR, "lsetxattr", extra::xattr_lpath, [Path, Path, Ptr, Int, Hex], Int, Partial, "EOPNOTSUPP (no xattr storage)"),
    row!(SYS_FSETXATTR, "fsetxattr", extra::xattr_fd, [Fd, Path, Ptr, Int, Hex], Int, Partial, "EOPNOTSUPP (no xattr storage)"),
    row!(SYS_LISTXATTR, "listxattr", extra::xattr_path, [Path, Out, Int], Int, Partial, "EOPNOTSUPP (no xattr storage)"),
    row!(SYS_LLISTXATTR, "llistxattr", extra::xattr_lpath, [Path, Out, Int], Int, Partial, "EOPNOTSUPP (no xattr storage)"),
    row!(SYS_FLISTXATTR, "flistxattr", extra::xattr_fd, [Fd, Out, Int], Int, Partial, "EOPNOTSUPP (no xattr storage)"),
    row!(SYS_REMOVEXATTR, "removexattr", extra::xattr_path, [Path, Path], Int, Partial, "EOPNOTSUPP (no xattr storage)"),
    row!(SYS_LREMOVEXATTR, "lremovexattr", extra::xattr_lpath, [Path, Path], Int, Partial, "EOPNOTSUPP (no xattr storage)"),
    row!(SYS_FREMOVEXATTR, "fremovexattr", extra::xattr_fd, [Fd, Path], Int, Partial, "EOPNOTSUPP (no xattr storage)"),
    row!(SYS_PREADV2, "preadv2", extra::preadv2, [Fd, Ptr, Int, Int, Int, Hex], Int, Partial, "RWF_* flags accepted and ignored"),
    row!(SYS_PWRITEV2, "pwritev2", extra::pwritev2, [Fd, Ptr, Int, Int, Int, Hex], Int, Partial, "RWF_* flags accepted and ignored"),
    row!(SYS_MEMFD_CREATE, "memfd_create", extra::memfd_create, [Path, Hex], Int, Partial, "no sealing (F_ADD_SEALS)"),
    row!(SYS_FLOCK, "flock", extra::flock, [Fd, Hex], Int, Full, ""),
    row!(SYS_FALLOCATE, "fallocate", extra::fallocate, [Fd, Hex, Int, Int], Int, Partial, "mode 0 and KEEP_SIZE; no hole punching"),
    row!(SYS_FADVISE64, "fadvise64", extra::fadvise64, [Fd, Int, Int, Int], Int, Full, "advice is accepted and has no effect"),
    row!(SYS_COPY_FILE_RANGE, "copy_file_range", extra::copy_file_range, [Fd, Ptr, Fd, Ptr, Int, Hex], Int, Full, ""),
    row!(SYS_SETUID, "setuid", extra::setuid1, [Int], Int, Partial, "only to the current id (one identity per application)"),
    row!(SYS_SETGID, "setgid", extra::setgid1, [Int], Int, Partial, "only to the current id"),
    row!(SYS_SETREUID, "setreuid", extra::setreuid, [Int, Int], Int, Partial, "only to the current id"),
    row!(SYS_SETREGID, "setregid", extra::setregid, [Int, Int], Int, Partial, "only to the current id"),
    row!(SYS_SETRESUID, "setresuid", extra::setuid_family, [Int, Int, Int], Int, Partial, "only to the current id"),
    row!(SYS_SETRESGID, "setresgid", extra::setgid_family, [Int, Int, Int], Int, Partial, "only to the current id"),
    row!(SYS_SETFSUID, "setfsuid", extra::setfsuid, [Int], Int, Partial, "the file-system id stays the process's id"),
    row!(SYS_SETFSGID, "setfsgid", extra::setfsgid, [Int], Int, Partial, "the file-system id stays the process's id"),
    row!(SYS_SETGROUPS, "setgroups", extra::setgroups, [Int, Ptr], Int, Partial, "any list when the user is root (uid 0), else only the current one"),
    row!(SYS_CLOCK_SETTIME, "clock_settime", extra::clock_settime, [Int, Ptr], Int, Partial, "EPERM: the clock comes from the host"),
    // mounts
    row!(SYS_MOUNT, "mount", mount::mount, [Path, Path, Path, Hex, Ptr], Int, Partial, "ext2 (verified with the boot trust, or data roothash=; encrypted with key=/keyfile=), hostfs, ramfs, tmpfs; no remount/bind/move"),
    row!(SYS_UMOUNT2, "umount2", mount::umount2, [Path, Hex], Int, Partial, "flags ignored; busy mounts are detached"),
    // memory
    row!(
        SYS_MMAP,
        "mmap",
        mem::mmap,
        [Hex, Int, Prot, MFlags, Fd, Hex],
        Hex,
        Partial,
        "MAP_SHARED file mappings are shared with forked children and written back at munmap/msync, not kept coherent with write(2) or other mappers"
    ),
    row!(SYS_MUNMAP, "munmap", mem::munmap, [Hex, Int], Int, Full, ""),
    row!(SYS_MPROTECT, "mprotect", mem::mprotect, [Hex, Int, Prot], Int, Full, ""),
    row!(SYS_MREMAP, "mremap", mem::mremap, [Hex, Int, Int, Hex, Hex], Hex, Full, ""),
    row!(
        SYS_MADVISE,
        "madvise",
        mem::madvise,
        [Hex, Int, Int],
        Int,
        Partial,
        "MADV_DONTNEED/MADV_FREE zero anonymous memory; other advice is accepted and ignored"
    ),
    row!(SYS_BRK, "brk", mem::brk, [Hex], Hex, Full, ""),
    row!(SYS_MSYNC, "msync", mem::msync, [Hex, Int, Hex], Int, Partial, "writes shared file mappings back"),
    row!(SYS_MLOCK, "mlock", mem::mlock, [Hex, Int], Int, Partial, "accepted, no effect"),
    row!(SYS_MUNLOCK, "munlock", mem::mlock, [Hex, Int], Int, Partial, "accepted, no effect"),
    // processes and identity
    row!(SYS_GETPID, "getpid", proc::getpid, [], Int, Full, ""),
    row!(SYS_GETPPID, "getppid", proc::getppid, [], Int, Full, ""),
    row!(SYS_GETTID, "gettid", proc::gettid, [], Int, Full, ""),
    row!(SYS_GETUID, "getuid", proc::getuid, [], Int, Full, ""),
    row!(SYS_GETEUID, "geteuid", proc::getuid, [], Int, Full, ""),
    row!(SYS_GETGID, "getgid", proc::getgid, [], Int, Full, ""),
    row!(SYS_GETEGID, "getegid", proc::getgid, [], Int, Full, ""),
    row!(SYS_GETGROUPS, "getgroups", proc::getgroups, [Int, Out], Int, Full, ""),
    row!(SYS_GETRESUID, "getresuid", proc::getresuid, [Out, Out, Out], Int, Full, ""),
    row!(SYS_GETRESGID, "getresgid", proc::getresgid, [Out, Out, Out], Int, Full, ""),
    row!(SYS_UNAME, "uname", proc::uname, [Out], Int, Full, ""),
    row!(SYS_SETHOSTNAME, "sethostname", proc::sethostname, [Buf(1), Int], Int, Full, ""),
    row!(SYS_SYSINFO, "sysinfo", proc::sysinfo, [Out], Int, Full, ""),
    row!(SYS_PRLIMIT64, "prlimit64", proc::prlimit64, [Int, Int, Ptr, Out], Int, Full, ""),
    row!(SYS_GETRLIMIT, "getrlimit", proc::getrlimit, [Int, Out], Int, Full, ""),
    row!(SYS_SETRLIMIT, "setrlimit", proc::setrlimit, [Int, Ptr], Int, Full, ""),
    row!(SYS_GETRUSAGE, "getrusage", proc::getrusage, [Int, Out], Int, Partial, "times only"),
    row!(SYS_TIMES, "times", proc::times, [Out], Int, Full, ""),
    row!(
        SYS_ARCH_PRCTL,
        "arch_prctl",
        proc::arch_prctl,
        [Hex, Hex],
        Int,
        Partial,
        "ARCH_SET_FS, ARCH_GET_FS; gs is reserved for the runtime"
    ),
    row!(SYS_SET_TID_ADDRESS, "set_tid_address", proc::set_tid_address, [Ptr], Int, Full, ""),
    row!(SYS_SET_ROBUST_LIST, "set_robust_list", proc::set_robust_list, [Ptr, Int], Int, Full, ""),
    row!(SYS_GET_ROBUST_LIST, "get_robust_list", proc::get_robust_list, [Int, Out, Out], Int, Full, ""),
    row!(SYS_SCHED_GETAFFINITY, "sched_getaffinity", proc::sched_getaffinity, [Int, Int, Out], Int, Full, ""),
    row!(SYS_SCHED_YIELD, "sched_yield", proc::sched_yield, [], Int, Full, ""),
    row!(SYS_GETCPU, "getcpu", proc::getcpu, [Out, Out, Ptr], Int, Full, ""),
    row!(
        SYS_PRCTL,
        "prctl",
        proc::prctl,
        [Int, Hex, Hex, Hex, Hex],
        Int,
        Partial,
        "PR_SET_NAME, PR_GET_NAME, PR_SET_DUMPABLE, PR_GET_DUMPABLE"
    ),
    row!(SYS_GETRANDOM, "getrandom", proc::getrandom, [Out, Int, Hex], Int, Full, ""),
    // programs
    row!(SYS_EXECVE, "execve", exec::execve, [Path, Ptr, Ptr], Int, Partial, "ELF and #! scripts"),
    row!(
        SYS_EXECVEAT,
        "execveat",
        exec::execveat,
        [DirFd, Path, Ptr, Ptr, Hex],
        Int,
        Partial,
        "ELF and #! scripts"
    ),
    // pipes and readiness
    row!(SYS_PIPE, "pipe", pipe::pipe, [Ptr], Int, Full, ""),
    row!(SYS_PIPE2, "pipe2", pipe::pipe2, [Ptr, OFlags], Int, Full, ""),
    row!(SYS_POLL, "poll", pipe::poll, [Ptr, Int, Int], Int, Partial, "a set mixing host sockets and kernel objects sees kernel events within 32 ms"),
    row!(SYS_PPOLL, "ppoll", pipe::ppoll, [Ptr, Int, Ptr, Ptr, Int], Int, Full, ""),
    row!(SYS_SELECT, "select", pipe::select, [Int, Ptr, Ptr, Ptr, Ptr], Int, Full, ""),
    row!(SYS_PSELECT6, "pselect6", pipe::pselect6, [Int, Ptr, Ptr, Ptr, Ptr, Ptr], Int, Full, ""),
    // processes
    row!(SYS_FORK, "fork", thread::fork, [], Int, Full, ""),
    row!(SYS_VFORK, "vfork", thread::vfork, [], Int, Full, "the child runs in the parent's memory; the parent waits until it execs or exits"),
    row!(
        SYS_WAIT4,
        "wait4",
        wait::wait4,
        [Int, Out, Hex, Out],
        Int,
        Partial,
        "no stop/continue reporting (no job control); rusage is zero"
    ),
    row!(SYS_WAITID, "waitid", wait::waitid, [Int, Int, Out, Hex], Int, Partial, "no stop/continue reporting (no job control)"),
    row!(SYS_GETPGRP, "getpgrp", wait::getpgrp, [], Int, Full, ""),
    row!(SYS_GETPGID, "getpgid", wait::getpgid, [Int], Int, Full, ""),
    row!(SYS_SETPGID, "setpgid", wait::setpgid, [Int, Int], Int, Full, ""),
    row!(SYS_GETSID, "getsid", wait::getsid, [Int], Int, Full, ""),
    row!(SYS_SETSID, "setsid", wait::setsid, [], Int, Full, ""),
    // threads and signals
    row!(
        SYS_CLONE,
        "clone",
        thread::clone,
        [Hex, Ptr, Ptr, Ptr, Ptr],
        Int,
        Partial,
        "threads and processes; no namespaces, no CLONE_VM without CLONE_VFORK for processes"
    ),
    row!(SYS_CLONE3, "clone3", thread::clone3, [Ptr, Int], Int, Partial, "threads and processes; no namespaces, set_tid or cgroups"),
    row!(SYS_EXIT, "exit", thread::exit, [Int], NoReturn, Full, ""),
    row!(SYS_EXIT_GROUP, "exit_group", thread::exit_group, [Int], NoReturn, Full, ""),
    row!(
        SYS_FUTEX,
        "futex",
        thread::futex,
        [Ptr, Int, Int, Ptr, Ptr, Hex],
        Int,
        Partial,
        "every operation; PI without priority boosting (myst has no real-time priorities)"
    ),
    row!(SYS_RT_SIGACTION, "rt_sigaction", signal::rt_sigaction, [Sig, Ptr, Out, Int], Int, Full, ""),
    row!(SYS_RT_SIGPROCMASK, "rt_sigprocmask", signal::rt_sigprocmask, [Int, Ptr, Out, Int], Int, Full, ""),
    row!(SYS_RT_SIGRETURN, "rt_sigreturn", signal::rt_sigreturn, [], Int, Full, ""),
    row!(SYS_RT_SIGPENDING, "rt_sigpending", signal::rt_sigpending, [Out, Int], Int, Full, ""),
    row!(SYS_RT_SIGSUSPEND, "rt_sigsuspend", signal::rt_sigsuspend, [Ptr, Int], Int, Full, ""),
    row!(SYS_RT_SIGTIMEDWAIT, "rt_sigtimedwait", signal::rt_sigtimedwait, [Ptr, Out, Ptr, Int], Int, Full, ""),
    row!(SYS_RT_SIGQUEUEINFO, "rt_sigqueueinfo", signal::rt_sigqueueinfo, [Int, Sig, Ptr], Int, Full, ""),
    row!(SYS_RT_TGSIGQUEUEINFO, "rt_tgsigqueueinfo", signal::rt_tgsigqueueinfo, [Int, Int, Sig, Ptr], Int, Full, ""),
    row!(SYS_SIGALTSTACK, "sigaltstack", signal::sigaltstack, [Ptr, Out], Int, Full, ""),
    row!(SYS_PAUSE, "pause", signal::pause, [], Int, Full, ""),
    row!(SYS_KILL, "kill", signal::kill, [Int, Sig], Int, Partial, "within the application's own processes only"),
    row!(SYS_TKILL, "tkill", signal::tkill, [Int, Sig], Int, Full, ""),
    row!(SYS_TGKILL, "tgkill", signal::tgkill, [Int, Int, Sig], Int, Full, ""),
    // timers and event descriptors
    row!(SYS_ALARM, "alarm", timer::alarm, [Int], Int, Full, ""),
    row!(SYS_SETITIMER, "setitimer", timer::setitimer, [Int, Ptr, Out], Int, Full, "ITIMER_VIRTUAL/PROF are the host process's own CPU-time timers"),
    row!(SYS_GETITIMER, "getitimer", timer::getitimer, [Int, Out], Int, Full, ""),
    row!(SYS_TIMER_CREATE, "timer_create", timer::timer_create, [Int, Ptr, Out], Int, Full, "CPU-time clocks are host timers on the same host clocks"),
    row!(SYS_TIMER_SETTIME, "timer_settime", timer::timer_settime, [Int, Hex, Ptr, Out], Int, Full, ""),
    row!(SYS_TIMER_GETTIME, "timer_gettime", timer::timer_gettime, [Int, Out], Int, Full, ""),
    row!(SYS_TIMER_GETOVERRUN, "timer_getoverrun", timer::timer_getoverrun, [Int], Int, Full, ""),
    row!(SYS_TIMER_DELETE, "timer_delete", timer::timer_delete, [Int], Int, Full, ""),
    row!(SYS_TIMERFD_CREATE, "timerfd_create", timer::timerfd_create, [Int, Hex], Int, Full, ""),
    row!(SYS_TIMERFD_SETTIME, "timerfd_settime", timer::timerfd_settime, [Fd, Hex, Ptr, Out], Int, Full, ""),
    row!(SYS_TIMERFD_GETTIME, "timerfd_gettime", timer::timerfd_gettime, [Fd, Out], Int, Full, ""),
    row!(SYS_EVENTFD, "eventfd", timer::eventfd, [Int], Int, Full, ""),
    row!(SYS_EVENTFD2, "eventfd2", timer::eventfd2, [Int, Hex], Int, Full, ""),
    row!(SYS_SIGNALFD, "signalfd", timer::signalfd, [Fd, Ptr, Int], Int, Full, ""),
    row!(SYS_SIGNALFD4, "signalfd4", timer::signalfd4, [Fd, Ptr, Int, Hex], Int, Full, ""),
    // scheduling
    row!(SYS_SCHED_SETAFFINITY, "sched_setaffinity", proc::sched_setaffinity, [Int, Int, Ptr], Int, Partial, "recorded and reported by sched_getaffinity; threads run on any host CPU"),
    row!(SYS_SCHED_GETPARAM, "sched_getparam", timer::sched_getparam, [Int, Out], Int, Full, ""),
    row!(SYS_SCHED_SETPARAM, "sched_setparam", timer::sched_setparam, [Int, Ptr], Int, Partial, "SCHED_OTHER only"),
    row!(SYS_SCHED_GETSCHEDULER, "sched_getscheduler", timer::sched_getscheduler, [Int], Int, Full, ""),
    row!(SYS_SCHED_SETSCHEDULER, "sched_setscheduler", timer::sched_setscheduler, [Int, Int, Ptr], Int, Partial, "SCHED_OTHER/BATCH/IDLE; real-time policies give EPERM"),
    row!(SYS_SCHED_GET_PRIORITY_MAX, "sched_get_priority_max", timer::sched_get_priority_max, [Int], Int, Full, ""),
    row!(SYS_SCHED_GET_PRIORITY_MIN, "sched_get_priority_min", timer::sched_get_priority_min, [Int], Int, Full, ""),
    row!(SYS_SCHED_RR_GET_INTERVAL, "sched_rr_get_interval", timer::sched_rr_get_interval, [Int, Out], Int, Full, ""),
    row!(SYS_GETPRIORITY, "getpriority", timer::getpriority, [Int, Int], Int, Full, "nice values are per thread, as on Linux"),
    row!(SYS_SETPRIORITY, "setpriority", timer::setpriority, [Int, Int, Int], Int, Full, "applied to the host threads too (where the host permits)"),
    row!(SYS_MEMBARRIER, "membarrier", timer::membarrier, [Int, Hex, Int], Int, Partial, "GLOBAL, GLOBAL_EXPEDITED, PRIVATE_EXPEDITED and their REGISTER commands (through the host); no RSEQ or SYNC_CORE"),
    // time
    row!(SYS_CLOCK_GETTIME, "clock_gettime", time::clock_gettime, [Int, Out], Int, Full, ""),
    row!(SYS_CLOCK_GETRES, "clock_getres", time::clock_getres, [Int, Out], Int, Full, ""),
    row!(SYS_GETTIMEOFDAY, "gettimeofday", time::gettimeofday, [Out, Out], Int, Full, ""),
    row!(SYS_TIME, "time", time::time, [Out], Int, Full, ""),
    row!(SYS_NANOSLEEP, "nanosleep", time::nanosleep, [Ptr, Out], Int, Full, ""),
    row!(SYS_CLOCK_NANOSLEEP, "clock_nanosleep", time::clock_nanosleep, [Int, Hex, Ptr, Out], Int, Full, ""),
    row!(SYS_RESTART_SYSCALL, "restart_syscall", time::restart_syscall, [], Int, Full, "continues an interrupted sleep or futex wait"),
    row!(SYS_SENDFILE, "sendfile", io::sendfile, [Fd, Fd, Ptr, Int], Int, Partial, "copies through the kernel (no zero-copy)"),
    // networking
    row!(SYS_SOCKET, "socket", net::socket, [Int, Hex, Int], Int, Partial, "AF_UNIX in the kernel; AF_INET/AF_INET6 TCP and UDP through the host; no raw or netlink sockets"),
    row!(SYS_SOCKETPAIR, "socketpair", net::socketpair, [Int, Hex, Int, Out], Int, Full, ""),
    row!(SYS_BIND, "bind", net::bind, [Fd, Ptr, Int], Int, Partial, "AF_UNIX: no autobind of unnamed sockets"),
    row!(SYS_LISTEN, "listen", net::listen, [Fd, Int], Int, Full, ""),
    row!(SYS_ACCEPT, "accept", net::accept, [Fd, Out, Ptr], Int, Full, ""),
    row!(SYS_ACCEPT4, "accept4", net::accept4, [Fd, Out, Ptr, Hex], Int, Full, ""),
    row!(SYS_CONNECT, "connect", net::connect, [Fd, Ptr, Int], Int, Full, ""),
    row!(SYS_SENDTO, "sendto", net::sendto, [Fd, Buf(2), Int, Hex, Ptr, Int], Int, Full, ""),
    row!(SYS_RECVFROM, "recvfrom", net::recvfrom, [Fd, Out, Int, Hex, Out, Ptr], Int, Full, ""),
    row!(SYS_SENDMSG, "sendmsg", net::sendmsg, [Fd, Ptr, Hex], Int, Partial, "control messages: SCM_RIGHTS and SCM_CREDENTIALS on AF_UNIX only"),
    row!(SYS_RECVMSG, "recvmsg", net::recvmsg, [Fd, Ptr, Hex], Int, Partial, "control messages: SCM_RIGHTS and SCM_CREDENTIALS on AF_UNIX only"),
    row!(SYS_SENDMMSG, "sendmmsg", net::sendmmsg, [Fd, Ptr, Int, Hex], Int, Full, ""),
    row!(SYS_RECVMMSG, "recvmmsg", net::recvmmsg, [Fd, Ptr, Int, Hex, Ptr], Int, Full, "the timeout is checked after each datagram, as Linux does"),
    row!(SYS_SHUTDOWN, "shutdown", net::shutdown, [Fd, Int], Int, Full, ""),
    row!(SYS_GETSOCKNAME, "getsockname", net::getsockname, [Fd, Out, Ptr], Int, Full, ""),
    row!(SYS_GETPEERNAME, "getpeername", net::getpeername, [Fd, Out, Ptr], Int, Full, ""),
    row!(SYS_SETSOCKOPT, "setsockopt", net::setsockopt, [Fd, Int, Int, Ptr, Int], Int, Partial, "a whitelist of SOL_SOCKET, IPPROTO_TCP, IPPROTO_IP and IPPROTO_IPV6 options; others ENOPROTOOPT"),
    row!(SYS_GETSOCKOPT, "getsockopt", net::getsockopt, [Fd, Int, Int, Out, Ptr], Int, Partial, "a whitelist of SOL_SOCKET, IPPROTO_TCP, IPPROTO_IP and IPPROTO_IPV6 options; others ENOPROTOOPT"),
    row!(SYS_EPOLL_CREATE, "epoll_create", epoll::epoll_create, [Int], Int, Full, ""),
    row!(SYS_EPOLL_CREATE1, "epoll_create1", epoll::epoll_create1, [Hex], Int, Full, ""),
    row!(SYS_EPOLL_CTL, "epoll_ctl", epoll::epoll_ctl, [Fd, Int, Fd, Ptr], Int, Full, "EPOLLEXCLUSIVE wakes every waiting instance (Linux promises one or more)"),
    row!(SYS_EPOLL_WAIT, "epoll_wait", epoll::epoll_wait, [Fd, Out, Int, Int], Int, Partial, "edge-triggered = readiness level changes seen by the instance"),
    row!(SYS_EPOLL_PWAIT, "epoll_pwait", epoll::epoll_pwait, [Fd, Out, Int, Int, Ptr, Int], Int, Partial, "edge-triggered = readiness level changes seen by the instance"),
    row!(SYS_EPOLL_PWAIT2, "epoll_pwait2", epoll::epoll_pwait2, [Fd, Out, Int, Ptr, Ptr, Int], Int, Partial, "edge-triggered = readiness level changes seen by the instance"),
    row!(SYS_SPLICE, "splice", net::splice, [Fd, Ptr, Fd, Ptr, Int, Hex], Int, Partial, "copies through the kernel; one end must be a pipe"),
    row!(SYS_TEE, "tee", net::tee, [Fd, Fd, Int, Hex], Int, None, "EINVAL"),
    // misc
    row!(SYS_RSEQ, "rseq", misc::enosys_quiet, [Ptr, Int, Hex, Hex], Int, None, "ENOSYS (glibc falls back silently)"),
];

/// One row per syscall number 0..=MAX_NR (unassigned numbers have an empty name).
pub fn table() -> &'static [Row] {
    static TABLE: spin::Once<Vec<Row>> = spin::Once::new();
    TABLE.call_once(|| {
        let mut v: Vec<Row> = (0..=MAX_NR)
            .map(|nr| Row { nr, name: name(nr).unwrap_or(""), args: &[], ret: R::Int, support: Support::None, note: "", handler: None })
            .collect();
        for r in ROWS {
            v[r.nr] = *r;
        }
        v
    })
}

fn encode(r: &KResult<u64>) -> u64 {
    match r {
        Ok(v) => *v,
        Err(e) => (-(e.errno.raw() as i64)) as u64,
    }
}

/// Handles one system call from `thread`.
pub fn dispatch(k: &'static Kernel, thread: &Arc<Thread>, regs: &mut UserRegs) {
    let (nr, args) = regs.syscall_args();
    let proc = &thread.process;
    let rows = table();
    let row = rows.get(nr).copied();
    let tracing = k.strace.enabled && (k.strace.filter.is_empty() || k.strace.filter.contains(&nr));
    let mut ctx = Ctx { k, thread, proc, regs };
    let result: KResult<u64> = match row.and_then(|r| r.handler) {
        Some(h) => {
            if tracing && row.map(|r| r.ret) == Some(R::NoReturn) {
                crate::strace::print(&ctx, nr, &args, None);
            }
            h(&mut ctx, args)
        }
        None => {
            report_unsupported(k, proc, nr);
            Err(Error::from(Errno::ENOSYS))
        }
    };
    if tracing && (!k.strace.failing_only || result.is_err()) {
        crate::strace::print(&ctx, nr, &args, Some(&result));
    }
    ctx.regs.rax = encode(&result);
    if thread.exiting.load(core::sync::atomic::Ordering::SeqCst) {
        crate::thread_die(k, thread);
    }
    // An interrupted call: a kernel-internal restart code says how Linux restarts it; a plain
    // EINTR restarts as ERESTARTSYS for the calls SA_RESTART restarts, else as ERESTARTNOHAND.
    let restart_code = match &result {
        Err(e) if matches!(e.errno, Errno::ERESTARTSYS | Errno::ERESTARTNOINTR | Errno::ERESTARTNOHAND | Errno::ERESTART_RESTARTBLOCK) => {
            Some(e.errno)
        }
        _ => None,
    };
    let deliverable = crate::signal::has_deliverable(thread);
    if deliverable || restart_code.is_some() {
        let interrupted = restart_code.is_some() || matches!(&result, Err(e) if e.errno == Errno::EINTR);
        if interrupted {
            let (runs_handler, sa_restart) = match crate::signal::peek(thread) {
                Some((sig, act)) => (
                    act.handler > 1 || (act.handler == 0 && crate::signal::default_action(sig) == crate::signal::DefaultAction::Terminate),
                    act.flags & SA_RESTART != 0,
                ),
                None => (false, false),
            };
            let code = restart_code.unwrap_or(if crate::signal::restartable(nr) { Errno::ERESTARTSYS } else { Errno::ERESTARTNOHAND });
            let restart = match code {
                Errno::ERESTARTNOINTR => true,
                Errno::ERESTARTSYS => !runs_handler || sa_restart,
                _ => !runs_handler,
            };
            if restart {
                ctx.regs.rax = if code == Errno::ERESTART_RESTARTBLOCK { myst_abi::nr::SYS_RESTART_SYSCALL } else { nr } as u64;
                ctx.regs.rip -= 2;
            } else {
                ctx.regs.rax = (-(Errno::EINTR.raw() as i64)) as u64;
            }
        }
        if deliverable {
            crate::signal::deliver(k, thread, ctx.regs);
        }
    }
}

fn report_unsupported(k: &Kernel, proc: &Process, nr: usize) {
    let mut rep = k.reported.lock();
    let (w, b) = (nr / 64, nr % 64);
    if w < rep.len() && rep[w] & (1 << b) != 0 {
        return;
    }
    if w < rep.len() {
        rep[w] |= 1 << b;
    }
    drop(rep);
    let nm = name(nr).unwrap_or("unknown");
    k.log(&alloc::format!("unsupported syscall {nm} ({nr}) called by {}: returning ENOSYS", proc.exe()));
}
