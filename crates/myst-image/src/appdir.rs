//! `myst appdir ROOTDIR PROGRAM...`: copies host programs with their shared-library closure
//! and their loader into an application directory, keeping host paths.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn copy_with_path(root: &Path, host: &Path) -> Result<PathBuf, String> {
    let abs = if host.is_absolute() { host.to_path_buf() } else { std::env::current_dir().map_err(|e| e.to_string())?.join(host) };
    let dst = root.join(abs.strip_prefix("/").unwrap_or(&abs));
    if let Some(p) = dst.parent() {
        fs::create_dir_all(p).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    // Copy the file content (following host symlinks), then keep the mode.
    fs::copy(&abs, &dst).map_err(|e| format!("{}: {e}", abs.display()))?;
    let mode = fs::metadata(&abs).map_err(|e| format!("{}: {e}", abs.display()))?.permissions().mode();
    fs::set_permissions(&dst, fs::Permissions::from_mode(mode)).map_err(|e| format!("{}: {e}", dst.display()))?;
    Ok(dst)
}

/// Shared libraries and loader a host program needs, as `ldd` reports them.
pub fn closure(prog: &Path) -> Result<Vec<PathBuf>, String> {
    let data = fs::read(prog).map_err(|e| format!("{}: {e}", prog.display()))?;
    let elf = myst_elf::parse(&data).map_err(|e| format!("{}: {e}", prog.display()))?;
    let mut out = BTreeSet::new();
    if let Some(interp) = elf.interp(&data) {
        out.insert(PathBuf::from(interp));
    } else {
        return Ok(Vec::new());
    }
    let o = Command::new("ldd").arg(prog).output().map_err(|e| format!("cannot run ldd (package libc-bin): {e}"))?;
    if !o.status.success() {
        return Err(format!("ldd {}: {}", prog.display(), String::from_utf8_lossy(&o.stderr).trim()));
    }
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let l = line.trim();
        if l.contains("not found") {
            return Err(format!("{}: needs a library the host does not have: {l}", prog.display()));
        }
        let path = match l.split_once("=>") {
            Some((_, rhs)) => rhs.split_whitespace().next(),
            None => l.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            out.insert(PathBuf::from(p));
        }
    }
    Ok(out.into_iter().collect())
}

/// Builds (or adds to) an application directory. Returns the in-rootfs paths of the
/// programs.
pub fn appdir(root: &Path, programs: &[PathBuf]) -> Result<Vec<String>, String> {
    fs::create_dir_all(root.join("tmp")).map_err(|e| format!("{}: {e}", root.display()))?;
    let mut placed = Vec::new();
    for p in programs {
        let resolved = if p.components().count() == 1 && !p.exists() { which(p)? } else { p.clone() };
        let dst = copy_with_path(root, &resolved)?;
        for lib in closure(&resolved)? {
            copy_with_path(root, &lib)?;
        }
        placed.push(format!("/{}", dst.strip_prefix(root).unwrap_or(&dst).display()));
    }
    Ok(placed)
}

fn which(name: &Path) -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for d in std::env::split_paths(&path) {
        let c = d.join(name);
        if c.is_file() {
            return Ok(c);
        }
    }
    Err(format!("{}: not found on PATH", name.display()))
}
