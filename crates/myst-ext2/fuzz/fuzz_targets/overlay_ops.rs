//! Open arbitrary bytes as an ext2 image and change it through the
//! in-memory overlay: creating, writing, truncating, renaming, linking and
//! removing on a hostile image may fail but must never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use myst_ext2::{Ext2, MemDevice, NewKind};

fuzz_target!(|data: &[u8]| {
    let Ok(mut fs) = Ext2::open(MemDevice::with_block_size(data, 512)) else {
        return;
    };
    let root = fs.root_ino();
    let _ = fs.mkdir(root, b"m", 0o755, 0, 0);
    let _ = fs.create(root, b"s", NewKind::Symlink(&[b's'; 100]), 0o777, 0, 0);
    if let Ok(f) = fs.create_file(root, b"f", 0o644, 0, 0) {
        let _ = fs.write(f, 5000, &[1u8; 9000]);
        let _ = fs.write(f, 70 * 1024, b"far");
        let _ = fs.truncate(f, 100);
    }
    let ents = fs.readdir(root).unwrap_or_default();
    for e in ents.iter().take(16) {
        if e.name == b"." || e.name == b".." {
            continue;
        }
        let _ = fs.write(e.ino, 3, b"abc");
        let _ = fs.truncate(e.ino, 1);
        let _ = fs.chmod(e.ino, 0o600);
        let _ = fs.rename(root, &e.name, root, b"renamed");
        let _ = fs.rename(root, b"renamed", root, &e.name);
        let _ = fs.link(e.ino, root, b"hl");
        if let Ok(sub) = fs.readdir(e.ino) {
            for s in sub.iter().take(4) {
                let _ = fs.rename(e.ino, &s.name, root, b"moved");
                let _ = fs.unlink(e.ino, &s.name);
            }
        }
        let _ = fs.unlink(root, &e.name);
        let _ = fs.rmdir(root, &e.name);
    }
    let _ = fs.rmdir(root, b"m");
    let _ = fs.export_changes(&mut |_, _| Ok(()));
});
