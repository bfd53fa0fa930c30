//! Pseudo-terminals: `/dev/ptmx` hands out a new master, `/dev/pts/N` is its slave, with
//! Linux's line discipline between them: what the master writes is the slave's input
//! (CR/NL translation, canonical line editing with erase, kill and end-of-file, echo back to
//! the master, and the signal characters sent to the terminal's foreground process group);
//! what the slave writes goes to the master through output processing (NL to CR NL). The
//! termios (one per pair, as Linux's termios calls on either end act on the slave's), the
//! window size, the controlling session and the foreground group are those the programs set.

use super::{DirEntry, Inode, InodeRef, IoctlAnswer};
use crate::error::KResult;
use crate::kerr;
use crate::sync::Mutex;
use crate::waitq::WaitQueue;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::format;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use myst_abi::consts::*;
use myst_abi::structs::Stat;

const CAP: usize = 65536;
/// Longest canonical line (Linux's N_TTY_BUF_SIZE less one for the newline).
const MAX_LINE: usize = 4095;

// termios flags (Linux values)
const ICRNL: u32 = 0o400;
const INLCR: u32 = 0o100;
const IGNCR: u32 = 0o200;
const ISTRIP: u32 = 0o40;
const OPOST: u32 = 0o1;
const ONLCR: u32 = 0o4;
const OCRNL: u32 = 0o10;
const ISIG: u32 = 0o1;
const ICANON: u32 = 0o2;
const ECHO: u32 = 0o10;
const ECHOE: u32 = 0o20;
const ECHOK: u32 = 0o40;
const ECHONL: u32 = 0o100;
const NOFLSH: u32 = 0o200;
const TOSTOP: u32 = 0o400;
const ECHOCTL: u32 = 0o1000;
const ECHOKE: u32 = 0o4000;
const IEXTEN: u32 = 0o100000;
// c_cc indices
const VINTR: usize = 0;
const VQUIT: usize = 1;
const VERASE: usize = 2;
const VKILL: usize = 3;
const VEOF: usize = 4;
const VTIME: usize = 5;
const VMIN: usize = 6;
const VSUSP: usize = 10;
const VEOL: usize = 11;
const VWERASE: usize = 14;
const VEOL2: usize = 16;

/// The kernel's `struct termios` (what TCGETS/TCSETS carry): 36 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Termios {
    /// Input modes.
    pub iflag: u32,
    /// Output modes.
    pub oflag: u32,
    /// Control modes.
    pub cflag: u32,
    /// Local modes.
    pub lflag: u32,
    /// Line discipline.
    pub line: u8,
    /// Control characters.
    pub cc: [u8; 19],
}

impl Default for Termios {
    /// A new terminal's: ICRNL|IXON, OPOST|ONLCR, B38400|CS8|CREAD,
    /// ISIG|ICANON|ECHO|ECHOE|ECHOK|ECHOCTL|ECHOKE|IEXTEN, Linux's control characters.
    fn default() -> Self {
        Self {
            iflag: 0o2400,
            oflag: OPOST | ONLCR,
            cflag: 0o277,
            lflag: 0x8a3b,
            line: 0,
            cc: [3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0, 0, 0],
        }
    }
}

impl Termios {
    /// Encodes the 36-byte kernel layout.
    pub fn to_bytes(&self) -> [u8; 36] {
        let mut t = [0u8; 36];
        t[0..4].copy_from_slice(&self.iflag.to_le_bytes());
        t[4..8].copy_from_slice(&self.oflag.to_le_bytes());
        t[8..12].copy_from_slice(&self.cflag.to_le_bytes());
        t[12..16].copy_from_slice(&self.lflag.to_le_bytes());
        t[16] = self.line;
        t[17..36].copy_from_slice(&self.cc);
        t
    }

    /// Decodes the 36-byte kernel layout.
    pub fn from_bytes(b: &[u8; 36]) -> Self {
        let w = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut cc = [0u8; 19];
        cc.copy_from_slice(&b[17..36]);
        Self { iflag: w(0), oflag: w(4), cflag: w(8), lflag: w(12), line: b[16], cc }
    }

    fn is_cc(&self, i: usize, b: u8) -> bool {
        // _POSIX_VDISABLE (0) disables a control character.
        self.cc[i] != 0 && self.cc[i] == b
    }
}

struct State {
    /// Input ready for the slave to read: raw bytes, or in canonical mode completed lines.
    to_slave: VecDeque<u8>,
    /// Ends of the completed lines in `to_slave` (canonical mode): offsets one past each
    /// line's last byte; an end-of-file line has no terminator (and may be empty).
    line_ends: VecDeque<usize>,
    /// The line being edited (canonical mode).
    line: Vec<u8>,
    /// Output for the master to read (the slave's output and the echo).
    to_master: VecDeque<u8>,
    termios: Termios,
    locked: bool,
    masters: u32,
    slaves: u32,
    rows: u16,
    cols: u16,
    /// The session this is the controlling terminal of (0 = none).
    session: u32,
    /// The foreground process group (0 = none).
    fg_pgrp: u32,
}

impl State {
    /// Output processing (OPOST): NL to CR NL (ONLCR), CR to NL (OCRNL).
    fn output(&mut self, data: &[u8]) {
        let t = self.termios;
        if t.oflag & OPOST == 0 {
            self.to_master.extend(data);
            return;
        }
        for &b in data {
            match b {
                b'\n' if t.oflag & ONLCR != 0 => self.to_master.extend(b"\r\n"),
                b'\r' if t.oflag & OCRNL != 0 => self.to_master.push_back(b'\n'),
                _ => self.to_master.push_back(b),
            }
        }
    }

    /// Echoes one input byte: control characters as ^X under ECHOCTL.
    fn echo_char(&mut self, b: u8) {
        let t = self.termios;
        if t.lflag & ECHOCTL != 0 && (b < 0x20 && b != b'\t' && b != b'\n' || b == 0x7f) {
            self.output(&[b'^', b ^ 0x40]);
        } else {
            self.output(&[b]);
        }
    }

    /// Erases the last character of the line being edited (and its echo).
    fn erase_one(&mut self) {
        let Some(b) = self.line.pop() else { return };
        let t = self.termios;
        if t.lflag & ECHO != 0 && t.lflag & ECHOE != 0 {
            let wide = t.lflag & ECHOCTL != 0 && (b < 0x20 && b != b'\t' || b == 0x7f);
            let n = if wide { 2 } else { 1 };
            for _ in 0..n {
                self.output(b"\x08 \x08");
            }
        }
    }

    fn complete_line(&mut self) {
        let line = core::mem::take(&mut self.line);
        self.to_slave.extend(&line);
        self.line_ends.push_back(self.to_slave.len());
    }

    /// Input processing of one byte the master wrote; returns a signal to send to the
    /// foreground group, if the byte is a signal character.
    fn input(&mut self, mut b: u8) -> Option<u32> {
        let t = self.termios;
        if t.iflag & ISTRIP != 0 {
            b &= 0x7f;
        }
        if b == b'\r' {
            if t.iflag & IGNCR != 0 {
                return None;
            }
            if t.iflag & ICRNL != 0 {
                b = b'\n';
            }
        } else if b == b'\n' && t.iflag & INLCR != 0 {
            b = b'\r';
        }
        if t.lflag & ISIG != 0 {
            let sig = if t.is_cc(VINTR, b) {
                Some(SIGINT)
            } else if t.is_cc(VQUIT, b) {
                Some(SIGQUIT)
            } else if t.is_cc(VSUSP, b) {
                Some(SIGTSTP)
            } else {
                None
            };
            if let Some(sig) = sig {
                if t.lflag & NOFLSH == 0 {
                    self.to_slave.clear();
                    self.line_ends.clear();
                    self.line.clear();
                }
                if t.lflag & ECHO != 0 {
                    self.echo_char(b);
                }
                return Some(sig);
            }
        }
        if t.lflag & ICANON == 0 {
            if self.to_slave.len() < CAP {
                self.to_slave.push_back(b);
            }
            if t.lflag & ECHO != 0 {
                self.echo_char(b);
            }
            return None;
        }
        if t.is_cc(VERASE, b) {
            self.erase_one();
        } else if t.is_cc(VKILL, b) {
            if t.lflag & ECHO != 0 && t.lflag & ECHOKE == 0 {
                self.echo_char(b);
                if t.lflag & ECHOK != 0 {
                    self.output(b"\n");
                }
                self.line.clear();
            } else {
                while !self.line.is_empty() {
                    self.erase_one();
                }
            }
        } else if t.lflag & IEXTEN != 0 && t.is_cc(VWERASE, b) {
            while self.line.last().is_some_and(|c| c.is_ascii_whitespace()) {
                self.erase_one();
            }
            while self.line.last().is_some_and(|c| !c.is_ascii_whitespace()) {
                self.erase_one();
            }
        } else if t.is_cc(VEOF, b) {
            // End of file: the line so far is readable without a terminator (an empty
            // one reads as 0 bytes). Not echoed.
            self.complete_line();
        } else if b == b'\n' || t.is_cc(VEOL, b) || t.is_cc(VEOL2, b) {
            self.line.push(b);
            self.complete_line();
            if t.lflag & ECHO != 0 || (b == b'\n' && t.lflag & ECHONL != 0) {
                self.output(&[b]);
            }
        } else if self.line.len() < MAX_LINE {
            self.line.push(b);
            if t.lflag & ECHO != 0 {
                self.echo_char(b);
            }
        }
        None
    }

    /// Bytes the slave can read now (in canonical mode only completed lines).
    fn readable(&self) -> usize {
        if self.termios.lflag & ICANON != 0 {
            self.line_ends.back().copied().unwrap_or(0)
        } else {
            self.to_slave.len()
        }
    }

    /// Whether a canonical read has something to return (a line, possibly empty at EOF).
    fn has_line(&self) -> bool {
        !self.line_ends.is_empty()
    }

    /// Reads for the slave: at most one line in canonical mode.
    fn slave_read(&mut self, buf: &mut [u8]) -> usize {
        let canon = self.termios.lflag & ICANON != 0;
        let avail = if canon { self.line_ends.front().copied().unwrap_or(0) } else { self.to_slave.len() };
        let n = buf.len().min(avail);
        for (i, b) in self.to_slave.drain(..n).enumerate() {
            buf[i] = b;
        }
        if canon {
            for e in self.line_ends.iter_mut() {
                *e -= n;
            }
            if self.line_ends.front() == Some(&0) {
                self.line_ends.pop_front();
            }
        } else {
            self.line_ends.clear();
        }
        n
    }

    /// A new termios: leaving canonical mode makes the edited line plain input.
    fn set_termios(&mut self, t: Termios) {
        let was_canon = self.termios.lflag & ICANON != 0;
        self.termios = t;
        if was_canon && t.lflag & ICANON == 0 {
            let line = core::mem::take(&mut self.line);
            self.to_slave.extend(line);
            self.line_ends.clear();
        } else if !was_canon && t.lflag & ICANON != 0 {
            // what is pending becomes one completed chunk, as Linux makes it readable
            if !self.to_slave.is_empty() {
                self.line_ends.clear();
                self.line_ends.push_back(self.to_slave.len());
            }
        }
    }
}

/// One terminal pair.
pub struct Pty {
    index: u32,
    st: Mutex<State>,
    wq: WaitQueue,
}

/// All open terminals by index.
#[derive(Default)]
pub struct PtyTable {
    next: Mutex<u32>,
    all: Mutex<BTreeMap<u32, Weak<Pty>>>,
}

/// Which end an inode is.
pub struct PtyEnd {
    pty: Arc<Pty>,
    master: bool,
}

impl Drop for PtyEnd {
    fn drop(&mut self) {
        let mut s = self.pty.st.lock();
        if self.master {
            s.masters = s.masters.saturating_sub(1);
        } else {
            s.slaves = s.slaves.saturating_sub(1);
        }
        drop(s);
        self.pty.wq.notify();
    }
}

impl PtyTable {
    /// Allocates a new pair and returns its master.
    pub fn open_master(&self) -> InodeRef {
        let index = {
            let mut n = self.next.lock();
            let i = *n;
            *n += 1;
            i
        };
        let pty = Arc::new(Pty {
            index,
            st: Mutex::new(State {
                to_slave: VecDeque::new(),
                line_ends: VecDeque::new(),
                line: Vec::new(),
                to_master: VecDeque::new(),
                termios: Termios::default(),
                locked: true,
                masters: 1,
                slaves: 0,
                rows: 0,
                cols: 0,
                session: 0,
                fg_pgrp: 0,
            }),
            wq: WaitQueue::default(),
        });
        self.all.lock().insert(index, Arc::downgrade(&pty));
        Arc::new(PtyEnd { pty, master: true })
    }

    /// Opens the slave of pty `index` (`/dev/pts/N`, TIOCGPTPEER, `/dev/tty`).
    pub fn slave(&self, index: u32) -> KResult<InodeRef> {
        let p = self.all.lock().get(&index).and_then(|w| w.upgrade());
        let Some(pty) = p else { kerr!(ENOENT) };
        {
            let mut s = pty.st.lock();
            if s.masters == 0 {
                kerr!(EIO);
            }
            if s.locked {
                kerr!(EIO, "pty is locked (unlockpt)");
            }
            s.slaves += 1;
        }
        Ok(Arc::new(PtyEnd { pty, master: false }))
    }

    fn live(&self) -> Vec<u32> {
        self.all.lock().iter().filter(|(_, w)| w.strong_count() > 0).map(|(i, _)| *i).collect()
    }

    /// Whether session `sid` has a controlling terminal among the ptys.
    pub fn session_has_tty(&self, sid: u32) -> bool {
        self.session_pty(sid).is_some()
    }

    /// The controlling process (session leader) `sid` ended: its terminal is no longer a
    /// controlling terminal, and its foreground group gets SIGHUP and SIGCONT, as on Linux.
    pub fn release_session(&self, sid: u32) {
        let Some(pty) = self.session_pty(sid) else { return };
        let fg = {
            let mut s = pty.st.lock();
            let fg = s.fg_pgrp;
            s.session = 0;
            s.fg_pgrp = 0;
            fg
        };
        signal_group(fg, SIGHUP);
        signal_group(fg, SIGCONT);
    }

    /// The pty that is session `sid`'s controlling terminal.
    fn session_pty(&self, sid: u32) -> Option<Arc<Pty>> {
        let all: Vec<Arc<Pty>> = self.all.lock().values().filter_map(|w| w.upgrade()).collect();
        all.into_iter().find(|p| p.st.lock().session == sid)
    }
}

/// Sends `sig` (from the terminal: `SI_KERNEL`) to every process of group `pgrp`.
fn signal_group(pgrp: u32, sig: u32) {
    if pgrp == 0 {
        return;
    }
    let k = crate::kernel();
    for p in k.group_members(pgrp) {
        crate::signal::send_to_process(k, &p, crate::signal::SigInfo { signo: sig, code: crate::signal::SI_KERNEL, ..Default::default() });
    }
}

impl PtyEnd {
    /// Job control on the slave: a process of the terminal's session that is not in the
    /// foreground group and reads (`SIGTTIN`) or, under TOSTOP, writes (`SIGTTOU`) stops its
    /// group with that signal and the call restarts once it continues. Reading with SIGTTIN
    /// ignored or blocked, or from an orphaned group, fails with EIO; writing then goes on.
    fn job_control(&self, sig: u32) -> KResult<()> {
        use core::sync::atomic::Ordering::Relaxed;
        if self.master {
            return Ok(());
        }
        let (session, fg, tostop) = {
            let s = self.pty.st.lock();
            (s.session, s.fg_pgrp, s.termios.lflag & TOSTOP != 0)
        };
        if sig == SIGTTOU && !tostop {
            return Ok(());
        }
        let Some(t) = crate::current_thread() else { return Ok(()) };
        let p = &t.process;
        let (sid, pgid) = (p.sid.load(Relaxed), p.pgid.load(Relaxed));
        if session == 0 || session != sid || fg == 0 || pgid == fg {
            return Ok(());
        }
        let ignored = p.sigactions.lock()[sig as usize].handler == SIG_IGN || *t.sigmask.lock() & crate::signal::bit(sig) != 0;
        let k = crate::kernel();
        // Orphaned: no member has a parent in another group of the same session.
        let orphaned = {
            let procs = k.procs.lock();
            !procs
                .values()
                .filter(|q| q.pgid.load(Relaxed) == pgid && q.zombie.lock().is_none())
                .any(|q| procs.get(&q.ppid()).is_some_and(|par| par.pgid.load(Relaxed) != pgid && par.sid.load(Relaxed) == sid))
        };
        if ignored || orphaned {
            return if sig == SIGTTIN {
                Err(crate::Error::with_msg(myst_abi::Errno::EIO, "background read from the terminal"))
            } else {
                Ok(())
            };
        }
        signal_group(pgid, sig);
        kerr!(ERESTARTSYS)
    }

    fn io_read(&self, buf: &mut [u8], nonblock: bool) -> KResult<usize> {
        self.job_control(SIGTTIN)?;
        // Raw slave reads follow VMIN/VTIME: VMIN 0 returns at once (VTIME 0) or after
        // VTIME tenths of a second with nothing; otherwise a read waits for a first byte.
        let deadline = {
            let s = self.pty.st.lock();
            let t = s.termios;
            if !self.master && t.lflag & ICANON == 0 && t.cc[VMIN] == 0 && t.cc[VTIME] > 0 {
                let now = crate::tcall().clock_gettime(CLOCK_MONOTONIC).unwrap_or_default().as_nanos();
                Some(now + t.cc[VTIME] as u128 * 100_000_000)
            } else {
                None
            }
        };
        let r = self.pty.wq.wait_until(deadline, || {
            let mut s = self.pty.st.lock();
            if buf.is_empty() {
                return Ok(Some(0));
            }
            if self.master {
                if !s.to_master.is_empty() {
                    let n = buf.len().min(s.to_master.len());
                    for (i, b) in s.to_master.drain(..n).enumerate() {
                        buf[i] = b;
                    }
                    return Ok(Some(n));
                }
                if s.slaves == 0 {
                    kerr!(EIO);
                }
            } else {
                let canon = s.termios.lflag & ICANON != 0;
                if (canon && s.has_line()) || (!canon && !s.to_slave.is_empty()) {
                    return Ok(Some(s.slave_read(buf)));
                }
                if s.masters == 0 {
                    return Ok(Some(0));
                }
                if !canon && s.termios.cc[VMIN] == 0 && s.termios.cc[VTIME] == 0 {
                    return Ok(Some(0));
                }
            }
            if nonblock {
                kerr!(EAGAIN);
            }
            Ok(None)
        });
        let n = match r {
            Err(e) if e.errno == myst_abi::Errno::ETIMEDOUT => 0,
            r => r?,
        };
        self.pty.wq.notify();
        Ok(n)
    }

    fn io_write(&self, data: &[u8], nonblock: bool) -> KResult<usize> {
        self.job_control(SIGTTOU)?;
        let mut sigs: Vec<(u32, u32)> = Vec::new();
        let n = self.pty.wq.wait_until(None, || {
            let mut s = self.pty.st.lock();
            if !self.master && s.masters == 0 {
                kerr!(EIO);
            }
            let room = CAP.saturating_sub(if self.master { s.to_slave.len() + s.line.len() } else { s.to_master.len() });
            if room == 0 {
                if nonblock {
                    kerr!(EAGAIN);
                }
                return Ok(None);
            }
            let n = data.len().min(room);
            if self.master {
                for &b in &data[..n] {
                    if let Some(sig) = s.input(b) {
                        sigs.push((s.fg_pgrp, sig));
                    }
                }
            } else {
                s.output(&data[..n]);
            }
            Ok(Some(n))
        })?;
        self.pty.wq.notify();
        for (pgrp, sig) in sigs {
            signal_group(pgrp, sig);
        }
        Ok(n)
    }

    /// The pty number (TIOCGPTN).
    pub fn index(&self) -> u32 {
        self.pty.index
    }

    /// Locks or unlocks the slave (TIOCSPTLCK).
    pub fn set_lock(&self, locked: bool) {
        self.pty.st.lock().locked = locked;
    }

    /// Sets the window size (TIOCSWINSZ).
    pub fn set_winsize(&self, rows: u16, cols: u16) {
        let mut s = self.pty.st.lock();
        s.rows = rows;
        s.cols = cols;
    }

    /// The window size (TIOCGWINSZ).
    pub fn winsize(&self) -> (u16, u16) {
        let s = self.pty.st.lock();
        (s.rows, s.cols)
    }

    /// Whether this is the master.
    pub fn is_master(&self) -> bool {
        self.master
    }

    /// The terminal's termios (either end: the slave's).
    pub fn termios(&self) -> Termios {
        self.pty.st.lock().termios
    }

    /// Sets the termios; `flush` discards pending input (TCSETSF).
    pub fn set_termios(&self, t: Termios, flush: bool) {
        let mut s = self.pty.st.lock();
        if flush {
            s.to_slave.clear();
            s.line_ends.clear();
            s.line.clear();
        }
        s.set_termios(t);
        drop(s);
        self.pty.wq.notify();
    }

    /// TCFLSH: 0 input, 1 output, 2 both (input = what the slave reads, output = what
    /// the master reads; from the master's side the other way round).
    pub fn flush(&self, which: u32) -> KResult<()> {
        if which > 2 {
            kerr!(EINVAL);
        }
        let (inp, out) = (which == 0 || which == 2, which == 1 || which == 2);
        let (slave_in, master_in) = if self.master { (out, inp) } else { (inp, out) };
        let mut s = self.pty.st.lock();
        if slave_in {
            s.to_slave.clear();
            s.line_ends.clear();
            s.line.clear();
        }
        if master_in {
            s.to_master.clear();
        }
        drop(s);
        self.pty.wq.notify();
        Ok(())
    }

    /// (controlling session, foreground group).
    pub fn ctty(&self) -> (u32, u32) {
        let s = self.pty.st.lock();
        (s.session, s.fg_pgrp)
    }

    /// Makes this the controlling terminal of session `sid` with foreground group `pgrp`
    /// (TIOCSCTTY, or a session leader's open without O_NOCTTY). `steal` takes it from
    /// another session.
    pub fn set_ctty(&self, sid: u32, pgrp: u32, steal: bool) -> KResult<()> {
        let mut s = self.pty.st.lock();
        if s.session == sid {
            return Ok(());
        }
        if s.session != 0 && !steal {
            kerr!(EPERM, "the terminal is another session's controlling terminal");
        }
        s.session = sid;
        s.fg_pgrp = pgrp;
        Ok(())
    }

    /// Gives up being a controlling terminal (TIOCNOTTY by the session leader).
    pub fn clear_ctty(&self) {
        let mut s = self.pty.st.lock();
        s.session = 0;
        s.fg_pgrp = 0;
    }

    /// Sets the foreground group (TIOCSPGRP).
    pub fn set_fg(&self, pgrp: u32) {
        self.pty.st.lock().fg_pgrp = pgrp;
    }

    /// Bytes the other end wrote that this end can read now.
    fn readable(&self) -> usize {
        let s = self.pty.st.lock();
        if self.master {
            s.to_master.len()
        } else {
            s.readable()
        }
    }
}

impl Inode for PtyEnd {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn stat(&self) -> KResult<Stat> {
        let rdev = if self.master { (5 << 8) | 2 } else { (136 << 8) | self.pty.index as u64 };
        Ok(Stat {
            dev: 0x18,
            ino: 0x9000 + self.pty.index as u64 * 2 + self.master as u64,
            nlink: 1,
            mode: S_IFCHR | 0o620,
            rdev,
            blksize: 1024,
            ..Default::default()
        })
    }
    fn is_stream(&self) -> bool {
        true
    }
    fn read_at(&self, _o: u64, buf: &mut [u8]) -> KResult<usize> {
        self.io_read(buf, false)
    }
    fn write_at(&self, _o: u64, buf: &[u8]) -> KResult<usize> {
        self.io_write(buf, false)
    }
    fn read_stream(&self, buf: &mut [u8], nb: bool) -> KResult<usize> {
        self.io_read(buf, nb)
    }
    fn write_stream(&self, buf: &[u8], nb: bool) -> KResult<usize> {
        self.io_write(buf, nb)
    }
    fn ioctl(&self, _req: u32) -> Option<KResult<IoctlAnswer>> {
        let s = self.pty.st.lock();
        Some(Ok(IoctlAnswer::Tty { rows: s.rows, cols: s.cols }))
    }
    fn pending(&self) -> KResult<usize> {
        Ok(self.readable())
    }
    fn poll(&self) -> u32 {
        let s = self.pty.st.lock();
        let (readable, outq, gone) = if self.master {
            (!s.to_master.is_empty(), s.to_slave.len() + s.line.len(), s.slaves == 0)
        } else {
            let canon = s.termios.lflag & ICANON != 0;
            (if canon { s.has_line() } else { !s.to_slave.is_empty() }, s.to_master.len(), s.masters == 0)
        };
        let mut ev = 0;
        if readable {
            ev |= POLLIN;
        }
        if outq < CAP {
            ev |= POLLOUT;
        }
        if gone && !(self.master && s.locked) {
            ev |= POLLHUP;
        }
        ev
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.pty.wq)
    }
}

/// `/dev/ptmx`: opening it makes a new terminal pair.
pub struct Ptmx;

impl Inode for Ptmx {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(Stat { dev: 0x6, ino: 0x8fff, nlink: 1, mode: S_IFCHR | 0o666, rdev: (5 << 8) | 2, blksize: 4096, ..Default::default() })
    }
    fn open_replace(&self) -> Option<KResult<InodeRef>> {
        Some(Ok(crate::kernel().ptys.open_master()))
    }
}

/// `/dev/pts`: the slaves of open terminals.
pub struct PtsDir;

impl Inode for PtsDir {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(Stat { dev: 0x18, ino: 1, nlink: 2, mode: S_IFDIR | 0o755, blksize: 4096, ..Default::default() })
    }
    fn lookup(&self, name: &[u8]) -> KResult<InodeRef> {
        let n: u32 = core::str::from_utf8(name).ok().and_then(|s| s.parse().ok()).ok_or(crate::Error::from(myst_abi::Errno::ENOENT))?;
        if !crate::kernel().ptys.live().contains(&n) {
            kerr!(ENOENT);
        }
        Ok(Arc::new(PtsNode(n)))
    }
    fn readdir(&self) -> KResult<Vec<DirEntry>> {
        Ok(crate::kernel()
            .ptys
            .live()
            .into_iter()
            .map(|i| DirEntry { name: format!("{i}").into_bytes(), ino: 0x9000 + i as u64 * 2, dtype: DT_CHR })
            .collect())
    }
}

/// `/dev/pts/N` before it is opened.
pub struct PtsNode(u32);

impl Inode for PtsNode {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(Stat {
            dev: 0x18,
            ino: 0x9000 + self.0 as u64 * 2,
            nlink: 1,
            mode: S_IFCHR | 0o620,
            rdev: (136 << 8) | self.0 as u64,
            blksize: 1024,
            ..Default::default()
        })
    }
    fn open_replace(&self) -> Option<KResult<InodeRef>> {
        Some(crate::kernel().ptys.slave(self.0))
    }
}

/// `/dev/tty`: the caller's controlling terminal: its session's pty, or in the first
/// session the console when myst itself runs on a terminal; none: ENXIO, as on Linux.
pub struct DevTty;

impl Inode for DevTty {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(Stat { dev: 0x6, ino: 0x8ffe, nlink: 1, mode: S_IFCHR | 0o666, rdev: 5 << 8, blksize: 4096, ..Default::default() })
    }
    fn open_replace(&self) -> Option<KResult<InodeRef>> {
        let Some(t) = crate::current_thread() else { return Some(Err(myst_abi::Errno::ENXIO.into())) };
        let sid = t.process.sid.load(core::sync::atomic::Ordering::Relaxed);
        let k = crate::kernel();
        if let Some(p) = k.ptys.session_pty(sid) {
            return Some(k.ptys.slave(p.index));
        }
        if sid == crate::process::FIRST_PID && crate::tcall().info().has_ctty {
            return Some(Ok(Arc::new(super::console::Console { fd: 2 })));
        }
        Some(Err(crate::Error::with_msg(myst_abi::Errno::ENXIO, "no controlling terminal")))
    }
}
