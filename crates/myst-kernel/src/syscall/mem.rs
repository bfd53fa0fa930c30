//! Memory calls, served by the region manager in `mm`.

use super::Ctx;
use crate::error::KResult;
use crate::kerr;
use crate::mm::{page_up, PAGE};
use alloc::string::String;
use alloc::vec;
use myst_abi::consts::*;

pub fn mmap(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let (addr, len, prot, flags, fd, off) = (a[0], a[1], a[2] as u32, a[3] as u32, a[4] as i32, a[5]);
    if len == 0 || off % PAGE != 0 {
        kerr!(EINVAL);
    }
    let Some(len) = page_up(len) else { kerr!(ENOMEM) };
    let ty = flags & MAP_TYPE;
    if ty != MAP_PRIVATE && ty != MAP_SHARED && ty != MAP_SHARED_VALIDATE {
        kerr!(EINVAL);
    }
    if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC) != 0 {
        kerr!(EINVAL);
    }
    let anon = flags & MAP_ANONYMOUS != 0;
    let file = if anon { None } else { Some(c.file(fd as u64)?) };
    let mut name = String::new();
    let mut regular = false;
    if let Some(f) = &file {
        let st = f.inode.stat()?;
        regular = st.mode & S_IFMT == S_IFREG;
        let acc = *f.flags.lock() & O_ACCMODE;
        if st.mode & S_IFMT == S_IFDIR {
            kerr!(ENODEV);
        }
        if acc == O_WRONLY {
            kerr!(EACCES);
        }
        if ty != MAP_PRIVATE && prot & PROT_WRITE != 0 && acc != O_RDWR {
            kerr!(EACCES);
        }
        name = String::from_utf8_lossy(&f.path).into_owned();
    }
    let t = crate::tcall();
    let mut mm = c.proc.mm.lock();
    let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
    let at = if fixed {
        if addr % PAGE != 0 {
            kerr!(EINVAL);
        }
        let Some(end) = addr.checked_add(len) else { kerr!(ENOMEM) };
        if addr < mm.start || end > mm.end {
            kerr!(ENOMEM, "fixed mapping outside the application memory region");
        }
        if flags & MAP_FIXED_NOREPLACE != 0 && flags & MAP_FIXED == 0 {
            if !mm.is_free(addr, len) {
                kerr!(EEXIST);
            }
        } else {
            mm.unmap(t, addr, len)?;
        }
        addr
    } else {
        mm.choose(addr & !(PAGE - 1), len)?
    };
    // A shared mapping of a host file is the host's own mapping of it.
    if let Some(f) = &file {
        if ty != MAP_PRIVATE && regular {
            if let Some(fh) = f.inode.host_handle(prot & PROT_WRITE != 0) {
                let fh = fh?;
                mm.map_host_file(t, at, len, prot, flags, name, fh, crate::mm::FileRef(f.inode.clone(), off))?;
                return Ok(at);
            }
        }
    }
    let init_prot = if file.is_some() { prot | PROT_WRITE | PROT_READ } else { prot };
    mm.map_fresh(t, at, len, init_prot, flags, name)?;
    if let Some(f) = &file {
        if let Some(v) = mm.vmas.get_mut(&at) {
            v.file = Some(crate::mm::FileRef(f.inode.clone(), off));
        }
    }
    drop(mm);
    if let Some(f) = file {
        // Private copy of the file's bytes; the tail past EOF stays zero.
        let mut buf = vec![0u8; (len as usize).min(1 << 20)];
        let mut done: u64 = 0;
        while done < len {
            let want = ((len - done) as usize).min(buf.len());
            let n = f.inode.read_at(off + done, &mut buf[..want])?;
            if n == 0 {
                break;
            }
            t.user_write(at + done, &buf[..n])?;
            done += n as u64;
        }
        if init_prot != prot {
            c.proc.mm.lock().protect(t, at, len, prot)?;
        }
    }
    Ok(at)
}

pub fn munmap(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let (addr, len) = (a[0], a[1]);
    if addr % PAGE != 0 || len == 0 {
        kerr!(EINVAL);
    }
    let Some(len) = page_up(len) else { kerr!(EINVAL) };
    let mut mm = c.proc.mm.lock();
    if addr.checked_add(len).is_none_or(|e| addr < mm.start || e > mm.end) {
        // Outside the region nothing is mapped: Linux succeeds.
        return Ok(0);
    }
    mm.unmap(crate::tcall(), addr, len)?;
    Ok(0)
}

pub fn mprotect(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let (addr, len, prot) = (a[0], a[1], a[2] as u32);
    if addr % PAGE != 0 {
        kerr!(EINVAL);
    }
    if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_GROWSDOWN | PROT_GROWSUP) != 0 {
        kerr!(EINVAL);
    }
    let Some(len) = page_up(len) else { kerr!(ENOMEM) };
    if len == 0 {
        return Ok(0);
    }
    c.proc.mm.lock().protect(crate::tcall(), addr, len, prot & 7)?;
    Ok(0)
}

pub fn mremap(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let (old, old_len, new_len, flags, new_addr) = (a[0], a[1], a[2], a[3] as u32, a[4]);
    if old % PAGE != 0 || flags & !(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP) != 0 {
        kerr!(EINVAL);
    }
    if flags & MREMAP_FIXED != 0 && flags & MREMAP_MAYMOVE == 0 {
        kerr!(EINVAL);
    }
    if flags & MREMAP_DONTUNMAP != 0 {
        kerr!(EINVAL, "MREMAP_DONTUNMAP is not supported");
    }
    let (Some(old_len), Some(new_len)) = (page_up(old_len), page_up(new_len)) else { kerr!(EINVAL) };
    if new_len == 0 || old_len == 0 {
        kerr!(EINVAL);
    }
    let t = crate::tcall();
    let mut mm = c.proc.mm.lock();
    if !mm.is_mapped(old, old_len) {
        kerr!(EFAULT);
    }
    let (prot, vflags, name, vfile, host_file) = {
        let (s, v) = mm.vmas.range(..=old).next_back().map(|(s, v)| (*s, v.clone())).ok_or(crate::Error::from(myst_abi::Errno::EFAULT))?;
        let file = v.file.map(|crate::mm::FileRef(i, off)| crate::mm::FileRef(i, off + (old - s)));
        (v.prot, v.flags, v.name, file, v.host_file)
    };
    // A host file mapping grows with more of the file.
    let grow = |mm: &mut crate::mm::Mm, at: u64, from: u64, len: u64| -> KResult<()> {
        match (&vfile, host_file) {
            (Some(crate::mm::FileRef(inode, off)), true) => {
                let Some(fh) = inode.host_handle(prot & PROT_WRITE != 0) else { kerr!(EINVAL) };
                mm.map_host_file(t, at, len, prot, vflags, name.clone(), fh?, crate::mm::FileRef(inode.clone(), off + from))
            }
            _ => mm.map_fresh(t, at, len, prot, vflags, name.clone()),
        }
    };
    if flags & MREMAP_FIXED == 0 {
        if new_len <= old_len {
            if new_len < old_len {
                mm.unmap(t, old + new_len, old_len - new_len)?;
            }
            return Ok(old);
        }
        if mm.is_free(old + old_len, new_len - old_len) {
            grow(&mut mm, old + old_len, old_len, new_len - old_len)?;
            return Ok(old);
        }
        if flags & MREMAP_MAYMOVE == 0 {
            kerr!(ENOMEM);
        }
    }
    let dest = if flags & MREMAP_FIXED != 0 {
        if new_addr % PAGE != 0 {
            kerr!(EINVAL);
        }
        let overlaps = new_addr < old + old_len && old < new_addr + new_len;
        if overlaps {
            kerr!(EINVAL);
        }
        let Some(e) = new_addr.checked_add(new_len) else { kerr!(ENOMEM) };
        if new_addr < mm.start || e > mm.end {
            kerr!(ENOMEM);
        }
        mm.unmap(t, new_addr, new_len)?;
        new_addr
    } else {
        mm.choose(0, new_len)?
    };
    let keep = old_len.min(new_len);
    // Move the kept pages; release the rest of the old range; commit the tail.
    mm.remove_range(old, old_len);
    t.mem_move(old, dest, keep, prot)?;
    if old_len > keep {
        t.mem_release(old + keep, old_len - keep)?;
    }
    mm.insert_vma(dest, crate::mm::Vma { end: dest + keep, prot, flags: vflags, name: name.clone(), file: vfile.clone(), host_file });
    if new_len > keep {
        grow(&mut mm, dest + keep, keep, new_len - keep)?;
    }
    Ok(dest)
}

pub fn madvise(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let (addr, len, advice) = (a[0], a[1], a[2] as u32);
    if addr % PAGE != 0 {
        kerr!(EINVAL);
    }
    let Some(len) = page_up(len) else { kerr!(EINVAL) };
    if len == 0 {
        return Ok(0);
    }
    let mm = c.proc.mm.lock();
    if !mm.is_mapped(addr, len) {
        kerr!(ENOMEM);
    }
    match advice {
        MADV_DONTNEED | MADV_FREE => {
            let t = crate::tcall();
            t.mem_zero(addr, len)?;
            // Private file pages come back with the file's contents, as on Linux.
            let end = addr + len;
            let files: alloc::vec::Vec<(u64, u64, u32, crate::mm::FileRef)> = mm
                .vmas
                .range(..end)
                .filter(|(s, v)| v.end > addr && **s < end)
                .filter(|(_, v)| !v.host_file)
                .filter_map(|(s, v)| v.file.clone().map(|f| (*s, v.end, v.prot, f)))
                .collect();
            drop(mm);
            for (s, e, prot, crate::mm::FileRef(inode, off)) in files {
                let (lo, hi) = (s.max(addr), e.min(end));
                if prot & PROT_WRITE == 0 {
                    t.mem_protect(lo, hi - lo, prot | PROT_WRITE)?;
                }
                let mut buf = vec![0u8; (hi - lo) as usize];
                let mut done = 0;
                while done < buf.len() {
                    let n = inode.read_at(off + (lo - s) + done as u64, &mut buf[done..])?;
                    if n == 0 {
                        break;
                    }
                    done += n;
                }
                t.user_write(lo, &buf[..done])?;
                if prot & PROT_WRITE == 0 {
                    t.mem_protect(lo, hi - lo, prot)?;
                }
            }
            Ok(0)
        }
        0..=3 | 9..=25 | 100..=101 => Ok(0),
        _ => kerr!(EINVAL),
    }
}

pub fn brk(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    Ok(c.proc.mm.lock().set_brk(crate::tcall(), a[0]))
}

pub fn msync(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    if !a[0].is_multiple_of(PAGE) {
        kerr!(EINVAL);
    }
    let len = page_up(a[1]).unwrap_or(u64::MAX);
    let mm = c.proc.mm.lock();
    if !mm.is_mapped(a[0], len) {
        kerr!(ENOMEM);
    }
    mm.write_back(crate::tcall(), a[0], len);
    Ok(0)
}

pub fn mlock(_c: &mut Ctx<'_>, _a: [u64; 6]) -> KResult<u64> {
    Ok(0)
}
