//! Helpers shared by the integration tests (std is fine here).
#![allow(dead_code)]

use myst_ext2::*;
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Find a system tool, or print why the test is skipped.
pub fn tool(name: &str) -> Option<PathBuf> {
    for dir in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return Some(p);
        }
    }
    eprintln!("note: `{name}` not found; skipping the part of this test that needs it");
    None
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("spawn tool")
}

/// A file on the host, read on demand.
pub struct HostFile {
    pub file: File,
    pub len: u64,
}

impl FileSource for HostFile {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.file.read_exact_at(buf, off).map_err(|_| IoError::new("host read failed"))
    }
}

fn ts(sec: i64, nsec: i64) -> Timestamp {
    Timestamp { sec, nsec: nsec as u32 }
}

pub fn meta_of(md: &std::fs::Metadata) -> Meta {
    Meta {
        mode: (md.mode() & 0o7777) as u16,
        uid: md.uid(),
        gid: md.gid(),
        atime: ts(md.atime(), md.atime_nsec()),
        mtime: ts(md.mtime(), md.mtime_nsec()),
        ctime: ts(md.ctime(), md.ctime_nsec()),
    }
}

/// Fill a builder from a host directory tree (what `myst mkext2` does).
pub fn add_tree(b: &mut Builder, root: &Path) {
    let mut links: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
    b.add_dir("/", meta_of(&std::fs::metadata(root).unwrap())).unwrap();
    let mut stack = vec![(root.to_path_buf(), b"/".to_vec())];
    while let Some((dir, ipath)) = stack.pop() {
        let mut ents: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap()).collect();
        ents.sort_by_key(|e| e.file_name());
        for e in ents {
            let md = std::fs::symlink_metadata(e.path()).unwrap();
            let mut p = ipath.clone();
            if p.last() != Some(&b'/') {
                p.push(b'/');
            }
            p.extend_from_slice(e.file_name().as_encoded_bytes());
            let ft = md.file_type();
            if !ft.is_dir() && md.nlink() > 1 {
                let key = (md.dev(), md.ino());
                if let Some(first) = links.get(&key) {
                    b.add_hardlink(&p, first).unwrap();
                    continue;
                }
                links.insert(key, p.clone());
            }
            let meta = meta_of(&md);
            if ft.is_dir() {
                b.add_dir(&p, meta).unwrap();
                stack.push((e.path(), p));
            } else if ft.is_file() {
                let file = File::open(e.path()).unwrap();
                let data = FileData::Source(Box::new(HostFile { file, len: md.len() }));
                b.add_file(&p, meta, data).unwrap();
            } else if ft.is_symlink() {
                let t = std::fs::read_link(e.path()).unwrap();
                b.add_symlink(&p, meta, t.as_os_str().as_encoded_bytes()).unwrap();
            } else if ft.is_fifo() {
                b.add_special(&p, meta, SpecialKind::Fifo, 0).unwrap();
            } else if ft.is_socket() {
                b.add_special(&p, meta, SpecialKind::Socket, 0).unwrap();
            } else if ft.is_char_device() {
                b.add_special(&p, meta, SpecialKind::CharDev, md.rdev()).unwrap();
            } else if ft.is_block_device() {
                b.add_special(&p, meta, SpecialKind::BlockDev, md.rdev()).unwrap();
            }
        }
    }
}

/// Write a builder's image to a file.
pub fn write_image(b: &Builder, path: &Path, size: u64) {
    let f = File::create(path).unwrap();
    b.write(size, &mut |off, data| f.write_all_at(data, off).map_err(|_| IoError::new("write failed"))).unwrap();
    assert_eq!(f.metadata().unwrap().len(), size);
}

/// A block device over a host file.
pub struct FileDevice {
    pub file: File,
    pub block_size: usize,
    pub blocks: u64,
}

impl FileDevice {
    pub fn open(path: &Path, block_size: usize) -> Self {
        let file = File::open(path).unwrap();
        let blocks = file.metadata().unwrap().len() / block_size as u64;
        FileDevice { file, block_size, blocks }
    }
}

impl BlockDevice for FileDevice {
    fn block_size(&self) -> usize {
        self.block_size
    }
    fn num_blocks(&self) -> u64 {
        self.blocks
    }
    fn read_block(&self, index: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.file.read_exact_at(buf, index * self.block_size as u64).map_err(|_| IoError::at(index, "host read failed"))
    }
}

/// Compare what the reader sees with a host tree. `skip` names top-level
/// entries only one side has (lost+found).
pub fn compare_with_host<D: BlockDevice>(fs: &Ext2<D>, root: &Path, check_times: bool) -> usize {
    let mut checked = 0;
    let mut stack = vec![(root.to_path_buf(), 2u32)];
    while let Some((dir, ino)) = stack.pop() {
        let mut host: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        host.sort();
        let mut img: Vec<String> = fs
            .readdir(ino)
            .unwrap()
            .into_iter()
            .map(|e| String::from_utf8(e.name).unwrap())
            .filter(|n| n != "." && n != ".." && !(ino == 2 && n == "lost+found"))
            .collect();
        img.sort();
        assert_eq!(host, img, "entries of {}", dir.display());
        for name in host {
            let hp = dir.join(&name);
            let md = std::fs::symlink_metadata(&hp).unwrap();
            let ci = fs.lookup_in(ino, name.as_bytes()).unwrap();
            let st = fs.stat(ci).unwrap();
            let what = hp.display().to_string();
            assert_eq!(u32::from(st.mode), md.mode(), "mode of {what}");
            assert_eq!((st.uid, st.gid), (md.uid(), md.gid()), "owner of {what}");
            if name != "lost+found" {
                assert_eq!(u64::from(st.nlink), md.nlink(), "links of {what}");
            }
            if check_times {
                assert_eq!(st.mtime.sec, md.mtime(), "mtime of {what}");
            }
            let ft = md.file_type();
            if ft.is_dir() {
                stack.push((hp, ci));
            } else if ft.is_file() {
                assert_eq!(st.size, md.len(), "size of {what}");
                let want = std::fs::read(&hp).unwrap();
                let mut got = vec![0u8; want.len()];
                assert_eq!(fs.read(ci, 0, &mut got).unwrap(), want.len());
                assert!(got == want, "contents of {what}");
            } else if ft.is_symlink() {
                let t = std::fs::read_link(&hp).unwrap();
                assert_eq!(fs.readlink(ci).unwrap(), t.as_os_str().as_encoded_bytes(), "{what}");
            } else if ft.is_char_device() || ft.is_block_device() {
                assert_eq!(st.rdev, md.rdev(), "rdev of {what}");
            }
            checked += 1;
        }
    }
    checked
}

/// Make the standard test tree. Returns false parts that could not be made.
pub fn make_tree(root: &Path) {
    use std::os::unix::fs::{symlink, PermissionsExt};
    let w = |p: &str, data: &[u8]| std::fs::write(root.join(p), data).unwrap();
    std::fs::create_dir_all(root.join("etc/deeper/still")).unwrap();
    std::fs::create_dir_all(root.join("big")).unwrap();
    w("empty", b"");
    w("hello.txt", b"hello world\n");
    w("etc/deeper/still/file", b"deep");
    let multi: Vec<u8> = (0..5_000_000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    w("multi-mb.bin", &multi);
    let indirect: Vec<u8> = (0..(13 * 4096 + 5)).map(|i| (i % 241) as u8).collect();
    w("etc/indirect", &indirect);
    // sparse: data, a 40 MiB hole, data, trailing hole
    {
        let f = File::create(root.join("sparse")).unwrap();
        f.write_all_at(b"start", 0).unwrap();
        f.write_all_at(b"middle", 40 << 20).unwrap();
        f.set_len(64 << 20).unwrap();
    }
    for i in 0..3000 {
        w(&format!("big/f{i:04}"), format!("{i}\n").as_bytes());
    }
    symlink("hello.txt", root.join("fast-link")).unwrap();
    symlink("x".repeat(59), root.join("fast59")).unwrap();
    symlink(format!("/{}/target", "d".repeat(200)), root.join("slow-link")).unwrap();
    std::fs::hard_link(root.join("hello.txt"), root.join("etc/hard1")).unwrap();
    std::fs::hard_link(root.join("hello.txt"), root.join("big/hard2")).unwrap();
    let ok = Command::new("mkfifo").arg(root.join("fifo")).status().map(|s| s.success());
    if !matches!(ok, Ok(true)) {
        eprintln!("note: mkfifo failed; no fifo in the tree");
    }
    let _ = Command::new("mknod").arg(root.join("null")).args(["c", "1", "3"]).status();
    let setp = |p: &str, m: u32| std::fs::set_permissions(root.join(p), std::fs::Permissions::from_mode(m)).unwrap();
    setp("hello.txt", 0o4755);
    setp("empty", 0o600);
    setp("etc/deeper", 0o1777);
    setp("multi-mb.bin", 0o640);
    for (p, u, g) in [("hello.txt", 1234, 5678), ("etc/deeper/still", 70_000, 80_000), ("empty", 1, 2)] {
        if std::os::unix::fs::lchown(root.join(p), Some(u), Some(g)).is_err() {
            eprintln!("note: chown not permitted; ownership stays");
        }
    }
}
