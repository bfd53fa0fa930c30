// Shared by the `parse` fuzz target (fuzz/fuzz_targets/parse.rs) and the regression test
// (tests/fuzz_regressions.rs), so that every saved fuzz input is re-checked by `cargo test`.

/// Parses `data`; it must never panic, and whatever it accepts must be self-consistent and
/// survive being written back with `Writer` and parsed again.
pub fn check(data: &[u8]) {
    let Ok(entries) = myst_cpio::parse(data) else {
        return;
    };
    for (i, e) in entries.iter().enumerate() {
        assert!(e.name.len() <= myst_cpio::MAX_NAME_LEN);
        assert!(!e.name.is_empty());
        assert!(e.offset < data.len());
        if let Some(p) = e.hardlink_of {
            assert!(p < entries.len() && p != i);
            assert_eq!(entries[p].ino, e.ino);
            assert!(!e.is_dir() && !entries[p].is_dir());
        }
    }
    let mut w = myst_cpio::Writer::new();
    let mut written: Vec<(&[u8], &[u8])> = Vec::new();
    for e in &entries {
        let (result, data) = match e.file_type() {
            // A directory's data (nonsense, but possible) is not written back.
            myst_cpio::FileType::Directory => (w.add_dir(e.name, e.mode, e.uid, e.gid, e.mtime), &[][..]),
            myst_cpio::FileType::Regular => (w.add_file(e.name, e.mode, e.uid, e.gid, e.mtime, e.data), e.data),
            _ => continue,
        };
        if result.is_ok() {
            written.push((e.name, data));
        }
    }
    let again = w.finish();
    let reparsed = myst_cpio::parse(&again).expect("the writer's own output must parse");
    assert_eq!(reparsed.len(), written.len());
    for (e, (name, data)) in reparsed.iter().zip(&written) {
        assert_eq!(e.name, *name);
        assert_eq!(e.data, *data);
        assert_eq!(e.hardlink_of, None);
    }
}
