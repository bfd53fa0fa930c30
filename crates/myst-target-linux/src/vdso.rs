//! The host vDSO for the application's clock reads, with one guard.
//!
//! The application gets the host's vDSO (`AT_SYSINFO_EHDR`), so libc's `clock_gettime`,
//! `gettimeofday`, `time` and `getcpu` run at native speed. The vDSO code lies outside the
//! application region, so a system call it falls back to is not caught by Syscall User
//! Dispatch. For the fixed clocks that is harmless (the host clock, or the CPU time of the
//! host process or thread, which *is* the application's). But a CPU clock id made by
//! `clock_getcpuclockid`/`pthread_getcpuclockid` encodes a pid or tid of *myst's* numbering,
//! which the host would read as one of its own. A seccomp filter therefore turns
//! `clock_gettime`/`clock_getres` with such an id into SIGSYS, which the gate hands to the
//! kernel like any trapped system call; the kernel translates the id to the host process or
//! thread that runs it and reads it through [`raw_clock_gettime`], the one syscall site the
//! filter lets through. If the filter cannot be installed, the application gets no vDSO.

use std::sync::atomic::{AtomicBool, Ordering};

static GUARD: AtomicBool = AtomicBool::new(false);

std::arch::global_asm!(
    ".text",
    ".globl myst_raw_clock_gettime",
    ".type myst_raw_clock_gettime,@function",
    "myst_raw_clock_gettime:",
    "    movq $228, %rax",
    "    syscall",
    ".globl myst_raw_clock_gettime_ret",
    "myst_raw_clock_gettime_ret:",
    "    ret",
    options(att_syntax)
);

extern "C" {
    fn myst_raw_clock_gettime(clock: i32, ts: *mut libc::timespec) -> libc::c_long;
    static myst_raw_clock_gettime_ret: u8;
}

/// `clock_gettime` through the syscall site the guard allows; returns the raw result.
pub fn raw_clock_gettime(clock: i32, ts: &mut libc::timespec) -> libc::c_long {
    // SAFETY: a plain clock_gettime system call (arguments in rdi, rsi as the syscall ABI
    // wants them, which is where the C ABI puts them) with a valid out-pointer.
    let r = unsafe { myst_raw_clock_gettime(clock, ts) };
    if r < 0 {
        // SAFETY: errno is thread-local; set it as libc would for `check`.
        unsafe { *libc::__errno_location() = (-r) as i32 };
        return -1;
    }
    r
}

/// Whether the guard is in place (and the vDSO may be offered).
pub fn guard_installed() -> bool {
    GUARD.load(Ordering::Relaxed)
}

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const RET_TRAP: u32 = 0x0003_0000;
const RET_ALLOW: u32 = 0x7fff_0000;

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt: 0, jf: 0, k }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// Installs the seccomp guard on this process (all its threads, and every process forked
/// from it later).
pub fn install_guard() {
    let ret = std::ptr::addr_of!(myst_raw_clock_gettime_ret) as u64;
    let (ld, jeq, jset, ja, ret_k) = (
        (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
        (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16,
        (libc::BPF_JMP | libc::BPF_JA) as u16,
        (libc::BPF_RET | libc::BPF_K) as u16,
    );
    // seccomp_data: nr at 0, arch at 4, instruction_pointer at 8 (low) / 12 (high),
    // args[0] at 16 (low half: the clockid_t).
    let prog = [
        stmt(ld, 4),                                     // 0: arch
        jump(jeq, AUDIT_ARCH_X86_64, 0, 11),             // 1: not x86-64 -> allow
        stmt(ld, 0),                                     // 2: nr
        jump(jeq, libc::SYS_clock_gettime as u32, 2, 0), // 3
        jump(jeq, libc::SYS_clock_getres as u32, 1, 0),  // 4
        stmt(ja, 7),                                     // 5: other calls -> allow
        stmt(ld, 16),                                    // 6: clock id
        jump(jset, 0x8000_0000, 0, 5),                   // 7: not negative -> allow
        stmt(ld, 8),                                     // 8: ip, low half
        jump(jeq, ret as u32, 0, 2),                     // 9: not our site -> trap
        stmt(ld, 12),                                    // 10: ip, high half
        jump(jeq, (ret >> 32) as u32, 1, 0),             // 11: our site -> allow
        stmt(ret_k, RET_TRAP),                           // 12
        stmt(ret_k, RET_ALLOW),                          // 13
    ];
    let fprog = libc::sock_fprog { len: prog.len() as u16, filter: prog.as_ptr() as *mut libc::sock_filter };
    // SAFETY: no_new_privs then a seccomp filter program that lives through the call; both
    // results are checked. TSYNC applies it to every thread of the process.
    let ok = unsafe {
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
            && libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, libc::SECCOMP_FILTER_FLAG_TSYNC, &fprog) == 0
    };
    GUARD.store(ok, Ordering::Relaxed);
}
