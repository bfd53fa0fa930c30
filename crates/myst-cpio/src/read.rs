use alloc::vec::Vec;

use crate::{
    align4, normalize_name, CpioError, HEADER_LEN, MAGIC_CRC, MAGIC_NEWC, MAX_NAME_LEN, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK,
    S_IFMT, S_IFREG, S_IFSOCK, S_IPERM, TRAILER_NAME,
};

/// The kind of file an entry describes, from the file-type bits of its mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    Regular,
    Directory,
    Symlink,
    Fifo,
    CharDevice,
    BlockDevice,
    Socket,
    /// File-type bits that match no known type (the value is `mode & S_IFMT`).
    Unknown(u32),
}

impl FileType {
    /// The type encoded in `mode`.
    pub fn from_mode(mode: u32) -> Self {
        match mode & S_IFMT {
            S_IFREG => Self::Regular,
            S_IFDIR => Self::Directory,
            S_IFLNK => Self::Symlink,
            S_IFIFO => Self::Fifo,
            S_IFCHR => Self::CharDevice,
            S_IFBLK => Self::BlockDevice,
            S_IFSOCK => Self::Socket,
            other => Self::Unknown(other),
        }
    }
}

/// One archive member, borrowing its name and data from the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Path name relative to the archive root, without leading `./` or `/` and without a
    /// trailing `/`; the root itself is `.`. Usually UTF-8 but not necessarily (see
    /// [`Entry::name_str`]).
    pub name: &'a [u8],
    /// Inode number as recorded by the archiver; entries sharing `(devmajor, devminor, ino)`
    /// with `nlink > 1` are hard links of one file.
    pub ino: u32,
    /// File type and permission bits (`S_IFREG | 0o644`, ...).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Link count as recorded by the archiver.
    pub nlink: u32,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: u32,
    /// Device that held the file when it was archived (used only to group hard links).
    pub devmajor: u32,
    pub devminor: u32,
    /// Device number of a character or block device entry.
    pub rdevmajor: u32,
    pub rdevminor: u32,
    /// File contents, or the target of a symbolic link. Empty for all but the last member of a
    /// hard-link group (see [`Entry::hardlink_of`]).
    pub data: &'a [u8],
    /// Offset of this entry's header in the archive.
    pub offset: usize,
    /// Set by [`parse`] on members of a hard-link group other than the one holding the data:
    /// the index (in the returned vector) of the member that holds it. A consumer creates that
    /// member as a file with its data and makes this one a link to it. newc stores the data
    /// with the *last* member of a group, so the index is usually greater than this entry's
    /// own. Always `None` from [`Reader`].
    pub hardlink_of: Option<usize>,
}

impl<'a> Entry<'a> {
    /// The name as UTF-8, if it is.
    pub fn name_str(&self) -> Option<&'a str> {
        core::str::from_utf8(self.name).ok()
    }

    /// The file type from the mode.
    pub fn file_type(&self) -> FileType {
        FileType::from_mode(self.mode)
    }

    /// Permission bits of the mode (including set-uid, set-gid, sticky).
    pub fn permissions(&self) -> u32 {
        self.mode & S_IPERM
    }

    pub fn is_dir(&self) -> bool {
        self.file_type() == FileType::Directory
    }

    pub fn is_file(&self) -> bool {
        self.file_type() == FileType::Regular
    }

    pub fn is_symlink(&self) -> bool {
        self.file_type() == FileType::Symlink
    }

    /// The target of a symbolic link (its data), `None` for other entries.
    pub fn link_target(&self) -> Option<&'a [u8]> {
        self.is_symlink().then_some(self.data)
    }
}

/// Iterator over the entries of an archive, in archive order, up to (not including) the
/// trailer.
///
/// It yields `Err` at most once and then stops; if the input ends before a trailer it yields
/// [`CpioError::MissingTrailer`] (or a truncation error). Hard links are not grouped: use
/// [`parse`] for that. Bytes after the trailer (usually padding to 512 bytes) are ignored;
/// [`Reader::position`] tells where the trailer entry ended.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0, done: false }
    }

    /// Offset of the next header to read; after the iterator ended at a trailer, the offset
    /// just after the trailer entry (and its padding).
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Reads the entry at `self.pos`. `Ok(None)` means the trailer was read.
    fn read_entry(&mut self) -> Result<Option<Entry<'a>>, CpioError> {
        let offset = self.pos;
        let rest = self.data.get(offset..).unwrap_or(&[]);
        if rest.is_empty() {
            return Err(CpioError::MissingTrailer { offset });
        }
        let header = rest.get(..HEADER_LEN).ok_or(CpioError::TruncatedHeader { offset })?;
        let magic = header.get(..6).ok_or(CpioError::TruncatedHeader { offset })?;
        let with_crc = if magic == MAGIC_NEWC {
            false
        } else if magic == MAGIC_CRC {
            true
        } else {
            let mut found = [0u8; 6];
            found.copy_from_slice(magic);
            return Err(CpioError::BadMagic { offset, found });
        };

        let field = |index: usize, name: &'static str| -> Result<u32, CpioError> {
            let start = 6 + index * 8;
            let digits = header.get(start..start + 8).ok_or(CpioError::TruncatedHeader { offset })?;
            parse_hex8(digits).ok_or(CpioError::BadHexDigit { offset: offset + start, field: name })
        };
        let ino = field(0, "ino")?;
        let mode = field(1, "mode")?;
        let uid = field(2, "uid")?;
        let gid = field(3, "gid")?;
        let nlink = field(4, "nlink")?;
        let mtime = field(5, "mtime")?;
        let filesize = field(6, "filesize")?;
        let devmajor = field(7, "devmajor")?;
        let devminor = field(8, "devminor")?;
        let rdevmajor = field(9, "rdevmajor")?;
        let rdevminor = field(10, "rdevminor")?;
        let namesize = field(11, "namesize")?;
        let check = field(12, "check")?;

        let overflow = CpioError::SizeOverflow { offset };
        let namesize = usize::try_from(namesize).map_err(|_| overflow.clone())?;
        if namesize == 0 {
            return Err(CpioError::InvalidName { offset });
        }
        let name_len = namesize - 1;
        if name_len > MAX_NAME_LEN {
            return Err(CpioError::NameTooLong { offset, len: name_len });
        }
        let name_start = offset.checked_add(HEADER_LEN).ok_or(overflow.clone())?;
        let name_end = name_start.checked_add(namesize).ok_or(overflow.clone())?;
        let raw_name = self.data.get(name_start..name_end).ok_or(CpioError::TruncatedName { offset })?;
        let (nul, name) = raw_name.split_last().ok_or(CpioError::InvalidName { offset })?;
        if *nul != 0 {
            return Err(CpioError::NameNotTerminated { offset });
        }
        if name.is_empty() || name.contains(&0) {
            return Err(CpioError::InvalidName { offset });
        }

        let size = usize::try_from(filesize).map_err(|_| overflow.clone())?;
        let data_start = align4(name_end).ok_or(overflow.clone())?;
        let data_end = data_start.checked_add(size).ok_or(overflow.clone())?;
        let next = align4(data_end).ok_or(overflow)?;
        if next > self.data.len() {
            return Err(CpioError::TruncatedData { offset, size: filesize });
        }
        let data = self.data.get(data_start..data_end).ok_or(CpioError::TruncatedData { offset, size: filesize })?;
        // GNU cpio checksums the data of regular files only (a symlink's check field is 0).
        if with_crc && mode & S_IFMT == S_IFREG {
            let actual = data.iter().fold(0u32, |sum, &b| sum.wrapping_add(u32::from(b)));
            if actual != check {
                return Err(CpioError::ChecksumMismatch { offset, expected: check, actual });
            }
        }
        self.pos = next;
        if name == TRAILER_NAME {
            return Ok(None);
        }
        Ok(Some(Entry {
            name: normalize_name(name),
            ino,
            mode,
            uid,
            gid,
            nlink,
            mtime,
            devmajor,
            devminor,
            rdevmajor,
            rdevminor,
            data,
            offset,
            hardlink_of: None,
        }))
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<Entry<'a>, CpioError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.read_entry() {
            Ok(Some(entry)) => Some(Ok(entry)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl core::iter::FusedIterator for Reader<'_> {}

/// Parses a whole newc archive: every entry before `TRAILER!!!`, in archive order, with hard
/// links resolved through [`Entry::hardlink_of`].
///
/// Hard links: newc records each name of a multiply-linked file as its own entry with the
/// same `(devmajor, devminor, ino)` and `nlink > 1`, and stores the contents only with the
/// last of them. Non-directory entries are grouped by that key; in each group with more than
/// one member, the member that holds the data (the last one with non-empty data, or the last
/// member if none has data) is the primary, and every other member gets
/// `hardlink_of = Some(index of the primary)`.
pub fn parse(data: &[u8]) -> Result<Vec<Entry<'_>>, CpioError> {
    let mut entries = Vec::new();
    for entry in Reader::new(data) {
        entries.push(entry?);
    }
    resolve_hardlinks(&mut entries);
    Ok(entries)
}

fn resolve_hardlinks(entries: &mut [Entry<'_>]) {
    let mut linked: Vec<((u32, u32, u32), usize)> =
        entries.iter().enumerate().filter(|(_, e)| e.nlink > 1 && !e.is_dir()).map(|(i, e)| ((e.devmajor, e.devminor, e.ino), i)).collect();
    if linked.len() < 2 {
        return;
    }
    // Stable sort keeps archive order inside each group.
    linked.sort_by_key(|&(key, _)| key);
    for group in linked.chunk_by(|a, b| a.0 == b.0) {
        if group.len() < 2 {
            continue;
        }
        let holds_data = |i: usize| entries.get(i).is_some_and(|e| !e.data.is_empty());
        let primary = group.iter().rev().map(|&(_, i)| i).find(|&i| holds_data(i)).or_else(|| group.last().map(|&(_, i)| i));
        let Some(primary) = primary else { continue };
        for &(_, i) in group {
            if i != primary {
                if let Some(e) = entries.get_mut(i) {
                    e.hardlink_of = Some(primary);
                }
            }
        }
    }
}

/// Parses eight ASCII hexadecimal digits (either case).
fn parse_hex8(digits: &[u8]) -> Option<u32> {
    if digits.len() != 8 {
        return None;
    }
    digits.iter().try_fold(0u32, |acc, &c| {
        let v = char::from(c).to_digit(16)?;
        Some((acc << 4) | v)
    })
}
