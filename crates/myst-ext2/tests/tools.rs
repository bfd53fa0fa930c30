//! The images myst writes against the real tools, and the other way round.
//! Each part is skipped, with a note, when the tool is missing.

mod common;

use common::*;
use myst_ext2::*;
use std::process::Command;

fn e2fsck_clean(img: &std::path::Path) -> bool {
    let Some(e2fsck) = tool("e2fsck") else {
        return false;
    };
    let out = run(Command::new(e2fsck).arg("-fn").arg(img));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("e2fsck -fn:\n{text}");
    assert_eq!(out.status.code(), Some(0), "e2fsck -fn failed:\n{text}");
    let lower = text.to_lowercase();
    for bad in ["fix", "clear", "?", "error", "invalid", "wrong"] {
        assert!(!lower.contains(bad), "e2fsck mentions `{bad}`:\n{text}");
    }
    true
}

fn debugfs(img: &std::path::Path, req: &str) -> Option<String> {
    let d = tool("debugfs")?;
    let out = run(Command::new(d).arg("-R").arg(req).arg(img));
    assert!(out.status.success(), "debugfs {req} failed");
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn links_of(stat: &str) -> u32 {
    let i = stat.find("Links: ").expect("Links in debugfs stat");
    stat[i + 7..].split_whitespace().next().unwrap().parse().unwrap()
}

/// Compare two host trees (rdump output against the source): contents,
/// permission bits and symlink targets. Special files are not dumped by
/// debugfs and are skipped.
fn compare_host_trees(src: &std::path::Path, out: &std::path::Path) -> usize {
    use std::os::unix::fs::MetadataExt;
    let mut n = 0;
    let mut stack = vec![std::path::PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for e in std::fs::read_dir(src.join(&rel)).unwrap() {
            let e = e.unwrap();
            let r = rel.join(e.file_name());
            let smd = std::fs::symlink_metadata(src.join(&r)).unwrap();
            let ft = smd.file_type();
            if !(ft.is_dir() || ft.is_file() || ft.is_symlink()) {
                continue;
            }
            let omd = std::fs::symlink_metadata(out.join(&r)).unwrap_or_else(|_| panic!("{} missing from rdump", r.display()));
            if ft.is_symlink() {
                assert_eq!(std::fs::read_link(src.join(&r)).unwrap(), std::fs::read_link(out.join(&r)).unwrap(), "{}", r.display());
            } else {
                // rdump drops the sticky bit of directories; the image has
                // it (checked with `debugfs stat` and the reader).
                let mask = if ft.is_dir() { !0o1000 } else { !0 };
                assert_eq!(smd.mode() & mask, omd.mode() & mask, "mode of {}", r.display());
                assert_eq!((smd.uid(), smd.gid()), (omd.uid(), omd.gid()), "owner of {}", r.display());
            }
            if ft.is_file() {
                assert!(std::fs::read(src.join(&r)).unwrap() == std::fs::read(out.join(&r)).unwrap(), "contents of {}", r.display());
            }
            if ft.is_dir() {
                stack.push(r);
            }
            n += 1;
        }
    }
    n
}

#[test]
fn builder_image_passes_e2fsck_and_matches_debugfs() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    make_tree(&src);
    for inode_size in [256u16, 128] {
        let mut b = Builder::with_options(BuildOptions {
            inode_size,
            mkfs_time: 1_600_000_000,
            uuid: Some(*b"0123456789abcdef"),
            ..Default::default()
        });
        add_tree(&mut b, &src);
        let img = tmp.path().join(format!("img{inode_size}"));
        let size = b.min_size().unwrap();
        write_image(&b, &img, size);

        // Our own reader first.
        let fs = Ext2::open(FileDevice::open(&img, 4096)).unwrap();
        assert!(compare_with_host(&fs, &src, true) > 3000);
        let fs512 = Ext2::open(FileDevice::open(&img, 512)).unwrap();
        assert!(compare_with_host(&fs512, &src, true) > 3000);
        // The sparse file's holes take no space.
        let sp = fs.stat(fs.lookup(b"/sparse").unwrap()).unwrap();
        assert!(sp.blocks <= 4 * 8, "sparse file uses {} sectors", sp.blocks);

        if !e2fsck_clean(&img) {
            continue;
        }
        let Some(stat) = debugfs(&img, "stat /hello.txt") else {
            continue;
        };
        assert_eq!(links_of(&stat), 3);
        assert!(stat.contains("User:  1234") || stat.contains("User: 1234"), "{stat}");
        let st = debugfs(&img, "stat /big").unwrap();
        assert_eq!(links_of(&st), 2);
        let st = debugfs(&img, "stat /etc").unwrap();
        assert_eq!(links_of(&st), 3);
        let st = debugfs(&img, "stat /").unwrap();
        assert_eq!(links_of(&st), 5); // . .. etc big lost+found
        if src.join("fifo").exists() {
            let st = debugfs(&img, "stat /fifo").unwrap();
            assert!(st.contains("Type: FIFO"), "{st}");
        }
        if src.join("null").exists() {
            let st = debugfs(&img, "stat /null").unwrap();
            assert!(st.contains("Type: character special"), "{st}");
            assert!(st.contains("Device major/minor number: 01:03"), "{st}");
        }
        let st = debugfs(&img, "stat /etc/deeper").unwrap();
        assert!(st.contains("Mode:  01777"), "{st}");
        let st = debugfs(&img, "stat /fast-link").unwrap();
        assert!(st.contains("Fast link dest: \"hello.txt\""), "{st}");
        let ls = debugfs(&img, "ls -l /big").unwrap();
        assert!(ls.lines().count() >= 3002);
        let out = tmp.path().join(format!("out{inode_size}"));
        std::fs::create_dir(&out).unwrap();
        debugfs(&img, &format!("rdump / {}", out.display())).unwrap();
        let n = compare_host_trees(&src, &out);
        assert!(n > 3000, "{n}");
    }
}

#[test]
fn builder_multi_group_images_pass_e2fsck() {
    let tmp = tempfile::tempdir().unwrap();
    let mut b = Builder::with_options(BuildOptions { mkfs_time: 1_600_000_000, ..Default::default() });
    b.add_dir("/d", Meta::new(0o755, 0, 0)).unwrap();
    // Enough data that it spills over into the second group.
    let data: Vec<u8> = (0..(150u32 << 20)).map(|i| (i / 4096) as u8 | 1).collect();
    b.add_file("/d/big", Meta::new(0o644, 0, 0), data.clone().into()).unwrap();
    for i in 0..100 {
        b.add_file(format!("/d/f{i}"), Meta::new(0o644, 0, 0), vec![i as u8 + 1; 5000].into()).unwrap();
    }
    let sizes = [
        b.required_size().unwrap(),
        b.min_size().unwrap(),
        (3 << 30) + 5 * 4096, // a tiny last group that must be dropped
        (10 << 30) + 123,     // many groups, size not a block multiple
    ];
    for size in sizes {
        let img = tmp.path().join(format!("img{size}"));
        write_image(&b, &img, size);
        let fs = Ext2::open(FileDevice::open(&img, 4096)).unwrap();
        let ino = fs.lookup(b"/d/big").unwrap();
        let mut got = vec![0u8; 1 << 20];
        for mb in [0u64, 127, 128, 149] {
            fs.read(ino, mb << 20, &mut got).unwrap();
            assert!(got[..] == data[(mb << 20) as usize..((mb + 1) << 20) as usize], "{mb}");
        }
        e2fsck_clean(&img);
        std::fs::remove_file(&img).unwrap();
    }
}

#[test]
fn reader_reads_mke2fs_images() {
    let Some(mke2fs) = tool("mke2fs") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    make_tree(&src);
    for (bs, extra) in [("4096", vec![]), ("4096", vec!["-I", "128"]), ("1024", vec![])] {
        let img = tmp.path().join(format!("mk{bs}{}", extra.len()));
        let out =
            run(Command::new(&mke2fs).args(["-q", "-F", "-t", "ext2", "-b", bs]).args(&extra).arg("-d").arg(&src).arg(&img).arg("128M"));
        assert!(out.status.success(), "mke2fs: {}", String::from_utf8_lossy(&out.stderr));
        for dev_bs in [512usize, 4096] {
            let fs = Ext2::open(FileDevice::open(&img, dev_bs)).unwrap();
            let n = compare_with_host(&fs, &src, true);
            assert!(n > 3000, "{n}");
        }
    }
}

/// Apply a series of changes through the overlay, fold them onto a copy of
/// the image and let e2fsck judge the result.
fn overlay_then_fsck(img: &std::path::Path) {
    let data = std::fs::read(img).unwrap();
    let mut fs = Ext2::open(MemDevice::new(&data[..])).unwrap();
    fs.set_clock(Box::new(|| Timestamp::from_secs(1_650_000_000)));
    let root = 2;
    let d = fs.mkdir(root, b"newdir", 0o755, 1, 2).unwrap();
    let sub = fs.mkdir(d, b"sub", 0o700, 0, 0).unwrap();
    let f = fs.create_file(sub, b"bigfile", 0o644, 0, 0).unwrap();
    let chunk: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    for i in 0..6u64 {
        assert_eq!(fs.write(f, i << 20, &chunk).unwrap(), chunk.len());
    }
    fs.write(f, 200 << 20, b"sparse tail").unwrap();
    fs.truncate(f, (3 << 20) + 17).unwrap();
    fs.symlink(d, b"slow", "s".repeat(300).as_bytes(), 0, 0).unwrap();
    fs.symlink(d, b"fast", b"bigfile", 0, 0).unwrap();
    fs.create(d, b"pipe", NewKind::Fifo, 0o644, 0, 0).unwrap();
    fs.link(f, d, b"hard").unwrap();
    let big = fs.lookup(b"/big").unwrap();
    for i in 0..3000 {
        if i % 3 == 0 {
            fs.unlink(big, format!("f{i:04}").as_bytes()).unwrap();
        }
    }
    for i in 0..500 {
        fs.create_file(big, format!("new-{i}").as_bytes(), 0o600, 0, 0).unwrap();
    }
    fs.rename(root, b"etc", d, b"etc-moved").unwrap();
    fs.rename(root, b"hello.txt", big, b"f0001").unwrap();
    fs.rename(big, b"hard2", root, b"hard2-moved").unwrap();
    let e = fs.mkdir(root, b"empty-dir", 0o755, 0, 0).unwrap();
    let _ = e;
    fs.rename(d, b"sub", root, b"empty-dir").unwrap();
    fs.unlink(root, b"multi-mb.bin").unwrap();
    let sp = fs.lookup(b"/sparse").unwrap();
    fs.truncate(sp, 10).unwrap();
    fs.chmod(sp, 0o600).unwrap();
    fs.chown(sp, Some(99_999), Some(5)).unwrap();
    let gone = fs.mkdir(root, b"gone", 0o755, 0, 0).unwrap();
    fs.create_file(gone, b"x", 0o644, 0, 0).unwrap();
    fs.unlink(gone, b"x").unwrap();
    fs.rmdir(root, b"gone").unwrap();

    let mut copy = data.clone();
    fs.export_changes(&mut |off, blk| {
        copy[off as usize..off as usize + blk.len()].copy_from_slice(blk);
        Ok(())
    })
    .unwrap();
    let out = img.with_extension("changed");
    std::fs::write(&out, &copy).unwrap();
    // The changed image reads back the same through a fresh reader.
    let fs2 = Ext2::open(MemDevice::new(&copy[..])).unwrap();
    let f2 = fs2.lookup(b"/empty-dir/bigfile").unwrap();
    assert_eq!(fs2.stat(f2).unwrap().size, (3 << 20) + 17);
    assert_eq!(fs2.stat(f2).unwrap().nlink, 2);
    let mut buf = vec![0u8; 4096];
    fs2.read(f2, (2 << 20) + 100, &mut buf).unwrap();
    assert_eq!(&buf[..], &chunk[100..4196]);
    assert_eq!(fs2.readlink(fs2.lookup(b"/newdir/slow").unwrap()).unwrap(), "s".repeat(300).as_bytes());
    assert!(fs2.lookup(b"/newdir/etc-moved/deeper/still/file").is_ok());
    assert_eq!(fs2.lookup(b"/hello.txt").unwrap_err(), Ext2Error::NotFound);
    // And the original image is untouched.
    assert!(std::fs::read(img).unwrap() == data);
    e2fsck_clean(&out);
}

#[test]
fn overlay_changes_pass_e2fsck() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    make_tree(&src);
    // On an image from the builder...
    let mut b = Builder::with_options(BuildOptions { mkfs_time: 1_600_000_000, ..Default::default() });
    add_tree(&mut b, &src);
    let img = tmp.path().join("built");
    write_image(&b, &img, b.min_size().unwrap() + (64 << 20));
    overlay_then_fsck(&img);
    // ... and on one from mke2fs.
    if let Some(mke2fs) = tool("mke2fs") {
        for bs in ["4096", "1024"] {
            let img = tmp.path().join(format!("mk{bs}"));
            let out = run(Command::new(&mke2fs).args(["-q", "-F", "-t", "ext2", "-b", bs, "-d"]).arg(&src).arg(&img).arg("160M"));
            assert!(out.status.success());
            overlay_then_fsck(&img);
        }
    }
}

/// A file larger than 4 GiB (slow: run with `--ignored`).
#[test]
#[ignore]
fn huge_file_over_4gib() {
    struct Gen(u64);
    impl FileSource for Gen {
        fn len(&self) -> u64 {
            self.0
        }
        fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<(), IoError> {
            for (i, b) in buf.iter_mut().enumerate() {
                let p = off + i as u64;
                *b = (p / 4096) as u8 ^ (p as u8) | 1;
            }
            Ok(())
        }
    }
    let len = (4u64 << 30) + 12345;
    let tmp = tempfile::tempdir().unwrap();
    let mut b = Builder::with_options(BuildOptions { mkfs_time: 1_600_000_000, ..Default::default() });
    b.add_file("/huge", Meta::new(0o644, 0, 0), FileData::Source(Box::new(Gen(len)))).unwrap();
    let img = tmp.path().join("huge.img");
    write_image(&b, &img, b.min_size().unwrap());
    let fs = Ext2::open(FileDevice::open(&img, 4096)).unwrap();
    let ino = fs.lookup(b"/huge").unwrap();
    assert_eq!(fs.stat(ino).unwrap().size, len);
    let g = Gen(len);
    for off in [0u64, 4 << 30, len - 5000, (1 << 32) - 3, 12 * 4096 + 1024 * 1024 * 4096] {
        let mut got = vec![0u8; 4096];
        let mut want = vec![0u8; 4096];
        let n = fs.read(ino, off, &mut got).unwrap();
        g.read_at(off, &mut want[..n]).unwrap();
        assert_eq!(&got[..n], &want[..n], "offset {off}");
    }
    e2fsck_clean(&img);
}

/// Regenerate the fuzz seed corpus (run with `--ignored` when the format
/// code changes): small images from the builder and, when present, mke2fs.
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    std::fs::create_dir_all(&dir).unwrap();
    for (i, isz) in [(0, 128u16), (1, 256)] {
        let mut b =
            Builder::with_options(BuildOptions { inode_size: isz, uuid: Some([9; 16]), bytes_per_inode: 1 << 20, ..Default::default() });
        b.add_dir("/d", Meta::new(0o755, 0, 0)).unwrap();
        b.add_file("/d/ind", Meta::new(0o644, 0, 0), vec![7u8; 13 * 4096 + 1].into()).unwrap();
        b.add_file("/d/small", Meta::new(0o644, 0, 0), b"hello".to_vec().into()).unwrap();
        b.add_symlink("/d/fast", Meta::new(0o777, 0, 0), "small").unwrap();
        b.add_symlink("/d/slow", Meta::new(0o777, 0, 0), "s".repeat(80)).unwrap();
        b.add_hardlink("/hl", "/d/small").unwrap();
        b.add_special("/p", Meta::new(0o644, 0, 0), SpecialKind::Fifo, 0).unwrap();
        let size = b.required_size().unwrap();
        let mut img = vec![0u8; size as usize];
        b.write(size, &mut |off, d| {
            img[off as usize..off as usize + d.len()].copy_from_slice(d);
            Ok(())
        })
        .unwrap();
        std::fs::write(dir.join(format!("builder-{i}.img")), &img).unwrap();
    }
    if let Some(mke2fs) = tool("mke2fs") {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("sub/f"), vec![3u8; 14 * 1024 + 3]).unwrap();
        std::fs::write(src.join("a"), b"abc").unwrap();
        std::os::unix::fs::symlink("a", src.join("l")).unwrap();
        std::os::unix::fs::symlink("x".repeat(90), src.join("long")).unwrap();
        let img = dir.join("mke2fs-1k.img");
        let out = run(Command::new(mke2fs)
            .args(["-q", "-F", "-t", "ext2", "-b", "1024", "-N", "16", "-m", "0", "-d"])
            .arg(&src)
            .arg(&img)
            .arg("64K"));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}
