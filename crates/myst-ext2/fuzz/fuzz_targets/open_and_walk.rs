//! Open arbitrary bytes as an ext2 image and walk the whole tree, reading
//! every file and symlink. Nothing may panic, hang or over-allocate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use myst_ext2::{BlockDevice, Ext2, FileType, MemDevice};
use std::collections::BTreeSet;

fn walk<D: BlockDevice>(fs: &Ext2<D>) {
    let mut seen = BTreeSet::new();
    let mut stack = vec![fs.root_ino()];
    let mut buf = vec![0u8; 16384];
    let _ = fs.statfs();
    let _ = fs.lookup(b"/lost+found/../.");
    while let Some(d) = stack.pop() {
        if !seen.insert(d) || seen.len() > 4096 {
            continue;
        }
        let Ok(ents) = fs.readdir(d) else { continue };
        for e in ents {
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
                    // Bounded: sizes in a hostile image can be anything.
                    let mut off = 0u64;
                    while off < st.size.min(1 << 20) {
                        match fs.read(e.ino, off, &mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => off += n as u64,
                        }
                    }
                    let _ = fs.read(e.ino, st.size.saturating_sub(10), &mut buf);
                }
                _ => {}
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(fs) = Ext2::open(MemDevice::with_block_size(data, 512)) {
        walk(&fs);
    }
});
