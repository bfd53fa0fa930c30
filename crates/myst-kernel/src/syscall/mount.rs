//! mount(2) and umount2(2).

use super::Ctx;
use crate::error::KResult;
use crate::kerr;
use crate::{MountKind, MountSpec};
use alloc::string::String;
use alloc::vec::Vec;

const MS_RDONLY: u64 = 1;
const MS_NOSUID: u64 = 2;
const MS_NODEV: u64 = 4;
const MS_NOEXEC: u64 = 8;
const MS_SILENT: u64 = 0x8000;
const MS_RELATIME: u64 = 0x20_0000;

fn hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

pub fn mount(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let source = String::from_utf8_lossy(&if a[0] != 0 { c.path_arg(a[0])? } else { Vec::new() }).into_owned();
    let target_raw = c.path_arg(a[1])?;
    let fstype = String::from_utf8_lossy(&c.user().read_cstr(a[2], 64)?).into_owned();
    let flags = a[3];
    if flags & !(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_SILENT | MS_RELATIME) != 0 {
        kerr!(EINVAL, "remount, bind, move and propagation flags are not supported");
    }
    let data = if a[4] != 0 { String::from_utf8_lossy(&c.user().read_cstr(a[4], 4096)?).into_owned() } else { String::new() };
    let (_, target) = c.k.vfs.walk(&c.abs_path(AT, &target_raw)?, true)?;
    let mut key = None;
    let mut roothash = None;
    for opt in data.split(',').filter(|o| !o.is_empty()) {
        match opt.split_once('=') {
            Some(("key", v)) => {
                key = Some(hex::<64>(v).ok_or(crate::Error::with_msg(myst_abi::Errno::EINVAL, "key= needs 128 hex digits"))?)
            }
            Some(("keyfile", p)) => key = Some(crate::read_key_file(c.k, p)?),
            Some(("roothash", v)) => {
                roothash = Some(hex::<32>(v).ok_or(crate::Error::with_msg(myst_abi::Errno::EINVAL, "roothash= needs 64 hex digits"))?)
            }
            _ => {}
        }
    }
    let kind = match fstype.as_str() {
        "ramfs" | "tmpfs" => MountKind::Ramfs,
        "hostfs" => MountKind::HostDir,
        "ext2" => MountKind::Ext2 { key, pubkey: None, roothash, key_file: None },
        _ => kerr!(ENODEV, "supported file-system types: ext2, hostfs, ramfs, tmpfs"),
    };
    let spec = MountSpec { source, target: String::from_utf8_lossy(&target).into_owned(), kind };
    crate::mount_spec(c.k, &spec, &c.k.trust).map_err(|e| {
        c.k.log(&alloc::format!("mount: {e}"));
        crate::Error::from(myst_abi::Errno::EINVAL)
    })?;
    Ok(0)
}

const AT: u64 = myst_abi::consts::AT_FDCWD as u32 as u64 | 0xffff_ffff_0000_0000;

pub fn umount2(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    if a[1] & !0xf != 0 {
        kerr!(EINVAL);
    }
    let p = c.path_arg(a[0])?;
    let (_, target) = c.k.vfs.walk(&c.abs_path(AT, &p)?, true)?;
    c.k.vfs.umount(&String::from_utf8_lossy(&target))?;
    Ok(0)
}
