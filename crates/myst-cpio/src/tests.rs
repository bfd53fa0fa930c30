use super::*;

/// Tiny deterministic PRNG (xorshift64*), so the tests need no dependency.
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

/// Builds one raw entry by hand: `fields` are the 13 header fields in order, `namesize` is
/// taken from `fields[11]` as given (so tests can lie about it).
fn raw_entry(magic: &[u8; 6], fields: [u32; 13], name: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(magic);
    for f in fields {
        out.extend_from_slice(std::format!("{f:08X}").as_bytes());
    }
    out.extend_from_slice(name);
    while out.len() % 4 != 0 {
        out.push(0);
    }
    out.extend_from_slice(data);
    while out.len() % 4 != 0 {
        out.push(0);
    }
    out
}

fn fields(ino: u32, mode: u32, nlink: u32, filesize: u32, namesize: u32) -> [u32; 13] {
    [ino, mode, 0, 0, nlink, 0, filesize, 0, 0, 0, 0, namesize, 0]
}

fn trailer() -> Vec<u8> {
    raw_entry(MAGIC_NEWC, fields(0, 0, 1, 0, 11), b"TRAILER!!!\0", b"")
}

fn sample_archive() -> Vec<u8> {
    let mut w = Writer::new();
    w.add_dir(".", 0o755, 0, 0, 1_700_000_000).unwrap();
    w.add_dir("bin", 0o755, 0, 0, 1).unwrap();
    w.add_file("bin/hello", 0o755, 1000, 100, 2, b"#!/bin/sh\necho hi\n").unwrap();
    w.add_symlink("bin/sh", "busybox", 0, 0, 3).unwrap();
    w.add_special("dev/null", S_IFCHR | 0o666, 0, 0, 4, (1, 3)).unwrap();
    w.add_special("dev/sda", S_IFBLK | 0o660, 0, 6, 5, (8, 0)).unwrap();
    w.add_special("run/fifo", S_IFIFO | 0o600, 0, 0, 6, (0, 0)).unwrap();
    w.add_file("empty", 0o600, 0, 0, 7, b"").unwrap();
    w.finish()
}

#[test]
fn round_trip_every_entry_type() {
    let archive = sample_archive();
    assert_eq!(archive.len() % 4, 0);
    let e = parse(&archive).unwrap();
    assert_eq!(e.len(), 8);

    assert_eq!(e[0].name, b".");
    assert_eq!(e[0].file_type(), FileType::Directory);
    assert_eq!(e[0].mode, S_IFDIR | 0o755);
    assert_eq!(e[0].mtime, 1_700_000_000);
    assert_eq!(e[0].nlink, 2);
    assert_eq!(e[0].ino, 1);

    assert_eq!(e[1].name_str(), Some("bin"));
    assert!(e[1].is_dir());

    assert_eq!(e[2].name, b"bin/hello");
    assert!(e[2].is_file());
    assert_eq!(e[2].permissions(), 0o755);
    assert_eq!((e[2].uid, e[2].gid, e[2].mtime), (1000, 100, 2));
    assert_eq!(e[2].data, b"#!/bin/sh\necho hi\n");
    assert_eq!(e[2].nlink, 1);

    assert_eq!(e[3].name, b"bin/sh");
    assert!(e[3].is_symlink());
    assert_eq!(e[3].mode, S_IFLNK | 0o777);
    assert_eq!(e[3].link_target(), Some(&b"busybox"[..]));
    assert_eq!(e[2].link_target(), None);

    assert_eq!(e[4].file_type(), FileType::CharDevice);
    assert_eq!((e[4].rdevmajor, e[4].rdevminor), (1, 3));
    assert_eq!(e[4].permissions(), 0o666);
    assert_eq!(e[5].file_type(), FileType::BlockDevice);
    assert_eq!((e[5].rdevmajor, e[5].rdevminor, e[5].gid), (8, 0, 6));
    assert_eq!(e[6].file_type(), FileType::Fifo);
    assert_eq!(e[7].name, b"empty");
    assert!(e[7].data.is_empty());

    // Sequential inode numbers, no hard links, headers aligned.
    for (i, entry) in e.iter().enumerate() {
        assert_eq!(entry.ino, i as u32 + 1);
        assert_eq!(entry.hardlink_of, None);
        assert_eq!(entry.offset % 4, 0);
        assert_eq!(entry.devmajor, 0);
    }
}

#[test]
fn socket_and_unknown_types() {
    let mut w = Writer::new();
    w.add_special("s", S_IFSOCK | 0o755, 0, 0, 0, (0, 0)).unwrap();
    let a = w.finish();
    let e = parse(&a).unwrap();
    assert_eq!(e[0].file_type(), FileType::Socket);
    assert_eq!(FileType::from_mode(0o170_644), FileType::Unknown(0o170_000));
    assert_eq!(FileType::from_mode(0o644), FileType::Unknown(0));
}

#[test]
fn empty_archive_and_empty_dirs() {
    let a = Writer::new().finish();
    assert_eq!(a, trailer());
    assert!(parse(&a).unwrap().is_empty());

    let mut w = Writer::new();
    for d in ["a", "a/b", "a/b/c", "d"] {
        w.add_dir(d, 0o700, 0, 0, 0).unwrap();
    }
    let a = w.finish();
    let e = parse(&a).unwrap();
    let names: Vec<_> = e.iter().map(|e| e.name_str().unwrap()).collect();
    assert_eq!(names, ["a", "a/b", "a/b/c", "d"]);
    assert!(e.iter().all(|e| e.is_dir() && e.data.is_empty()));
}

#[test]
fn large_file() {
    let mut rng = Rng(42);
    let data: Vec<u8> = (0..3 * 1024 * 1024 + 3).map(|_| rng.next() as u8).collect();
    let mut w = Writer::new();
    w.add_file("big", 0o644, 0, 0, 0, &data).unwrap();
    w.add_file("after", 0o644, 0, 0, 0, b"x").unwrap();
    let a = w.finish();
    let e = parse(&a).unwrap();
    assert_eq!(e[0].data, &data[..]);
    assert_eq!(e[1].data, b"x");
}

#[test]
fn streaming_writer_matches_in_memory_writer() {
    let data: Vec<u8> = (0..100_001u32).map(|i| (i * 7) as u8).collect();
    let mut w = Writer::new();
    w.add_dir("d", 0o755, 0, 0, 9).unwrap();
    w.add_file("d/f", 0o644, 1, 2, 3, &data).unwrap();
    w.add_file("d/g", 0o644, 1, 2, 3, b"").unwrap();
    w.add_symlink("d/l", "f", 0, 0, 0).unwrap();
    let expected = w.finish();

    let mut out = Vec::new();
    let mut s = StreamWriter::new(FnSink(|b: &[u8]| out.extend_from_slice(b)));
    s.add_dir("d", 0o755, 0, 0, 9).unwrap();
    s.begin_file("d/f", 0o644, 1, 2, 3, data.len() as u64).unwrap();
    for chunk in data.chunks(4093) {
        s.write_data(chunk).unwrap();
    }
    s.begin_file("d/g", 0o644, 1, 2, 3, 0).unwrap();
    s.write_data(b"").unwrap();
    s.add_symlink("d/l", "f", 0, 0, 0).unwrap();
    let pos = s.position();
    s.finish().unwrap();
    assert_eq!(out, expected);
    assert!(pos < expected.len() as u64);
}

#[test]
fn streaming_writer_size_checks() {
    let mut s = StreamWriter::new(Vec::new());
    s.begin_file("f", 0o644, 0, 0, 0, 4).unwrap();
    s.write_data(b"ab").unwrap();
    assert!(matches!(s.add_dir("d", 0o755, 0, 0, 0), Err(WriteError::Cpio(CpioError::DataSizeMismatch { expected: 4, written: 2 }))));
    assert!(matches!(s.write_data(b"abc"), Err(WriteError::Cpio(CpioError::DataSizeMismatch { .. }))));
    s.write_data(b"cd").unwrap();
    assert!(matches!(s.write_data(b"e"), Err(WriteError::Cpio(CpioError::DataSizeMismatch { .. }))));
    let out = s.finish().unwrap();
    assert_eq!(parse(&out).unwrap()[0].data, b"abcd");

    let mut s = StreamWriter::new(Vec::new());
    s.begin_file("f", 0o644, 0, 0, 0, 4).unwrap();
    assert!(matches!(s.finish(), Err(WriteError::Cpio(CpioError::DataSizeMismatch { .. }))));
    let mut s = StreamWriter::new(Vec::new());
    assert!(matches!(s.begin_file("f", 0o644, 0, 0, 0, 1 << 32), Err(WriteError::Cpio(CpioError::FileTooLarge { .. }))));
}

struct FailingSink(usize);

impl Sink for FailingSink {
    type Error = &'static str;
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), &'static str> {
        if bytes.len() > self.0 {
            return Err("disk full");
        }
        self.0 -= bytes.len();
        Ok(())
    }
}

#[test]
fn sink_errors_are_reported() {
    let mut s = StreamWriter::new(FailingSink(200));
    s.add_dir("d", 0o755, 0, 0, 0).unwrap();
    let err = s.add_file("f", 0o644, 0, 0, 0, &[1; 100]).unwrap_err();
    assert_eq!(err, WriteError::Sink("disk full"));
    assert!(err.to_string().contains("disk full"));
}

#[test]
fn names_are_normalized() {
    assert_eq!(normalize_name(b"./a/b"), b"a/b");
    assert_eq!(normalize_name(b"/a/b/"), b"a/b");
    assert_eq!(normalize_name(b"././//a"), b"a");
    assert_eq!(normalize_name(b"."), b".");
    assert_eq!(normalize_name(b"./"), b".");
    assert_eq!(normalize_name(b"/"), b".");
    assert_eq!(normalize_name(b"a/./b"), b"a/./b");
    assert_eq!(normalize_name(b"..a"), b"..a");

    let mut a = Vec::new();
    for name in [&b"./\0"[..], b".\0", b"./x\0", b"/y/\0"] {
        a.extend(raw_entry(MAGIC_NEWC, fields(1, S_IFDIR | 0o755, 2, 0, name.len() as u32), name, b""));
    }
    a.extend(trailer());
    let names: Vec<_> = parse(&a).unwrap().iter().map(|e| e.name).collect();
    assert_eq!(names, [&b"."[..], b".", b"x", b"y"]);

    let mut w = Writer::new();
    w.add_dir("/abs/dir/", 0o755, 0, 0, 0).unwrap();
    w.add_dir("", 0o755, 0, 0, 0).unwrap();
    let a = w.finish();
    let e = parse(&a).unwrap();
    assert_eq!(e[0].name, b"abs/dir");
    assert_eq!(e[1].name, b".");
}

#[test]
fn names_at_the_length_limit() {
    let long = vec![b'n'; MAX_NAME_LEN];
    let mut w = Writer::new();
    w.add_file(&long, 0o644, 0, 0, 0, b"data").unwrap();
    let a = w.finish();
    let e = parse(&a).unwrap();
    assert_eq!(e[0].name, &long[..]);
    assert_eq!(e[0].data, b"data");

    let too_long = vec![b'n'; MAX_NAME_LEN + 1];
    let mut w = Writer::new();
    assert_eq!(w.add_file(&too_long, 0o644, 0, 0, 0, b""), Err(CpioError::EntryNameTooLong { len: MAX_NAME_LEN + 1 }));

    let mut name = too_long.clone();
    name.push(0);
    let mut a = raw_entry(MAGIC_NEWC, fields(1, S_IFREG, 1, 0, name.len() as u32), &name, b"");
    a.extend(trailer());
    assert_eq!(parse(&a), Err(CpioError::NameTooLong { offset: 0, len: MAX_NAME_LEN + 1 }));
    // A huge namesize is rejected before anything is read or allocated.
    let mut a = raw_entry(MAGIC_NEWC, fields(1, S_IFREG, 1, 0, u32::MAX), b"", b"");
    a.extend(trailer());
    assert!(matches!(parse(&a), Err(CpioError::NameTooLong { .. })));
}

#[test]
fn alignment_of_every_name_and_data_length() {
    for name_len in 1..=9usize {
        for data_len in 0..=9usize {
            let name: Vec<u8> = (0..name_len).map(|i| b'a' + i as u8).collect();
            let data: Vec<u8> = (0..data_len).map(|i| i as u8 + 1).collect();
            let mut w = Writer::new();
            w.add_file(&name, 0o644, 0, 0, 0, &data).unwrap();
            w.add_file("z", 0o644, 0, 0, 0, &data).unwrap();
            let a = w.finish();
            assert_eq!(a.len() % 4, 0);
            let e = parse(&a).unwrap();
            assert_eq!(e.len(), 2);
            assert_eq!(e[0].name, &name[..]);
            assert_eq!(e[0].data, &data[..]);
            assert_eq!(e[1].data, &data[..]);
            // Data starts at a 4-byte boundary.
            let data_off = e[0].data.as_ptr() as usize - a.as_ptr() as usize;
            assert_eq!(data_off % 4, 0, "name {name_len} data {data_len}");
            assert_eq!(data_off, (HEADER_LEN + name_len + 1 + 3) & !3);
            assert_eq!(e[1].offset, (data_off + data_len + 3) & !3);
        }
    }
}

#[test]
fn every_truncation_is_an_error() {
    let a = sample_archive();
    assert!(parse(&a).is_ok());
    for len in 0..a.len() {
        let r = parse(&a[..len]);
        assert!(r.is_err(), "prefix of {len} bytes parsed");
    }
    // Same for an archive with a large, oddly sized file and crc headers.
    let big: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
    let sum = big.iter().map(|&b| u32::from(b)).sum();
    let mut a = raw_entry(MAGIC_CRC, [1, S_IFREG | 0o644, 0, 0, 1, 0, 5000, 0, 0, 0, 0, 2, sum], b"f\0", &big);
    a.extend(trailer());
    assert_eq!(parse(&a).unwrap()[0].data, &big[..]);
    for len in 0..a.len() {
        assert!(parse(&a[..len]).is_err(), "prefix of {len} bytes parsed");
    }
}

#[test]
fn truncation_errors_are_specific() {
    let a = sample_archive();
    assert_eq!(parse(&[]), Err(CpioError::MissingTrailer { offset: 0 }));
    assert_eq!(parse(&a[..50]), Err(CpioError::TruncatedHeader { offset: 0 }));
    assert_eq!(parse(&a[..HEADER_LEN + 1]), Err(CpioError::TruncatedName { offset: 0 }));
    let e = parse(&a).unwrap();
    let hello = &e[2];
    let cut = hello.data.as_ptr() as usize - a.as_ptr() as usize + 3;
    assert_eq!(parse(&a[..cut]), Err(CpioError::TruncatedData { offset: hello.offset, size: hello.data.len() as u32 }));
    let last_entry_end = a.len() - trailer().len();
    assert_eq!(parse(&a[..last_entry_end]), Err(CpioError::MissingTrailer { offset: last_entry_end }));
}

#[test]
fn random_byte_flips_never_panic() {
    let base = sample_archive();
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for _ in 0..20_000 {
        let mut a = base.clone();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(a.len());
            a[i] = match rng.below(3) {
                0 => rng.next() as u8,
                1 => a[i] ^ (1 << rng.below(8)),
                _ => b"0123456789abcdefF\0"[rng.below(18)],
            };
        }
        if let Ok(entries) = parse(&a) {
            for e in &entries {
                assert!(e.name.len() <= MAX_NAME_LEN);
                if let Some(i) = e.hardlink_of {
                    assert!(i < entries.len());
                }
            }
        }
        // Random truncation of the corrupted archive too.
        let cut = rng.below(a.len() + 1);
        let _ = parse(&a[..cut]);
    }
}

#[test]
fn random_garbage_never_panics() {
    let mut rng = Rng(7);
    for _ in 0..5_000 {
        let len = rng.below(400);
        let mut a: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Make many of them start like a real header to get past the magic.
        if rng.below(2) == 0 && a.len() >= 6 {
            a[..6].copy_from_slice(MAGIC_NEWC);
            for b in a.iter_mut().skip(6).take(104) {
                *b = b"0000000123456789abcdef"[(*b as usize) % 22];
            }
        }
        let _ = parse(&a);
    }
}

#[test]
fn header_errors() {
    let mut a = sample_archive();
    a[0] = b'1';
    assert_eq!(parse(&a), Err(CpioError::BadMagic { offset: 0, found: *b"170701" }));
    // Old binary and odc cpio formats are refused by their magic.
    let mut odc = b"070707".to_vec();
    odc.extend_from_slice(&[b'0'; 200]);
    assert!(matches!(parse(&odc), Err(CpioError::BadMagic { .. })));

    let mut a = sample_archive();
    a[6 + 8 + 3] = b'g'; // inside the mode field
    assert_eq!(parse(&a), Err(CpioError::BadHexDigit { offset: 14, field: "mode" }));
    let mut a = sample_archive();
    a[6 + 8 * 12] = b' '; // check field
    assert!(matches!(parse(&a), Err(CpioError::BadHexDigit { field: "check", .. })));

    // Lower-case hex digits are accepted.
    let mut a = raw_entry(MAGIC_NEWC, fields(0xab, S_IFREG | 0o644, 1, 0, 2), b"f\0", b"");
    a[6..14].copy_from_slice(b"000000ab");
    a.extend(trailer());
    assert_eq!(parse(&a).unwrap()[0].ino, 0xab);
}

#[test]
fn name_errors() {
    // Not NUL-terminated.
    let mut a = raw_entry(MAGIC_NEWC, fields(1, S_IFREG, 1, 0, 2), b"ab", b"");
    a.extend(trailer());
    assert_eq!(parse(&a), Err(CpioError::NameNotTerminated { offset: 0 }));
    // namesize 0.
    let mut a = raw_entry(MAGIC_NEWC, fields(1, S_IFREG, 1, 0, 0), b"", b"");
    a.extend(trailer());
    assert_eq!(parse(&a), Err(CpioError::InvalidName { offset: 0 }));
    // Only the NUL.
    let mut a = raw_entry(MAGIC_NEWC, fields(1, S_IFREG, 1, 0, 1), b"\0", b"");
    a.extend(trailer());
    assert_eq!(parse(&a), Err(CpioError::InvalidName { offset: 0 }));
    // Interior NUL.
    let mut a = raw_entry(MAGIC_NEWC, fields(1, S_IFREG, 1, 0, 4), b"a\0b\0", b"");
    a.extend(trailer());
    assert_eq!(parse(&a), Err(CpioError::InvalidName { offset: 0 }));
}

#[test]
fn crc_format_is_checked() {
    let data = b"hello";
    let sum: u32 = data.iter().map(|&b| u32::from(b)).sum();
    let mut f = [1, S_IFREG | 0o644, 0, 0, 1, 0, 5, 0, 0, 0, 0, 2, sum];
    let mut a = raw_entry(MAGIC_CRC, f, b"f\0", data);
    a.extend(trailer());
    assert_eq!(parse(&a).unwrap()[0].data, b"hello");

    f[12] = sum + 1;
    let mut a = raw_entry(MAGIC_CRC, f, b"f\0", data);
    a.extend(trailer());
    assert_eq!(parse(&a), Err(CpioError::ChecksumMismatch { offset: 0, expected: sum + 1, actual: sum }));
    // newc ignores the check field.
    let mut a = raw_entry(MAGIC_NEWC, f, b"f\0", data);
    a.extend(trailer());
    assert!(parse(&a).is_ok());
}

#[test]
fn bytes_after_the_trailer_are_ignored() {
    let mut a = sample_archive();
    let end = a.len();
    a.extend_from_slice(&[0; 300]);
    a.extend_from_slice(b"garbage");
    assert_eq!(parse(&a).unwrap().len(), 8);
    let mut r = Reader::new(&a);
    assert_eq!(r.by_ref().count(), 8);
    assert_eq!(r.position(), end);
    assert!(r.next().is_none());
}

#[test]
fn reader_stops_after_first_error() {
    let a = sample_archive();
    let mut r = Reader::new(&a[..200]);
    assert!(r.next().unwrap().is_ok());
    assert!(r.next().unwrap().is_err());
    assert!(r.next().is_none());
}

#[test]
fn hard_links_written_by_writer() {
    let mut w = Writer::new();
    w.add_file("solo", 0o644, 0, 0, 0, b"s").unwrap();
    w.add_hardlinked_file(&["a", "dir/b", "c"], 0o640, 5, 6, 7, b"shared").unwrap();
    w.add_file("after", 0o644, 0, 0, 0, b"x").unwrap();
    let a = w.finish();
    let e = parse(&a).unwrap();
    assert_eq!(e.len(), 5);
    let (la, lb, lc) = (&e[1], &e[2], &e[3]);
    assert_eq!(la.ino, lb.ino);
    assert_eq!(lb.ino, lc.ino);
    assert_eq!((la.nlink, lb.nlink, lc.nlink), (3, 3, 3));
    assert!(la.data.is_empty() && lb.data.is_empty());
    assert_eq!(lc.data, b"shared");
    assert_eq!(la.hardlink_of, Some(3));
    assert_eq!(lb.hardlink_of, Some(3));
    assert_eq!(lc.hardlink_of, None);
    assert_eq!(e[0].hardlink_of, None);
    assert_eq!(e[4].hardlink_of, None);
    assert_eq!(e[4].ino, lc.ino + 1);

    let mut w = Writer::new();
    assert_eq!(w.add_hardlinked_file::<&str>(&[], 0o644, 0, 0, 0, b""), Err(CpioError::BadEntryName));
}

#[test]
fn hard_link_grouping() {
    // Two groups with the same inode number on different devices, an empty linked file, and
    // directories (nlink > 1 but never grouped).
    let mut a = Vec::new();
    let mut push = |ino: u32, dev: u32, mode: u32, nlink: u32, name: &[u8], data: &[u8]| {
        let f = [ino, mode, 0, 0, nlink, 0, data.len() as u32, dev, 0, 0, 0, name.len() as u32, 0];
        a.extend(raw_entry(MAGIC_NEWC, f, name, data));
    };
    push(7, 1, S_IFREG | 0o644, 2, b"x1\0", b"");
    push(7, 2, S_IFREG | 0o644, 2, b"y1\0", b"");
    push(7, 1, S_IFREG | 0o644, 2, b"x2\0", b"X");
    push(7, 2, S_IFREG | 0o644, 2, b"y2\0", b"Y");
    push(9, 1, S_IFREG | 0o644, 2, b"e1\0", b"");
    push(9, 1, S_IFREG | 0o644, 2, b"e2\0", b"");
    push(3, 1, S_IFDIR | 0o755, 3, b"d1\0", b"");
    push(3, 1, S_IFDIR | 0o755, 3, b"d2\0", b"");
    push(4, 1, S_IFREG | 0o644, 2, b"lonely\0", b"L");
    a.extend(trailer());
    let e = parse(&a).unwrap();
    let links: Vec<_> = e.iter().map(|e| e.hardlink_of).collect();
    assert_eq!(links, [Some(2), Some(3), None, None, Some(5), None, None, None, None]);
}

#[test]
fn writer_rejects_bad_input() {
    let mut w = Writer::new();
    assert_eq!(w.add_dir("d", S_IFREG | 0o755, 0, 0, 0), Err(CpioError::BadMode { mode: S_IFREG | 0o755 }));
    assert_eq!(w.add_file("f", 0o1_000_000, 0, 0, 0, b""), Err(CpioError::BadMode { mode: 0o1_000_000 }));
    assert!(w.add_file("f", S_IFREG | 0o644, 0, 0, 0, b"").is_ok());
    assert!(w.add_dir("d", S_IFDIR | 0o755, 0, 0, 0).is_ok());
    assert_eq!(w.add_special("p", 0o644, 0, 0, 0, (0, 0)), Err(CpioError::BadMode { mode: 0o644 }));
    assert_eq!(w.add_special("p", S_IFREG | 0o644, 0, 0, 0, (0, 0)), Err(CpioError::BadMode { mode: S_IFREG | 0o644 }));
    assert_eq!(w.add_file("TRAILER!!!", 0o644, 0, 0, 0, b""), Err(CpioError::BadEntryName));
    assert_eq!(w.add_file("./TRAILER!!!", 0o644, 0, 0, 0, b""), Err(CpioError::BadEntryName));
    assert_eq!(w.add_file("a\0b", 0o644, 0, 0, 0, b""), Err(CpioError::BadEntryName));
    assert_eq!(w.add_symlink("l", "", 0, 0, 0), Err(CpioError::BadEntryName));
    assert_eq!(w.add_symlink("l", "a\0", 0, 0, 0), Err(CpioError::BadEntryName));
    // The failed calls wrote nothing.
    let a = w.finish();
    let e = parse(&a).unwrap();
    assert_eq!(e.len(), 2);
    assert_eq!((e[0].ino, e[1].ino), (1, 2));
}

#[test]
fn writer_output_matches_gnu_layout() {
    // Header fields of a file entry, checked byte for byte.
    let mut w = Writer::new();
    w.add_file("ab", 0o644, 0x10, 0x20, 0x30, b"xyz").unwrap();
    let a = w.finish();
    let expected = concat!(
        "070701", "00000001", // ino
        "000081A4", // mode
        "00000010", // uid
        "00000020", // gid
        "00000001", // nlink
        "00000030", // mtime
        "00000003", // filesize
        "00000000", "00000000", "00000000", "00000000", "00000003", // namesize
        "00000000", // check
        "ab\0", "\0\0\0", // pad 113 -> 116
        "xyz\0",  // data + pad
    );
    assert_eq!(&a[..expected.len()], expected.as_bytes());
    assert_eq!(&a[expected.len()..], &trailer()[..]);
}

#[test]
fn error_messages_are_readable() {
    let all = [
        CpioError::BadMagic { offset: 0, found: *b"\x7fELF\x02\x01" },
        CpioError::BadHexDigit { offset: 7, field: "mode" },
        CpioError::TruncatedHeader { offset: 0 },
        CpioError::TruncatedName { offset: 0 },
        CpioError::TruncatedData { offset: 0, size: 9 },
        CpioError::NameNotTerminated { offset: 0 },
        CpioError::InvalidName { offset: 0 },
        CpioError::NameTooLong { offset: 0, len: 5000 },
        CpioError::MissingTrailer { offset: 4 },
        CpioError::SizeOverflow { offset: 0 },
        CpioError::ChecksumMismatch { offset: 0, expected: 1, actual: 2 },
        CpioError::BadEntryName,
        CpioError::EntryNameTooLong { len: 5000 },
        CpioError::BadMode { mode: 0o644 },
        CpioError::FileTooLarge { size: 1 << 33 },
        CpioError::TooManyEntries,
        CpioError::DataSizeMismatch { expected: 1, written: 2 },
        CpioError::Finished,
    ];
    for e in &all {
        let msg = e.to_string();
        assert!(msg.starts_with("cpio: "), "{msg}");
        assert!(msg.len() > 20, "{msg}");
    }
    assert!(all[0].to_string().contains("\\x7fELF"));
}

#[test]
fn io_sink_writes_through_std_io() {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut s = StreamWriter::new(IoSink(&mut out));
    s.add_file("f", 0o644, 0, 0, 0, b"io").unwrap();
    s.finish().unwrap();
    let bytes = out.into_inner();
    assert_eq!(parse(&bytes).unwrap()[0].data, b"io");
}

#[test]
fn crc_of_symlinks_is_not_checked() {
    // GNU cpio -H crc writes a zero check field for symbolic links.
    let mut a = raw_entry(MAGIC_CRC, [1, S_IFLNK | 0o777, 0, 0, 1, 0, 1, 0, 0, 0, 0, 2, 0], b"l\0", b"a");
    a.extend(trailer());
    assert_eq!(parse(&a).unwrap()[0].link_target(), Some(&b"a"[..]));
}

#[test]
fn directory_with_data_is_reported_as_is() {
    // Found by the fuzzer (tests/fuzz-regressions/crash-173df8...): a directory entry with
    // data and a hard-link partner. The data is exposed (a consumer ignores it) and a
    // directory is never part of a hard-link group.
    let mut a = raw_entry(MAGIC_NEWC, fields(5, S_IFDIR | 0o755, 2, 5, 4), b"dir\0", b"hello");
    a.extend(raw_entry(MAGIC_NEWC, fields(5, S_IFREG | 0o644, 2, 0, 3), b"hl\0", b""));
    a.extend(trailer());
    let e = parse(&a).unwrap();
    assert!(e[0].is_dir());
    assert_eq!(e[0].data, b"hello");
    assert_eq!(e[0].hardlink_of, None);
    assert_eq!(e[1].hardlink_of, None);
}
