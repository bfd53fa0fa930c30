//! Memory manager: one bounded region per process, carved into mappings (VMAs).
//!
//! The kernel decides every placement; the target is asked only to commit, protect, zero,
//! move or release pages inside the region. Exceeding the region is `ENOMEM`.

use crate::error::KResult;
use crate::kerr;
use alloc::collections::BTreeMap;
use alloc::string::String;
use myst_abi::consts::*;
use myst_tcall::Tcall;

/// Page size.
pub const PAGE: u64 = 4096;

/// Rounds up to a page; `None` on overflow.
pub fn page_up(v: u64) -> Option<u64> {
    v.checked_add(PAGE - 1).map(|x| x & !(PAGE - 1))
}

/// Rounds down to a page.
pub const fn page_down(v: u64) -> u64 {
    v & !(PAGE - 1)
}

/// One mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vma {
    /// End address (exclusive).
    pub end: u64,
    /// `PROT_*`.
    pub prot: u32,
    /// `MAP_*` flags as given.
    pub flags: u32,
    /// What it maps, for `/proc/self/maps` and diagnostics.
    pub name: String,
    /// The file and the file offset of `start`, for file mappings.
    pub file: Option<FileRef>,
    /// A shared mapping of a host file made by the target itself
    /// ([`Tcall::mem_map_host_file`]): the host's page cache is the file, so nothing is
    /// copied in or written back, and every process mapping the file shares the pages.
    pub host_file: bool,
}

impl Vma {
    /// Whether the mapping counts against the memory limit: accessible memory, except a
    /// shared mapping of a host file (the host's page cache of the file, as Linux does not
    /// count shared file mappings as committed memory).
    pub fn charged(&self) -> bool {
        self.prot != PROT_NONE && !self.host_file
    }
}

/// A mapped file and the offset of a mapping's first byte in it.
#[derive(Clone)]
pub struct FileRef(pub crate::vfs::InodeRef, pub u64);

impl core::fmt::Debug for FileRef {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "FileRef(+{:#x})", self.1)
    }
}

impl PartialEq for FileRef {
    fn eq(&self, o: &Self) -> bool {
        alloc::sync::Arc::ptr_eq(&self.0, &o.0) && self.1 == o.1
    }
}

impl Eq for FileRef {}

/// The address space of one process.
#[derive(Debug)]
pub struct Mm {
    /// First usable address.
    pub start: u64,
    /// End of the region (exclusive).
    pub end: u64,
    /// Mappings keyed by start address; never overlapping.
    pub vmas: BTreeMap<u64, Vma>,
    /// Start of the program break area.
    pub brk_start: u64,
    /// Current program break.
    pub brk: u64,
    /// Bytes in accessible (not PROT_NONE) mappings: what `--memory-size` limits. Address
    /// space that is only reserved (PROT_NONE, as glibc's malloc arenas and thread guard
    /// areas reserve it) is not counted, as Linux does not count it either.
    pub committed: u64,
    /// Limit on `committed` (`--memory-size`).
    pub limit: u64,
}

impl Mm {
    /// An empty address space over `[start, end)`.
    pub fn new(start: u64, end: u64) -> Self {
        Self { start, end, vmas: BTreeMap::new(), brk_start: 0, brk: 0, committed: 0, limit: u64::MAX }
    }

    /// The memory the program may commit: the limit, or the region when there is none.
    pub fn total(&self) -> u64 {
        self.limit.min(self.end - self.start)
    }

    /// Fails unless `more` bytes can be committed under the limit.
    pub fn charge(&self, more: u64) -> KResult<()> {
        if self.committed.saturating_add(more) > self.limit {
            kerr!(ENOMEM, "application memory limit reached (raise --memory-size)");
        }
        Ok(())
    }

    /// Whether `[a, a+len)` overlaps no mapping.
    pub fn is_free(&self, a: u64, len: u64) -> bool {
        let Some(e) = a.checked_add(len) else { return false };
        if a < self.start || e > self.end {
            return false;
        }
        if let Some((_, v)) = self.vmas.range(..e).next_back() {
            if v.end > a {
                return false;
            }
        }
        true
    }

    /// Finds the highest free gap of `len` bytes below `below` (top-down, as Linux does).
    pub fn find_free(&self, len: u64, below: u64) -> Option<u64> {
        let mut top = below.min(self.end);
        for (&s, v) in self.vmas.range(..top).rev() {
            if v.end <= top && top - v.end >= len {
                return Some(top - len);
            }
            top = top.min(s);
        }
        if top >= self.start && top - self.start >= len {
            return Some(top - len);
        }
        None
    }

    /// Finds the lowest free gap of `len` bytes at or above `from`.
    pub fn find_free_above(&self, len: u64, from: u64) -> Option<u64> {
        let mut cur = from.max(self.start);
        for (&s, v) in self.vmas.range(..) {
            if v.end <= cur {
                continue;
            }
            if s >= cur && s - cur >= len {
                return Some(cur);
            }
            cur = cur.max(v.end);
        }
        if self.end >= cur && self.end - cur >= len {
            Some(cur)
        } else {
            None
        }
    }

    /// Splits mappings so that `a` is a boundary.
    fn split_at(&mut self, a: u64) {
        let hit = self.vmas.range(..a).next_back().map(|(&s, v)| (s, v.clone()));
        if let Some((s, v)) = hit {
            if v.end > a {
                let mut upper = v.clone();
                self.vmas.get_mut(&s).expect("present").end = a;
                upper.end = v.end;
                if let Some(FileRef(i, off)) = &v.file {
                    upper.file = Some(FileRef(i.clone(), off + (a - s)));
                }
                self.vmas.insert(a, upper);
            }
        }
    }

    /// Removes `[a, a+len)` from the map (the pages are released by the caller).
    pub fn remove_range(&mut self, a: u64, len: u64) -> alloc::vec::Vec<(u64, u64)> {
        let e = a.saturating_add(len);
        self.split_at(a);
        self.split_at(e);
        let keys: alloc::vec::Vec<u64> = self.vmas.range(a..e).map(|(&k, _)| k).collect();
        let mut out = alloc::vec::Vec::new();
        for k in keys {
            if let Some(v) = self.vmas.remove(&k) {
                if v.charged() {
                    self.committed = self.committed.saturating_sub(v.end - k);
                }
                out.push((k, v.end));
            }
        }
        out
    }

    /// Records a mapping (caller guarantees the range is free).
    pub fn insert(&mut self, a: u64, len: u64, prot: u32, flags: u32, name: String) {
        self.insert_vma(a, Vma { end: a + len, prot, flags, name, file: None, host_file: false });
    }

    /// Records mapping `v` at `a` (caller guarantees the range is free), charging what
    /// [`Vma::charged`] says.
    pub fn insert_vma(&mut self, a: u64, v: Vma) {
        if v.charged() {
            self.committed += v.end - a;
        }
        self.vmas.insert(a, v);
    }

    /// Whether every byte of `[a, a+len)` is mapped with at least `need` protection.
    pub fn check_access(&self, a: u64, len: u64, need: u32) -> bool {
        if len == 0 {
            return true;
        }
        let Some(e) = a.checked_add(len) else { return false };
        let mut cur = a;
        while cur < e {
            match self.vmas.range(..=cur).next_back() {
                Some((_, v)) if v.end > cur && v.prot & need == need => cur = v.end,
                _ => return false,
            }
        }
        true
    }

    /// Whether `[a, a+len)` is fully covered by mappings.
    pub fn is_mapped(&self, a: u64, len: u64) -> bool {
        self.check_access(a, len, 0)
    }

    /// Changes protection of a fully mapped range.
    pub fn protect(&mut self, t: &dyn Tcall, a: u64, len: u64, prot: u32) -> KResult<()> {
        if !self.is_mapped(a, len) {
            kerr!(ENOMEM, "mprotect of unmapped memory");
        }
        let e = a + len;
        // Bytes going from PROT_NONE to accessible, and back.
        let (mut up, mut down) = (0u64, 0u64);
        for (&s, v) in self.vmas.range(..e) {
            if v.end <= a || v.host_file {
                continue;
            }
            let n = v.end.min(e) - s.max(a);
            match (v.prot == PROT_NONE, prot == PROT_NONE) {
                (true, false) => up += n,
                (false, true) => down += n,
                _ => {}
            }
        }
        self.charge(up.saturating_sub(down))?;
        t.mem_protect(a, len, prot)?;
        self.split_at(a);
        self.split_at(e);
        for (_, v) in self.vmas.range_mut(a..e) {
            v.prot = prot;
        }
        self.committed = (self.committed + up).saturating_sub(down);
        Ok(())
    }

    /// Unmaps a range, releasing its pages. Shared writable file mappings are written back
    /// to their file first.
    pub fn unmap(&mut self, t: &dyn Tcall, a: u64, len: u64) -> KResult<()> {
        self.write_back(t, a, len);
        for (s, e) in self.remove_range(a, len) {
            t.mem_release(s, e - s)?;
        }
        Ok(())
    }

    /// Writes the contents of shared, writable file mappings in `[a, a+len)` back to their
    /// files (munmap, msync).
    pub fn write_back(&self, t: &dyn Tcall, a: u64, len: u64) {
        let end = a.saturating_add(len);
        for (&s, v) in self.vmas.range(..end) {
            if v.end <= a || v.flags & MAP_TYPE == MAP_PRIVATE || v.prot & PROT_WRITE == 0 || v.host_file {
                continue;
            }
            let Some(FileRef(inode, off)) = &v.file else { continue };
            let (lo, hi) = (s.max(a), v.end.min(end));
            let size = inode.stat().map(|st| st.size.max(0) as u64).unwrap_or(0);
            let file_lo = off + (lo - s);
            if file_lo >= size {
                continue;
            }
            let n = (hi - lo).min(size - file_lo) as usize;
            let mut buf = alloc::vec![0u8; n];
            if t.user_read(lo, &mut buf).is_ok() {
                let _ = inode.write_at(file_lo, &buf);
            }
        }
    }

    /// Maps fresh zeroed memory at `a` (must be free) and records it. MAP_SHARED mappings
    /// stay shared with forked children.
    pub fn map_fresh(&mut self, t: &dyn Tcall, a: u64, len: u64, prot: u32, flags: u32, name: String) -> KResult<()> {
        if prot != PROT_NONE {
            self.charge(len)?;
        }
        if flags & MAP_TYPE != MAP_PRIVATE && flags & MAP_TYPE != 0 {
            t.mem_commit_shared(a, len, prot)?;
        } else {
            t.mem_commit(a, len, prot)?;
        }
        self.insert(a, len, prot, flags, name);
        Ok(())
    }

    /// Maps `len` bytes of host file handle `fh` from offset `off` shared at `a` (must be
    /// free) and records it as a mapping of `file`.
    #[allow(clippy::too_many_arguments)]
    pub fn map_host_file(
        &mut self,
        t: &dyn Tcall,
        a: u64,
        len: u64,
        prot: u32,
        flags: u32,
        name: String,
        fh: u32,
        file: FileRef,
    ) -> KResult<()> {
        t.mem_map_host_file(a, len, prot, fh, file.1)?;
        self.insert_vma(a, Vma { end: a + len, prot, flags, name, file: Some(file), host_file: true });
        Ok(())
    }

    /// Chooses an address for a new mapping: the hint if free, else top-down.
    pub fn choose(&self, hint: u64, len: u64) -> KResult<u64> {
        if hint != 0 && hint.is_multiple_of(PAGE) && self.is_free(hint, len) {
            return Ok(hint);
        }
        match self.find_free(len, self.end) {
            Some(a) => Ok(a),
            None => kerr!(ENOMEM, "application memory region exhausted (raise --memory-size)"),
        }
    }

    /// `brk(2)`: returns the new (or unchanged) break.
    pub fn set_brk(&mut self, t: &dyn Tcall, want: u64) -> u64 {
        if want < self.brk_start || self.brk_start == 0 {
            return self.brk;
        }
        let old_top = page_up(self.brk).unwrap_or(self.brk);
        let Some(new_top) = page_up(want) else { return self.brk };
        if new_top > old_top {
            if !self.is_free(old_top, new_top - old_top) || self.charge(new_top - old_top).is_err() {
                return self.brk;
            }
            if t.mem_commit(old_top, new_top - old_top, PROT_READ | PROT_WRITE).is_err() {
                return self.brk;
            }
            // Extend the heap VMA if it ends right there.
            let prev = self.vmas.range(..old_top).next_back().map(|(&s, v)| (s, v.end, v.name.clone()));
            match prev {
                Some((s, e, n)) if e == old_top && n == "[heap]" => {
                    self.vmas.get_mut(&s).expect("present").end = new_top;
                    self.committed += new_top - old_top;
                }
                _ => self.insert(old_top, new_top - old_top, PROT_READ | PROT_WRITE, MAP_PRIVATE, "[heap]".into()),
            }
        } else if new_top < old_top {
            let _ = self.unmap(t, new_top, old_top - new_top);
        }
        self.brk = want;
        want
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mm() -> Mm {
        Mm::new(0x10000, 0x10000 + 64 * PAGE)
    }

    #[test]
    fn top_down_placement_uses_the_highest_gap() {
        let mut m = mm();
        let a = m.find_free(4 * PAGE, m.end).unwrap();
        assert_eq!(a, m.end - 4 * PAGE);
        m.insert(a, 4 * PAGE, 3, 0, "x".into());
        assert_eq!(m.find_free(PAGE, m.end).unwrap(), a - PAGE);
    }

    #[test]
    fn exhausting_the_region_finds_nothing() {
        let m = mm();
        assert!(m.find_free(65 * PAGE, m.end).is_none());
    }

    #[test]
    fn removing_the_middle_of_a_mapping_splits_it() {
        let mut m = mm();
        m.insert(0x10000, 8 * PAGE, 3, 0, "x".into());
        let gone = m.remove_range(0x10000 + 2 * PAGE, 2 * PAGE);
        assert_eq!(gone, alloc::vec![(0x12000, 0x14000)]);
        assert!(m.is_mapped(0x10000, 2 * PAGE));
        assert!(!m.is_mapped(0x12000, PAGE));
        assert!(m.is_mapped(0x14000, 4 * PAGE));
        assert!(m.is_free(0x12000, 2 * PAGE));
    }

    #[test]
    fn access_checks_respect_protection_and_holes() {
        let mut m = mm();
        m.insert(0x10000, PAGE, PROT_READ, 0, "r".into());
        m.insert(0x11000, PAGE, PROT_READ | PROT_WRITE, 0, "rw".into());
        assert!(m.check_access(0x10ff0, 0x20, PROT_READ));
        assert!(!m.check_access(0x10ff0, 0x20, PROT_WRITE));
        assert!(!m.check_access(0x11ff0, 0x20, PROT_READ));
        assert!(!m.check_access(u64::MAX - 2, 8, PROT_READ));
    }

    #[test]
    fn reserved_address_space_is_not_charged_against_the_limit() {
        let mut m = Mm { limit: 4 * PAGE, ..mm() };
        m.insert(0x10000, 32 * PAGE, PROT_NONE, 0, "reserved".into());
        assert_eq!(m.committed, 0);
        assert!(m.charge(4 * PAGE).is_ok());
        assert!(m.charge(5 * PAGE).is_err());
        m.insert(0x10000 + 32 * PAGE, 3 * PAGE, PROT_READ | PROT_WRITE, 0, "rw".into());
        assert_eq!(m.committed, 3 * PAGE);
        assert!(m.charge(2 * PAGE).is_err());
        m.remove_range(0x10000, 33 * PAGE);
        assert_eq!(m.committed, 2 * PAGE);
        assert_eq!(m.total(), 4 * PAGE);
    }
}
