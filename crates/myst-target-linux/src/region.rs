//! The application region: one reserved, initially inaccessible range of host address
//! space. All application code and data live inside it; the kernel decides placement.

use myst_abi::Errno;

/// Default start: low enough that non-PIE executables (linked at 0x400000) fall inside.
pub const DEFAULT_START: u64 = 0x10000;
/// Address space reserved for the application (at least; more if `--memory-size` is larger).
pub const ADDRESS_SPACE: u64 = 64 << 30;

/// The reserved range.
#[derive(Debug)]
pub struct Region {
    /// First byte.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
}

fn errno() -> Errno {
    Errno::from_raw(std::io::Error::last_os_error().raw_os_error().unwrap_or(5)).unwrap_or(Errno::EIO)
}

impl Region {
    /// Reserves `[start, start+len)` (never replacing an existing host mapping).
    pub fn reserve(start: u64, len: u64) -> Result<Region, String> {
        // SAFETY: MAP_FIXED_NOREPLACE never clobbers existing mappings; the result is checked.
        let p = unsafe {
            libc::mmap(
                start as *mut libc::c_void,
                len as usize,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED_NOREPLACE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED || p as u64 != start {
            return Err(format!(
                "cannot reserve the application memory region {start:#x}..{:#x} ({}); try a smaller --memory-size",
                start + len,
                std::io::Error::last_os_error()
            ));
        }
        Ok(Region { start, len })
    }

    /// Whether `[a, a+len)` lies inside the region.
    pub fn contains(&self, a: u64, len: u64) -> bool {
        a >= self.start && a.checked_add(len).is_some_and(|e| e <= self.start + self.len)
    }

    fn check(&self, a: u64, len: u64) -> Result<(), Errno> {
        if !a.is_multiple_of(4096) || !len.is_multiple_of(4096) || !self.contains(a, len) {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    /// Maps fresh zeroed pages with `prot`.
    pub fn commit(&self, a: u64, len: u64, prot: u32) -> Result<(), Errno> {
        self.check(a, len)?;
        // SAFETY: the range lies inside our reservation (checked), so MAP_FIXED replaces only
        // application pages the kernel has decided to (re)map.
        let p = unsafe {
            libc::mmap(a as *mut libc::c_void, len as usize, prot as i32, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED, -1, 0)
        };
        if p == libc::MAP_FAILED {
            return Err(errno());
        }
        Ok(())
    }

    /// Maps fresh zeroed pages that stay shared across host forks.
    pub fn commit_shared(&self, a: u64, len: u64, prot: u32) -> Result<(), Errno> {
        self.check(a, len)?;
        // SAFETY: the range lies inside our reservation (checked).
        let p = unsafe {
            libc::mmap(a as *mut libc::c_void, len as usize, prot as i32, libc::MAP_SHARED | libc::MAP_ANONYMOUS | libc::MAP_FIXED, -1, 0)
        };
        if p == libc::MAP_FAILED {
            return Err(errno());
        }
        Ok(())
    }

    /// Maps a host file shared at `a` (inside the reservation).
    pub fn map_file(&self, a: u64, len: u64, prot: u32, fd: i32, off: u64) -> Result<(), Errno> {
        self.check(a, len)?;
        // SAFETY: the range lies inside our reservation (checked); MAP_FIXED replaces only it.
        let p =
            unsafe { libc::mmap(a as *mut libc::c_void, len as usize, prot as i32, libc::MAP_SHARED | libc::MAP_FIXED, fd, off as i64) };
        if p == libc::MAP_FAILED {
            return Err(errno());
        }
        Ok(())
    }

    /// Changes protection.
    pub fn protect(&self, a: u64, len: u64, prot: u32) -> Result<(), Errno> {
        self.check(a, len)?;
        // SAFETY: the range lies inside our reservation (checked).
        if unsafe { libc::mprotect(a as *mut libc::c_void, len as usize, prot as i32) } != 0 {
            return Err(errno());
        }
        Ok(())
    }

    /// Returns pages to the reserved state, freeing their memory.
    pub fn release(&self, a: u64, len: u64) -> Result<(), Errno> {
        self.check(a, len)?;
        // SAFETY: the range lies inside our reservation (checked).
        let p = unsafe {
            libc::mmap(
                a as *mut libc::c_void,
                len as usize,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(errno());
        }
        Ok(())
    }

    /// Zeroes committed anonymous pages.
    pub fn zero(&self, a: u64, len: u64) -> Result<(), Errno> {
        self.check(a, len)?;
        // SAFETY: the range lies inside our reservation (checked).
        if unsafe { libc::madvise(a as *mut libc::c_void, len as usize, libc::MADV_DONTNEED) } != 0 {
            return Err(errno());
        }
        Ok(())
    }

    /// Moves pages from `from` to `to` and re-reserves `from`.
    pub fn move_pages(&self, from: u64, to: u64, len: u64, _prot: u32) -> Result<(), Errno> {
        self.check(from, len)?;
        self.check(to, len)?;
        // SAFETY: both ranges are inside the reservation (checked) and the kernel guarantees
        // they do not overlap.
        let p = unsafe {
            libc::mremap(
                from as *mut libc::c_void,
                len as usize,
                len as usize,
                libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
                to as *mut libc::c_void,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(errno());
        }
        self.release(from, len)
    }

    /// Copies application memory out.
    pub fn read(&self, a: u64, buf: &mut [u8]) -> Result<(), Errno> {
        if !self.contains(a, buf.len() as u64) {
            return Err(Errno::EFAULT);
        }
        // SAFETY: the source lies inside the region and the kernel checked that it is mapped
        // readable; the destination is a distinct kernel buffer.
        unsafe { std::ptr::copy_nonoverlapping(a as *const u8, buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    /// Copies into application memory.
    pub fn write(&self, a: u64, buf: &[u8]) -> Result<(), Errno> {
        if !self.contains(a, buf.len() as u64) {
            return Err(Errno::EFAULT);
        }
        // SAFETY: the destination lies inside the region and the kernel checked that it is
        // mapped writable (or is loading it); the source is a distinct kernel buffer.
        unsafe { std::ptr::copy_nonoverlapping(buf.as_ptr(), a as *mut u8, buf.len()) };
        Ok(())
    }
}
