//! `myst mkcpio` and `myst excpio`.

use myst_cpio::{IoSink, StreamWriter};
use std::collections::HashMap;
use std::fs;
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// Packs `dir` into a newc archive at `image`. `progress` is called with (done, total)
/// entry counts.
pub fn mkcpio(dir: &Path, image: &Path, progress: &mut dyn FnMut(u64, u64)) -> Result<u64, String> {
    let meta = fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.is_dir() {
        return Err(format!("{}: not a directory", dir.display()));
    }
    let mut paths = Vec::new();
    collect(dir, Path::new(""), &mut paths)?;
    let tmp = image.with_extension("partial");
    let f = fs::File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let mut w = StreamWriter::new(IoSink(BufWriter::new(f)));
    let total = paths.len() as u64;
    // Group hard links: data once, names together.
    let mut links: HashMap<(u64, u64), Vec<PathBuf>> = HashMap::new();
    for rel in &paths {
        let m = fs::symlink_metadata(dir.join(rel)).map_err(|e| format!("{}: {e}", rel.display()))?;
        if m.is_file() && m.nlink() > 1 {
            links.entry((m.dev(), m.ino())).or_default().push(rel.clone());
        }
    }
    let err = |p: &Path, e: &dyn std::fmt::Display| format!("{}: {e}", p.display());
    let mut done_links = std::collections::HashSet::new();
    for (i, rel) in paths.iter().enumerate() {
        let full = dir.join(rel);
        let m = fs::symlink_metadata(&full).map_err(|e| err(rel, &e))?;
        let name = rel.as_os_str().as_encoded_bytes();
        let mtime = m.mtime().clamp(0, u32::MAX as i64) as u32;
        let ft = m.file_type();
        if ft.is_dir() {
            w.add_dir(name, m.mode(), m.uid(), m.gid(), mtime).map_err(|e| err(rel, &e))?;
        } else if ft.is_symlink() {
            let t = fs::read_link(&full).map_err(|e| err(rel, &e))?;
            w.add_symlink(name, t.as_os_str().as_encoded_bytes(), m.uid(), m.gid(), mtime).map_err(|e| err(rel, &e))?;
        } else if ft.is_file() {
            let key = (m.dev(), m.ino());
            if m.nlink() > 1 && links.get(&key).is_some_and(|v| v.len() > 1) {
                if !done_links.insert(key) {
                    continue;
                }
                let data = fs::read(&full).map_err(|e| err(rel, &e))?;
                let names: Vec<&[u8]> = links[&key].iter().map(|p| p.as_os_str().as_encoded_bytes()).collect();
                w.add_hardlinked_file(&names, m.mode(), m.uid(), m.gid(), mtime, &data).map_err(|e| err(rel, &e))?;
            } else {
                w.begin_file(name, m.mode(), m.uid(), m.gid(), mtime, m.len()).map_err(|e| err(rel, &e))?;
                let mut f = fs::File::open(&full).map_err(|e| err(rel, &e))?;
                let mut buf = vec![0u8; 1 << 20];
                let mut left = m.len();
                while left > 0 {
                    let n = f.read(&mut buf[..(left.min(1 << 20) as usize)]).map_err(|e| err(rel, &e))?;
                    if n == 0 {
                        return Err(format!("{}: file shrank while being archived", rel.display()));
                    }
                    w.write_data(&buf[..n]).map_err(|e| err(rel, &e))?;
                    left -= n as u64;
                }
            }
        } else {
            let rdev = m.rdev();
            // SAFETY-free decoding of dev_t as glibc does (major/minor split).
            let (maj, min) = (((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff), (rdev & 0xff) | ((rdev >> 12) & !0xff));
            w.add_special(name, m.mode(), m.uid(), m.gid(), mtime, (maj as u32, min as u32)).map_err(|e| err(rel, &e))?;
        }
        progress(i as u64 + 1, total);
    }
    let IoSink(mut bw) = w.finish().map_err(|e| format!("{}: {e}", image.display()))?;
    bw.flush().map_err(|e| format!("{}: {e}", image.display()))?;
    drop(bw);
    fs::rename(&tmp, image).map_err(|e| format!("{}: {e}", image.display()))?;
    Ok(total)
}

fn collect(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let dir = root.join(rel);
    let mut entries: Vec<_> = fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let r = rel.join(e.file_name());
        out.push(r.clone());
        if e.file_type().map_err(|x| format!("{}: {x}", r.display()))?.is_dir() {
            collect(root, &r, out)?;
        }
    }
    Ok(())
}

/// Rejects archive names that would escape the destination (absolute after
/// normalisation, or containing `..`).
fn safe_rel(name: &[u8]) -> Result<PathBuf, String> {
    let n = myst_cpio::normalize_name(name);
    let s = std::str::from_utf8(n).map_err(|_| format!("entry name {:?} is not UTF-8", String::from_utf8_lossy(name)))?;
    let p = PathBuf::from(s);
    for c in p.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            _ => return Err(format!("entry name {s:?} would escape the destination directory; refusing")),
        }
    }
    Ok(p)
}

/// Unpacks `image` into `dir` (created if missing).
pub fn excpio(image: &Path, dir: &Path) -> Result<u64, String> {
    let data = fs::read(image).map_err(|e| format!("{}: {e}", image.display()))?;
    let entries = myst_cpio::parse(&data).map_err(|e| format!("{}: corrupt CPIO archive: {e}", image.display()))?;
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut by_ino: HashMap<u32, PathBuf> = HashMap::new();
    let mut dirs = Vec::new();
    let mut n = 0;
    for e in &entries {
        let rel = safe_rel(e.name)?;
        if rel.as_os_str().is_empty() || rel == Path::new(".") {
            continue;
        }
        let dst = dir.join(&rel);
        if let Some(p) = dst.parent() {
            fs::create_dir_all(p).map_err(|x| format!("{}: {x}", p.display()))?;
        }
        let mode = e.mode & 0o7777;
        let fail = |x: std::io::Error| format!("{}: {x}", dst.display());
        match e.mode & 0o170000 {
            0o040000 => {
                fs::create_dir_all(&dst).map_err(fail)?;
                dirs.push((dst.clone(), mode, e.mtime));
            }
            0o120000 => {
                let t = std::str::from_utf8(e.data).map_err(|_| format!("{}: symlink target is not UTF-8", rel.display()))?;
                let _ = fs::remove_file(&dst);
                symlink(t, &dst).map_err(fail)?;
            }
            0o100000 => {
                if e.nlink > 1 {
                    if let Some(first) = by_ino.get(&e.ino) {
                        let _ = fs::remove_file(&dst);
                        fs::hard_link(first, &dst).map_err(fail)?;
                        if !e.data.is_empty() {
                            fs::write(&dst, e.data).map_err(fail)?;
                        }
                        n += 1;
                        continue;
                    }
                    by_ino.insert(e.ino, dst.clone());
                }
                fs::write(&dst, e.data).map_err(fail)?;
                fs::set_permissions(&dst, fs::Permissions::from_mode(mode)).map_err(fail)?;
                set_mtime(&dst, e.mtime);
            }
            _ => {
                let c = std::ffi::CString::new(dst.as_os_str().as_encoded_bytes()).map_err(|_| "bad name".to_string())?;
                let dev = libc::makedev(e.rdevmajor, e.rdevminor);
                // SAFETY: valid C string; mknod creates a node or fails.
                if unsafe { libc::mknod(c.as_ptr(), e.mode, dev) } != 0 {
                    eprintln!("myst: warning: cannot create special file {}: {}", dst.display(), std::io::Error::last_os_error());
                }
            }
        }
        n += 1;
    }
    for (d, mode, mtime) in dirs.into_iter().rev() {
        let _ = fs::set_permissions(&d, fs::Permissions::from_mode(mode));
        set_mtime(&d, mtime);
    }
    Ok(n)
}

fn set_mtime(p: &Path, mtime: u32) {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime as u64);
    if let Ok(f) = fs::File::options().read(true).open(p) {
        let _ = f.set_times(fs::FileTimes::new().set_modified(t).set_accessed(t));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_escape_the_destination_are_refused() {
        assert!(safe_rel(b"../etc/passwd").is_err());
        assert!(safe_rel(b"a/../../b").is_err());
        assert_eq!(safe_rel(b"/abs/ok").unwrap(), PathBuf::from("abs/ok"));
        assert_eq!(safe_rel(b"./a/b").unwrap(), PathBuf::from("a/b"));
    }

    #[test]
    fn mkcpio_then_excpio_round_trips_files_links_modes_and_empty_dirs() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        fs::create_dir_all(src.join("empty")).unwrap();
        fs::create_dir_all(src.join("d/e")).unwrap();
        fs::write(src.join("d/e/f.txt"), b"hello").unwrap();
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        fs::write(src.join("big"), &big).unwrap();
        fs::set_permissions(src.join("big"), fs::Permissions::from_mode(0o751)).unwrap();
        symlink("d/e/f.txt", src.join("link")).unwrap();
        fs::hard_link(src.join("d/e/f.txt"), src.join("hard")).unwrap();
        let img = t.path().join("img.cpio");
        let mut calls = 0;
        mkcpio(&src, &img, &mut |_, _| calls += 1).unwrap();
        assert!(calls > 0);
        let out = t.path().join("out");
        excpio(&img, &out).unwrap();
        assert_eq!(fs::read(out.join("big")).unwrap(), big);
        assert_eq!(fs::metadata(out.join("big")).unwrap().permissions().mode() & 0o777, 0o751);
        assert_eq!(fs::read_link(out.join("link")).unwrap(), PathBuf::from("d/e/f.txt"));
        assert!(out.join("empty").is_dir());
        assert_eq!(fs::read(out.join("hard")).unwrap(), b"hello");
        assert_eq!(fs::metadata(out.join("hard")).unwrap().ino(), fs::metadata(out.join("d/e/f.txt")).unwrap().ino());
    }

    #[test]
    fn a_truncated_archive_is_a_clear_error() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        fs::create_dir_all(&src).unwrap();
        fs::write(src.join("a"), b"abc").unwrap();
        let img = t.path().join("img.cpio");
        mkcpio(&src, &img, &mut |_, _| {}).unwrap();
        let data = fs::read(&img).unwrap();
        fs::write(&img, &data[..data.len() / 2]).unwrap();
        let e = excpio(&img, &t.path().join("o")).unwrap_err();
        assert!(e.contains("corrupt CPIO"), "{e}");
    }
}
