//! Checked access to application memory. Every access is checked against the process's
//! mappings first and fails with `EFAULT`; the target then copies.

use crate::error::KResult;
use crate::kerr;
use crate::mm::Mm;
use alloc::vec;
use alloc::vec::Vec;
use myst_abi::consts::{PROT_READ, PROT_WRITE};

/// Largest single copy the kernel makes for one call (bounds kernel allocations).
pub const MAX_COPY: usize = 64 << 20;

/// Application memory of one process.
pub struct User<'a> {
    /// The process's address space.
    pub mm: &'a crate::sync::Mutex<Mm>,
}

impl User<'_> {
    fn check(&self, addr: u64, len: usize, prot: u32) -> KResult<()> {
        if len == 0 {
            return Ok(());
        }
        if !self.mm.lock().check_access(addr, len as u64, prot) {
            kerr!(EFAULT);
        }
        Ok(())
    }

    /// Copies `buf.len()` bytes from `addr`.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> KResult<()> {
        if buf.is_empty() {
            return Ok(());
        }
        self.check(addr, buf.len(), PROT_READ)?;
        Ok(crate::tcall().user_read(addr, buf)?)
    }

    /// Reads `len` bytes into a new vector.
    pub fn read_vec(&self, addr: u64, len: usize) -> KResult<Vec<u8>> {
        if len > MAX_COPY {
            kerr!(EINVAL);
        }
        let mut v = vec![0u8; len];
        self.read(addr, &mut v)?;
        Ok(v)
    }

    /// Reads an array of known size.
    pub fn read_arr<const N: usize>(&self, addr: u64) -> KResult<[u8; N]> {
        let mut a = [0u8; N];
        self.read(addr, &mut a)?;
        Ok(a)
    }

    /// Reads a u64.
    pub fn read_u64(&self, addr: u64) -> KResult<u64> {
        Ok(u64::from_le_bytes(self.read_arr::<8>(addr)?))
    }

    /// Writes `buf` to `addr`.
    pub fn write(&self, addr: u64, buf: &[u8]) -> KResult<()> {
        if buf.is_empty() {
            return Ok(());
        }
        self.check(addr, buf.len(), PROT_WRITE)?;
        Ok(crate::tcall().user_write(addr, buf)?)
    }

    /// Writes a u64.
    pub fn write_u64(&self, addr: u64, v: u64) -> KResult<()> {
        self.write(addr, &v.to_le_bytes())
    }

    /// Writes a u32.
    pub fn write_u32(&self, addr: u64, v: u32) -> KResult<()> {
        self.write(addr, &v.to_le_bytes())
    }

    /// Reads a NUL-terminated string of at most `max` bytes (without the NUL).
    /// `ENAMETOOLONG` if no NUL within `max`.
    pub fn read_cstr(&self, addr: u64, max: usize) -> KResult<Vec<u8>> {
        let mut out = Vec::new();
        let mut cur = addr;
        loop {
            let page_left = (4096 - (cur % 4096)) as usize;
            let want = page_left.min(max + 1 - out.len());
            let mut chunk = vec![0u8; want];
            self.read(cur, &mut chunk)?;
            if let Some(z) = chunk.iter().position(|&b| b == 0) {
                out.extend_from_slice(&chunk[..z]);
                return Ok(out);
            }
            out.extend_from_slice(&chunk);
            if out.len() > max {
                kerr!(ENAMETOOLONG);
            }
            cur = match cur.checked_add(want as u64) {
                Some(c) => c,
                None => kerr!(EFAULT),
            };
        }
    }

    /// Reads a NULL-terminated array of string pointers (argv/envp).
    pub fn read_str_array(&self, addr: u64, max_items: usize) -> KResult<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        if addr == 0 {
            return Ok(out);
        }
        for i in 0..=max_items {
            let p = self.read_u64(addr + 8 * i as u64)?;
            if p == 0 {
                return Ok(out);
            }
            out.push(self.read_cstr(p, 128 * 1024)?);
        }
        kerr!(E2BIG)
    }
}
