//! The block-device abstraction the ext2 reader sits on.
//!
//! Other crates (dm-verity, LUKS, host image files) implement [`BlockDevice`];
//! [`MemDevice`] serves tests and tools from memory.

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::fmt;

/// A failed device read (or write, for image sinks).
///
/// Carries a static reason and, when known, the device block that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoError {
    /// The device block (in the device's own block size) that failed, if known.
    pub block: Option<u64>,
    /// A short, static description.
    pub reason: &'static str,
}

impl IoError {
    /// An error with a reason and no block number.
    pub const fn new(reason: &'static str) -> Self {
        IoError { block: None, reason }
    }

    /// An error at a given device block.
    pub const fn at(block: u64, reason: &'static str) -> Self {
        IoError { block: Some(block), reason }
    }
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.block {
            Some(b) => write!(f, "I/O error at block {b}: {}", self.reason),
            None => write!(f, "I/O error: {}", self.reason),
        }
    }
}

impl core::error::Error for IoError {}

/// Where images and exported changes are written: called with a byte
/// offset and the bytes to put there.
pub type Sink<'a> = dyn FnMut(u64, &[u8]) -> Result<(), IoError> + 'a;

/// A read-only device made of fixed-size blocks.
///
/// `read_block` is always called with `buf.len() == self.block_size()` and
/// `index < self.num_blocks()`; implementations must still not panic if a
/// caller breaks that contract (return an error instead).
pub trait BlockDevice {
    /// Size of one device block in bytes (a power of two, e.g. 512 or 4096).
    fn block_size(&self) -> usize;
    /// Number of blocks on the device.
    fn num_blocks(&self) -> u64;
    /// Read block `index` into `buf` (exactly `block_size()` bytes).
    fn read_block(&self, index: u64, buf: &mut [u8]) -> Result<(), IoError>;
}

impl<T: BlockDevice + ?Sized> BlockDevice for &T {
    fn block_size(&self) -> usize {
        (**self).block_size()
    }
    fn num_blocks(&self) -> u64 {
        (**self).num_blocks()
    }
    fn read_block(&self, index: u64, buf: &mut [u8]) -> Result<(), IoError> {
        (**self).read_block(index, buf)
    }
}

impl<T: BlockDevice + ?Sized> BlockDevice for Box<T> {
    fn block_size(&self) -> usize {
        (**self).block_size()
    }
    fn num_blocks(&self) -> u64 {
        (**self).num_blocks()
    }
    fn read_block(&self, index: u64, buf: &mut [u8]) -> Result<(), IoError> {
        (**self).read_block(index, buf)
    }
}

impl<T: BlockDevice + ?Sized> BlockDevice for Arc<T> {
    fn block_size(&self) -> usize {
        (**self).block_size()
    }
    fn num_blocks(&self) -> u64 {
        (**self).num_blocks()
    }
    fn read_block(&self, index: u64, buf: &mut [u8]) -> Result<(), IoError> {
        (**self).read_block(index, buf)
    }
}

/// A device backed by bytes in memory (`Vec<u8>`, `&[u8]`, `Arc<[u8]>`...).
///
/// A trailing partial block is not part of the device.
#[derive(Debug, Clone)]
pub struct MemDevice<B> {
    data: B,
    block_size: usize,
}

impl<B: AsRef<[u8]>> MemDevice<B> {
    /// A device with 4096-byte blocks.
    pub fn new(data: B) -> Self {
        MemDevice { data, block_size: 4096 }
    }

    /// A device with the given block size (must be a non-zero power of two;
    /// anything else falls back to 4096).
    pub fn with_block_size(data: B, block_size: usize) -> Self {
        let block_size = if block_size.is_power_of_two() { block_size } else { 4096 };
        MemDevice { data, block_size }
    }

    /// The underlying bytes.
    pub fn data(&self) -> &B {
        &self.data
    }

    /// Give back the underlying bytes.
    pub fn into_inner(self) -> B {
        self.data
    }
}

impl<B: AsRef<[u8]>> BlockDevice for MemDevice<B> {
    fn block_size(&self) -> usize {
        self.block_size
    }

    fn num_blocks(&self) -> u64 {
        (self.data.as_ref().len() / self.block_size) as u64
    }

    fn read_block(&self, index: u64, buf: &mut [u8]) -> Result<(), IoError> {
        if buf.len() != self.block_size {
            return Err(IoError::at(index, "buffer is not one block"));
        }
        let data = self.data.as_ref();
        let start =
            usize::try_from(index).ok().and_then(|i| i.checked_mul(self.block_size)).ok_or(IoError::at(index, "block out of range"))?;
        let end = start.checked_add(self.block_size).ok_or(IoError::at(index, "block out of range"))?;
        let src = data.get(start..end).ok_or(IoError::at(index, "block out of range"))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn mem_device_reads_and_bounds() {
        let mut v = vec![0u8; 4096 * 2 + 100];
        v[4096] = 7;
        let d = MemDevice::new(v);
        assert_eq!(d.num_blocks(), 2);
        let mut b = vec![0u8; 4096];
        d.read_block(1, &mut b).unwrap();
        assert_eq!(b[0], 7);
        assert!(d.read_block(2, &mut b).is_err());
        assert!(d.read_block(u64::MAX, &mut b).is_err());
        let mut small = vec![0u8; 10];
        assert!(d.read_block(0, &mut small).is_err());
        let d512 = MemDevice::with_block_size(&b[..], 512);
        assert_eq!(d512.num_blocks(), 8);
    }
}
