//! The image writer: an in-memory model of a tree, serialised as ext2.
//!
//! Layout (4 KiB blocks, 32768 blocks per group, no `first_data_block`
//! offset): each group holds, in order, a superblock and descriptor-table
//! copy if it is a sparse_super backup group (0, 1 and powers of 3, 5, 7),
//! its block bitmap, its inode bitmap and its inode table, then data.
//! Inodes are numbered root = 2, lost+found = 11, then the tree in
//! depth-first order; blocks are handed out in one ascending sweep, so
//! every group's used blocks form a prefix and the bitmaps follow from the
//! final cursor. File data streams from its source one block at a time and
//! indirect blocks are written as soon as they are complete, so memory use
//! does not grow with file size.

use crate::blockdev::{IoError, Sink};
use crate::error::{Ext2Error, Result};
use crate::ondisk::*;
use crate::types::*;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;

const BS: usize = 4096;
const BS64: u64 = 4096;
const BPG: u64 = 8 * BS64;
const PTRS: u64 = BS64 / 4;
const MAX_IPG: u64 = 8 * BS64;

/// Contents of a regular file that is read on demand.
///
/// Used for files too large to hold in memory. `len` must stay the same
/// while the image is written.
pub trait FileSource {
    /// File size in bytes.
    fn len(&self) -> u64;
    /// Whether the file is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Fill `buf` with the bytes at `offset` (always inside `0..len()`).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> core::result::Result<(), IoError>;
    /// Byte ranges `(start, end)` that may hold data, if known (as from
    /// `SEEK_DATA`/`SEEK_HOLE`); everything else is taken to be a hole and is
    /// not read. `None` (the default) means read the whole file. Blocks of
    /// zeros inside data ranges still become holes.
    fn data_ranges(&self) -> Option<Vec<(u64, u64)>> {
        None
    }
}

/// The contents of a regular file given to [`Builder::add_file`].
pub enum FileData {
    /// Bytes in memory.
    Bytes(Vec<u8>),
    /// Bytes read from a source while the image is written.
    Source(Box<dyn FileSource>),
}

impl FileData {
    fn len(&self) -> u64 {
        match self {
            FileData::Bytes(b) => b.len() as u64,
            FileData::Source(s) => s.len(),
        }
    }
}

impl core::fmt::Debug for FileData {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FileData::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            FileData::Source(s) => write!(f, "Source({} bytes)", s.len()),
        }
    }
}

impl From<Vec<u8>> for FileData {
    fn from(v: Vec<u8>) -> Self {
        FileData::Bytes(v)
    }
}

impl From<&[u8]> for FileData {
    fn from(v: &[u8]) -> Self {
        FileData::Bytes(v.to_vec())
    }
}

/// Settings of the image the builder writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOptions {
    /// Inode size: 128 or 256 (default 256, which stores nanoseconds).
    pub inode_size: u16,
    /// Volume UUID; `None` derives one from the tree and the time (the
    /// builder has no random source: pass random bytes for a random UUID).
    pub uuid: Option<[u8; 16]>,
    /// Volume label (at most 16 bytes are kept).
    pub volume_name: Vec<u8>,
    /// Creation time stamped into the superblock (seconds since the epoch).
    /// Must not be in the future, or `e2fsck` complains.
    pub mkfs_time: u32,
    /// One inode per this many bytes of image, when there is room
    /// (default 16384, as `mke2fs`).
    pub bytes_per_inode: u64,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions { inode_size: 256, uuid: None, volume_name: Vec::new(), mkfs_time: 0, bytes_per_inode: 16384 }
    }
}

enum Kind {
    Dir(BTreeMap<Vec<u8>, usize>),
    File(FileData),
    Symlink(Vec<u8>),
    Special(SpecialKind, u64),
}

struct Node {
    meta: Meta,
    kind: Kind,
    nlink: u32,
    min_blocks: u64,
}

/// The in-memory model of a tree to be written as an ext2 image.
///
/// The root directory and `/lost+found` exist from the start (`add_dir` on
/// an existing directory only updates its metadata).
pub struct Builder {
    opts: BuildOptions,
    nodes: Vec<Node>,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for Builder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Builder").field("opts", &self.opts).field("nodes", &self.nodes.len()).finish()
    }
}

const LOST_FOUND: &[u8] = b"lost+found";

fn components(path: &[u8]) -> Result<Vec<&[u8]>> {
    let mut out = Vec::new();
    for c in path.split(|&b| b == b'/') {
        if c.is_empty() {
            continue;
        }
        if c == b"." || c == b".." {
            return Err(Ext2Error::Invalid("path component '.' or '..'"));
        }
        if c.contains(&0) {
            return Err(Ext2Error::Invalid("path contains NUL"));
        }
        if c.len() > NAME_MAX {
            return Err(Ext2Error::NameTooLong);
        }
        out.push(c);
    }
    Ok(out)
}

/// Number of blocks a directory with entries of these name lengths takes.
fn dir_blocks(name_lens: impl Iterator<Item = usize>, min_blocks: u64) -> u64 {
    let mut blocks = 1u64;
    let mut off = 24usize;
    for len in name_lens {
        let r = rec_len_for(len);
        if off + r > BS {
            blocks += 1;
            off = 0;
        }
        off += r;
    }
    blocks.max(min_blocks)
}

/// Indirect blocks needed to map the given sorted, disjoint logical ranges.
fn indirect_blocks(ranges: &[(u64, u64)]) -> u64 {
    let nd = NDIR_BLOCKS as u64;
    let trees = [(nd, 1u32), (nd + PTRS, 2), (nd + PTRS + PTRS * PTRS, 3)];
    let mut total = 0;
    for (base, depth) in trees {
        let size = PTRS.pow(depth);
        for level in 0..depth {
            let span = PTRS.pow(depth - level);
            let mut last: Option<u64> = None;
            for &(a, b) in ranges {
                let a = a.max(base);
                let b = b.min(base + size);
                if a >= b {
                    continue;
                }
                let mut lo = (a - base) / span;
                let hi = (b - 1 - base) / span;
                if last == Some(lo) {
                    lo += 1;
                }
                if lo <= hi {
                    total += hi - lo + 1;
                }
                last = Some(hi);
            }
        }
    }
    total
}

/// Logical block ranges that may hold data (before zero-block detection).
fn file_ranges(data: &FileData) -> Vec<(u64, u64)> {
    let len = data.len();
    let nblocks = len.div_ceil(BS64);
    match data {
        FileData::Bytes(b) => {
            let mut out: Vec<(u64, u64)> = Vec::new();
            for (i, chunk) in b.chunks(BS).enumerate() {
                if chunk.iter().all(|&x| x == 0) {
                    continue;
                }
                let i = i as u64;
                match out.last_mut() {
                    Some(last) if last.1 == i => last.1 = i + 1,
                    _ => out.push((i, i + 1)),
                }
            }
            out
        }
        FileData::Source(s) => match s.data_ranges() {
            None => {
                if nblocks == 0 {
                    Vec::new()
                } else {
                    vec![(0, nblocks)]
                }
            }
            Some(mut r) => {
                r.sort_unstable();
                let mut out: Vec<(u64, u64)> = Vec::new();
                for (a, b) in r {
                    let b = b.min(len);
                    if a >= b {
                        continue;
                    }
                    let (a, b) = (a / BS64, b.div_ceil(BS64));
                    match out.last_mut() {
                        Some(last) if a <= last.1 => last.1 = last.1.max(b),
                        _ => out.push((a, b)),
                    }
                }
                out
            }
        },
    }
}

/// Geometry of an image being written.
#[derive(Debug, Clone, Copy)]
struct Layout {
    blocks: u64,
    groups: u64,
    ipg: u64,
    isz: usize,
    itb: u64,
    gdt_blocks: u64,
}

impl Layout {
    fn new(mut blocks: u64, inodes: u64, isz: usize) -> Option<Layout> {
        if blocks > u64::from(u32::MAX) {
            return None;
        }
        let ipb = BS64 / isz as u64;
        loop {
            let groups = blocks.div_ceil(BPG);
            if groups == 0 {
                return None;
            }
            let ipg = inodes.div_ceil(groups).max(ipb).next_multiple_of(ipb);
            if ipg > MAX_IPG || groups * ipg > u64::from(u32::MAX) {
                return None;
            }
            let l =
                Layout { blocks, groups, ipg, isz, itb: ipg * isz as u64 / BS64, gdt_blocks: (groups * DESC_SIZE as u64).div_ceil(BS64) };
            let last = groups - 1;
            // Every group needs its metadata and a little room for data.
            if l.group_blocks(last) < l.meta_blocks(last) + 16 {
                if groups == 1 {
                    return None;
                }
                blocks = last * BPG;
                continue;
            }
            return Some(l);
        }
    }

    fn has_super(&self, g: u64) -> bool {
        group_has_super(g, true, None)
    }
    fn group_start(&self, g: u64) -> u64 {
        g * BPG
    }
    fn group_blocks(&self, g: u64) -> u64 {
        BPG.min(self.blocks - self.group_start(g))
    }
    fn super_blocks(&self, g: u64) -> u64 {
        if self.has_super(g) {
            1 + self.gdt_blocks
        } else {
            0
        }
    }
    fn meta_blocks(&self, g: u64) -> u64 {
        self.super_blocks(g) + 2 + self.itb
    }
    fn block_bitmap(&self, g: u64) -> u64 {
        self.group_start(g) + self.super_blocks(g)
    }
    fn inode_table(&self, g: u64) -> u64 {
        self.block_bitmap(g) + 2
    }
    fn data_start(&self, g: u64) -> u64 {
        self.group_start(g) + self.meta_blocks(g)
    }
    fn total_meta(&self) -> u64 {
        (0..self.groups).map(|g| self.meta_blocks(g)).sum()
    }
    fn data_capacity(&self) -> u64 {
        self.blocks - self.total_meta()
    }
    fn inodes(&self) -> u64 {
        self.groups * self.ipg
    }
}

/// Smallest block count whose layout holds `data` data blocks and
/// `inodes` inodes.
fn smallest_blocks(data: u64, inodes: u64, isz: usize) -> Option<u64> {
    let min_groups = inodes.div_ceil(MAX_IPG).max(1);
    let mut b = (data + 4).max((min_groups - 1) * BPG + 4);
    for _ in 0..100_000 {
        if b > u64::from(u32::MAX) {
            return None;
        }
        match Layout::new(b, inodes, isz) {
            Some(l) if l.blocks == b && l.data_capacity() >= data => return Some(b),
            Some(l) if l.blocks == b => b += (data - l.data_capacity()).max(1),
            Some(_) => b += 16,
            None => b += 16,
        }
    }
    None
}

/// What the tree needs: data blocks (upper bound) and inodes.
#[derive(Debug, Clone, Copy)]
struct Needs {
    data_blocks: u64,
    inodes: u64,
    file_bytes: u64,
}

impl Builder {
    /// An empty tree (root directory 0755 root:root, and `/lost+found`).
    pub fn new() -> Self {
        Self::with_options(BuildOptions::default())
    }

    /// An empty tree with the given options.
    pub fn with_options(opts: BuildOptions) -> Self {
        let mut b = Builder { opts, nodes: Vec::new() };
        b.nodes.push(Node { meta: Meta::new(0o755, 0, 0), kind: Kind::Dir(BTreeMap::new()), nlink: 1, min_blocks: 1 });
        b.nodes.push(Node { meta: Meta::new(0o700, 0, 0), kind: Kind::Dir(BTreeMap::new()), nlink: 1, min_blocks: 4 });
        if let Kind::Dir(m) = &mut b.nodes[0].kind {
            m.insert(LOST_FOUND.to_vec(), 1);
        }
        b
    }

    /// The options in force.
    pub fn options(&self) -> &BuildOptions {
        &self.opts
    }

    /// Change the options.
    pub fn set_options(&mut self, opts: BuildOptions) {
        self.opts = opts;
    }

    fn resolve(&self, comps: &[&[u8]]) -> Result<usize> {
        let mut cur = 0usize;
        for c in comps {
            match &self.nodes[cur].kind {
                Kind::Dir(m) => cur = *m.get(*c).ok_or(Ext2Error::NotFound)?,
                _ => return Err(Ext2Error::NotDir),
            }
        }
        Ok(cur)
    }

    fn insert(&mut self, path: &[u8], node: Node) -> Result<usize> {
        let comps = components(path)?;
        let Some((name, parent)) = comps.split_last() else {
            return Err(Ext2Error::Exists);
        };
        let p = self.resolve(parent)?;
        let idx = self.nodes.len();
        match &mut self.nodes[p].kind {
            Kind::Dir(m) => {
                if m.contains_key(*name) {
                    return Err(Ext2Error::Exists);
                }
                m.insert(name.to_vec(), idx);
            }
            _ => return Err(Ext2Error::NotDir),
        }
        self.nodes.push(node);
        Ok(idx)
    }

    /// Add a directory (its parent must exist). On an existing directory
    /// (including `/`) only the metadata is replaced.
    pub fn add_dir(&mut self, path: impl AsRef<[u8]>, meta: Meta) -> Result<()> {
        let path = path.as_ref();
        let comps = components(path)?;
        if let Ok(i) = self.resolve(&comps) {
            return match self.nodes[i].kind {
                Kind::Dir(_) => {
                    self.nodes[i].meta = meta;
                    Ok(())
                }
                _ => Err(Ext2Error::Exists),
            };
        }
        self.insert(path, Node { meta, kind: Kind::Dir(BTreeMap::new()), nlink: 1, min_blocks: 1 })?;
        Ok(())
    }

    /// Add a regular file.
    pub fn add_file(&mut self, path: impl AsRef<[u8]>, meta: Meta, data: FileData) -> Result<()> {
        let max = (NDIR_BLOCKS as u64 + PTRS + PTRS * PTRS + PTRS * PTRS * PTRS) * BS64;
        if data.len() > max {
            return Err(Ext2Error::FileTooBig);
        }
        self.insert(path.as_ref(), Node { meta, kind: Kind::File(data), nlink: 1, min_blocks: 0 })?;
        Ok(())
    }

    /// Add a symbolic link; targets under 60 bytes are stored in the inode.
    pub fn add_symlink(&mut self, path: impl AsRef<[u8]>, meta: Meta, target: impl AsRef<[u8]>) -> Result<()> {
        let t = target.as_ref();
        if t.is_empty() {
            return Err(Ext2Error::Invalid("empty symlink target"));
        }
        if t.len() > SYMLINK_MAX {
            return Err(Ext2Error::NameTooLong);
        }
        if t.contains(&0) {
            return Err(Ext2Error::Invalid("symlink target contains NUL"));
        }
        self.insert(path.as_ref(), Node { meta, kind: Kind::Symlink(t.to_vec()), nlink: 1, min_blocks: 0 })?;
        Ok(())
    }

    /// Add a named pipe, socket or device node (`rdev` in Linux `dev_t`
    /// encoding, see [`makedev`]; ignored for pipes and sockets).
    pub fn add_special(&mut self, path: impl AsRef<[u8]>, meta: Meta, kind: SpecialKind, rdev: u64) -> Result<()> {
        let rdev = match kind {
            SpecialKind::CharDev | SpecialKind::BlockDev => rdev,
            _ => 0,
        };
        self.insert(path.as_ref(), Node { meta, kind: Kind::Special(kind, rdev), nlink: 1, min_blocks: 0 })?;
        Ok(())
    }

    /// Add `path` as another name of the non-directory `existing`.
    pub fn add_hardlink(&mut self, path: impl AsRef<[u8]>, existing: impl AsRef<[u8]>) -> Result<()> {
        let target = self.resolve(&components(existing.as_ref())?)?;
        if matches!(self.nodes[target].kind, Kind::Dir(_)) {
            return Err(Ext2Error::NotPermitted);
        }
        if self.nodes[target].nlink >= LINK_MAX {
            return Err(Ext2Error::TooManyLinks);
        }
        let comps = components(path.as_ref())?;
        let Some((name, parent)) = comps.split_last() else {
            return Err(Ext2Error::Exists);
        };
        let p = self.resolve(parent)?;
        match &mut self.nodes[p].kind {
            Kind::Dir(m) => {
                if m.contains_key(*name) {
                    return Err(Ext2Error::Exists);
                }
                m.insert(name.to_vec(), target);
            }
            _ => return Err(Ext2Error::NotDir),
        }
        self.nodes[target].nlink += 1;
        Ok(())
    }

    fn node_blocks(&self, n: &Node) -> u64 {
        match &n.kind {
            Kind::Dir(m) => dir_blocks(m.keys().map(|k| k.len()), n.min_blocks),
            Kind::File(d) => {
                let r = file_ranges(d);
                r.iter().map(|&(a, b)| b - a).sum::<u64>() + indirect_blocks(&r)
            }
            Kind::Symlink(t) => u64::from(t.len() > FAST_SYMLINK_MAX),
            Kind::Special(..) => 0,
        }
    }

    fn needs(&self) -> Result<Needs> {
        let mut data = 0u64;
        let mut bytes = 0u64;
        let mut reachable = 0u64;
        for n in &self.nodes {
            data += self.node_blocks(n);
            if let Kind::File(d) = &n.kind {
                bytes += d.len();
            }
            if let Kind::Dir(m) = &n.kind {
                let subdirs = m.values().filter(|&&i| matches!(self.nodes[i].kind, Kind::Dir(_))).count() as u64;
                if subdirs + 2 > u64::from(LINK_MAX) {
                    return Err(Ext2Error::TooManyLinks);
                }
            }
            reachable += 1;
        }
        // Reserved inodes 1..=10 include the root (2).
        Ok(Needs { data_blocks: data, inodes: u64::from(GOOD_OLD_FIRST_INO - 1) + reachable - 1, file_bytes: bytes })
    }

    fn isz(&self) -> Result<usize> {
        match self.opts.inode_size {
            128 => Ok(128),
            256 => Ok(256),
            _ => Err(Ext2Error::Invalid("inode size must be 128 or 256")),
        }
    }

    fn inode_headroom(inodes: u64) -> u64 {
        inodes + (inodes / 10).max(64)
    }

    /// The smallest image size (bytes) that holds the tree, with no room to
    /// spare. [`Builder::write`] fails below this.
    pub fn required_size(&self) -> Result<u64> {
        let n = self.needs()?;
        smallest_blocks(n.data_blocks, n.inodes, self.isz()?).map(|b| b * BS64).ok_or(Ext2Error::FileTooBig)
    }

    /// A good image size (bytes): what the tree needs plus headroom for
    /// changes (10% more data blocks plus 1 MiB, 10% more inodes plus 64).
    pub fn min_size(&self) -> Result<u64> {
        let n = self.needs()?;
        let data = n.data_blocks + n.data_blocks / 10 + 256;
        smallest_blocks(data, Self::inode_headroom(n.inodes), self.isz()?).map(|b| b * BS64).ok_or(Ext2Error::FileTooBig)
    }

    /// Write the image, `size_bytes` long, through `sink(offset, bytes)`.
    ///
    /// The sink must start out reading as zeros (a new or truncated file, or
    /// a zeroed buffer): blocks that are all zero are not written, except
    /// that the last bytes of the image always are, so a file grows to
    /// `size_bytes`.
    pub fn write(&self, size_bytes: u64, sink: &mut Sink<'_>) -> Result<()> {
        self.write_with_progress(size_bytes, sink, &mut |_, _| {})
    }

    /// [`Builder::write`], calling `progress(done, total)` in bytes of file
    /// data as it goes (and once more with `done == total` at the end).
    pub fn write_with_progress(&self, size_bytes: u64, sink: &mut Sink<'_>, progress: &mut dyn FnMut(u64, u64)) -> Result<()> {
        let isz = self.isz()?;
        let needs = self.needs()?;
        let too_small = || -> Ext2Error {
            match self.required_size() {
                Ok(need) => Ext2Error::TooSmall { size: size_bytes, need },
                Err(e) => e,
            }
        };
        let blocks = size_bytes / BS64;
        if blocks > u64::from(u32::MAX) {
            return Err(Ext2Error::Invalid("image larger than 16 TiB"));
        }
        let ratio = self.opts.bytes_per_inode.max(1024);
        let by_ratio = (blocks * BS64 / ratio).max(Self::inode_headroom(needs.inodes));
        let mut layout = None;
        for inodes in [by_ratio, Self::inode_headroom(needs.inodes), needs.inodes] {
            if let Some(l) = Layout::new(blocks, inodes, isz) {
                if l.data_capacity() >= needs.data_blocks && l.inodes() >= needs.inodes {
                    layout = Some(l);
                    break;
                }
            }
        }
        let layout = layout.ok_or_else(too_small)?;
        let mut w = ImageWriter {
            l: layout,
            sink,
            cursor: 0,
            max_end: 0,
            itable: Vec::new(),
            itable_group: u64::MAX,
            used_dirs: vec![0u32; layout.groups as usize],
            done: 0,
            total: needs.file_bytes,
            progress,
            last_report: 0,
        };
        self.write_all(&mut w)?;
        let end = w.max_end;
        if end < size_bytes {
            let n = (size_bytes - end).min(BS64) as usize;
            (w.sink)(size_bytes - n as u64, &vec![0u8; n])?;
        }
        Ok(())
    }

    /// Assign inode numbers: root 2, lost+found 11, then depth-first.
    fn number(&self) -> (Vec<u32>, Vec<usize>) {
        let mut ino_of = vec![0u32; self.nodes.len()];
        let mut order = Vec::with_capacity(self.nodes.len());
        ino_of[0] = ROOT_INO;
        ino_of[1] = GOOD_OLD_FIRST_INO;
        order.push(0);
        order.push(1);
        let mut next = GOOD_OLD_FIRST_INO + 1;
        let mut stack = vec![0usize];
        while let Some(d) = stack.pop() {
            if let Kind::Dir(m) = &self.nodes[d].kind {
                let mut subdirs = Vec::new();
                for &c in m.values() {
                    if ino_of[c] == 0 {
                        ino_of[c] = next;
                        next += 1;
                        order.push(c);
                        if matches!(self.nodes[c].kind, Kind::Dir(_)) {
                            subdirs.push(c);
                        }
                    }
                }
                for &c in subdirs.iter().rev() {
                    stack.push(c);
                }
                if d == 0 {
                    stack.insert(0, 1);
                }
            }
        }
        (ino_of, order)
    }

    fn write_all(&self, w: &mut ImageWriter<'_>) -> Result<()> {
        let (ino_of, order) = self.number();
        let mut parent_of = vec![0usize; self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            if let Kind::Dir(m) = &n.kind {
                for &c in m.values() {
                    if matches!(self.nodes[c].kind, Kind::Dir(_)) {
                        parent_of[c] = i;
                    }
                }
            }
        }
        let mut last_ino = 0u32;
        for &idx in &order {
            let ino = ino_of[idx];
            let inode = self.write_node(w, idx, &ino_of, parent_of[idx])?;
            w.put_inode(ino, &inode)?;
            last_ino = last_ino.max(ino);
        }
        w.flush_itable()?;
        w.report(true);
        self.write_metadata(w, last_ino)
    }

    fn new_inode(&self, isz: usize, meta: &Meta, ft: FileType, links: u32) -> Inode {
        let mut inode = Inode::zeroed(isz);
        inode.init_extra(EXTRA_ISIZE);
        inode.set_mode(ft.mode_bits() | (meta.mode & 0o7777));
        inode.set_uid(meta.uid);
        inode.set_gid(meta.gid);
        inode.set_atime(meta.atime);
        inode.set_mtime(meta.mtime);
        inode.set_ctime(meta.ctime);
        inode.set_crtime(meta.ctime);
        inode.set_links(links.min(0xffff) as u16);
        inode
    }

    fn write_node(&self, w: &mut ImageWriter<'_>, idx: usize, ino_of: &[u32], parent: usize) -> Result<Inode> {
        let n = &self.nodes[idx];
        let isz = w.l.isz;
        match &n.kind {
            Kind::Dir(m) => {
                let subdirs = m.values().filter(|&&i| matches!(self.nodes[i].kind, Kind::Dir(_))).count() as u32;
                let mut inode = self.new_inode(isz, &n.meta, FileType::Dir, 2 + subdirs);
                let me = ino_of[idx];
                let mut entries: Vec<(&[u8], u32, FileType)> = Vec::with_capacity(m.len() + 2);
                entries.push((b".", me, FileType::Dir));
                entries.push((b"..", ino_of[parent], FileType::Dir));
                for (name, &c) in m {
                    entries.push((name, ino_of[c], self.kind_type(c)));
                }
                let nblocks = dir_blocks(m.keys().map(|k| k.len()), n.min_blocks);
                let content = pack_dir(&entries, nblocks);
                let mut map = MapWriter::default();
                for (lblk, blk) in content.chunks(BS).enumerate() {
                    let pb = w.alloc()?;
                    w.put(pb, blk)?;
                    map.add(w, lblk as u64, pb)?;
                }
                map.finish(w)?;
                map.apply(&mut inode)?;
                inode.set_size(nblocks * BS64);
                w.used_dirs[((me - 1) as u64 / w.l.ipg) as usize] += 1;
                Ok(inode)
            }
            Kind::File(data) => {
                let mut inode = self.new_inode(isz, &n.meta, FileType::Regular, n.nlink);
                let len = data.len();
                let mut map = MapWriter::default();
                let mut buf = vec![0u8; BS];
                let start_done = w.done;
                for (a, b) in file_ranges(data) {
                    for lblk in a..b {
                        let off = lblk * BS64;
                        if off >= len {
                            break;
                        }
                        let n = (len - off).min(BS64) as usize;
                        match data {
                            FileData::Bytes(v) => buf[..n].copy_from_slice(&v[off as usize..off as usize + n]),
                            FileData::Source(s) => s.read_at(off, &mut buf[..n])?,
                        }
                        buf[n..].fill(0);
                        w.done = start_done + off + n as u64;
                        w.report(false);
                        if buf.iter().all(|&x| x == 0) {
                            continue;
                        }
                        let pb = w.alloc()?;
                        w.put(pb, &buf)?;
                        map.add(w, lblk, pb)?;
                    }
                }
                map.finish(w)?;
                map.apply(&mut inode)?;
                inode.set_size(len);
                w.done = start_done + len;
                w.report(false);
                Ok(inode)
            }
            Kind::Symlink(t) => {
                let mut inode = self.new_inode(isz, &n.meta, FileType::Symlink, n.nlink);
                if t.len() <= FAST_SYMLINK_MAX {
                    inode.block_bytes_mut()[..t.len()].copy_from_slice(t);
                } else {
                    let mut buf = vec![0u8; BS];
                    buf[..t.len()].copy_from_slice(t);
                    let pb = w.alloc()?;
                    w.put(pb, &buf)?;
                    let mut map = MapWriter::default();
                    map.add(w, 0, pb)?;
                    map.finish(w)?;
                    map.apply(&mut inode)?;
                }
                inode.set_size(t.len() as u64);
                Ok(inode)
            }
            Kind::Special(k, rdev) => {
                let mut inode = self.new_inode(isz, &n.meta, k.file_type(), n.nlink);
                if matches!(k, SpecialKind::CharDev | SpecialKind::BlockDev) {
                    let (a, b) = encode_dev(*rdev);
                    inode.set_block(0, a);
                    inode.set_block(1, b);
                }
                Ok(inode)
            }
        }
    }

    fn kind_type(&self, idx: usize) -> FileType {
        match &self.nodes[idx].kind {
            Kind::Dir(_) => FileType::Dir,
            Kind::File(_) => FileType::Regular,
            Kind::Symlink(_) => FileType::Symlink,
            Kind::Special(k, _) => k.file_type(),
        }
    }

    fn uuid(&self) -> [u8; 16] {
        if let Some(u) = self.opts.uuid {
            return u;
        }
        // FNV-1a over the names and the time: stable for a given tree.
        let mut h1: u64 = 0xcbf2_9ce4_8422_2325;
        let mut h2: u64 = 0x8422_2325_cbf2_9ce4;
        let mut feed = |bytes: &[u8]| {
            for &b in bytes {
                h1 = (h1 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
                h2 = (h2 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3).rotate_left(7);
            }
        };
        feed(&self.opts.mkfs_time.to_le_bytes());
        for n in &self.nodes {
            if let Kind::Dir(m) = &n.kind {
                for k in m.keys() {
                    feed(k);
                    feed(b"/");
                }
            }
        }
        let mut u = [0u8; 16];
        u[..8].copy_from_slice(&h1.to_le_bytes());
        u[8..].copy_from_slice(&h2.to_le_bytes());
        u[6] = (u[6] & 0x0f) | 0x40;
        u[8] = (u[8] & 0x3f) | 0x80;
        u
    }

    fn write_metadata(&self, w: &mut ImageWriter<'_>, last_ino: u32) -> Result<()> {
        let l = w.l;
        let cursor = w.cursor;
        let mut total_free_blocks = 0u64;
        let mut total_free_inodes = 0u64;
        let mut gdt = vec![0u8; (l.gdt_blocks * BS64) as usize];
        let mut bm = vec![0u8; BS];
        for g in 0..l.groups {
            let start = l.group_start(g);
            let gb = l.group_blocks(g);
            let used = l.meta_blocks(g).max(cursor.saturating_sub(start)).min(gb);
            set_prefix(&mut bm, used, gb);
            w.put(l.block_bitmap(g), &bm)?;
            let iused = u64::from(last_ino).saturating_sub(g * l.ipg).min(l.ipg);
            set_prefix(&mut bm, iused, l.ipg);
            w.put(l.block_bitmap(g) + 1, &bm)?;
            let free_b = gb - used;
            let free_i = l.ipg - iused;
            total_free_blocks += free_b;
            total_free_inodes += free_i;
            let o = g as usize * DESC_SIZE;
            put32(&mut gdt, o + gd::BLOCK_BITMAP, l.block_bitmap(g) as u32);
            put32(&mut gdt, o + gd::INODE_BITMAP, (l.block_bitmap(g) + 1) as u32);
            put32(&mut gdt, o + gd::INODE_TABLE, l.inode_table(g) as u32);
            put16(&mut gdt, o + gd::FREE_BLOCKS, free_b as u16);
            put16(&mut gdt, o + gd::FREE_INODES, free_i as u16);
            put16(&mut gdt, o + gd::USED_DIRS, w.used_dirs[g as usize] as u16);
        }
        let mut sbv = vec![0u8; SUPERBLOCK_SIZE];
        let s = &mut sbv;
        let t = self.opts.mkfs_time;
        put32(s, sb::INODES_COUNT, l.inodes() as u32);
        put32(s, sb::BLOCKS_COUNT, l.blocks as u32);
        put32(s, sb::R_BLOCKS_COUNT, 0);
        put32(s, sb::FREE_BLOCKS, total_free_blocks as u32);
        put32(s, sb::FREE_INODES, total_free_inodes as u32);
        put32(s, sb::FIRST_DATA_BLOCK, 0);
        put32(s, sb::LOG_BLOCK_SIZE, 2);
        put32(s, sb::LOG_FRAG_SIZE, 2);
        put32(s, sb::BLOCKS_PER_GROUP, BPG as u32);
        put32(s, sb::FRAGS_PER_GROUP, BPG as u32);
        put32(s, sb::INODES_PER_GROUP, l.ipg as u32);
        put32(s, sb::MTIME, 0);
        put32(s, sb::WTIME, t);
        put16(s, sb::MAX_MNT_COUNT, 0xffff);
        put16(s, sb::MAGIC, EXT2_MAGIC);
        put16(s, sb::STATE, 1);
        put16(s, sb::ERRORS, 1);
        put32(s, sb::LASTCHECK, t);
        put32(s, sb::CREATOR_OS, 0);
        put32(s, sb::REV_LEVEL, 1);
        put32(s, sb::FIRST_INO, GOOD_OLD_FIRST_INO);
        put16(s, sb::INODE_SIZE, l.isz as u16);
        put32(s, sb::FEATURE_COMPAT, 0);
        put32(s, sb::FEATURE_INCOMPAT, INCOMPAT_FILETYPE);
        put32(s, sb::FEATURE_RO_COMPAT, RO_COMPAT_SPARSE_SUPER | RO_COMPAT_LARGE_FILE);
        s[sb::UUID..sb::UUID + 16].copy_from_slice(&self.uuid());
        let vn = &self.opts.volume_name[..self.opts.volume_name.len().min(16)];
        s[sb::VOLUME_NAME..sb::VOLUME_NAME + vn.len()].copy_from_slice(vn);
        put32(s, sb::MKFS_TIME, t);
        if l.isz > GOOD_OLD_INODE_SIZE {
            put16(s, sb::MIN_EXTRA_ISIZE, EXTRA_ISIZE);
            put16(s, sb::WANT_EXTRA_ISIZE, EXTRA_ISIZE);
        }
        for g in 0..l.groups {
            if !l.has_super(g) {
                continue;
            }
            let start = l.group_start(g);
            put16(&mut sbv, sb::BLOCK_GROUP_NR, g as u16);
            let mut blk = vec![0u8; BS];
            let off = if g == 0 { SUPERBLOCK_OFFSET as usize } else { 0 };
            blk[off..off + SUPERBLOCK_SIZE].copy_from_slice(&sbv);
            w.put(start, &blk)?;
            for (i, chunk) in gdt.chunks(BS).enumerate() {
                w.put(start + 1 + i as u64, chunk)?;
            }
        }
        Ok(())
    }
}

/// Set the first `used` bits, clear the rest up to `valid`, set padding.
fn set_prefix(bm: &mut [u8], used: u64, valid: u64) {
    bm.fill(0);
    for bit in (0..used).chain(valid..bm.len() as u64 * 8) {
        bm[(bit / 8) as usize] |= 1 << (bit % 8);
    }
}

/// Lay out directory entries into `nblocks` blocks with the same packing
/// [`dir_blocks`] assumes.
fn pack_dir(entries: &[(&[u8], u32, FileType)], nblocks: u64) -> Vec<u8> {
    let mut out = vec![0u8; (nblocks * BS64) as usize];
    let mut blk_start = 0usize;
    let mut off = 0usize;
    let mut last: Option<usize> = None;
    for &(name, ino, ft) in entries {
        let r = rec_len_for(name.len());
        if off + r > BS {
            if let Some(p) = last {
                let rec = blk_start + BS - p;
                put16(&mut out, p + 4, rec as u16);
            }
            blk_start += BS;
            off = 0;
        }
        let at = blk_start + off;
        write_dirent(&mut out, at, ino, r, name, ft.to_dirent());
        last = Some(at);
        off += r;
    }
    if let Some(p) = last {
        put16(&mut out, p + 4, (blk_start + BS - p) as u16);
    }
    // Remaining blocks (lost+found's spare room) are single empty entries.
    let mut b = blk_start + BS;
    while b < out.len() {
        put16(&mut out, b + 4, BS as u16);
        b += BS;
    }
    out
}

struct ImageWriter<'a> {
    l: Layout,
    sink: &'a mut Sink<'a>,
    cursor: u64,
    max_end: u64,
    itable: Vec<u8>,
    itable_group: u64,
    used_dirs: Vec<u32>,
    done: u64,
    total: u64,
    progress: &'a mut dyn FnMut(u64, u64),
    last_report: u64,
}

impl ImageWriter<'_> {
    fn alloc(&mut self) -> Result<u64> {
        loop {
            if self.cursor >= self.l.blocks {
                return Err(Ext2Error::NoSpace);
            }
            let g = self.cursor / BPG;
            let ds = self.l.data_start(g);
            if self.cursor < ds {
                self.cursor = ds;
                continue;
            }
            let b = self.cursor;
            self.cursor += 1;
            return Ok(b);
        }
    }

    fn put(&mut self, blk: u64, data: &[u8]) -> Result<()> {
        let off = blk * BS64;
        (self.sink)(off, data)?;
        self.max_end = self.max_end.max(off + data.len() as u64);
        Ok(())
    }

    fn put_inode(&mut self, ino: u32, inode: &Inode) -> Result<()> {
        let idx = u64::from(ino - 1);
        let g = idx / self.l.ipg;
        if g != self.itable_group {
            self.flush_itable()?;
            self.itable_group = g;
            self.itable = vec![0u8; (self.l.ipg as usize) * self.l.isz];
        }
        let off = (idx % self.l.ipg) as usize * self.l.isz;
        self.itable[off..off + self.l.isz].copy_from_slice(&inode.raw[..self.l.isz]);
        Ok(())
    }

    fn flush_itable(&mut self) -> Result<()> {
        if self.itable_group == u64::MAX {
            return Ok(());
        }
        let start = self.l.inode_table(self.itable_group);
        let table = core::mem::take(&mut self.itable);
        for (i, chunk) in table.chunks(BS).enumerate() {
            if chunk.iter().any(|&b| b != 0) {
                self.put(start + i as u64, chunk)?;
            }
        }
        self.itable_group = u64::MAX;
        Ok(())
    }

    fn report(&mut self, force: bool) {
        if force || self.done >= self.last_report + (4 << 20) {
            self.last_report = self.done;
            (self.progress)(self.done.min(self.total), self.total);
        }
    }
}

/// Builds the block map of one file as its blocks arrive in ascending
/// logical order, writing each indirect block once it is complete.
#[derive(Default)]
struct MapWriter {
    iblock: [u32; 15],
    /// Open indirect blocks of the current tree, top level first:
    /// (physical block, prefix of logical indices it covers, contents).
    open: [Option<(u64, u64, Vec<u8>)>; 3],
    tree: u32,
    count: u64,
}

impl MapWriter {
    fn add(&mut self, w: &mut ImageWriter<'_>, lblk: u64, pb: u64) -> Result<()> {
        self.count += 1;
        let nd = NDIR_BLOCKS as u64;
        if lblk < nd {
            self.iblock[lblk as usize] = pb as u32;
            return Ok(());
        }
        let mut idx = lblk - nd;
        let mut t = 1u32;
        while idx >= PTRS.pow(t) {
            idx -= PTRS.pow(t);
            t += 1;
            if t > 3 {
                return Err(Ext2Error::FileTooBig);
            }
        }
        if t != self.tree {
            self.flush_from(0, w)?;
            self.tree = t;
        }
        for k in 0..t as usize {
            let span = PTRS.pow(t - k as u32);
            let prefix = idx / span;
            if matches!(&self.open[k], Some((_, p, _)) if *p == prefix) {
                continue;
            }
            self.flush_from(k, w)?;
            let nb = w.alloc()?;
            self.count += 1;
            if k == 0 {
                self.iblock[NDIR_BLOCKS + t as usize - 1] = nb as u32;
            } else if let Some((_, _, parent)) = &mut self.open[k - 1] {
                put32(parent, ((prefix % PTRS) * 4) as usize, nb as u32);
            }
            self.open[k] = Some((nb, prefix, vec![0u8; BS]));
        }
        if let Some((_, _, leaf)) = &mut self.open[t as usize - 1] {
            put32(leaf, ((idx % PTRS) * 4) as usize, pb as u32);
        }
        Ok(())
    }

    fn flush_from(&mut self, k: usize, w: &mut ImageWriter<'_>) -> Result<()> {
        for j in (k..3).rev() {
            if let Some((b, _, data)) = self.open[j].take() {
                w.put(b, &data)?;
            }
        }
        Ok(())
    }

    fn finish(&mut self, w: &mut ImageWriter<'_>) -> Result<()> {
        self.flush_from(0, w)
    }

    fn apply(&self, inode: &mut Inode) -> Result<()> {
        for (i, &b) in self.iblock.iter().enumerate() {
            inode.set_block(i, b);
        }
        let sectors = self.count * (BS64 / 512);
        if sectors > u64::from(u32::MAX) {
            return Err(Ext2Error::FileTooBig);
        }
        inode.set_blocks_lo(sectors as u32);
        Ok(())
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn indirect_counts() {
        assert_eq!(indirect_blocks(&[(0, 12)]), 0);
        assert_eq!(indirect_blocks(&[(0, 13)]), 1);
        assert_eq!(indirect_blocks(&[(0, 12 + 1024)]), 1);
        assert_eq!(indirect_blocks(&[(0, 12 + 1024 + 1)]), 3);
        assert_eq!(indirect_blocks(&[(0, 12 + 1024 + 2048)]), 1 + 1 + 2);
        // Two separate ranges inside the same indirect block count once.
        assert_eq!(indirect_blocks(&[(20, 21), (30, 31)]), 1);
        let tind = 12 + 1024 + 1024 * 1024;
        assert_eq!(indirect_blocks(&[(tind, tind + 1)]), 3);
    }

    #[test]
    fn dir_packing_matches_count() {
        let names: Vec<Vec<u8>> = (0..3000).map(|i| alloc::format!("file-{i:05}").into_bytes()).collect();
        let n = dir_blocks(names.iter().map(|n| n.len()), 1);
        let mut entries: Vec<(&[u8], u32, FileType)> = vec![(b".", 2, FileType::Dir), (b"..", 2, FileType::Dir)];
        for nm in &names {
            entries.push((nm, 12, FileType::Regular));
        }
        let out = pack_dir(&entries, n);
        assert_eq!(out.len() as u64, n * BS64);
        // every block parses fully
        let mut seen = 0;
        for blk in out.chunks(BS) {
            let mut off = 0;
            while off < BS {
                let d = parse_dirent(blk, off, true).unwrap();
                if d.ino != 0 {
                    seen += 1;
                }
                off += d.rec_len;
            }
        }
        assert_eq!(seen, 3002);
    }

    #[test]
    fn layout_sizes() {
        let l = Layout::new(16384, 4096, 256).unwrap();
        assert_eq!(l.groups, 1);
        assert!(Layout::new(10, 16, 256).is_none());
        // tiny last group gets dropped
        let l = Layout::new(BPG + 5, 1000, 256).unwrap();
        assert_eq!(l.blocks, BPG);
        let b = smallest_blocks(100, 200, 256).unwrap();
        let l = Layout::new(b, 200, 256).unwrap();
        assert!(l.data_capacity() >= 100);
        assert!(Layout::new(b - 1, 200, 256).is_none_or(|l| l.data_capacity() < 100 || l.blocks != b - 1));
    }
}
