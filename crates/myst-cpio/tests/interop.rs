//! Interoperability with GNU cpio: archives written here must list and extract with
//! `cpio -t` / `cpio -i`, and archives written by `cpio -o -H newc` must parse here.
//! Each test prints a note and passes if the `cpio` binary is not installed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};

use myst_cpio::{parse, FileType, StreamWriter, Writer, S_IFBLK, S_IFCHR, S_IFIFO};

fn have_cpio() -> bool {
    let ok =
        Command::new("cpio").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().map(|s| s.success()).unwrap_or(false);
    if !ok {
        eprintln!("note: `cpio` not found; skipping GNU cpio interop test");
    }
    ok
}

/// Runs `cpio args...` in `dir` with `input` on stdin; returns (stdout, stderr).
fn run_cpio(dir: &Path, args: &[&str], input: &[u8]) -> (Vec<u8>, String) {
    let mut child = Command::new("cpio")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cpio");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait for cpio");
    feeder.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "cpio {args:?} failed: {stderr}");
    (out.stdout, stderr)
}

/// GNU cpio's stderr must hold nothing but its "N blocks" line.
fn assert_quiet(stderr: &str) {
    for line in stderr.lines() {
        assert!(line.ends_with(" block") || line.ends_with(" blocks"), "cpio complained: {line}");
    }
}

fn sample() -> (Vec<u8>, Vec<&'static str>) {
    let big: Vec<u8> = (0..1_500_007u32).map(|i| (i % 251) as u8).collect();
    let mut w = Writer::new();
    w.add_dir(".", 0o755, 0, 0, 1_600_000_000).unwrap();
    w.add_dir("etc", 0o755, 0, 0, 1_600_000_000).unwrap();
    w.add_file("etc/hostname", 0o644, 0, 0, 1_600_000_000, b"myst\n").unwrap();
    w.add_file("etc/empty", 0o600, 0, 0, 1_600_000_000, b"").unwrap();
    w.add_dir("emptydir", 0o700, 0, 0, 1_600_000_000).unwrap();
    w.add_file("big.bin", 0o644, 0, 0, 1_600_000_000, &big).unwrap();
    w.add_symlink("link", "etc/hostname", 0, 0, 1_600_000_000).unwrap();
    w.add_special("fifo", S_IFIFO | 0o644, 0, 0, 1_600_000_000, (0, 0)).unwrap();
    w.add_special("null", S_IFCHR | 0o666, 0, 0, 1_600_000_000, (1, 3)).unwrap();
    w.add_special("sda", S_IFBLK | 0o660, 0, 0, 1_600_000_000, (8, 0)).unwrap();
    w.add_hardlinked_file(&["etc/h1", "etc/h2"], 0o640, 0, 0, 1_600_000_000, b"linked").unwrap();
    let names = vec![".", "etc", "etc/hostname", "etc/empty", "emptydir", "big.bin", "link", "fifo", "null", "sda", "etc/h1", "etc/h2"];
    (w.finish(), names)
}

#[test]
fn gnu_cpio_lists_our_archive() {
    if !have_cpio() {
        return;
    }
    let (archive, names) = sample();
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = run_cpio(dir.path(), &["-t", "-H", "newc"], &archive);
    assert_quiet(&err);
    let listed: Vec<String> = String::from_utf8(out).unwrap().lines().map(str::to_owned).collect();
    assert_eq!(listed, names);

    // The verbose listing shows the device numbers and the symlink target.
    let (out, err) = run_cpio(dir.path(), &["-tv", "-H", "newc"], &archive);
    assert_quiet(&err);
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("link -> etc/hostname"), "{out}");
    let null = out.lines().find(|l| l.ends_with(" null")).unwrap();
    assert!(null.starts_with("crw-rw-rw-"), "{null}");
    assert!(null.contains("1,"), "{null}");
    let sda = out.lines().find(|l| l.ends_with(" sda")).unwrap();
    assert!(sda.starts_with("brw-rw----"), "{sda}");
}

#[test]
fn gnu_cpio_extracts_our_archive() {
    if !have_cpio() {
        return;
    }
    let (archive, _) = sample();
    // Without device nodes, which need privileges to create.
    let mut w = Writer::new();
    for e in parse(&archive).unwrap() {
        let name = e.name;
        match e.file_type() {
            FileType::Directory => w.add_dir(name, e.mode, 0, 0, e.mtime).unwrap(),
            FileType::Regular if e.hardlink_of.is_none() && e.nlink == 1 => w.add_file(name, e.mode, 0, 0, e.mtime, e.data).unwrap(),
            FileType::Symlink => w.add_symlink(name, e.data, 0, 0, e.mtime).unwrap(),
            FileType::Fifo => w.add_special(name, e.mode, 0, 0, e.mtime, (0, 0)).unwrap(),
            _ => {}
        }
    }
    w.add_hardlinked_file(&["etc/h1", "etc/h2"], 0o640, 0, 0, 0, b"linked").unwrap();
    let archive = w.finish();

    let dir = tempfile::tempdir().unwrap();
    let (_, err) = run_cpio(dir.path(), &["-i", "-d", "-m", "-H", "newc", "--no-absolute-filenames", "--no-preserve-owner"], &archive);
    assert_quiet(&err);
    let root = dir.path();
    assert_eq!(fs::read(root.join("etc/hostname")).unwrap(), b"myst\n");
    assert_eq!(fs::read(root.join("etc/empty")).unwrap(), b"");
    let big = fs::read(root.join("big.bin")).unwrap();
    assert_eq!(big.len(), 1_500_007);
    assert!(big.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
    assert!(root.join("emptydir").is_dir());
    assert_eq!(fs::read_link(root.join("link")).unwrap(), Path::new("etc/hostname"));
    let meta = fs::metadata(root.join("etc/hostname")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o644);
    assert_eq!(meta.mtime(), 1_600_000_000);
    let fifo = fs::symlink_metadata(root.join("fifo")).unwrap();
    assert_eq!(fifo.mode() & 0o170000, S_IFIFO);
    let h1 = fs::metadata(root.join("etc/h1")).unwrap();
    let h2 = fs::metadata(root.join("etc/h2")).unwrap();
    assert_eq!(h1.ino(), h2.ino());
    assert_eq!(h1.nlink(), 2);
    assert_eq!(fs::read(root.join("etc/h1")).unwrap(), b"linked");
}

#[test]
fn gnu_cpio_reads_long_names_and_streamed_archives() {
    if !have_cpio() {
        return;
    }
    // A path just under the limit, built from components the host file system accepts.
    let component = "d".repeat(200);
    let mut long = String::new();
    while long.len() + component.len() + 1 < myst_cpio::MAX_NAME_LEN - 10 {
        if !long.is_empty() {
            long.push('/');
        }
        long.push_str(&component);
    }
    let mut out = Vec::new();
    let mut s = StreamWriter::new(myst_cpio::FnSink(|b: &[u8]| out.extend_from_slice(b)));
    s.begin_file(&long, 0o644, 0, 0, 0, 10).unwrap();
    for _ in 0..5 {
        s.write_data(b"ab").unwrap();
    }
    s.finish().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (listed, err) = run_cpio(dir.path(), &["-t", "-H", "newc"], &out);
    assert_quiet(&err);
    assert_eq!(String::from_utf8(listed).unwrap(), format!("{long}\n"));
    assert_eq!(parse(&out).unwrap()[0].name, long.as_bytes());
}

/// What a tree on disk holds, keyed by name relative to its root.
#[derive(Debug, PartialEq, Eq)]
enum Node {
    Dir(u32),
    File(u32, Vec<u8>),
    Link(Vec<u8>),
    Fifo(u32),
}

fn build_tree(root: &Path) {
    fs::create_dir_all(root.join("a/b/c")).unwrap();
    fs::create_dir(root.join("empty")).unwrap();
    fs::write(root.join("a/one"), b"1").unwrap();
    fs::write(root.join("a/b/two"), b"22").unwrap();
    fs::write(root.join("a/b/c/three"), b"333").unwrap();
    fs::write(root.join("four"), b"4444").unwrap();
    fs::write(root.join("zero"), b"").unwrap();
    let big: Vec<u8> = (0..2_000_003u32).map(|i| (i * 31 % 256) as u8).collect();
    fs::write(root.join("big"), &big).unwrap();
    fs::set_permissions(root.join("four"), fs::Permissions::from_mode(0o4755)).unwrap();
    std::os::unix::fs::symlink("a/b/two", root.join("sym")).unwrap();
    std::os::unix::fs::symlink("/nowhere/at/all", root.join("dangling")).unwrap();
    fs::hard_link(root.join("a/one"), root.join("one-again")).unwrap();
    fs::hard_link(root.join("a/one"), root.join("a/b/one-more")).unwrap();
    let status = Command::new("mkfifo").arg(root.join("pipe")).status().unwrap();
    assert!(status.success());
    let name = "n".repeat(255);
    fs::write(root.join(&name), b"long name").unwrap();
}

fn scan_tree(root: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.strip_prefix(root).unwrap().to_str().unwrap().to_owned();
            let meta = fs::symlink_metadata(&path).unwrap();
            let perm = meta.mode() & 0o7777;
            let ft = meta.file_type();
            let node = if ft.is_dir() {
                stack.push(path.clone());
                Node::Dir(perm)
            } else if ft.is_symlink() {
                use std::os::unix::ffi::OsStrExt;
                Node::Link(fs::read_link(&path).unwrap().as_os_str().as_bytes().to_vec())
            } else if ft.is_file() {
                Node::File(perm, fs::read(&path).unwrap())
            } else {
                Node::Fifo(perm)
            };
            out.insert(name, node);
        }
    }
    out
}

fn pack_with_gnu(root: &Path, format: &str) -> Vec<u8> {
    let out = Command::new("sh").arg("-c").arg(format!("find . | cpio -o -H {format} --quiet")).current_dir(root).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn check_against_tree(archive: &[u8], expected: &BTreeMap<String, Node>) {
    let entries = parse(archive).unwrap();
    let mut seen = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        let name = e.name_str().unwrap().to_owned();
        if name == "." {
            assert!(e.is_dir());
            continue;
        }
        // Members of a hard-link group take their data from the primary.
        let data = match e.hardlink_of {
            Some(p) => {
                assert!(p != i);
                assert_eq!(entries[p].ino, e.ino);
                entries[p].data
            }
            None => e.data,
        };
        let perm = e.permissions();
        let node = match e.file_type() {
            FileType::Directory => Node::Dir(perm),
            FileType::Regular => Node::File(perm, data.to_vec()),
            FileType::Symlink => Node::Link(data.to_vec()),
            FileType::Fifo => Node::Fifo(perm),
            other => panic!("unexpected {other:?} for {name}"),
        };
        assert!(seen.insert(name, node).is_none());
    }
    assert_eq!(&seen, expected);

    // The three names of "a/one" form one group, with exactly one holder of the data.
    let group: Vec<_> = entries.iter().filter(|e| [&b"a/one"[..], b"one-again", b"a/b/one-more"].contains(&e.name)).collect();
    let names: BTreeSet<_> = group.iter().map(|e| e.name_str().unwrap()).collect();
    assert_eq!(names, BTreeSet::from(["a/one", "one-again", "a/b/one-more"]));
    assert_eq!(group.iter().filter(|e| e.hardlink_of.is_none()).count(), 1);
    assert!(group.iter().all(|e| e.nlink == 3));
}

#[test]
fn we_parse_what_gnu_cpio_writes() {
    if !have_cpio() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    build_tree(dir.path());
    let expected = scan_tree(dir.path());
    assert!(expected.len() >= 15);

    let newc = pack_with_gnu(dir.path(), "newc");
    check_against_tree(&newc, &expected);
    let crc = pack_with_gnu(dir.path(), "crc");
    assert_eq!(&crc[..6], b"070702");
    check_against_tree(&crc, &expected);

    // Every truncation of GNU's archive (up to the trailer) fails cleanly.
    let mut reader = myst_cpio::Reader::new(&newc);
    assert!(reader.by_ref().all(|e| e.is_ok()));
    let end = reader.position();
    for len in (0..end).step_by(97).chain(end.saturating_sub(200)..end) {
        assert!(parse(&newc[..len]).is_err(), "prefix {len} parsed");
    }
}

#[test]
fn round_trip_through_gnu_cpio() {
    if !have_cpio() {
        return;
    }
    // Our archive -> GNU extract -> GNU pack -> our parser.
    let dir = tempfile::tempdir().unwrap();
    build_tree(dir.path());
    let expected = scan_tree(dir.path());
    let gnu = pack_with_gnu(dir.path(), "newc");
    let entries = parse(&gnu).unwrap();
    let mut w = Writer::new();
    let mut groups: BTreeMap<usize, Vec<&[u8]>> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        if let Some(p) = e.hardlink_of {
            groups.entry(p).or_default().push(e.name);
            continue;
        }
        match e.file_type() {
            FileType::Directory => w.add_dir(e.name, e.mode, 0, 0, e.mtime).unwrap(),
            FileType::Regular if e.nlink > 1 => {
                groups.entry(i).or_default();
            }
            FileType::Regular => w.add_file(e.name, e.mode, 0, 0, e.mtime, e.data).unwrap(),
            FileType::Symlink => w.add_symlink(e.name, e.data, 0, 0, e.mtime).unwrap(),
            FileType::Fifo => w.add_special(e.name, e.mode, 0, 0, 0, (0, 0)).unwrap(),
            _ => unreachable!(),
        }
    }
    for (primary, mut names) in groups {
        let p = &entries[primary];
        names.push(p.name);
        w.add_hardlinked_file(&names, p.mode, 0, 0, p.mtime, p.data).unwrap();
    }
    let ours = w.finish();
    check_against_tree(&ours, &expected);

    let out_dir = tempfile::tempdir().unwrap();
    let (_, err) = run_cpio(out_dir.path(), &["-i", "-d", "-H", "newc", "--no-preserve-owner"], &ours);
    assert_quiet(&err);
    assert_eq!(scan_tree(out_dir.path()), expected);
}
