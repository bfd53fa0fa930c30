//! Whole-crate tests: builder → reader round trips, the overlay, and
//! hostile input.

use crate::*;
use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use std::sync::Arc;

const T0: Timestamp = Timestamp { sec: 1_700_000_000, nsec: 123_456_789 };

fn meta(mode: u16) -> Meta {
    Meta::new(mode, 1000, 1000).with_times(T0)
}

/// Write a builder's image into memory.
fn build(b: &Builder, size: u64) -> Vec<u8> {
    let mut img = vec![0u8; size as usize];
    b.write(size, &mut |off, data| {
        let off = off as usize;
        img[off..off + data.len()].copy_from_slice(data);
        Ok(())
    })
    .unwrap();
    img
}

fn build_min(b: &Builder) -> Vec<u8> {
    build(b, b.min_size().unwrap())
}

fn open(img: &[u8]) -> Ext2<MemDevice<&[u8]>> {
    Ext2::open(MemDevice::new(img)).unwrap()
}

fn read_all<D: BlockDevice>(fs: &Ext2<D>, ino: u32) -> Vec<u8> {
    let size = fs.stat(ino).unwrap().size as usize;
    let mut v = vec![0u8; size];
    let n = fs.read(ino, 0, &mut v).unwrap();
    assert_eq!(n, size);
    v
}

fn names<D: BlockDevice>(fs: &Ext2<D>, ino: u32) -> Vec<String> {
    let mut v: Vec<String> = fs.readdir(ino).unwrap().into_iter().map(|e| String::from_utf8(e.name).unwrap()).collect();
    v.sort();
    v
}

/// A source of `len` bytes that are zero except for a few marked blocks.
struct SparseSource {
    len: u64,
    marks: Vec<u64>,
}

impl FileSource for SparseSource {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&self, off: u64, buf: &mut [u8]) -> core::result::Result<(), IoError> {
        buf.fill(0);
        for &m in &self.marks {
            let start = m * 4096;
            for i in 0..buf.len() as u64 {
                let p = off + i;
                if p >= start && p < start + 4096 {
                    buf[i as usize] = (p % 251) as u8 | 1;
                }
            }
        }
        Ok(())
    }
    fn data_ranges(&self) -> Option<Vec<(u64, u64)>> {
        Some(self.marks.iter().map(|&m| (m * 4096, (m + 1) * 4096)).collect())
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| ((i * 7 + seed as usize) % 253) as u8 ^ 0x5a).collect()
}

fn sample_tree(inode_size: u16) -> Builder {
    let mut b = Builder::with_options(BuildOptions {
        inode_size,
        uuid: Some([7; 16]),
        volume_name: b"myst-test".to_vec(),
        mkfs_time: 1_600_000_000,
        ..Default::default()
    });
    b.add_dir("/", meta(0o755)).unwrap();
    b.add_dir("/etc", meta(0o755)).unwrap();
    b.add_dir("/etc/deep", Meta::new(0o700, 70_000, 80_000).with_times(T0)).unwrap();
    b.add_file("/etc/empty", meta(0o644), FileData::Bytes(vec![])).unwrap();
    b.add_file("/etc/small", meta(0o4755), pattern(100, 1).into()).unwrap();
    b.add_file("/etc/block", meta(0o600), pattern(4096, 2).into()).unwrap();
    b.add_file("/etc/twelve", meta(0o644), pattern(12 * 4096, 3).into()).unwrap();
    b.add_file("/etc/ind", meta(0o644), pattern(13 * 4096 + 5, 4).into()).unwrap();
    b.add_file("/etc/dind", meta(0o644), pattern((12 + 1024 + 3) * 4096 + 17, 5).into()).unwrap();
    let mut sparse = pattern(40 * 4096, 6);
    sparse[4096..30 * 4096].fill(0);
    b.add_file("/etc/sparse", meta(0o644), sparse.into()).unwrap();
    // A file whose data sits in the triple-indirect range (> 4 GiB).
    let tind = 12 + 1024 + 1024 * 1024 + 5;
    b.add_file(
        "/etc/huge",
        meta(0o644),
        FileData::Source(alloc::boxed::Box::new(SparseSource { len: (tind + 2) * 4096 + 100, marks: vec![0, 20, 2000, tind, tind + 2] })),
    )
    .unwrap();
    b.add_symlink("/etc/fast", meta(0o777), "x".repeat(59)).unwrap();
    b.add_symlink("/etc/slow", meta(0o777), "y".repeat(60)).unwrap();
    b.add_symlink("/etc/longest", meta(0o777), "z".repeat(4095)).unwrap();
    b.add_hardlink("/etc/deep/small-link", "/etc/small").unwrap();
    b.add_hardlink("/small-link2", "/etc/small").unwrap();
    b.add_special("/fifo", meta(0o644), SpecialKind::Fifo, 0).unwrap();
    b.add_special("/sock", meta(0o755), SpecialKind::Socket, 0).unwrap();
    b.add_special("/null", meta(0o666), SpecialKind::CharDev, makedev(1, 3)).unwrap();
    b.add_special("/big", meta(0o660), SpecialKind::BlockDev, makedev(259, 70000)).unwrap();
    let old = Meta::new(0o644, 0, 0).with_times(Timestamp { sec: -100, nsec: 5 });
    b.add_file("/old", old, b"old".to_vec().into()).unwrap();
    let future = Meta::new(0o644, 0, 0).with_times(Timestamp { sec: 5_000_000_000, nsec: 999_999_999 });
    b.add_file("/future", future, b"future".to_vec().into()).unwrap();
    b
}

#[test]
fn roundtrip_every_kind() {
    for isz in [256u16, 128] {
        let b = sample_tree(isz);
        let img = build_min(&b);
        let fs = open(&img);
        assert_eq!(fs.uuid(), [7; 16]);
        assert_eq!(fs.volume_name(), b"myst-test");
        assert_eq!(names(&fs, 2), [".", "..", "big", "etc", "fifo", "future", "lost+found", "null", "old", "small-link2", "sock"]);
        let lf = fs.lookup(b"/lost+found").unwrap();
        assert_eq!(lf, 11);
        assert_eq!(fs.stat(lf).unwrap().size, 16384);
        assert_eq!(fs.stat(lf).unwrap().mode, S_IFDIR | 0o700);
        let root = fs.stat(2).unwrap();
        assert_eq!(root.nlink, 4); // . .. etc lost+found
        let etc = fs.lookup(b"/etc").unwrap();
        assert_eq!(fs.stat(etc).unwrap().nlink, 3);
        let deep = fs.stat(fs.lookup(b"/etc/deep").unwrap()).unwrap();
        assert_eq!((deep.uid, deep.gid, deep.mode), (70_000, 80_000, S_IFDIR | 0o700));
        for (name, len, seed) in [
            ("small", 100, 1),
            ("block", 4096, 2),
            ("twelve", 12 * 4096, 3),
            ("ind", 13 * 4096 + 5, 4),
            ("dind", (12 + 1024 + 3) * 4096 + 17, 5),
        ] {
            let ino = fs.lookup(format!("/etc/{name}").as_bytes()).unwrap();
            assert_eq!(read_all(&fs, ino), pattern(len, seed), "{name}");
        }
        let small = fs.stat(fs.lookup(b"/etc/small").unwrap()).unwrap();
        assert_eq!(small.mode, S_IFREG | 0o4755);
        assert_eq!(small.nlink, 3);
        assert_eq!((small.uid, small.gid), (1000, 1000));
        assert_eq!(small.mtime.sec, T0.sec);
        assert_eq!(small.mtime.nsec, if isz == 256 { T0.nsec } else { 0 });
        assert_eq!(fs.lookup(b"/small-link2").unwrap(), small.ino);
        assert_eq!(fs.lookup(b"/etc/deep/small-link").unwrap(), small.ino);
        let empty = fs.lookup(b"/etc/empty").unwrap();
        assert_eq!(fs.stat(empty).unwrap().size, 0);
        assert_eq!(fs.stat(empty).unwrap().blocks, 0);
        // Sparse: holes read as zero and take no space.
        let sp = fs.lookup(b"/etc/sparse").unwrap();
        let mut want = pattern(40 * 4096, 6);
        want[4096..30 * 4096].fill(0);
        assert_eq!(read_all(&fs, sp), want);
        assert_eq!(fs.stat(sp).unwrap().blocks, (11 + 1) * 8);
        // > 4 GiB file with triple indirect blocks.
        let huge = fs.lookup(b"/etc/huge").unwrap();
        let st = fs.stat(huge).unwrap();
        let tind = 12 + 1024 + 1024 * 1024 + 5u64;
        assert_eq!(st.size, (tind + 2) * 4096 + 100);
        // data: 5 blocks (the last is partial); maps: IND, DIND + 1 IND, TIND + DIND + IND
        assert_eq!(st.blocks, (5 + 1 + 2 + 3) * 8);
        let src = SparseSource { len: st.size, marks: vec![0, 20, 2000, tind, tind + 2] };
        for off in [0u64, 4000, 20 * 4096 - 3, 2000 * 4096, tind * 4096 - 10, (tind + 1) * 4096, st.size - 50] {
            let mut got = vec![0u8; 8192];
            let mut want = vec![0u8; 8192];
            let n = fs.read(huge, off, &mut got).unwrap();
            let n2 = (st.size - off).min(8192) as usize;
            assert_eq!(n, n2);
            src.read_at(off, &mut want[..n2]).unwrap();
            assert_eq!(&got[..n], &want[..n], "offset {off}");
        }
        assert_eq!(fs.read(huge, st.size, &mut [0u8; 10]).unwrap(), 0);
        assert_eq!(fs.read(huge, u64::MAX, &mut [0u8; 10]).unwrap(), 0);
        // Symlinks.
        for (name, t) in [("fast", "x".repeat(59)), ("slow", "y".repeat(60)), ("longest", "z".repeat(4095))] {
            let ino = fs.lookup(format!("/etc/{name}").as_bytes()).unwrap();
            assert_eq!(fs.readlink(ino).unwrap(), t.as_bytes());
            let st = fs.stat(ino).unwrap();
            assert_eq!(st.mode, S_IFLNK | 0o777);
            assert_eq!(st.blocks, if name == "fast" { 0 } else { 8 });
        }
        // Specials.
        let fifo = fs.stat(fs.lookup(b"/fifo").unwrap()).unwrap();
        assert_eq!(fifo.mode, S_IFIFO | 0o644);
        assert_eq!(fs.stat(fs.lookup(b"/sock").unwrap()).unwrap().mode, S_IFSOCK | 0o755);
        let null = fs.stat(fs.lookup(b"/null").unwrap()).unwrap();
        assert_eq!((null.mode, null.rdev), (S_IFCHR | 0o666, makedev(1, 3)));
        let big = fs.stat(fs.lookup(b"/big").unwrap()).unwrap();
        assert_eq!((big.mode, big.rdev), (S_IFBLK | 0o660, makedev(259, 70000)));
        // Times outside 1970..2038 need large inodes.
        let old = fs.stat(fs.lookup(b"/old").unwrap()).unwrap();
        assert_eq!(old.atime.sec, -100);
        let fut = fs.stat(fs.lookup(b"/future").unwrap()).unwrap();
        if isz == 256 {
            assert_eq!(fut.mtime, Timestamp { sec: 5_000_000_000, nsec: 999_999_999 });
        }
        // File types in directory entries.
        let ents = fs.readdir(2).unwrap();
        let ft = |n: &str| ents.iter().find(|e| e.name == n.as_bytes()).unwrap().file_type;
        assert_eq!(ft("etc"), FileType::Dir);
        assert_eq!(ft("fifo"), FileType::Fifo);
        assert_eq!(ft("null"), FileType::CharDev);
        assert_eq!(ft("big"), FileType::BlockDev);
        assert_eq!(ft("sock"), FileType::Socket);
        assert_eq!(ft("old"), FileType::Regular);
        // Errors.
        assert_eq!(fs.lookup(b"/nope").unwrap_err().errno(), error::errno::ENOENT);
        assert_eq!(fs.lookup(b"/fifo/x").unwrap_err().errno(), error::errno::ENOTDIR);
        assert_eq!(fs.read(etc, 0, &mut [0u8; 4]).unwrap_err().errno(), error::errno::EISDIR);
        assert_eq!(fs.readlink(etc).unwrap_err().errno(), error::errno::EINVAL);
        assert_eq!(fs.lookup_in(2, &[b'a'; 256]).unwrap_err().errno(), error::errno::ENAMETOOLONG);
        let sf = fs.statfs();
        assert_eq!(sf.block_size, 4096);
        assert!(sf.free_blocks > 0 && sf.free_inodes > 0);
    }
}

#[test]
fn big_directory_and_512_byte_device() {
    let mut b = Builder::new();
    b.add_dir("/many", meta(0o755)).unwrap();
    for i in 0..3000 {
        b.add_file(format!("/many/entry-with-a-longish-name-{i:05}"), meta(0o644), format!("{i}").into_bytes().into()).unwrap();
    }
    for i in 0..40 {
        b.add_dir(format!("/many/d{i}"), meta(0o755)).unwrap();
    }
    let img = build_min(&b);
    let fs = Ext2::open(MemDevice::with_block_size(&img[..], 512)).unwrap();
    let many = fs.lookup(b"/many").unwrap();
    let st = fs.stat(many).unwrap();
    assert!(st.size > 12 * 4096, "needs indirect blocks: {}", st.size);
    assert_eq!(st.nlink, 42);
    let ents = fs.readdir(many).unwrap();
    assert_eq!(ents.len(), 3042);
    for i in (0..3000).step_by(97) {
        let ino = fs.lookup(format!("/many/entry-with-a-longish-name-{i:05}").as_bytes()).unwrap();
        assert_eq!(read_all(&fs, ino), format!("{i}").into_bytes());
    }
    let uniq: BTreeSet<u32> = ents.iter().map(|e| e.ino).collect();
    assert_eq!(uniq.len(), 3042);
}

#[test]
fn too_small_is_a_clear_error() {
    let mut b = Builder::new();
    b.add_file("/f", meta(0o644), pattern(2 << 20, 1).into()).unwrap();
    let need = b.required_size().unwrap();
    assert!(b.min_size().unwrap() > need);
    let mut sink = |_: u64, _: &[u8]| Ok(());
    let e = b.write(need - 4096, &mut sink).unwrap_err();
    assert_eq!(e, Ext2Error::TooSmall { size: need - 4096, need });
    assert_eq!(format!("{e}"), format!("image size {} too small, need at least {need}", need - 4096));
    // exactly the required size works and reads back
    let img = build(&b, need);
    let fs = open(&img);
    assert_eq!(read_all(&fs, fs.lookup(b"/f").unwrap()), pattern(2 << 20, 1));
}

#[test]
fn builder_rejects_bad_paths() {
    let mut b = Builder::new();
    assert_eq!(b.add_file("/a/b", meta(0o644), vec![].into()).unwrap_err(), Ext2Error::NotFound);
    b.add_file("/a", meta(0o644), vec![].into()).unwrap();
    assert_eq!(b.add_file("/a", meta(0o644), vec![].into()).unwrap_err(), Ext2Error::Exists);
    assert_eq!(b.add_file("/a/b", meta(0o644), vec![].into()).unwrap_err(), Ext2Error::NotDir);
    assert_eq!(b.add_file("/../x", meta(0o644), vec![].into()).unwrap_err().errno(), error::errno::EINVAL);
    assert_eq!(b.add_file([b'x'; 256], meta(0o644), vec![].into()).unwrap_err(), Ext2Error::NameTooLong);
    assert_eq!(b.add_symlink("/l", meta(0o777), "q".repeat(4096)).unwrap_err(), Ext2Error::NameTooLong);
    b.add_dir("/d", meta(0o755)).unwrap();
    assert_eq!(b.add_hardlink("/d2", "/d").unwrap_err().errno(), error::errno::EPERM);
    assert_eq!(b.add_dir("/a", meta(0o755)).unwrap_err(), Ext2Error::Exists);
}

#[test]
fn progress_is_reported() {
    let mut b = Builder::new();
    b.add_file("/f", meta(0o644), pattern(9 << 20, 1).into()).unwrap();
    b.add_file("/g", meta(0o644), pattern(100, 1).into()).unwrap();
    let size = b.min_size().unwrap();
    let mut calls = Vec::new();
    let mut img = vec![0u8; size as usize];
    b.write_with_progress(
        size,
        &mut |off, data| {
            img[off as usize..off as usize + data.len()].copy_from_slice(data);
            Ok(())
        },
        &mut |d, t| calls.push((d, t)),
    )
    .unwrap();
    assert!(calls.len() >= 2);
    assert_eq!(*calls.last().unwrap(), ((9 << 20) + 100, (9 << 20) + 100));
    assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0));
}

// ----- the overlay ----------------------------------------------------------

fn overlay_image() -> Vec<u8> {
    let mut b = sample_tree(256);
    b.set_options(BuildOptions { bytes_per_inode: 2048, ..b.options().clone() });
    b.add_dir("/work", meta(0o755)).unwrap();
    b.add_dir("/work/sub", meta(0o755)).unwrap();
    b.add_file("/work/sub/file", meta(0o644), b"hello".to_vec().into()).unwrap();
    build(&b, 8 << 20)
}

fn rw(img: &[u8]) -> Ext2<MemDevice<&[u8]>> {
    let mut fs = open(img);
    fs.set_clock(alloc::boxed::Box::new(|| T0));
    fs
}

#[test]
fn overlay_write_read() {
    let img = overlay_image();
    let orig = img.clone();
    let mut fs = rw(&img);
    let before = fs.statfs();
    let f = fs.create_file(2, b"new", 0o640, 5, 6).unwrap();
    let st = fs.stat(f).unwrap();
    assert_eq!((st.mode, st.uid, st.gid, st.nlink, st.size), (S_IFREG | 0o640, 5, 6, 1, 0));
    assert_eq!(st.mtime, T0);
    let data = pattern(3 * 4096 + 77, 9);
    assert_eq!(fs.write(f, 1000, &data).unwrap(), data.len());
    let mut got = vec![0u8; data.len() + 1000 + 50];
    assert_eq!(fs.read(f, 0, &mut got).unwrap(), data.len() + 1000);
    assert!(got[..1000].iter().all(|&b| b == 0));
    assert_eq!(&got[1000..1000 + data.len()], &data[..]);
    // sparse write far out, through double indirect blocks
    fs.write(f, 5000 * 4096 + 3, b"far").unwrap();
    let mut b3 = [0u8; 3];
    fs.read(f, 5000 * 4096 + 3, &mut b3).unwrap();
    assert_eq!(&b3, b"far");
    let mut z = [1u8; 10];
    fs.read(f, 100 * 4096, &mut z).unwrap();
    assert_eq!(z, [0; 10]);
    // overwrite part of an existing image file (copy on write)
    let small = fs.lookup(b"/etc/small").unwrap();
    fs.write(small, 10, b"XYZ").unwrap();
    let mut s = pattern(100, 1);
    s[10..13].copy_from_slice(b"XYZ");
    assert_eq!(read_all(&fs, small), s);
    // the link names see it too
    assert_eq!(read_all(&fs, fs.lookup(b"/small-link2").unwrap()), s);
    // the image bytes never change
    assert!(fs.statfs().free_blocks < before.free_blocks);
    assert_eq!(fs.statfs().free_inodes, before.free_inodes - 1);
    drop(fs);
    assert!(img == orig);
    // a fresh open sees the original
    let fs2 = open(&img);
    assert_eq!(read_all(&fs2, small), pattern(100, 1));
    assert_eq!(fs2.lookup(b"/new").unwrap_err(), Ext2Error::NotFound);
}

#[test]
fn overlay_truncate() {
    let img = overlay_image();
    let mut fs = rw(&img);
    let ino = fs.lookup(b"/etc/dind").unwrap();
    let len = (12 + 1024 + 3) * 4096 + 17;
    let free0 = fs.statfs().free_blocks;
    fs.truncate(ino, 5000).unwrap();
    assert_eq!(fs.stat(ino).unwrap().size, 5000);
    assert_eq!(fs.stat(ino).unwrap().blocks, 2 * 8);
    // all data blocks but two plus the three map blocks came back
    let data_blocks = (len as u64).div_ceil(4096);
    assert_eq!(fs.statfs().free_blocks, free0 + data_blocks - 2 + 3);
    assert_eq!(read_all(&fs, ino), pattern(5000, 5));
    // growing again shows zeros past the old end, not old data
    fs.truncate(ino, 9000).unwrap();
    let mut want = pattern(5000, 5);
    want.resize(9000, 0);
    assert_eq!(read_all(&fs, ino), want);
    fs.truncate(ino, 0).unwrap();
    assert_eq!(fs.stat(ino).unwrap().blocks, 0);
    assert_eq!(fs.statfs().free_blocks, free0 + data_blocks + 3);
    // the huge triple-indirect file
    let huge = fs.lookup(b"/etc/huge").unwrap();
    fs.truncate(huge, 30 * 4096).unwrap();
    assert_eq!(fs.stat(huge).unwrap().blocks, (2 + 1) * 8);
    assert_eq!(fs.truncate(2, 0).unwrap_err(), Ext2Error::IsDir);
    assert_eq!(fs.truncate(ino, u64::MAX).unwrap_err(), Ext2Error::FileTooBig);
}

#[test]
fn overlay_namespace_ops() {
    let img = overlay_image();
    let mut fs = rw(&img);
    let work = fs.lookup(b"/work").unwrap();
    let sub = fs.lookup(b"/work/sub").unwrap();
    assert_eq!(fs.stat(work).unwrap().nlink, 3);
    // mkdir / rmdir and link counts
    let d = fs.mkdir(work, b"d", 0o755, 0, 0).unwrap();
    assert_eq!(fs.stat(work).unwrap().nlink, 4);
    assert_eq!(fs.stat(d).unwrap().nlink, 2);
    assert_eq!(names(&fs, d), [".", ".."]);
    assert_eq!(fs.lookup(b"/work/d/..").unwrap(), work);
    assert_eq!(fs.mkdir(work, b"d", 0o755, 0, 0).unwrap_err(), Ext2Error::Exists);
    fs.create_file(d, b"x", 0o644, 0, 0).unwrap();
    assert_eq!(fs.rmdir(work, b"d").unwrap_err(), Ext2Error::NotEmpty);
    assert_eq!(fs.rmdir(work, b"d").unwrap_err().errno(), 39);
    assert_eq!(fs.unlink(work, b"d").unwrap_err(), Ext2Error::IsDir);
    assert_eq!(fs.rmdir(d, b"x").unwrap_err(), Ext2Error::NotDir);
    fs.unlink(d, b"x").unwrap();
    fs.rmdir(work, b"d").unwrap();
    assert_eq!(fs.stat(work).unwrap().nlink, 3);
    assert_eq!(fs.lookup(b"/work/d").unwrap_err(), Ext2Error::NotFound);
    // rename within a directory
    fs.rename(sub, b"file", sub, b"renamed").unwrap();
    assert_eq!(names(&fs, sub), [".", "..", "renamed"]);
    // rename across directories, replacing an existing file
    let victim = fs.create_file(work, b"victim", 0o644, 0, 0).unwrap();
    fs.write(victim, 0, &pattern(50_000, 1)).unwrap();
    let free = fs.statfs().free_blocks;
    fs.rename(sub, b"renamed", work, b"victim").unwrap();
    assert_eq!(read_all(&fs, fs.lookup(b"/work/victim").unwrap()), b"hello");
    assert_eq!(fs.statfs().free_blocks, free + 13 + 1);
    assert_eq!(names(&fs, sub), [".", ".."]);
    // rename a directory to another parent: link counts and ..
    let a = fs.mkdir(2, b"a", 0o755, 0, 0).unwrap();
    let root_links = fs.stat(2).unwrap().nlink;
    fs.rename(work, b"sub", a, b"moved").unwrap();
    assert_eq!(fs.lookup(b"/a/moved/..").unwrap(), a);
    assert_eq!(fs.stat(a).unwrap().nlink, 3);
    assert_eq!(fs.stat(work).unwrap().nlink, 2);
    // onto an empty directory: replaced
    let e = fs.mkdir(2, b"empty", 0o755, 0, 0).unwrap();
    assert_eq!(fs.stat(2).unwrap().nlink, root_links + 1);
    fs.rename(a, b"moved", 2, b"empty").unwrap();
    assert_eq!(fs.stat(2).unwrap().nlink, root_links + 1);
    assert_eq!(fs.stat(a).unwrap().nlink, 2);
    assert_ne!(fs.lookup(b"/empty").unwrap(), e);
    // onto a non-empty directory / a file / into itself
    let moved = fs.lookup(b"/empty").unwrap();
    fs.mkdir(moved, b"inner", 0o755, 0, 0).unwrap();
    assert_eq!(fs.rename(2, b"a", 2, b"empty").unwrap_err(), Ext2Error::NotEmpty);
    assert_eq!(fs.rename(2, b"a", 2, b"fifo").unwrap_err(), Ext2Error::NotDir);
    assert_eq!(fs.rename(2, b"fifo", 2, b"a").unwrap_err(), Ext2Error::IsDir);
    let inner = fs.lookup(b"/empty/inner").unwrap();
    assert_eq!(fs.rename(2, b"empty", inner, b"x").unwrap_err().errno(), error::errno::EINVAL);
    assert_eq!(fs.rename(2, b"nope", 2, b"x").unwrap_err(), Ext2Error::NotFound);
    // rename onto a hard link of itself is a no-op
    fs.rename(2, b"small-link2", fs.lookup(b"/etc").unwrap(), b"small").unwrap();
    assert!(fs.lookup(b"/small-link2").is_ok());
    // hard links
    let f = fs.lookup(b"/work/victim").unwrap();
    fs.link(f, 2, b"hl").unwrap();
    assert_eq!(fs.stat(f).unwrap().nlink, 2);
    assert_eq!(fs.link(work, 2, b"dl").unwrap_err().errno(), error::errno::EPERM);
    assert_eq!(fs.link(f, 2, b"hl").unwrap_err(), Ext2Error::Exists);
    fs.unlink(work, b"victim").unwrap();
    assert_eq!(read_all(&fs, fs.lookup(b"/hl").unwrap()), b"hello");
    // symlinks and specials
    let s1 = fs.symlink(2, b"s1", b"short", 0, 0).unwrap();
    let long = "L".repeat(300);
    let s2 = fs.symlink(2, b"s2", long.as_bytes(), 0, 0).unwrap();
    assert_eq!(fs.readlink(s1).unwrap(), b"short");
    assert_eq!(fs.readlink(s2).unwrap(), long.as_bytes());
    let cd = fs.create(2, b"cd", NewKind::CharDev(makedev(10, 300)), 0o600, 0, 0).unwrap();
    assert_eq!(fs.stat(cd).unwrap().rdev, makedev(10, 300));
    let p = fs.create(2, b"pipe", NewKind::Fifo, 0o600, 0, 0).unwrap();
    assert_eq!(fs.stat(p).unwrap().mode, S_IFIFO | 0o600);
    fs.unlink(2, b"s2").unwrap();
    fs.unlink(2, b"s1").unwrap();
    // chmod, chown, times
    fs.chmod(f, 0o4711).unwrap();
    fs.chown(f, Some(77_777), None).unwrap();
    let t = Timestamp { sec: 42, nsec: 7 };
    fs.set_times(f, Some(t), None).unwrap();
    let st = fs.stat(f).unwrap();
    assert_eq!((st.mode, st.uid, st.gid, st.atime), (S_IFREG | 0o4711, 77_777, 1000, t));
    // name checks
    assert_eq!(fs.create_file(2, &[b'n'; 256], 0o644, 0, 0).unwrap_err().errno(), error::errno::ENAMETOOLONG);
    assert_eq!(fs.create_file(2, b"a/b", 0o644, 0, 0).unwrap_err().errno(), error::errno::EINVAL);
    assert_eq!(fs.create_file(2, b".", 0o644, 0, 0).unwrap_err(), Ext2Error::Exists);
    assert_eq!(fs.create_file(f, b"x", 0o644, 0, 0).unwrap_err(), Ext2Error::NotDir);
}

#[test]
fn overlay_many_entries_and_reuse() {
    let img = overlay_image();
    let mut fs = rw(&img);
    let d = fs.mkdir(2, b"many", 0o755, 0, 0).unwrap();
    for i in 0..2000 {
        fs.create_file(d, format!("f{i}").as_bytes(), 0o644, 0, 0).unwrap();
    }
    assert_eq!(fs.readdir(d).unwrap().len(), 2002);
    let size = fs.stat(d).unwrap().size;
    for i in (0..2000).step_by(2) {
        fs.unlink(d, format!("f{i}").as_bytes()).unwrap();
    }
    for i in 0..1000 {
        fs.create_file(d, format!("g{i}").as_bytes(), 0o644, 0, 0).unwrap();
    }
    // freed slots are reused: the directory did not grow
    assert_eq!(fs.stat(d).unwrap().size, size);
    assert_eq!(fs.lookup(b"/many/f1").unwrap(), fs.readdir(d).unwrap().iter().find(|e| e.name == b"f1").unwrap().ino);
    for i in 0..1000 {
        fs.unlink(d, format!("g{i}").as_bytes()).unwrap();
        fs.unlink(d, format!("f{}", 2 * i + 1).as_bytes()).unwrap();
    }
    fs.rmdir(2, b"many").unwrap();
}

#[test]
fn overlay_unlink_while_open_and_enospc() {
    let img = overlay_image();
    let mut fs = rw(&img);
    let free_b = fs.statfs().free_blocks;
    let free_i = fs.statfs().free_inodes;
    let f = fs.create_file(2, b"bigfile", 0o644, 0, 0).unwrap();
    fs.acquire(f).unwrap();
    // Fill the file system.
    let chunk = vec![0xabu8; 1 << 20];
    let mut off = 0u64;
    loop {
        match fs.write(f, off, &chunk) {
            Ok(n) if n == chunk.len() => off += n as u64,
            Ok(n) => {
                off += n as u64;
                break;
            }
            Err(e) => {
                assert_eq!(e.errno(), error::errno::ENOSPC);
                break;
            }
        }
    }
    assert_eq!(fs.write(f, off, &chunk).unwrap_err(), Ext2Error::NoSpace);
    assert_eq!(fs.statfs().free_blocks, 0);
    assert_eq!(fs.stat(f).unwrap().size, off);
    assert!(off > 1 << 20, "{off}");
    assert_eq!(fs.mkdir(2, b"nospace", 0o755, 0, 0).unwrap_err(), Ext2Error::NoSpace);
    fs.unlink(2, b"bigfile").unwrap();
    // still open: data readable, space not back yet
    let mut b = [0u8; 4];
    fs.read(f, 100, &mut b).unwrap();
    assert_eq!(b, [0xab; 4]);
    assert_eq!(fs.statfs().free_blocks, 0);
    fs.release(f).unwrap();
    assert_eq!(fs.statfs().free_blocks, free_b);
    assert_eq!(fs.statfs().free_inodes, free_i);
    // the overlay holds no copies of freed data
    assert!(fs.dirty_blocks() < 64, "{}", fs.dirty_blocks());
}

#[test]
fn read_only_features_refuse_writes() {
    let img = overlay_image();
    let mut img2 = img.clone();
    // set an unknown read-only feature bit
    img2[1024 + 100 + 3] |= 0x40;
    let mut fs = open(&img2);
    assert!(!fs.is_writable());
    assert_eq!(fs.create_file(2, b"x", 0o644, 0, 0).unwrap_err().errno(), error::errno::EROFS);
    assert!(fs.lookup(b"/etc/small").is_ok());
    // unsupported incompatible features are named
    let mut img3 = img.clone();
    img3[1024 + 96] |= 0x40;
    assert_eq!(Ext2::open(MemDevice::new(&img3[..])).unwrap_err(), Ext2Error::UnsupportedFeature("extent"));
    let msg = format!("{}", Ext2::open(MemDevice::new(&img3[..])).unwrap_err());
    assert!(msg.contains("extent"), "{msg}");
    let mut img4 = img.clone();
    img4[1024 + 96] |= 0x80;
    assert_eq!(Ext2::open(MemDevice::new(&img4[..])).unwrap_err(), Ext2Error::UnsupportedFeature("64bit"));
}

// ----- hostile input --------------------------------------------------------

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Walk everything reachable, reading every file (bounded), like the fuzzer.
pub(crate) fn walk<D: BlockDevice>(fs: &Ext2<D>) -> usize {
    let mut seen = BTreeSet::new();
    let mut stack = vec![2u32];
    let mut work = 0usize;
    let mut buf = vec![0u8; 65536];
    while let Some(d) = stack.pop() {
        if !seen.insert(d) || seen.len() > 10_000 {
            continue;
        }
        let Ok(ents) = fs.readdir(d) else { continue };
        for e in ents {
            work += 1;
            if e.name == b"." || e.name == b".." {
                continue;
            }
            let _ = fs.lookup_in(d, &e.name);
            let Ok(st) = fs.stat(e.ino) else { continue };
            match st.file_type() {
                FileType::Dir => stack.push(e.ino),
                FileType::Symlink => {
                    let _ = fs.readlink(e.ino);
                }
                FileType::Regular => {
                    let mut off = 0u64;
                    while off < st.size.min(1 << 22) {
                        match fs.read(e.ino, off, &mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => off += n as u64,
                        }
                    }
                }
                _ => {}
            }
        }
    }
    work
}

/// Try some changes on a possibly broken image; none may panic.
fn mutate<D: BlockDevice>(fs: &mut Ext2<D>) {
    let _ = fs.mkdir(2, b"m", 0o755, 0, 0);
    if let Ok(f) = fs.create_file(2, b"f", 0o644, 0, 0) {
        let _ = fs.write(f, 5000, &[1u8; 9000]);
        let _ = fs.truncate(f, 100);
    }
    if let Ok(ents) = fs.readdir(2) {
        for e in ents.iter().take(8) {
            if e.name == b"." || e.name == b".." {
                continue;
            }
            let _ = fs.write(e.ino, 0, b"abc");
            let _ = fs.truncate(e.ino, 1);
            let _ = fs.rename(2, &e.name, 2, b"renamed");
            let _ = fs.rename(2, b"renamed", 2, &e.name);
            let _ = fs.link(e.ino, 2, b"hl");
            let _ = fs.unlink(2, &e.name);
            let _ = fs.rmdir(2, &e.name);
        }
    }
    let _ = fs.rmdir(2, b"m");
    let mut sink = |_: u64, _: &[u8]| Ok(());
    let _ = fs.export_changes(&mut sink);
}

fn check_hostile(img: &[u8]) {
    for dbs in [4096usize, 512] {
        if let Ok(mut fs) = Ext2::open(MemDevice::with_block_size(img, dbs)) {
            walk(&fs);
            mutate(&mut fs);
            walk(&fs);
        }
    }
}

fn small_image() -> Vec<u8> {
    let mut b = Builder::with_options(BuildOptions { uuid: Some([1; 16]), ..Default::default() });
    b.add_dir("/d", meta(0o755)).unwrap();
    b.add_file("/d/a", meta(0o644), pattern(13 * 4096 + 1, 1).into()).unwrap();
    b.add_file("/d/b", meta(0o644), pattern(10, 1).into()).unwrap();
    b.add_symlink("/d/s", meta(0o777), "t".repeat(100)).unwrap();
    b.add_symlink("/d/f", meta(0o777), "t").unwrap();
    for i in 0..200 {
        b.add_file(format!("/d/n{i}"), meta(0o644), vec![].into()).unwrap();
    }
    b.add_special("/c", meta(0o644), SpecialKind::CharDev, makedev(1, 1)).unwrap();
    build(&b, 600 * 4096)
}

#[test]
fn hostile_random_flips() {
    let base = small_image();
    let fs = open(&base);
    assert!(walk(&fs) > 200);
    // regions: superblock, descriptors, bitmaps, inode table, data
    let itable_start = 4 * 4096;
    let regions: [(usize, usize); 5] = [
        (1024, 1024 + 264),
        (4096, 4096 + 32),
        (2 * 4096, 4 * 4096),
        (itable_start, itable_start + 40 * 256),
        (itable_start + 512 * 4096 / 16, base.len()),
    ];
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for round in 0..600 {
        let mut img = base.clone();
        let (a, b) = regions[round % regions.len()];
        let flips = 1 + rng.below(8);
        for _ in 0..flips {
            let pos = a + rng.below((b - a) as u64) as usize;
            img[pos] ^= 1 << rng.below(8);
            if rng.below(4) == 0 {
                img[pos] = rng.next() as u8;
            }
        }
        check_hostile(&img);
    }
}

#[test]
fn hostile_metadata_is_targeted() {
    let base = small_image();
    let fs = open(&base);
    let a = fs.lookup(b"/d/a").unwrap();
    let d = fs.lookup(b"/d").unwrap();
    drop(fs);
    let inode_off = |ino: u32| 4 * 4096 + (ino as usize - 1) * 256;
    // every i_block pointer of a file and a directory set to interesting values
    for ino in [a, d, 2] {
        for slot in 0..15 {
            for v in [1u32, 2, 3, 4, 599, 600, u32::MAX, 0x8000_0000] {
                let mut img = base.clone();
                let o = inode_off(ino) + 40 + slot * 4;
                img[o..o + 4].copy_from_slice(&v.to_le_bytes());
                check_hostile(&img);
            }
        }
        // sizes, modes, link counts, flags
        for (field, width) in [(4usize, 4usize), (108, 4), (0, 2), (26, 2), (32, 4), (28, 4)] {
            for v in [0u32, 1, 59, 60, 4095, 4096, 0x7fff_ffff, u32::MAX] {
                let mut img = base.clone();
                let o = inode_off(ino) + field;
                img[o..o + width].copy_from_slice(&v.to_le_bytes()[..width]);
                check_hostile(&img);
            }
        }
    }
    // indirect block of /d/a pointing at itself (a loop) and at the inode table
    let fs = open(&base);
    let ind_ptr = {
        let o = inode_off(a) + 40 + 12 * 4;
        u32::from_le_bytes(base[o..o + 4].try_into().unwrap())
    };
    drop(fs);
    for v in [ind_ptr, 4, 2] {
        let mut img = base.clone();
        let o = ind_ptr as usize * 4096;
        for i in 0..1024 {
            img[o + i * 4..o + i * 4 + 4].copy_from_slice(&v.to_le_bytes());
        }
        // and make the double indirect slot point there too
        let s = inode_off(a) + 40 + 13 * 4;
        img[s..s + 4].copy_from_slice(&ind_ptr.to_le_bytes());
        let s = inode_off(a) + 40 + 14 * 4;
        img[s..s + 4].copy_from_slice(&ind_ptr.to_le_bytes());
        check_hostile(&img);
        let mut fs = Ext2::open(MemDevice::new(&img[..])).unwrap();
        let _ = fs.truncate(a, 0);
        let _ = fs.unlink(d, b"a");
    }
    // directory entry pointing at its own parent (a loop of directories)
    let mut img = base.clone();
    let fs = open(&img);
    let dblk = {
        let o = inode_off(d) + 40;
        u32::from_le_bytes(img[o..o + 4].try_into().unwrap()) as usize
    };
    drop(fs);
    // turn entry "b" (an early file) into a directory entry naming the root
    let blk = &mut img[dblk * 4096..(dblk + 1) * 4096];
    let mut off = 0;
    while off < 4096 {
        let rec = u16::from_le_bytes([blk[off + 4], blk[off + 5]]) as usize;
        if &blk[off + 8..off + 9] == b"b" && blk[off + 6] == 1 {
            blk[off..off + 4].copy_from_slice(&2u32.to_le_bytes());
            blk[off + 7] = 2;
        }
        off += rec;
    }
    check_hostile(&img);
    let mut fs = Ext2::open(MemDevice::new(&img[..])).unwrap();
    // moving the root below itself is refused
    assert!(fs.rename(2, b"d", d, b"x").is_err() || fs.lookup(b"/d").is_err());
}

#[test]
fn truncated_images() {
    let base = small_image();
    let need = base.len() as u64;
    let mut lens: Vec<usize> = vec![0, 1, 512, 1023, 1024, 1100, 2047, 2048, 4095, 4096, 8191, 8192];
    let mut l = 9000;
    while l < base.len() {
        lens.push(l);
        l = l * 5 / 4;
    }
    lens.push(base.len() - 1);
    lens.push(base.len() - 4096);
    for len in lens {
        let r = Ext2::open(MemDevice::new(&base[..len]));
        let r512 = Ext2::open(MemDevice::with_block_size(&base[..len], 512));
        match (r, r512) {
            (Err(Ext2Error::Truncated { need: n, have }), Err(Ext2Error::Truncated { .. })) => {
                assert!(have < n, "{len}");
                if len >= 4096 {
                    assert_eq!(n, need, "{len}");
                }
            }
            (Err(Ext2Error::BadMagic), Err(Ext2Error::BadMagic)) => panic!("len {len} gave bad magic"),
            (a, b) => panic!("len {len}: {a:?} {b:?}"),
        }
    }
    assert!(Ext2::open(MemDevice::new(&base[..])).is_ok());
    // garbage and zeros
    assert_eq!(Ext2::open(MemDevice::new(&vec![0u8; 8192][..])).unwrap_err(), Ext2Error::BadMagic);
}

#[test]
fn errno_values() {
    use error::errno::*;
    let cases = [
        (Ext2Error::NotFound, ENOENT),
        (Ext2Error::Exists, EEXIST),
        (Ext2Error::NotDir, ENOTDIR),
        (Ext2Error::IsDir, EISDIR),
        (Ext2Error::NotEmpty, ENOTEMPTY),
        (Ext2Error::NoSpace, ENOSPC),
        (Ext2Error::Io(IoError::new("x")), EIO),
        (Ext2Error::Corrupt("x"), EIO),
        (Ext2Error::Invalid("x"), EINVAL),
        (Ext2Error::NameTooLong, ENAMETOOLONG),
        (Ext2Error::CrossDevice, EXDEV),
        (Ext2Error::ReadOnly, EROFS),
        (Ext2Error::TooManyLinks, EMLINK),
        (Ext2Error::FileTooBig, EFBIG),
    ];
    for (e, n) in cases {
        assert_eq!(e.errno(), n, "{e:?}");
    }
    assert_eq!(
        (ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY, ENOSPC, EIO, EINVAL, ENAMETOOLONG, EXDEV),
        (2, 17, 20, 21, 39, 28, 5, 22, 36, 18)
    );
}

#[test]
fn shared_device_types() {
    let img: Arc<[u8]> = small_image().into();
    let dev = Arc::new(MemDevice::new(img.clone()));
    let fs = Ext2::open(dev.clone()).unwrap();
    assert!(walk(&fs) > 0);
    let boxed: alloc::boxed::Box<dyn BlockDevice> = alloc::boxed::Box::new(MemDevice::new(img));
    let fs2 = Ext2::open(boxed).unwrap();
    assert!(walk(&fs2) > 0);
}

/// Every fuzz seed and every input the fuzzer ever crashed on (kept in
/// `fuzz/regressions/`) goes through the reader and the overlay.
#[test]
fn fuzz_inputs_regressions() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut n = 0;
    for sub in ["seeds", "regressions"] {
        let Ok(rd) = std::fs::read_dir(root.join(sub)) else {
            continue;
        };
        for e in rd {
            let data = std::fs::read(e.unwrap().path()).unwrap();
            check_hostile(&data);
            n += 1;
        }
    }
    assert!(n >= 2, "fuzz seeds missing");
}
