//! Tampering: one flipped byte anywhere in data, tree or superblock is noticed, and only the
//! affected reads fail.
mod common;

use common::*;
use myst_verity::{BlockRead, IoError, VerityDevice, VerityError, BLOCK_SIZE};
use rand::Rng;

const BLOCKS: u64 = 300; // two levels: level 1 = 1 block, level 0 = 3 blocks

fn read_block(dev: &VerityDevice<Vec<u8>>, b: u64) -> Result<Vec<u8>, IoError> {
    let mut buf = vec![0xEEu8; BLOCK_SIZE];
    let r = dev.read_at(b * BLOCK_SIZE as u64, &mut buf);
    if r.is_err() {
        assert!(buf.iter().all(|&x| x == 0), "unverified bytes left in the buffer");
    }
    r.map(|()| buf)
}

#[test]
fn clean_image_reads_back() {
    let mut r = rng(1);
    let img = make_image(&mut r, BLOCKS);
    let dev = VerityDevice::open(img.bytes.clone(), img.hash_offset, img.info.root_hash).unwrap();
    assert_eq!(dev.len(), img.hash_offset);
    dev.verify_all(&mut |_, _| {}).unwrap();
    // Unaligned reads of every shape.
    for _ in 0..200 {
        let off = r.gen_range(0..img.hash_offset);
        let len = r.gen_range(0..=(img.hash_offset - off).min(3 * 4096 + 17)) as usize;
        let mut b = vec![0u8; len];
        dev.read_at(off, &mut b).unwrap();
        assert!(b[..] == img.bytes[off as usize..off as usize + len]);
    }
    // Past the end.
    let mut b = [0u8; 2];
    assert!(matches!(dev.read_at(img.hash_offset - 1, &mut b), Err(IoError::OutOfRange { .. })));
    // Without a cache too.
    let dev = VerityDevice::open_with_cache(img.bytes.clone(), img.hash_offset, img.info.root_hash, 0).unwrap();
    dev.verify_all(&mut |_, _| {}).unwrap();
}

#[test]
fn flipped_data_byte_fails_only_its_block() {
    let mut r = rng(2);
    let img = make_image(&mut r, BLOCKS);
    for _ in 0..200 {
        let pos = r.gen_range(0..img.hash_offset) as usize;
        let mut bytes = img.bytes.clone();
        bytes[pos] ^= 1 << r.gen_range(0..8);
        let dev = VerityDevice::open(bytes, img.hash_offset, img.info.root_hash).unwrap();
        let bad = pos as u64 / BLOCK_SIZE as u64;
        assert_eq!(read_block(&dev, bad), Err(IoError::CorruptData { block: bad }));
        let other = (bad + r.gen_range(1..BLOCKS)) % BLOCKS;
        assert!(read_block(&dev, other).unwrap()[..] == img.bytes[other as usize * 4096..][..4096]);
        assert_eq!(dev.verify_all(&mut |_, _| {}), Err(IoError::CorruptData { block: bad }));
    }
}

#[test]
fn flipped_tree_byte_fails_the_blocks_below_it() {
    let mut r = rng(3);
    let img = make_image(&mut r, BLOCKS);
    let geo = img.info.geometry;
    assert_eq!(geo.levels, 2);
    let tree_start = img.hash_offset as usize + BLOCK_SIZE; // after the superblock block
    for _ in 0..200 {
        let pos = r.gen_range(tree_start..img.bytes.len());
        let mut bytes = img.bytes.clone();
        bytes[pos] ^= 1 << r.gen_range(0..8);
        let number = ((pos - img.hash_offset as usize) / BLOCK_SIZE) as u64;
        if number == geo.hash_block_number(1, 0) {
            // The top block: the root hash no longer matches.
            assert!(matches!(VerityDevice::open(bytes, img.hash_offset, img.info.root_hash), Err(VerityError::WrongRootHash)));
            continue;
        }
        let index = number - geo.hash_block_number(0, 0);
        let hash_err = IoError::CorruptHash { level: 0, index, hash_block: number };
        if index == geo.level_blocks(0) - 1 {
            // On the path to the last data block, which open checks.
            assert_eq!(VerityDevice::open(bytes, img.hash_offset, img.info.root_hash).err(), Some(VerityError::TreeMismatch(hash_err)));
            continue;
        }
        let dev = VerityDevice::open(bytes, img.hash_offset, img.info.root_hash).unwrap();
        let below = index * 128..((index + 1) * 128).min(BLOCKS);
        let victim = r.gen_range(below.clone());
        assert_eq!(read_block(&dev, victim), Err(IoError::CorruptHash { level: 0, index, hash_block: number }));
        let fine = (0..BLOCKS).find(|b| !below.contains(b)).unwrap();
        assert!(read_block(&dev, fine).is_ok());
        assert_eq!(dev.verify_all(&mut |_, _| {}), Err(IoError::CorruptHash { level: 0, index, hash_block: number }));
    }
}

#[test]
fn flipped_superblock_byte_fails_open() {
    let mut r = rng(4);
    let img = make_image(&mut r, BLOCKS);
    let sb = img.hash_offset as usize;
    // Every byte of the 512-byte superblock except the uuid (16..32), which dm-verity does not
    // cover with any hash, and every bit of each.
    for i in (0..512).filter(|i| !(16..32).contains(i)) {
        for bit in 0..8 {
            let mut bytes = img.bytes.clone();
            bytes[sb + i] ^= 1 << bit;
            let r = VerityDevice::open(bytes, img.hash_offset, img.info.root_hash);
            assert!(r.is_err(), "flip of bit {bit} of superblock byte {i} not noticed");
        }
    }
}

#[test]
fn wrong_root_hash_and_truncation() {
    let mut r = rng(5);
    let img = make_image(&mut r, BLOCKS);
    let mut wrong = img.info.root_hash;
    wrong[31] ^= 0x80;
    let e = VerityDevice::open(img.bytes.clone(), img.hash_offset, wrong).err().unwrap();
    assert_eq!(e, VerityError::WrongRootHash);
    assert!(e.to_string().contains("root hash"));

    // Missing the last hash block.
    let short = img.bytes[..img.bytes.len() - 1].to_vec();
    let e = VerityDevice::open(short, img.hash_offset, img.info.root_hash).err().unwrap();
    assert_eq!(e, VerityError::Truncated { needed: img.bytes.len() as u64, actual: img.bytes.len() as u64 - 1 });
    assert!(e.to_string().contains("truncated"), "{e}");
    // Cut inside the superblock, and before it.
    for cut in [img.hash_offset as usize + 100, 5000, 0] {
        let e = VerityDevice::open(img.bytes[..cut].to_vec(), img.hash_offset, img.info.root_hash).err().unwrap();
        assert!(matches!(e, VerityError::Truncated { .. }), "{e}");
    }
    // Hash offset pointing at data: no superblock there.
    assert!(matches!(VerityDevice::open(img.bytes.clone(), 0, img.info.root_hash), Err(VerityError::Superblock(_))));
    // Hash offset inside the claimed data.
    let mut moved = vec![0u8; BLOCK_SIZE];
    moved.extend_from_slice(&img.bytes[img.hash_offset as usize..]);
    let e = VerityDevice::open(moved, BLOCK_SIZE as u64, img.info.root_hash).err().unwrap();
    assert!(matches!(e, VerityError::DataOverlapsHash { .. }), "{e}");
}

#[test]
fn single_block_image() {
    let mut r = rng(6);
    let img = make_image(&mut r, 1);
    let dev = VerityDevice::open(img.bytes.clone(), img.hash_offset, img.info.root_hash).unwrap();
    assert!(read_block(&dev, 0).is_ok());
    let mut bytes = img.bytes.clone();
    bytes[10] ^= 1;
    // With no hash levels the root hash covers the data block directly.
    assert!(matches!(VerityDevice::open(bytes, img.hash_offset, img.info.root_hash), Err(VerityError::WrongRootHash)));
}
