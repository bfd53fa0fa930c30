//! The parser against real binaries of this machine and programs compiled here with gcc
//! (and musl-gcc), cross-checked with `readelf -lW` where that is installed. Tests that need a
//! missing tool print a note and pass.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use myst_elf::{
    parse, Elf, ElfError, ET_DYN, ET_EXEC, PAGE_SIZE, PF_R, PF_W, PF_X, PT_DYNAMIC, PT_GNU_EH_FRAME, PT_GNU_PROPERTY, PT_GNU_RELRO,
    PT_GNU_STACK, PT_INTERP, PT_LOAD, PT_NOTE, PT_PHDR, PT_TLS,
};

const LD_SO: &str = "/lib64/ld-linux-x86-64.so.2";

fn read(path: &str) -> Option<Vec<u8>> {
    match fs::read(path) {
        Ok(d) => Some(d),
        Err(e) => {
            eprintln!("note: cannot read {path} ({e}); skipping");
            None
        }
    }
}

fn tool_exists(name: &str) -> bool {
    let ok = Command::new(name).arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    if !ok {
        eprintln!("note: `{name}` not found; skipping the part of the test that needs it");
    }
    ok
}

/// Loader invariants that must hold for any accepted file.
fn check_invariants(elf: &Elf, data: &[u8]) {
    let (lo, hi) = elf.bounds();
    assert!(lo % PAGE_SIZE == 0 && hi % PAGE_SIZE == 0 && lo < hi);
    let mut prev = 0;
    for p in elf.load_segments() {
        assert!(p.p_vaddr >= prev);
        prev = p.p_vaddr;
        assert!(p.p_filesz <= p.p_memsz);
        assert!(p.p_vaddr >= lo && p.vaddr_end() <= hi);
        assert_eq!(p.file_bytes(data).unwrap().len() as u64, p.p_filesz);
    }
}

#[test]
fn bin_true() {
    let Some(data) = read("/bin/true") else {
        return;
    };
    let elf = parse(&data).unwrap();
    check_invariants(&elf, &data);
    assert!(elf.e_type == ET_DYN || elf.e_type == ET_EXEC);
    assert!(elf.load_segments().count() >= 2);
    assert!(elf.load_segments().any(|p| p.p_flags & PF_X != 0));
    assert_eq!(elf.interp(&data), Some(LD_SO));
    assert_eq!(elf.gnu_stack(), Some(false));
    let phdr = elf.phdrs.iter().find(|p| p.p_type == PT_PHDR).expect("PT_PHDR");
    assert_eq!(elf.phdr_vaddr(), Some(phdr.p_vaddr));
    assert!(elf.e_entry >= elf.bounds().0 && elf.e_entry < elf.bounds().1);
}

#[test]
fn dynamic_loader() {
    let Some(data) = read(LD_SO) else { return };
    let elf = parse(&data).unwrap();
    check_invariants(&elf, &data);
    assert_eq!(elf.e_type, ET_DYN);
    assert_eq!(elf.interp(&data), None);
    assert_eq!(elf.bounds().0, 0);
    assert!(elf.dynamic().is_some());
    // ld.so has no PT_PHDR; the table is found inside the first PT_LOAD.
    let first = elf.load_segments().next().unwrap();
    if !elf.phdrs.iter().any(|p| p.p_type == PT_PHDR) {
        assert_eq!(elf.phdr_vaddr(), Some(first.p_vaddr + elf.e_phoff - first.p_offset));
    }
}

#[test]
fn every_truncation_of_real_headers_is_an_error() {
    for path in ["/bin/true", LD_SO] {
        let Some(data) = read(path) else { continue };
        let elf = parse(&data).unwrap();
        // Up to the end of the program-header table, and then up to the end of the last
        // segment's file bytes: every shorter prefix must be refused.
        let file_end = elf.phdrs.iter().map(|p| p.p_offset + p.p_filesz).max().unwrap() as usize;
        let table_end = elf.e_phoff as usize + elf.phdrs.len() * 56;
        for len in 0..table_end + 64 {
            assert!(parse(&data[..len]).is_err(), "{path}: prefix {len} parsed");
        }
        let step = (file_end / 500).max(1);
        for len in (table_end..file_end).step_by(step).chain(file_end - 64..file_end) {
            assert!(parse(&data[..len]).is_err(), "{path}: prefix {len} parsed");
        }
        assert!(parse(&data[..file_end]).is_ok());
    }
}

/// Tiny xorshift64* PRNG.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_flips_in_real_headers_never_panic() {
    for path in ["/bin/true", LD_SO] {
        let Some(data) = read(path) else { continue };
        let elf = parse(&data).unwrap();
        let header_len = elf.e_phoff as usize + elf.phdrs.len() * 56;
        let mut rng = Rng(0x5eed ^ data.len() as u64);
        let mut head = data[..header_len.max(4096).min(data.len())].to_vec();
        for _ in 0..20_000 {
            let saved = head.clone();
            for _ in 0..1 + rng.below(3) {
                let i = rng.below(header_len);
                head[i] = match rng.below(3) {
                    0 => rng.next() as u8,
                    1 => head[i] ^ (1 << rng.below(8)),
                    _ => [0, 0xff, 0x7f, 0x80][rng.below(4)],
                };
            }
            let mut full = head.clone();
            full.extend_from_slice(&data[head.len()..]);
            if let Ok(elf) = parse(&full) {
                check_invariants(&elf, &full);
            }
            head = saved;
        }
    }
}

/// Compiles `source` with `compiler flags...` into a temporary directory; `None` (with a note)
/// if the compiler is missing or cannot build that variant (e.g. no static libc installed).
fn compile(dir: &Path, compiler: &str, name: &str, source: &str, flags: &[&str]) -> Option<PathBuf> {
    let src = dir.join(format!("{name}.c"));
    fs::write(&src, source).unwrap();
    let out = dir.join(name);
    let result = Command::new(compiler).args(flags).arg("-o").arg(&out).arg(&src).output();
    match result {
        Ok(o) if o.status.success() => Some(out),
        Ok(o) => {
            eprintln!("note: {compiler} {flags:?} failed, skipping: {}", String::from_utf8_lossy(&o.stderr));
            None
        }
        Err(e) => {
            eprintln!("note: cannot run {compiler} ({e}); skipping");
            None
        }
    }
}

const HELLO: &str = r#"
#include <stdio.h>
__thread int counter = 7;
__thread char big_tls[100];
int main(void) { big_tls[0] = 1; printf("hello %d\n", counter); return 0; }
"#;

#[test]
fn gcc_built_programs() {
    if !tool_exists("gcc") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // Variant name, flags, expected type, expects an interpreter.
    let variants: [(&str, &[&str], u16, bool); 5] = [
        ("dyn-pie", &["-O1", "-pie", "-fPIE"], ET_DYN, true),
        ("dyn-nopie", &["-O1", "-no-pie", "-fno-PIE"], ET_EXEC, true),
        ("static", &["-O1", "-static"], ET_EXEC, false),
        ("static-pie", &["-O1", "-static-pie", "-fPIE"], ET_DYN, false),
        ("execstack", &["-O1", "-z", "execstack", "-Wl,--no-warn-execstack"], ET_DYN, true),
    ];
    for (name, flags, e_type, has_interp) in variants {
        let Some(path) = compile(d, "gcc", name, HELLO, flags) else {
            continue;
        };
        let data = fs::read(&path).unwrap();
        let elf = parse(&data).unwrap_or_else(|e| panic!("{name}: {e}"));
        check_invariants(&elf, &data);
        assert_eq!(elf.e_type, e_type, "{name}");
        assert_eq!(elf.interp(&data).is_some(), has_interp, "{name}");
        if has_interp {
            assert_eq!(elf.interp(&data), Some(LD_SO), "{name}");
        }
        if e_type == ET_EXEC {
            assert_eq!(elf.bounds().0, 0x40_0000, "{name}");
        } else {
            assert_eq!(elf.bounds().0, 0, "{name}");
        }
        assert_eq!(elf.exec_stack(), name == "execstack", "{name}");
        // Two thread-locals: 4 initialised bytes, 100 zeroed ones (more for static libc).
        let tls = elf.tls().unwrap_or_else(|| panic!("{name}: no PT_TLS"));
        assert!(tls.p_filesz >= 4 && tls.p_memsz >= 104, "{name}: {tls:?}");
        // AT_PHDR must be resolvable for every program.
        let phdr = elf.phdr_vaddr().unwrap_or_else(|| panic!("{name}: no phdr"));
        assert!(phdr >= elf.bounds().0 && phdr < elf.bounds().1);
        // The program runs natively, so these are real, loadable binaries.
        let out = Command::new(&path).output().unwrap();
        assert_eq!(out.stdout, b"hello 7\n", "{name}");
    }

    // An object file is refused with a message that says what to do.
    let obj = d.join("hello.o");
    let status = Command::new("gcc").args(["-c", "-o"]).arg(&obj).arg(d.join("dyn-pie.c")).status().unwrap();
    assert!(status.success());
    let err = parse(&fs::read(&obj).unwrap()).unwrap_err();
    assert_eq!(err, ElfError::UnsupportedType { e_type: 1 });
    assert!(err.to_string().contains("relocatable"));

    // A 32-bit program, if this gcc can build one.
    if let Some(path) = compile(d, "gcc", "m32", HELLO, &["-m32"]) {
        let err = parse(&fs::read(path).unwrap()).unwrap_err();
        assert_eq!(err, ElfError::Not64Bit { class: 1 });
    }
}

#[test]
fn musl_static_program() {
    if !tool_exists("musl-gcc") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(path) = compile(dir.path(), "musl-gcc", "musl", HELLO, &["-O1", "-static"]) else {
        return;
    };
    let data = fs::read(&path).unwrap();
    let elf = parse(&data).unwrap();
    check_invariants(&elf, &data);
    assert_eq!(elf.interp(&data), None);
    assert!(elf.tls().is_some());
    assert!(elf.phdr_vaddr().is_some());
}

/// One line of `readelf -lW`'s program-header table.
#[derive(Debug, PartialEq)]
struct Row {
    p_type: Option<u32>,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
    flags: u32,
    align: u64,
}

fn readelf_rows(path: &Path) -> Option<Vec<Row>> {
    let out = Command::new("readelf").arg("-lW").arg(path).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok();
    let mut rows = Vec::new();
    for line in text.lines() {
        let tokens: Vec<&str> = line.split_whitespace().collect();
        if tokens.len() < 8 || !tokens[1].starts_with("0x") || !tokens[2].starts_with("0x") {
            continue;
        }
        let p_type = match tokens[0] {
            "LOAD" => Some(PT_LOAD),
            "DYNAMIC" => Some(PT_DYNAMIC),
            "INTERP" => Some(PT_INTERP),
            "NOTE" => Some(PT_NOTE),
            "PHDR" => Some(PT_PHDR),
            "TLS" => Some(PT_TLS),
            "GNU_EH_FRAME" => Some(PT_GNU_EH_FRAME),
            "GNU_STACK" => Some(PT_GNU_STACK),
            "GNU_RELRO" => Some(PT_GNU_RELRO),
            "GNU_PROPERTY" => Some(PT_GNU_PROPERTY),
            _ => None,
        };
        let flag_tokens = &tokens[6..tokens.len() - 1];
        let mut flags = 0;
        for c in flag_tokens.concat().chars() {
            flags |= match c {
                'R' => PF_R,
                'W' => PF_W,
                'E' => PF_X,
                _ => 0,
            };
        }
        rows.push(Row {
            p_type,
            offset: hex(tokens[1])?,
            vaddr: hex(tokens[2])?,
            filesz: hex(tokens[4])?,
            memsz: hex(tokens[5])?,
            flags,
            align: hex(tokens[tokens.len() - 1])?,
        });
    }
    Some(rows)
}

#[test]
fn agrees_with_readelf_on_system_binaries() {
    if !tool_exists("readelf") {
        return;
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    for dir in ["/usr/bin", "/usr/lib/x86_64-linux-gnu", "/usr/sbin"] {
        let Ok(list) = fs::read_dir(dir) else {
            continue;
        };
        let mut names: Vec<PathBuf> = list.filter_map(|e| e.ok().map(|e| e.path())).collect();
        names.sort();
        candidates.extend(names);
    }
    let mut checked = 0;
    for path in candidates {
        if checked >= 150 {
            break;
        }
        let Ok(meta) = fs::metadata(&path) else {
            continue;
        };
        if !meta.is_file() || meta.len() > 64 << 20 {
            continue;
        }
        let Ok(data) = fs::read(&path) else { continue };
        // Only x86-64 executables and shared objects (not objects, not scripts).
        if data.len() < 64
            || &data[..4] != b"\x7fELF"
            || data[4] != 2
            || u16::from_le_bytes([data[18], data[19]]) != 62
            || !matches!(u16::from_le_bytes([data[16], data[17]]), 2 | 3)
        {
            continue;
        }
        let elf = parse(&data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        check_invariants(&elf, &data);
        let Some(rows) = readelf_rows(&path) else {
            continue;
        };
        assert_eq!(rows.len(), elf.phdrs.len(), "{}", path.display());
        for (row, ph) in rows.iter().zip(&elf.phdrs) {
            if let Some(t) = row.p_type {
                assert_eq!(t, ph.p_type, "{}", path.display());
            }
            let ours = Row {
                p_type: row.p_type,
                offset: ph.p_offset,
                vaddr: ph.p_vaddr,
                filesz: ph.p_filesz,
                memsz: ph.p_memsz,
                flags: ph.p_flags & (PF_R | PF_W | PF_X),
                align: ph.p_align,
            };
            assert_eq!(&ours, row, "{}", path.display());
        }
        checked += 1;
    }
    eprintln!("cross-checked {checked} binaries with readelf");
    assert!(checked > 10);
}
