//! POSIX byte-range locks (`fcntl` F_GETLK / F_SETLK / F_SETLKW), owned by processes.

use crate::sync::Mutex;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use myst_abi::consts::{F_RDLCK, F_UNLCK, F_WRLCK};

/// One held lock: `[start, end)` with `end == u64::MAX` meaning "to end of file".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lock {
    /// Owner pid.
    pub pid: u32,
    /// F_RDLCK or F_WRLCK.
    pub kind: i16,
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

/// Locks per file, keyed by (dev, ino).
#[derive(Default)]
pub struct LockTable(Mutex<BTreeMap<(u64, u64), Vec<Lock>>>);

impl LockTable {
    /// The first lock held by another process that conflicts with the request.
    pub fn conflict(&self, file: (u64, u64), pid: u32, kind: i16, start: u64, end: u64) -> Option<Lock> {
        let t = self.0.lock();
        t.get(&file)?.iter().find(|l| l.pid != pid && l.start < end && start < l.end && (kind == F_WRLCK || l.kind == F_WRLCK)).copied()
    }

    /// Sets (or with F_UNLCK, clears) `pid`'s lock over `[start, end)`, splitting and
    /// replacing its existing locks there. The caller checked for conflicts.
    pub fn set(&self, file: (u64, u64), pid: u32, kind: i16, start: u64, end: u64) {
        let mut t = self.0.lock();
        let v = t.entry(file).or_default();
        let mut out = Vec::with_capacity(v.len() + 2);
        for l in v.drain(..) {
            if l.pid != pid || l.end <= start || end <= l.start {
                out.push(l);
                continue;
            }
            if l.start < start {
                out.push(Lock { end: start, ..l });
            }
            if end < l.end {
                out.push(Lock { start: end, ..l });
            }
        }
        if kind == F_RDLCK || kind == F_WRLCK {
            out.push(Lock { pid, kind, start, end });
        }
        let _ = F_UNLCK;
        if out.is_empty() {
            t.remove(&file);
        } else {
            *t.get_mut(&file).expect("entry") = out;
        }
    }

    /// Releases every lock `pid` holds on `file` (close(2) semantics).
    pub fn release(&self, file: (u64, u64), pid: u32) {
        let mut t = self.0.lock();
        if let Some(v) = t.get_mut(&file) {
            v.retain(|l| l.pid != pid);
            if v.is_empty() {
                t.remove(&file);
            }
        }
    }

    /// Locks `pid` holds on `file` (for tests and /proc/locks).
    pub fn held(&self, file: (u64, u64), pid: u32) -> Vec<Lock> {
        self.0.lock().get(&file).map(|v| v.iter().filter(|l| l.pid == pid).copied().collect()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_locks_never_conflict_but_other_owners_do() {
        let t = LockTable::default();
        t.set((1, 1), 10, F_WRLCK, 0, 100);
        assert_eq!(t.conflict((1, 1), 10, F_WRLCK, 0, 10), None);
        assert!(t.conflict((1, 1), 11, F_RDLCK, 50, 60).is_some());
        assert_eq!(t.conflict((1, 1), 11, F_RDLCK, 100, 200), None);
    }

    #[test]
    fn unlocking_the_middle_splits_a_lock() {
        let t = LockTable::default();
        t.set((1, 1), 10, F_WRLCK, 0, 100);
        t.set((1, 1), 10, F_UNLCK, 40, 60);
        let mut h = t.held((1, 1), 10);
        h.sort_by_key(|l| l.start);
        assert_eq!(h.len(), 2);
        assert_eq!((h[0].start, h[0].end, h[1].start, h[1].end), (0, 40, 60, 100));
        t.release((1, 1), 10);
        assert!(t.held((1, 1), 10).is_empty());
    }

    #[test]
    fn read_locks_share_and_write_locks_exclude() {
        let t = LockTable::default();
        t.set((1, 2), 10, F_RDLCK, 0, u64::MAX);
        assert_eq!(t.conflict((1, 2), 11, F_RDLCK, 0, 1), None);
        assert!(t.conflict((1, 2), 11, F_WRLCK, 5, 6).is_some());
    }
}
