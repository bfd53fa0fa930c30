//! The entry gate: Syscall User Dispatch in inclusive mode over the application region,
//! host signal handlers, and the fs/gs switching between application and kernel.
//!
//! Per host thread, the gs base points at a [`ThreadBlock`]. On every entry from the
//! application (SIGSYS for a syscall, or a fault) the assembly stub saves the application's
//! fs base (`rdfsbase`), loads the host thread's (so Rust std and glibc work), calls
//! [`host_signal`], and on the way out restores the application's fs base (which the kernel
//! may have changed through `arch_prctl`).

use myst_tcall::{Fault, Upcall, UserRegs};
use std::sync::OnceLock;

/// Per-thread block reached through the gs base. Field offsets are used by the assembly.
#[repr(C)]
#[derive(Debug)]
pub struct ThreadBlock {
    /// 0: address of this block.
    pub self_ptr: u64,
    /// 8: the host thread's fs base.
    pub host_fs: u64,
    /// 16: the application's fs base.
    pub app_fs: u64,
    /// 24: non-zero while kernel code runs on this thread.
    pub in_kernel: u64,
    /// 32: kernel thread id.
    pub tid: u64,
    /// 40: Syscall User Dispatch selector byte.
    pub selector: u8,
    /// 48: the host ucontext of the kernel entry in progress (for FPU state access).
    pub cur_uctx: u64,
}

/// Host signal the target uses to interrupt a thread (never visible to the application).
pub const SIG_INTERRUPT: i32 = 63;

static UPCALL: OnceLock<&'static dyn Upcall> = OnceLock::new();
static REGION: OnceLock<(u64, u64)> = OnceLock::new();

std::arch::global_asm!(
    ".text",
    ".globl myst_gate_signal_entry",
    ".type myst_gate_signal_entry,@function",
    "myst_gate_signal_entry:",
    "    cmpq $0, %gs:24",
    "    jne 2f",
    "    rdfsbase %rax",
    "    movq %rax, %gs:16",
    "    movq %gs:8, %rax",
    "    wrfsbase %rax",
    "    movq $1, %gs:24",
    "    subq $8, %rsp",
    "    call {handler}",
    "    addq $8, %rsp",
    "    movq $0, %gs:24",
    "    movq %gs:16, %rax",
    "    wrfsbase %rax",
    "    ret",
    "2:",
    "    jmp {nested}",
    ".globl myst_gate_restorer",
    ".type myst_gate_restorer,@function",
    "myst_gate_restorer:",
    "    movq $15, %rax",
    "    syscall",
    "    ud2",
    // myst_gate_enter_user(regs: *const UserRegs): load the application context and jump.
    ".globl myst_gate_enter_user",
    ".type myst_gate_enter_user,@function",
    "myst_gate_enter_user:",
    "    movq 144(%rdi), %rax",
    "    wrfsbase %rax",
    "    movq 0(%rdi), %rax",
    "    movq 8(%rdi), %rbx",
    "    movq 16(%rdi), %rcx",
    "    movq 24(%rdi), %rdx",
    "    movq 32(%rdi), %rsi",
    "    movq 48(%rdi), %rbp",
    "    movq 64(%rdi), %r8",
    "    movq 72(%rdi), %r9",
    "    movq 80(%rdi), %r10",
    "    movq 88(%rdi), %r11",
    "    movq 96(%rdi), %r12",
    "    movq 104(%rdi), %r13",
    "    movq 112(%rdi), %r14",
    "    movq 120(%rdi), %r15",
    "    movq 56(%rdi), %rsp",
    "    pushq 128(%rdi)",
    "    movq 40(%rdi), %rdi",
    "    movq $0, %gs:24",
    "    ret",
    handler = sym host_signal,
    nested = sym host_signal_nested,
    options(att_syntax)
);

extern "C" {
    fn myst_gate_signal_entry();
    fn myst_gate_restorer();
    fn myst_gate_enter_user(regs: *const UserRegs) -> !;
}

fn gs_block() -> *mut ThreadBlock {
    let p: u64;
    // SAFETY: reads the gs base, which `enter` set to this thread's leaked ThreadBlock.
    unsafe { std::arch::asm!("rdgsbase {}", out(reg) p, options(nomem, nostack, preserves_flags)) };
    p as *mut ThreadBlock
}

/// The host signals the gate handles.
const SIGNALS: [i32; 7] = [libc::SIGSYS, libc::SIGSEGV, libc::SIGBUS, libc::SIGFPE, libc::SIGILL, libc::SIGTRAP, SIG_INTERRUPT];

#[repr(C)]
struct KSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

/// Installs the gate's host signal handlers (raw `rt_sigaction`, our own restorer).
pub fn install_handlers() -> Result<(), String> {
    for sig in SIGNALS {
        let act = KSigaction {
            handler: myst_gate_signal_entry as *const () as usize,
            flags: (libc::SA_SIGINFO | libc::SA_ONSTACK | 0x0400_0000) as u64,
            restorer: myst_gate_restorer as *const () as usize,
            // Block everything but the synchronous fault signals while the kernel runs.
            mask: !((1u64 << (libc::SIGSEGV - 1))
                | (1u64 << (libc::SIGBUS - 1))
                | (1u64 << (libc::SIGFPE - 1))
                | (1u64 << (libc::SIGILL - 1))),
        };
        // SAFETY: raw rt_sigaction with a valid, fully initialised kernel sigaction.
        let r = unsafe { libc::syscall(libc::SYS_rt_sigaction, sig, &act as *const KSigaction, 0usize, 8usize) };
        if r != 0 {
            return Err(format!("rt_sigaction({sig}) failed: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// Gives the current host thread an alternate signal stack for kernel code.
pub fn install_altstack(size: usize) -> Result<(), String> {
    // SAFETY: anonymous mapping; checked.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err("cannot allocate the kernel signal stack".into());
    }
    let ss = libc::stack_t { ss_sp: p, ss_flags: 0, ss_size: size };
    // SAFETY: ss describes the mapping just made, which is never freed.
    if unsafe { libc::sigaltstack(&ss, std::ptr::null_mut()) } != 0 {
        return Err(format!("sigaltstack: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Starts application code on this host thread as kernel thread `tid`. Never returns.
pub fn enter(tid: u32, regs: &UserRegs, upcall: &'static dyn Upcall, region: (u64, u64)) -> ! {
    let regs = *regs;
    enter_with(tid, upcall, region, move || regs)
}

/// Makes this host thread kernel thread `tid`, runs `start` (kernel code that returns the
/// application's registers) and starts application code. Never returns.
pub fn enter_with(tid: u32, upcall: &'static dyn Upcall, region: (u64, u64), start: impl FnOnce() -> UserRegs) -> ! {
    let _ = UPCALL.set(upcall);
    let _ = REGION.set(region);
    let host_fs: u64;
    // SAFETY: reads this thread's fs base (FSGSBASE is enabled; checked at target creation).
    unsafe { std::arch::asm!("rdfsbase {}", out(reg) host_fs, options(nomem, nostack, preserves_flags)) };
    let block =
        Box::leak(Box::new(ThreadBlock { self_ptr: 0, host_fs, app_fs: 0, in_kernel: 1, tid: tid as u64, selector: 1, cur_uctx: 0 }));
    block.self_ptr = block as *mut ThreadBlock as u64;
    let bp = block.self_ptr;
    // SAFETY: points gs at the leaked, never-freed block of this thread; nothing else uses gs.
    unsafe { std::arch::asm!("wrgsbase {}", in(reg) bp, options(nostack, preserves_flags)) };
    // SAFETY: getpid/gettid have no preconditions.
    let host = unsafe { (libc::getpid(), libc::gettid()) };
    upcall.started(tid, host);
    let regs_copy = Box::leak(Box::new(start()));
    block.app_fs = regs_copy.fs_base;
    // Application code runs with no host signal blocked but those the watcher thread reads
    // (the thread may have been created from inside a handler, whose mask it inherited).
    // SAFETY: an initialised sigset.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &crate::host::forwarded_sigset(), std::ptr::null_mut()) };
    // SAFETY: arms inclusive Syscall User Dispatch over the application region with the
    // selector in the leaked block (valid for the thread's life); the result is checked.
    let r =
        unsafe { libc::prctl(59, 2 as libc::c_ulong, region.0 as libc::c_ulong, region.1 as libc::c_ulong, &block.selector as *const u8) };
    if r != 0 {
        eprintln!("myst: cannot arm Syscall User Dispatch (inclusive mode): {}", std::io::Error::last_os_error());
        std::process::exit(127);
    }
    // SAFETY: jumps to application code with a complete register context; the gate takes
    // control back on every syscall or fault.
    unsafe { myst_gate_enter_user(regs_copy) }
}

const REG_R8: usize = 0;
const REG_R9: usize = 1;
const REG_R10: usize = 2;
const REG_R11: usize = 3;
const REG_R12: usize = 4;
const REG_R13: usize = 5;
const REG_R14: usize = 6;
const REG_R15: usize = 7;
const REG_RDI: usize = 8;
const REG_RSI: usize = 9;
const REG_RBP: usize = 10;
const REG_RBX: usize = 11;
const REG_RDX: usize = 12;
const REG_RAX: usize = 13;
const REG_RCX: usize = 14;
const REG_RSP: usize = 15;
const REG_RIP: usize = 16;
const REG_EFL: usize = 17;

fn regs_from(g: &[i64; 23], fs: u64) -> UserRegs {
    UserRegs {
        rax: g[REG_RAX] as u64,
        rbx: g[REG_RBX] as u64,
        rcx: g[REG_RCX] as u64,
        rdx: g[REG_RDX] as u64,
        rsi: g[REG_RSI] as u64,
        rdi: g[REG_RDI] as u64,
        rbp: g[REG_RBP] as u64,
        rsp: g[REG_RSP] as u64,
        r8: g[REG_R8] as u64,
        r9: g[REG_R9] as u64,
        r10: g[REG_R10] as u64,
        r11: g[REG_R11] as u64,
        r12: g[REG_R12] as u64,
        r13: g[REG_R13] as u64,
        r14: g[REG_R14] as u64,
        r15: g[REG_R15] as u64,
        rip: g[REG_RIP] as u64,
        rflags: g[REG_EFL] as u64,
        fs_base: fs,
    }
}

fn regs_into(r: &UserRegs, g: &mut [i64; 23]) {
    g[REG_RAX] = r.rax as i64;
    g[REG_RBX] = r.rbx as i64;
    g[REG_RCX] = r.rcx as i64;
    g[REG_RDX] = r.rdx as i64;
    g[REG_RSI] = r.rsi as i64;
    g[REG_RDI] = r.rdi as i64;
    g[REG_RBP] = r.rbp as i64;
    g[REG_RSP] = r.rsp as i64;
    g[REG_R8] = r.r8 as i64;
    g[REG_R9] = r.r9 as i64;
    g[REG_R10] = r.r10 as i64;
    g[REG_R11] = r.r11 as i64;
    g[REG_R12] = r.r12 as i64;
    g[REG_R13] = r.r13 as i64;
    g[REG_R14] = r.r14 as i64;
    g[REG_R15] = r.r15 as i64;
    g[REG_RIP] = r.rip as i64;
    g[REG_EFL] = r.rflags as i64;
}

/// A fault while kernel or target code runs: a myst bug, never the application's.
extern "C" fn host_signal_nested(sig: i32, info: *mut libc::siginfo_t, uctx: *mut libc::c_void) {
    if sig == SIG_INTERRUPT {
        // The kernel is running on this thread: returning makes a blocking host call fail
        // with EINTR, and the kernel then looks at its pending signals.
        return;
    }
    // SAFETY: the kernel passed valid siginfo and ucontext for this signal.
    let (addr, rip) = unsafe { ((*info).si_addr() as u64, (*(uctx as *mut libc::ucontext_t)).uc_mcontext.gregs[REG_RIP]) };
    // The offset in the binary, for addr2line.
    // SAFETY: dladdr only reads the loader's tables; `dl` is a zeroed out-parameter.
    let base = unsafe {
        let mut dl: libc::Dl_info = std::mem::zeroed();
        if libc::dladdr(rip as usize as *const libc::c_void, &mut dl) != 0 {
            dl.dli_fbase as u64
        } else {
            0
        }
    };
    eprintln!(
        "myst: internal fault: {} at {addr:#x} (rip {rip:#x}, offset {:#x} in the binary); this is a myst bug",
        myst_abi::consts::signal_name(sig as u32),
        (rip as u64).wrapping_sub(base)
    );
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(125) }
}

/// Rust side of the gate: runs on the kernel's alternate stack with the host fs base.
extern "C" fn host_signal(sig: i32, info: *mut libc::siginfo_t, uctx: *mut libc::c_void) {
    let block = gs_block();
    // SAFETY: the kernel passed a valid ucontext for this signal; gs points at our block
    // (the handler is only reachable after `enter` set it).
    let (uc, blk) = unsafe { (&mut *(uctx as *mut libc::ucontext_t), &mut *block) };
    let Some(up) = UPCALL.get().copied() else {
        eprintln!("myst: host signal {sig} before the kernel started");
        std::process::abort();
    };
    let mut regs = regs_from(&uc.uc_mcontext.gregs, blk.app_fs);
    let tid = blk.tid as u32;
    blk.cur_uctx = uctx as u64;
    if sig == libc::SIGSYS {
        up.syscall(tid, &mut regs);
    } else if sig == SIG_INTERRUPT {
        up.interrupt(tid, &mut regs);
    } else {
        // SAFETY: siginfo is valid for this fault signal.
        let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr() as u64) };
        up.fault(tid, Fault { signo: sig as u32, code, addr }, &mut regs);
    }
    regs_into(&regs, &mut uc.uc_mcontext.gregs);
    blk.app_fs = regs.fs_base;
}

/// The kernel's upcalls, once the first thread has entered the gate.
pub fn upcall() -> Option<&'static dyn Upcall> {
    UPCALL.get().copied()
}

/// The kernel tid of the calling thread (from its gs block).
pub fn current_tid() -> u32 {
    let b = gs_block();
    // SAFETY: called only from kernel code on a thread whose gs points at its block.
    unsafe { (*b).tid as u32 }
}

/// The kernel tid of the calling thread, or 0 before `enter` set up its block.
pub fn current_tid_checked() -> u32 {
    // SAFETY: rdgsbase only reads the register.
    let p: u64 = unsafe {
        let v: u64;
        std::arch::asm!("rdgsbase {}", out(reg) v, options(nomem, nostack, preserves_flags));
        v
    };
    if p == 0 {
        return 0;
    }
    current_tid()
}

/// The FXSAVE image of the application at the current kernel entry.
pub fn fpu_area() -> Option<*mut u8> {
    let b = gs_block();
    // SAFETY: gs points at this thread's block; cur_uctx is the live host ucontext of the
    // signal being handled (set before the upcall), whose fpregs points at its FP state.
    unsafe {
        let uc = (*b).cur_uctx as *mut libc::ucontext_t;
        if uc.is_null() || (*uc).uc_mcontext.fpregs.is_null() {
            return None;
        }
        Some((*uc).uc_mcontext.fpregs as *mut u8)
    }
}
