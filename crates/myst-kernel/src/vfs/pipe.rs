//! Pipes: a bounded byte queue in kernel memory with Linux semantics (PIPE_BUF atomicity,
//! EOF when the last writer goes, EPIPE and SIGPIPE when the last reader goes).

use super::Inode;
use crate::error::KResult;
use crate::kerr;
use crate::sync::Mutex;
use crate::waitq::WaitQueue;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::any::Any;
use core::sync::atomic::{AtomicU64, Ordering};
use myst_abi::consts::*;
use myst_abi::structs::Stat;

/// Atomic write size.
pub const PIPE_BUF: usize = 4096;
/// Default capacity.
pub const DEFAULT_CAP: usize = 65536;
/// Largest capacity F_SETPIPE_SZ accepts (Linux's default pipe-max-size).
pub const MAX_CAP: usize = 1 << 20;

static NEXT_INO: AtomicU64 = AtomicU64::new(1);

struct State {
    buf: VecDeque<u8>,
    cap: usize,
    readers: u32,
    writers: u32,
}

/// A pipe.
pub struct Pipe {
    st: Mutex<State>,
    /// Readers and writers waiting for data or space.
    pub wq: WaitQueue,
    ino: u64,
}

/// One end of a pipe (one per open file description).
pub struct PipeEnd {
    pipe: Arc<Pipe>,
    write: bool,
}

/// Makes a pipe; returns (read end, write end).
pub fn new_pipe() -> (Arc<PipeEnd>, Arc<PipeEnd>) {
    let p = Arc::new(Pipe {
        st: Mutex::new(State { buf: VecDeque::new(), cap: DEFAULT_CAP, readers: 1, writers: 1 }),
        wq: WaitQueue::default(),
        ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
    });
    (Arc::new(PipeEnd { pipe: p.clone(), write: false }), Arc::new(PipeEnd { pipe: p, write: true }))
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        {
            let mut s = self.pipe.st.lock();
            if self.write {
                s.writers = s.writers.saturating_sub(1);
            } else {
                s.readers = s.readers.saturating_sub(1);
            }
        }
        self.pipe.wq.notify();
    }
}

impl PipeEnd {
    /// Capacity (F_GETPIPE_SZ).
    pub fn capacity(&self) -> usize {
        self.pipe.st.lock().cap
    }

    /// Sets the capacity (F_SETPIPE_SZ); returns the new size.
    pub fn set_capacity(&self, want: usize) -> KResult<usize> {
        let size = want.max(4096).next_power_of_two();
        if size > MAX_CAP {
            kerr!(EPERM);
        }
        let mut s = self.pipe.st.lock();
        if s.buf.len() > size {
            kerr!(EBUSY);
        }
        s.cap = size;
        Ok(size)
    }

    fn do_read(&self, buf: &mut [u8], nonblock: bool) -> KResult<usize> {
        if self.write {
            kerr!(EBADF);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.pipe.wq.wait_until(None, || {
            let mut s = self.pipe.st.lock();
            if !s.buf.is_empty() {
                let n = buf.len().min(s.buf.len());
                for (i, b) in s.buf.drain(..n).enumerate() {
                    buf[i] = b;
                }
                return Ok(Some(n));
            }
            if s.writers == 0 {
                return Ok(Some(0));
            }
            if nonblock {
                kerr!(EAGAIN);
            }
            Ok(None)
        })?;
        self.pipe.wq.notify();
        Ok(n)
    }

    fn do_write(&self, data: &[u8], nonblock: bool) -> KResult<usize> {
        if !self.write {
            kerr!(EBADF);
        }
        let mut done = 0;
        while done < data.len() || data.is_empty() {
            let r = self.pipe.wq.wait_until(None, || {
                let mut s = self.pipe.st.lock();
                if s.readers == 0 {
                    if let Some(t) = crate::current_thread() {
                        crate::signal::send_to_thread(&t, crate::signal::SigInfo { signo: SIGPIPE, code: 0, ..Default::default() });
                    }
                    kerr!(EPIPE);
                }
                let room = s.cap - s.buf.len();
                let left = data.len() - done;
                let atomic = left <= PIPE_BUF;
                if room == 0 || (atomic && room < left) {
                    if nonblock {
                        kerr!(EAGAIN);
                    }
                    return Ok(None);
                }
                let n = left.min(room);
                s.buf.extend(&data[done..done + n]);
                Ok(Some(n))
            });
            match r {
                Ok(n) => {
                    done += n;
                    self.pipe.wq.notify();
                }
                // Partial writes report what went through.
                Err(e) if done > 0 && (e.errno == myst_abi::Errno::EAGAIN || e.errno == myst_abi::Errno::EINTR) => break,
                Err(e) => return Err(e),
            }
            if data.is_empty() {
                break;
            }
        }
        Ok(done)
    }
}

impl Inode for PipeEnd {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn stat(&self) -> KResult<Stat> {
        Ok(Stat { dev: 0xc, ino: self.pipe.ino, nlink: 1, mode: S_IFIFO | 0o600, blksize: 4096, ..Default::default() })
    }
    fn is_stream(&self) -> bool {
        true
    }
    fn read_at(&self, _off: u64, buf: &mut [u8]) -> KResult<usize> {
        self.do_read(buf, false)
    }
    fn write_at(&self, _off: u64, buf: &[u8]) -> KResult<usize> {
        self.do_write(buf, false)
    }
    fn read_stream(&self, buf: &mut [u8], nonblock: bool) -> KResult<usize> {
        self.do_read(buf, nonblock)
    }
    fn write_stream(&self, buf: &[u8], nonblock: bool) -> KResult<usize> {
        self.do_write(buf, nonblock)
    }
    fn pending(&self) -> KResult<usize> {
        Ok(self.pipe.st.lock().buf.len())
    }
    fn poll(&self) -> u32 {
        let s = self.pipe.st.lock();
        let mut ev = 0;
        if self.write {
            if s.readers == 0 {
                ev |= POLLERR;
            } else if s.cap - s.buf.len() >= PIPE_BUF.min(s.cap) {
                ev |= POLLOUT;
            }
        } else {
            if !s.buf.is_empty() {
                ev |= POLLIN;
            }
            if s.writers == 0 {
                ev |= POLLHUP;
            }
        }
        ev
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.pipe.wq)
    }
}
