//! Small I/O adapters shared by the image writer and the verifier: a window onto a host file,
//! a byte device seen as an ext2 block device, and a write-coalescing sink.

use myst_verity::{BlockRead, IoError};
use std::fs::File;
use std::os::unix::fs::FileExt;

/// The first `len` bytes of a host file as a [`BlockRead`] device (the file may be longer).
pub struct FileWindow<'a> {
    /// The file.
    pub file: &'a File,
    /// Bytes of the file the device exposes.
    pub len: u64,
}

impl BlockRead for FileWindow<'_> {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        let err = IoError::OutOfRange { offset, len: buf.len() as u64, size: self.len };
        let end = offset.checked_add(buf.len() as u64).ok_or(err)?;
        if end > self.len {
            return Err(err);
        }
        self.file.read_exact_at(buf, offset).map_err(|_| IoError::Device { offset, reason: "host file read failed" })
    }
}

/// A byte-addressed [`BlockRead`] device seen as a [`myst_ext2::BlockDevice`] with 4096-byte
/// blocks (a trailing partial block is not part of it).
pub struct Ext2Dev<R>(pub R);

impl<R: BlockRead> myst_ext2::BlockDevice for Ext2Dev<R> {
    fn block_size(&self) -> usize {
        4096
    }

    fn num_blocks(&self) -> u64 {
        self.0.len() / 4096
    }

    fn read_block(&self, index: u64, buf: &mut [u8]) -> Result<(), myst_ext2::IoError> {
        if buf.len() != 4096 {
            return Err(myst_ext2::IoError::at(index, "buffer is not one block"));
        }
        let off = index.checked_mul(4096).ok_or(myst_ext2::IoError::at(index, "block out of range"))?;
        self.0.read_at(off, buf).map_err(|e| myst_ext2::IoError::at(index, io_reason(&e)))
    }
}

/// A static description of a verity/device error (ext2's error type carries only static text).
pub fn io_reason(e: &IoError) -> &'static str {
    match e {
        IoError::OutOfRange { .. } => "read beyond the end of the device",
        IoError::Device { reason, .. } => reason,
        IoError::CorruptData { .. } => "verity: data block does not match its hash",
        IoError::CorruptHash { .. } => "verity: hash block does not match its parent hash",
    }
}

/// Gathers contiguous writes into large ones before they reach the file.
pub struct CoalescingWriter<'a> {
    file: &'a File,
    base: u64,
    start: u64,
    buf: Vec<u8>,
}

const COALESCE: usize = 1 << 20;

impl<'a> CoalescingWriter<'a> {
    /// Writes land at `base + offset` in `file`.
    pub fn new(file: &'a File, base: u64) -> Self {
        CoalescingWriter { file, base, start: 0, buf: Vec::with_capacity(COALESCE) }
    }

    /// Queues `data` for `offset`.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        if !self.buf.is_empty() && (offset != self.start + self.buf.len() as u64 || self.buf.len() + data.len() > COALESCE) {
            self.flush()?;
        }
        if data.len() >= COALESCE {
            return self.file.write_all_at(data, self.base + offset);
        }
        if self.buf.is_empty() {
            self.start = offset;
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// Writes out what is queued.
    pub fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            self.file.write_all_at(&self.buf, self.base + self.start)?;
            self.buf.clear();
        }
        Ok(())
    }
}
