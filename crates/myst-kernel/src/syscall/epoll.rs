//! epoll_create, epoll_create1, epoll_ctl, epoll_wait, epoll_pwait, epoll_pwait2.

use super::Ctx;
use crate::error::KResult;
use crate::fdtable::FdEntry;
use crate::kerr;
use crate::net::epoll::{Epoll, EPOLL_CTL_DEL};
use crate::vfs::OpenFile;
use alloc::sync::Arc;
use alloc::vec::Vec;
use myst_abi::consts::*;
use myst_abi::structs::Timespec;

fn create(c: &Ctx<'_>, cloexec: bool) -> KResult<u64> {
    let f = OpenFile::new(Epoll::new(), "anon_inode:[eventpoll]", O_RDWR);
    Ok(c.proc.fds.lock().alloc(FdEntry { file: f, cloexec }, 0)? as u64)
}

pub fn epoll_create(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    if (a[0] as i32) <= 0 {
        kerr!(EINVAL);
    }
    create(c, false)
}

pub fn epoll_create1(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    if a[0] as u32 & !O_CLOEXEC != 0 {
        kerr!(EINVAL);
    }
    create(c, a[0] as u32 & O_CLOEXEC != 0)
}

fn instance(c: &Ctx<'_>, fd: u64) -> KResult<Arc<OpenFile>> {
    let f = c.file(fd)?;
    if f.inode.as_any().downcast_ref::<Epoll>().is_none() {
        kerr!(EINVAL);
    }
    Ok(f)
}

pub fn epoll_ctl(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let ep = instance(c, a[0])?;
    let target = c.file(a[2])?;
    if a[0] == a[2] {
        kerr!(EINVAL);
    }
    let op = a[1] as u32;
    let (events, data) = if op == EPOLL_CTL_DEL {
        (0, 0)
    } else {
        let r = c.user().read_arr::<12>(a[3])?;
        (u32::from_le_bytes(r[0..4].try_into().expect("4")), u64::from_le_bytes(r[4..12].try_into().expect("8")))
    };
    let e = ep.inode.as_any().downcast_ref::<Epoll>().expect("checked");
    e.ctl(op, a[2] as i32, &target, events, data)?;
    Ok(0)
}

fn do_wait(c: &mut Ctx<'_>, epfd: u64, out: u64, max: u64, deadline: Option<u128>) -> KResult<u64> {
    let max = max as i32;
    if max <= 0 || max as usize > i32::MAX as usize / 12 {
        kerr!(EINVAL);
    }
    let ep = instance(c, epfd)?;
    if !c.proc.mm.lock().check_access(out, max as u64 * 12, PROT_WRITE) {
        kerr!(EFAULT);
    }
    let e = ep.inode.as_any().downcast_ref::<Epoll>().expect("checked");
    let ready = e.wait(max as usize, deadline)?;
    let mut buf = Vec::with_capacity(ready.len() * 12);
    for (ev, data) in &ready {
        buf.extend_from_slice(&ev.to_le_bytes());
        buf.extend_from_slice(&data.to_le_bytes());
    }
    c.user().write(out, &buf)?;
    Ok(ready.len() as u64)
}

fn deadline_ms(ms: i32) -> Option<u128> {
    if ms < 0 {
        None
    } else {
        Some(crate::net::mono_now() + ms as u128 * 1_000_000)
    }
}

pub fn epoll_wait(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    do_wait(c, a[0], a[1], a[2], deadline_ms(a[3] as i32))
}

fn read_mask(c: &Ctx<'_>, p: u64, size: u64) -> KResult<u64> {
    if p == 0 {
        return Ok(0);
    }
    if size != 8 {
        kerr!(EINVAL);
    }
    c.user().read_u64(p)
}

pub fn epoll_pwait(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let d = deadline_ms(a[3] as i32);
    if a[4] != 0 && a[5] != 8 {
        kerr!(EINVAL);
    }
    let mask = if a[4] != 0 { Some(read_mask(c, a[4], a[5])?) } else { None };
    super::pipe::with_mask_value(c, mask, |c| do_wait(c, a[0], a[1], a[2], d))
}

pub fn epoll_pwait2(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let d = if a[3] == 0 {
        None
    } else {
        let t = Timespec::from_bytes(&c.user().read_arr::<16>(a[3])?);
        if !t.is_valid() {
            kerr!(EINVAL);
        }
        Some(crate::net::mono_now() + t.as_nanos())
    };
    if a[4] != 0 && a[5] != 8 {
        kerr!(EINVAL);
    }
    let mask = if a[4] != 0 { Some(read_mask(c, a[4], a[5])?) } else { None };
    super::pipe::with_mask_value(c, mask, |c| do_wait(c, a[0], a[1], a[2], d))
}
