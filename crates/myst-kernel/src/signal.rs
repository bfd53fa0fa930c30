//! Signals: pending queues, delivery onto the application stack (a Linux-exact
//! `rt_sigframe`), `rt_sigreturn`, and default actions.

use crate::process::{Process, SigAction, Thread};
use crate::Kernel;
use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;
use myst_abi::consts::*;
use myst_tcall::UserRegs;

/// `si_code` values.
pub const SI_USER: i32 = 0;
/// Sent by tkill/tgkill.
pub const SI_TKILL: i32 = -6;
/// Sent by sigqueue.
pub const SI_QUEUE: i32 = -1;
/// Sent by the kernel.
pub const SI_KERNEL: i32 = 0x80;

/// One pending signal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigInfo {
    /// Signal number.
    pub signo: u32,
    /// `si_code`.
    pub code: i32,
    /// `si_errno`.
    pub errno: i32,
    /// Sender pid (or child pid for SIGCHLD).
    pub pid: u32,
    /// Sender uid.
    pub uid: u32,
    /// Fault address (SIGSEGV…), or sigval for queued signals.
    pub addr: u64,
    /// Exit status for SIGCHLD.
    pub status: i32,
}

impl SigInfo {
    /// The 128-byte `siginfo_t`.
    pub fn to_bytes(&self) -> [u8; 128] {
        let mut b = [0u8; 128];
        b[0..4].copy_from_slice(&self.signo.to_le_bytes());
        b[4..8].copy_from_slice(&self.errno.to_le_bytes());
        b[8..12].copy_from_slice(&self.code.to_le_bytes());
        match self.signo {
            SIGSEGV | SIGBUS | SIGFPE | SIGILL | SIGTRAP if self.code > 0 => {
                b[16..24].copy_from_slice(&self.addr.to_le_bytes());
            }
            SIGCHLD => {
                b[16..20].copy_from_slice(&self.pid.to_le_bytes());
                b[20..24].copy_from_slice(&self.uid.to_le_bytes());
                b[24..28].copy_from_slice(&self.status.to_le_bytes());
            }
            _ => {
                b[16..20].copy_from_slice(&self.pid.to_le_bytes());
                b[20..24].copy_from_slice(&self.uid.to_le_bytes());
                b[24..32].copy_from_slice(&self.addr.to_le_bytes());
            }
        }
        b
    }
}

/// Pending signals of a thread or a process.
#[derive(Clone, Debug, Default)]
pub struct Pending {
    /// Queued signals in arrival order.
    pub queue: Vec<SigInfo>,
}

impl Pending {
    /// Bit set of pending signal numbers.
    pub fn set(&self) -> u64 {
        self.queue.iter().fold(0, |m, s| m | bit(s.signo))
    }

    /// Queues `s` (standard signals are not queued twice).
    pub fn push(&mut self, s: SigInfo) {
        if s.signo < 32 && self.queue.iter().any(|q| q.signo == s.signo) {
            return;
        }
        if self.queue.len() < 4096 {
            self.queue.push(s);
        }
    }

    /// Takes the lowest-numbered pending signal not in `blocked`.
    pub fn take(&mut self, blocked: u64) -> Option<SigInfo> {
        let best = self.queue.iter().enumerate().filter(|(_, s)| bit(s.signo) & blocked == 0).min_by_key(|(_, s)| s.signo)?.0;
        Some(self.queue.remove(best))
    }

    /// Takes a pending signal that is in `set`.
    pub fn take_in(&mut self, set: u64) -> Option<SigInfo> {
        self.take(!set)
    }
}

/// The mask bit of signal `sig`.
pub const fn bit(sig: u32) -> u64 {
    if sig == 0 || sig > 64 {
        0
    } else {
        1 << (sig - 1)
    }
}

/// Signals that can never be blocked.
pub const UNBLOCKABLE: u64 = bit(SIGKILL) | bit(SIGSTOP);

/// What a default action does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultAction {
    /// Ends the process.
    Terminate,
    /// Nothing.
    Ignore,
    /// Stop (treated as ignore: myst has no job control yet).
    Stop,
    /// Continue.
    Continue,
}

/// The default action of `sig`.
pub fn default_action(sig: u32) -> DefaultAction {
    match sig {
        SIGCHLD | SIGURG | SIGWINCH => DefaultAction::Ignore,
        SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU => DefaultAction::Stop,
        SIGCONT => DefaultAction::Continue,
        _ => DefaultAction::Terminate,
    }
}

/// Whether `s` would do anything if delivered (not ignored).
pub fn is_ignored(act: &SigAction, sig: u32) -> bool {
    sig != SIGKILL && sig != SIGSTOP && (act.handler == SIG_IGN || (act.handler == SIG_DFL && default_action(sig) == DefaultAction::Ignore))
}

/// Queues a signal for a process: picks a thread that does not block it and wakes it.
pub fn send_to_process(k: &Kernel, p: &Arc<Process>, s: SigInfo) {
    if s.signo == SIGCONT {
        continue_process(k, p);
    } else if matches!(s.signo, SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU) {
        p.pending.lock().queue.retain(|q| q.signo != SIGCONT);
    }
    let act = p.sigactions.lock()[s.signo as usize];
    let tids: Vec<u32> = p.threads.lock().clone();
    let threads: Vec<Arc<Thread>> = tids.iter().filter_map(|t| k.thread(*t)).collect();
    // An ignored signal is dropped, unless every thread blocks it: then it stays pending.
    let all_block = !threads.is_empty() && threads.iter().all(|t| *t.sigmask.lock() & bit(s.signo) != 0);
    if s.signo != SIGKILL && is_ignored(&act, s.signo) && s.signo != SIGCONT && !all_block {
        return;
    }
    let target = threads.iter().find(|t| *t.sigmask.lock() & bit(s.signo) == 0).or(threads.first()).cloned();
    p.pending.lock().push(s);
    p.sigwq.notify();
    if let Some(t) = target {
        kick(&t);
    }
}

/// Queues a signal for one thread and wakes it.
pub fn send_to_thread(t: &Arc<Thread>, s: SigInfo) {
    if s.signo == SIGCONT {
        continue_process(crate::kernel(), &t.process);
    }
    let act = t.process.sigactions.lock()[s.signo as usize];
    let blocked = *t.sigmask.lock() & bit(s.signo) != 0;
    if s.signo != SIGKILL && is_ignored(&act, s.signo) && !blocked {
        return;
    }
    t.pending.lock().push(s);
    t.process.sigwq.notify();
    kick(t);
}

/// Makes `t` notice pending signals: wakes a kernel wait and interrupts host calls or user code.
pub fn kick(t: &Thread) {
    t.wake.fetch_add(1, core::sync::atomic::Ordering::SeqCst);
    let tc = crate::tcall();
    let _ = tc.futex_wake(&t.wake, u32::MAX);
    let host = *t.host.lock();
    tc.thread_interrupt(host);
}

/// Tells the parent of `p` about a stop or continue (SIGCHLD, unless SA_NOCLDSTOP) and wakes
/// its waiters.
fn notify_parent(k: &Kernel, p: &Process, event: i32) {
    *p.wait_event.lock() = Some(event);
    let Some(par) = k.procs.lock().get(&p.ppid()).cloned() else { return };
    let act = par.sigactions.lock()[SIGCHLD as usize];
    if act.flags & SA_NOCLDSTOP == 0 {
        let (code, status) = if event == 0xffff { (6, SIGCONT as i32) } else { (5, event) };
        send_to_process(k, &par, SigInfo { signo: SIGCHLD, code, pid: p.pid, uid: p.creds.uid, status, ..Default::default() });
    }
    let tids: Vec<u32> = par.threads.lock().clone();
    for t in tids.iter().filter_map(|t| k.thread(*t)) {
        crate::waitq::wake(&t);
    }
}

/// SIGCONT: a stopped process goes on.
pub fn continue_process(k: &Kernel, p: &Arc<Process>) {
    p.pending.lock().queue.retain(|q| !matches!(q.signo, SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU));
    if p.stopped.swap(0, core::sync::atomic::Ordering::SeqCst) != 0 {
        let tids: Vec<u32> = p.threads.lock().clone();
        for t in tids.iter().filter_map(|t| k.thread(*t)) {
            crate::waitq::wake(&t);
        }
        notify_parent(k, p, 0xffff);
    }
}

/// Stops the calling thread's process with `sig` until SIGCONT (or SIGKILL).
fn stop_process(k: &Kernel, t: &Arc<Thread>, sig: u32) {
    let p = &t.process;
    if p.stopped.swap(sig, core::sync::atomic::Ordering::SeqCst) == 0 {
        notify_parent(k, p, sig as i32);
        let tids: Vec<u32> = p.threads.lock().clone();
        for o in tids.iter().filter(|x| **x != t.tid).filter_map(|x| k.thread(*x)) {
            kick(&o);
        }
    }
    wait_while_stopped(t);
}

/// Blocks while the thread's process is stopped; SIGKILL ends the wait.
pub fn wait_while_stopped(t: &Thread) {
    let tc = crate::tcall();
    loop {
        let gen = t.wake.load(core::sync::atomic::Ordering::SeqCst);
        if t.process.stopped.load(core::sync::atomic::Ordering::SeqCst) == 0 {
            return;
        }
        let killed = (t.pending.lock().set() | t.process.pending.lock().set()) & bit(SIGKILL) != 0;
        if killed || t.exiting.load(core::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let _ = tc.futex_wait(&t.wake, gen, None);
    }
}

/// Whether `t` has a pending signal it does not block.
pub fn has_deliverable(t: &Thread) -> bool {
    if t.exiting.load(core::sync::atomic::Ordering::SeqCst) {
        return true;
    }
    let blocked = *t.sigmask.lock() & !UNBLOCKABLE;
    (t.pending.lock().set() | t.process.pending.lock().set()) & !blocked != 0
}

const FRAME_UC: u64 = 8;
const UC_SIZE: u64 = 304;
const SIGINFO_SIZE: u64 = 128;

fn take_next(t: &Thread) -> Option<SigInfo> {
    let blocked = *t.sigmask.lock() & !UNBLOCKABLE;
    if let Some(s) = t.pending.lock().take(blocked) {
        return Some(s);
    }
    t.process.pending.lock().take(blocked)
}

/// Outcome of delivering pending signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivered {
    /// Nothing was delivered.
    Nothing,
    /// A handler frame was built; `restart` says whether its SA_RESTART was set.
    Handler {
        /// SA_RESTART.
        restart: bool,
    },
}

/// The disposition of the signal [`deliver`] would pick next, if any.
pub fn peek(t: &Thread) -> Option<(u32, SigAction)> {
    let blocked = *t.sigmask.lock() & !UNBLOCKABLE;
    let set = (t.pending.lock().set() | t.process.pending.lock().set()) & !blocked;
    if set == 0 {
        return None;
    }
    let sig = set.trailing_zeros() + 1;
    Some((sig, t.process.sigactions.lock()[sig as usize]))
}

/// Syscalls that SA_RESTART restarts after a handler (Linux's ERESTARTSYS callers).
pub fn restartable(nr: usize) -> bool {
    use myst_abi::nr::*;
    matches!(
        nr,
        SYS_READ
            | SYS_READV
            | SYS_WRITE
            | SYS_WRITEV
            | SYS_PREAD64
            | SYS_PWRITE64
            | SYS_IOCTL
            | SYS_WAIT4
            | SYS_WAITID
            | SYS_FUTEX
            | SYS_OPEN
            | SYS_OPENAT
            | SYS_FCNTL
            | SYS_FLOCK
            | SYS_ACCEPT
            | SYS_ACCEPT4
            | SYS_RECVFROM
            | SYS_SENDTO
            | SYS_RECVMSG
            | SYS_SENDMSG
            | SYS_CONNECT
    )
}

/// Delivers pending signals to `t` by rewriting `regs` to enter a handler. Default actions
/// that terminate end the process here.
pub fn deliver(k: &Kernel, t: &Arc<Thread>, regs: &mut UserRegs) -> Delivered {
    if t.process.stopped.load(core::sync::atomic::Ordering::SeqCst) != 0 {
        wait_while_stopped(t);
    }
    while let Some(s) = take_next(t) {
        let act = t.process.sigactions.lock()[s.signo as usize];
        if s.signo == SIGKILL || act.handler == SIG_DFL {
            match default_action(s.signo) {
                DefaultAction::Terminate => terminate(k, &t.process, s),
                DefaultAction::Stop if s.signo == SIGSTOP || act.handler == SIG_DFL => {
                    stop_process(k, t, s.signo);
                    continue;
                }
                _ => continue,
            }
        }
        if act.handler == SIG_IGN {
            continue;
        }
        if setup_frame(t, regs, &s, &act).is_err() {
            // The stack cannot take the frame: Linux kills with SIGSEGV.
            terminate(k, &t.process, SigInfo { signo: SIGSEGV, code: SI_KERNEL, ..Default::default() });
        }
        return Delivered::Handler { restart: act.flags & SA_RESTART != 0 };
    }
    Delivered::Nothing
}

/// Ends the process because of signal `s`.
pub fn terminate(k: &Kernel, p: &Arc<Process>, s: SigInfo) -> ! {
    let fault = matches!(s.signo, SIGSEGV | SIGBUS | SIGFPE | SIGILL | SIGTRAP) && s.code > 0;
    // The first process's death is reported (it is what myst exits with); in children,
    // only faults are, since shells report the rest themselves.
    // Only the first process's death is reported (its status is what myst exits with);
    // children die quietly, as on Linux, and their parents see the status.
    if p.pid == crate::process::FIRST_PID {
        if fault {
            k.log(&format!("{} killed by {} at address {:#x}", p.exe(), signal_name(s.signo), s.addr));
        } else {
            k.log(&format!("{} killed by {}", p.exe(), signal_name(s.signo)));
        }
    }
    let core = matches!(s.signo, SIGQUIT | SIGILL | SIGTRAP | SIGABRT | SIGBUS | SIGFPE | SIGSEGV | SIGSYS | SIGXCPU | SIGXFSZ);
    let _ = core;
    k.exit_process(p, s.signo as i32)
}

fn setup_frame(t: &Thread, regs: &mut UserRegs, s: &SigInfo, act: &SigAction) -> crate::KResult<()> {
    let user = crate::uaccess::User { mm: &t.process.mm };
    let (ss_sp, ss_flags, ss_size) = *t.altstack.lock();
    let on_alt = ss_size > 0 && regs.rsp > ss_sp && regs.rsp <= ss_sp + ss_size;
    let mut sp = if act.flags & SA_ONSTACK != 0 && ss_flags & 2 == 0 && ss_size > 0 && !on_alt {
        ss_sp + ss_size
    } else {
        regs.rsp.wrapping_sub(128)
    };
    // FP/vector state (XSAVE layout), 64-byte aligned, followed by the 4-byte end magic.
    let fx = crate::tcall().fpu_get();
    sp = sp.wrapping_sub(fx.len() as u64 + 4) & !63;
    let fp_addr = sp;
    sp = (sp.wrapping_sub(FRAME_UC + UC_SIZE + SIGINFO_SIZE) & !15).wrapping_sub(8);
    let mut frame = alloc::vec![0u8; (FRAME_UC + UC_SIZE + SIGINFO_SIZE) as usize];
    let w64 = |f: &mut Vec<u8>, off: u64, v: u64| f[off as usize..off as usize + 8].copy_from_slice(&v.to_le_bytes());
    // pretcode
    w64(&mut frame, 0, act.restorer);
    let uc = FRAME_UC;
    w64(&mut frame, uc, 0x6); // uc_flags: UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS
    w64(&mut frame, uc + 8, 0); // uc_link
    w64(&mut frame, uc + 16, ss_sp);
    frame[(uc + 24) as usize..(uc + 28) as usize].copy_from_slice(&(if on_alt { 1u32 } else { ss_flags }).to_le_bytes());
    w64(&mut frame, uc + 32, ss_size);
    let mc = uc + 40;
    let g = [
        regs.r8,
        regs.r9,
        regs.r10,
        regs.r11,
        regs.r12,
        regs.r13,
        regs.r14,
        regs.r15,
        regs.rdi,
        regs.rsi,
        regs.rbp,
        regs.rbx,
        regs.rdx,
        regs.rax,
        regs.rcx,
        regs.rsp,
        regs.rip,
        regs.rflags,
    ];
    for (i, v) in g.iter().enumerate() {
        w64(&mut frame, mc + 8 * i as u64, *v);
    }
    w64(&mut frame, mc + 144, 0x2b_0000_0000_0033); // cs=0x33, ss=0x2b
    let trapno = match s.signo {
        SIGSEGV | SIGBUS => 14,
        SIGFPE => 0,
        SIGILL => 6,
        SIGTRAP => 3,
        _ => 0,
    };
    w64(&mut frame, mc + 160, if s.code > 0 { 4 | 2 } else { 0 }); // err
    w64(&mut frame, mc + 168, trapno);
    w64(&mut frame, mc + 176, *t.sigmask.lock()); // oldmask
    w64(&mut frame, mc + 184, if s.code > 0 { s.addr } else { 0 }); // cr2
    w64(&mut frame, mc + 192, fp_addr); // fpstate
    let saved = t.saved_mask.lock().take().unwrap_or(*t.sigmask.lock());
    w64(&mut frame, uc + 296, saved); // uc_sigmask
    let info = s.to_bytes();
    frame[(uc + UC_SIZE) as usize..].copy_from_slice(&info);
    user.write(fp_addr, &fx)?;
    if fx.len() > 512 {
        user.write(fp_addr + fx.len() as u64, &0x4650_5845u32.to_le_bytes())?;
    }
    user.write(sp, &frame)?;
    // Enter the handler.
    let mut mask = *t.sigmask.lock() | act.mask;
    if act.flags & SA_NODEFER == 0 {
        mask |= bit(s.signo);
    }
    *t.sigmask.lock() = mask & !UNBLOCKABLE;
    if act.flags & SA_RESETHAND != 0 {
        t.process.sigactions.lock()[s.signo as usize] = SigAction::default();
    }
    regs.rsp = sp;
    regs.rip = act.handler;
    regs.rdi = s.signo as u64;
    regs.rsi = sp + FRAME_UC + UC_SIZE;
    regs.rdx = sp + FRAME_UC;
    regs.rax = 0;
    regs.rflags &= !(1 << 10 | 1 << 8); // clear DF and TF
    Ok(())
}

/// `rt_sigreturn`: restores the context saved by [`setup_frame`]; `regs.rsp` points at the
/// ucontext (the handler's `ret` popped pretcode).
pub fn sigreturn(t: &Thread, regs: &mut UserRegs) -> crate::KResult<()> {
    let user = crate::uaccess::User { mm: &t.process.mm };
    let uc = regs.rsp;
    let b = user.read_vec(uc, UC_SIZE as usize)?;
    let r = |off: usize| u64::from_le_bytes(b[off..off + 8].try_into().expect("8 bytes"));
    let mc = 40;
    let g: Vec<u64> = (0..18).map(|i| r(mc + 8 * i)).collect();
    let fs = regs.fs_base;
    *regs = UserRegs {
        r8: g[0],
        r9: g[1],
        r10: g[2],
        r11: g[3],
        r12: g[4],
        r13: g[5],
        r14: g[6],
        r15: g[7],
        rdi: g[8],
        rsi: g[9],
        rbp: g[10],
        rbx: g[11],
        rdx: g[12],
        rax: g[13],
        rcx: g[14],
        rsp: g[15],
        rip: g[16],
        // Only the flags user code may set: CF PF AF ZF SF TF DF OF AC ID... (keep IF).
        rflags: (g[17] & 0x0025_4dd5) | 0x202,
        fs_base: fs,
    };
    let fp = r(mc + 192);
    if fp != 0 {
        let sw = user.read_arr::<24>(fp + 464)?;
        let magic = u32::from_le_bytes(sw[0..4].try_into().expect("4"));
        let size = u32::from_le_bytes(sw[16..20].try_into().expect("4")) as usize;
        let n = if magic == 0x4650_5853 && (512..=256 * 1024).contains(&size) { size } else { 512 };
        let fx = user.read_vec(fp, n)?;
        crate::tcall().fpu_set(&fx);
    }
    *t.sigmask.lock() = r(296) & !UNBLOCKABLE;
    Ok(())
}
