//! Per-process file-descriptor tables.

use crate::error::KResult;
use crate::kerr;
use crate::vfs::OpenFile;
use alloc::sync::Arc;
use alloc::vec::Vec;

/// One descriptor.
#[derive(Clone)]
pub struct FdEntry {
    /// The shared open file description.
    pub file: Arc<OpenFile>,
    /// `FD_CLOEXEC`.
    pub cloexec: bool,
}

/// A descriptor table.
#[derive(Clone, Default)]
pub struct FdTable {
    slots: Vec<Option<FdEntry>>,
    /// `RLIMIT_NOFILE` soft limit.
    pub limit: usize,
}

impl FdTable {
    /// An empty table with a descriptor limit.
    pub fn new(limit: usize) -> Self {
        Self { slots: Vec::new(), limit }
    }

    /// The entry at `fd`.
    pub fn get(&self, fd: i32) -> KResult<&FdEntry> {
        match usize::try_from(fd).ok().and_then(|i| self.slots.get(i)).and_then(|s| s.as_ref()) {
            Some(e) => Ok(e),
            None => kerr!(EBADF),
        }
    }

    /// Mutable entry at `fd`.
    pub fn get_mut(&mut self, fd: i32) -> KResult<&mut FdEntry> {
        match usize::try_from(fd).ok().and_then(|i| self.slots.get_mut(i)).and_then(|s| s.as_mut()) {
            Some(e) => Ok(e),
            None => kerr!(EBADF),
        }
    }

    /// Installs at the lowest free descriptor `>= min`.
    pub fn alloc(&mut self, entry: FdEntry, min: usize) -> KResult<i32> {
        let mut i = min;
        while i < self.slots.len() && self.slots[i].is_some() {
            i += 1;
        }
        if i >= self.limit {
            kerr!(EMFILE);
        }
        if i >= self.slots.len() {
            self.slots.resize(i + 1, None);
        }
        self.slots[i] = Some(entry);
        Ok(i as i32)
    }

    /// Installs at exactly `fd`, returning what was there.
    pub fn set(&mut self, fd: i32, entry: FdEntry) -> KResult<Option<FdEntry>> {
        let Ok(i) = usize::try_from(fd) else { kerr!(EBADF) };
        if i >= self.limit {
            kerr!(EBADF);
        }
        if i >= self.slots.len() {
            self.slots.resize(i + 1, None);
        }
        Ok(self.slots[i].replace(entry))
    }

    /// Removes `fd`.
    pub fn close(&mut self, fd: i32) -> KResult<FdEntry> {
        match usize::try_from(fd).ok().and_then(|i| self.slots.get_mut(i)).and_then(|s| s.take()) {
            Some(e) => Ok(e),
            None => kerr!(EBADF),
        }
    }

    /// Open descriptors in order.
    pub fn iter(&self) -> impl Iterator<Item = (i32, &FdEntry)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| s.as_ref().map(|e| (i as i32, e)))
    }
}
