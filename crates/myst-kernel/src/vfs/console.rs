//! The host's standard streams as character devices (fds 0, 1, 2 and `/dev/tty`).

use super::{Inode, IoctlAnswer};
use crate::error::KResult;
use core::any::Any;
use myst_abi::consts::*;
use myst_abi::structs::Stat;

/// Host standard stream `fd` (0 = stdin, 1 = stdout, 2 = stderr).
pub struct Console {
    /// Host fd.
    pub fd: u32,
}

impl Inode for Console {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn stat(&self) -> KResult<Stat> {
        // On a terminal every standard stream is the one console device, /dev/console
        // (so that ttyname() finds it); otherwise each is its own pipe-like stream.
        let tty = crate::tcall().console_isatty(self.fd).is_some();
        Ok(Stat {
            dev: 0x16,
            ino: if tty { 3 } else { 4 + self.fd as u64 },
            nlink: 1,
            mode: if tty { S_IFCHR | 0o620 } else { S_IFIFO | 0o600 },
            rdev: if tty { (5 << 8) | 1 } else { 0 },
            blksize: 4096,
            ..Default::default()
        })
    }
    fn is_stream(&self) -> bool {
        true
    }
    fn read_at(&self, _off: u64, buf: &mut [u8]) -> KResult<usize> {
        let r = crate::tcall().console_read(buf);
        Ok(myst_tcall::checked::len_within(r, buf.len())?)
    }
    fn write_at(&self, _off: u64, buf: &[u8]) -> KResult<usize> {
        let fd = if self.fd == 0 { 1 } else { self.fd };
        let r = crate::tcall().console_write(fd, buf);
        Ok(myst_tcall::checked::len_within(r, buf.len())?)
    }
    fn ioctl(&self, _req: u32) -> Option<KResult<IoctlAnswer>> {
        crate::tcall().console_isatty(self.fd).map(|(rows, cols)| Ok(IoctlAnswer::Tty { rows, cols }))
    }
    fn pending(&self) -> KResult<usize> {
        Ok(crate::tcall().console_pending()?)
    }
}
