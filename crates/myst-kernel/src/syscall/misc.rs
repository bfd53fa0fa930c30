//! Calls that need no subsystem.

use super::Ctx;
use crate::error::KResult;
use crate::kerr;

/// ENOSYS without the "unsupported" report (for calls libcs probe and handle, like rseq).
pub fn enosys_quiet(_c: &mut Ctx<'_>, _a: [u64; 6]) -> KResult<u64> {
    kerr!(ENOSYS)
}

/// `poll`: every fd this kernel has today (files, consoles, devices) is always ready for
/// what was asked; readiness for pipes and sockets comes with those.
pub fn poll(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let n = a[1] as usize;
    if n > 4096 {
        kerr!(EINVAL);
    }
    let mut raw = c.user().read_vec(a[0], n * 8)?;
    let mut ready = 0;
    for i in 0..n {
        let fd = i32::from_le_bytes(raw[i * 8..i * 8 + 4].try_into().expect("4"));
        let ev = i16::from_le_bytes(raw[i * 8 + 4..i * 8 + 6].try_into().expect("2"));
        let rev: i16 = if fd < 0 {
            0
        } else if c.file(fd as u64).is_err() {
            0x20 // POLLNVAL
        } else {
            ev & (0x1 | 0x4) // POLLIN | POLLOUT
        };
        raw[i * 8 + 6..i * 8 + 8].copy_from_slice(&rev.to_le_bytes());
        if rev != 0 {
            ready += 1;
        }
    }
    c.user().write(a[0], &raw)?;
    Ok(ready)
}
