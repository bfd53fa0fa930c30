//! `--strace`: one line per call with named, decoded arguments and the result.

use crate::error::KResult;
use crate::syscall::{table, Ctx, A, R};
use alloc::string::String;
use core::fmt::Write;
use myst_abi::consts::*;

fn flags(out: &mut String, v: u64, names: &[(u64, &str)], zero: &str) {
    let mut first = true;
    let mut rest = v;
    for &(bit, n) in names {
        if bit != 0 && rest & bit == bit {
            if !first {
                out.push('|');
            }
            out.push_str(n);
            rest &= !bit;
            first = false;
        }
    }
    if rest != 0 || first {
        if !first {
            out.push('|');
        }
        if rest == 0 {
            out.push_str(zero);
        } else {
            let _ = write!(out, "{rest:#x}");
        }
    }
}

fn quoted(out: &mut String, b: &[u8], max: usize) {
    out.push('"');
    for &c in b.iter().take(max) {
        match c {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(c as char),
            _ => {
                let _ = write!(out, "\\x{c:02x}");
            }
        }
    }
    out.push('"');
    if b.len() > max {
        out.push_str("...");
    }
}

fn arg(out: &mut String, c: &Ctx<'_>, kind: A, v: u64, args: &[u64; 6]) {
    match kind {
        A::Int | A::Fd => {
            let _ = write!(out, "{}", v as i64 as i32 as i64);
        }
        A::DirFd => {
            if v as i32 == AT_FDCWD {
                out.push_str("AT_FDCWD");
            } else {
                let _ = write!(out, "{}", v as i32);
            }
        }
        A::Hex | A::Ptr | A::Out => {
            if v == 0 {
                out.push_str("NULL");
            } else {
                let _ = write!(out, "{v:#x}");
            }
        }
        A::Path => match c.user().read_cstr(v, 4095) {
            Ok(p) => quoted(out, &p, 256),
            Err(_) => {
                let _ = write!(out, "{v:#x}");
            }
        },
        A::Buf(i) => {
            let len = (args[i as usize] as usize).min(32);
            match c.user().read_vec(v, len) {
                Ok(b) => {
                    quoted(out, &b, 32);
                    if (args[i as usize] as usize) > 32 {
                        out.push_str("...");
                    }
                }
                Err(_) => {
                    let _ = write!(out, "{v:#x}");
                }
            }
        }
        A::OFlags => {
            let acc = match v as u32 & O_ACCMODE {
                O_RDONLY => "O_RDONLY",
                O_WRONLY => "O_WRONLY",
                _ => "O_RDWR",
            };
            out.push_str(acc);
            let rest = v & !(O_ACCMODE as u64);
            if rest != 0 {
                out.push('|');
                let names: &[(u64, &str)] = &[
                    (O_CREAT as u64, "O_CREAT"),
                    (O_EXCL as u64, "O_EXCL"),
                    (O_NOCTTY as u64, "O_NOCTTY"),
                    (O_TRUNC as u64, "O_TRUNC"),
                    (O_APPEND as u64, "O_APPEND"),
                    (O_NONBLOCK as u64, "O_NONBLOCK"),
                    (O_DIRECTORY as u64, "O_DIRECTORY"),
                    (O_NOFOLLOW as u64, "O_NOFOLLOW"),
                    (O_CLOEXEC as u64, "O_CLOEXEC"),
                    (O_PATH as u64, "O_PATH"),
                    (O_LARGEFILE as u64, "O_LARGEFILE"),
                ];
                flags(out, rest, names, "0");
            }
        }
        A::Mode => {
            let _ = write!(out, "0{:o}", v);
        }
        A::Prot => flags(
            out,
            v,
            &[(PROT_READ as u64, "PROT_READ"), (PROT_WRITE as u64, "PROT_WRITE"), (PROT_EXEC as u64, "PROT_EXEC")],
            "PROT_NONE",
        ),
        A::MFlags => flags(
            out,
            v,
            &[
                (MAP_SHARED as u64, "MAP_SHARED"),
                (MAP_PRIVATE as u64, "MAP_PRIVATE"),
                (MAP_FIXED as u64, "MAP_FIXED"),
                (MAP_ANONYMOUS as u64, "MAP_ANONYMOUS"),
                (MAP_NORESERVE as u64, "MAP_NORESERVE"),
                (MAP_STACK as u64, "MAP_STACK"),
                (MAP_FIXED_NOREPLACE as u64, "MAP_FIXED_NOREPLACE"),
                (MAP_DENYWRITE as u64, "MAP_DENYWRITE"),
                (MAP_POPULATE as u64, "MAP_POPULATE"),
            ],
            "0",
        ),
        A::Sig => {
            let s = v as u32;
            if (1..=31).contains(&s) {
                out.push_str(signal_name(s));
            } else {
                let _ = write!(out, "{s}");
            }
        }
    }
}

/// Prints one trace line; `result` is `None` for calls that do not return.
pub fn print(c: &Ctx<'_>, nr: usize, args: &[u64; 6], result: Option<&KResult<u64>>) {
    let row = table().get(nr);
    let mut s = String::new();
    let _ = write!(s, "[{}:{}] ", c.proc.pid, c.thread.tid);
    match row {
        Some(r) if !r.name.is_empty() => s.push_str(r.name),
        _ => {
            let _ = write!(s, "syscall_{nr}");
        }
    }
    s.push('(');
    let kinds: &[A] = match row {
        Some(r) if r.handler.is_some() => r.args,
        _ => &[A::Hex, A::Hex, A::Hex, A::Hex, A::Hex, A::Hex],
    };
    for (i, k) in kinds.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        arg(&mut s, c, *k, args[i], args);
    }
    s.push_str(") = ");
    match result {
        None => s.push('?'),
        Some(Ok(v)) => {
            if row.map(|r| r.ret) == Some(R::Hex) {
                let _ = write!(s, "{v:#x}");
            } else {
                let _ = write!(s, "{}", *v as i64);
            }
        }
        Some(Err(e)) => {
            let _ = write!(s, "-1 {} ({})", e.errno.name(), e.errno.description());
            if let Some(m) = e.msg {
                let _ = write!(s, " [{m}]");
            }
        }
    }
    s.push('\n');
    let _ = crate::tcall().console_write(2, s.as_bytes());
}
