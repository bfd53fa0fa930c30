//! Pseudo-terminals: `/dev/ptmx` hands out a new master, `/dev/pts/N` is its slave. The
//! terminal is raw byte transport in both directions (no line discipline: no echo, no
//! canonical editing, no signal characters); termios and window size are stored and
//! reported as set.

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

struct State {
    to_slave: VecDeque<u8>,
    to_master: VecDeque<u8>,
    locked: bool,
    masters: u32,
    slaves: u32,
    rows: u16,
    cols: u16,
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
                to_master: VecDeque::new(),
                locked: true,
                masters: 1,
                slaves: 0,
                rows: 24,
                cols: 80,
            }),
            wq: WaitQueue::default(),
        });
        self.all.lock().insert(index, Arc::downgrade(&pty));
        Arc::new(PtyEnd { pty, master: true })
    }

    fn slave(&self, index: u32) -> KResult<InodeRef> {
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
}

impl PtyEnd {
    fn io_read(&self, buf: &mut [u8], nonblock: bool) -> KResult<usize> {
        let n = self.pty.wq.wait_until(None, || {
            let mut s = self.pty.st.lock();
            let peer_gone = if self.master { s.slaves == 0 } else { s.masters == 0 };
            let q = if self.master { &mut s.to_master } else { &mut s.to_slave };
            if !q.is_empty() {
                let n = buf.len().min(q.len());
                for (i, b) in q.drain(..n).enumerate() {
                    buf[i] = b;
                }
                return Ok(Some(n));
            }
            if peer_gone {
                if self.master {
                    kerr!(EIO);
                }
                return Ok(Some(0));
            }
            if nonblock {
                kerr!(EAGAIN);
            }
            Ok(None)
        })?;
        self.pty.wq.notify();
        Ok(n)
    }

    fn io_write(&self, data: &[u8], nonblock: bool) -> KResult<usize> {
        let n = self.pty.wq.wait_until(None, || {
            let mut s = self.pty.st.lock();
            if !self.master && s.masters == 0 {
                kerr!(EIO);
            }
            let q = if self.master { &mut s.to_slave } else { &mut s.to_master };
            let room = CAP - q.len();
            if room == 0 {
                if nonblock {
                    kerr!(EAGAIN);
                }
                return Ok(None);
            }
            let n = data.len().min(room);
            q.extend(&data[..n]);
            Ok(Some(n))
        })?;
        self.pty.wq.notify();
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

    /// Whether this is the master.
    pub fn is_master(&self) -> bool {
        self.master
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
        let s = self.pty.st.lock();
        Ok(if self.master { s.to_master.len() } else { s.to_slave.len() })
    }
    fn poll(&self) -> u32 {
        let s = self.pty.st.lock();
        let (inq, outq, gone) =
            if self.master { (&s.to_master, &s.to_slave, s.slaves == 0) } else { (&s.to_slave, &s.to_master, s.masters == 0) };
        let mut ev = 0;
        if !inq.is_empty() {
            ev |= POLLIN;
        }
        if outq.len() < CAP {
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
