use core::fmt;

/// Everything that can be wrong with a CPIO archive, or with an entry given to a writer.
///
/// Offsets are byte offsets from the start of the archive, so a user can look at the spot with
/// a hex dump.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CpioError {
    /// The header at `offset` does not start with `070701` or `070702`.
    BadMagic { offset: usize, found: [u8; 6] },
    /// A header field holds something other than eight hexadecimal digits.
    BadHexDigit { offset: usize, field: &'static str },
    /// The archive ends inside the header that starts at `offset`.
    TruncatedHeader { offset: usize },
    /// The archive ends inside the path name of the entry at `offset`.
    TruncatedName { offset: usize },
    /// The archive ends inside (or inside the padding before) the data of the entry at `offset`.
    TruncatedData { offset: usize, size: u32 },
    /// The name of the entry at `offset` does not end with a NUL byte.
    NameNotTerminated { offset: usize },
    /// The name of the entry at `offset` is empty or contains a NUL byte.
    InvalidName { offset: usize },
    /// The name of the entry at `offset` is longer than [`crate::MAX_NAME_LEN`] bytes.
    NameTooLong { offset: usize, len: usize },
    /// The archive ends without a `TRAILER!!!` entry.
    MissingTrailer { offset: usize },
    /// A size or offset computed from the entry at `offset` does not fit in memory.
    SizeOverflow { offset: usize },
    /// The data of a `070702` entry does not match its checksum.
    ChecksumMismatch { offset: usize, expected: u32, actual: u32 },
    /// Writer: a name is empty after normalisation, contains NUL or is `TRAILER!!!`.
    BadEntryName,
    /// Writer: a name is longer than [`crate::MAX_NAME_LEN`] bytes.
    EntryNameTooLong { len: usize },
    /// Writer: the file-type bits of a mode do not fit the kind of entry being added.
    BadMode { mode: u32 },
    /// Writer: a file or link target larger than the 4 GiB - 1 that newc can record.
    FileTooLarge { size: u64 },
    /// Writer: more entries than there are 32-bit inode numbers.
    TooManyEntries,
    /// Writer (streaming): data written does not match the size announced for the file.
    DataSizeMismatch { expected: u64, written: u64 },
    /// Writer: an entry added after `finish`.
    Finished,
}

impl fmt::Display for CpioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadMagic { offset, found } => {
                write!(
                    f,
                    "cpio: bad header magic at offset {offset} (found {:?}, expected \"070701\"); \
                     the input is not a newc cpio archive (make one with `cpio -o -H newc`)",
                    EscBytes(found)
                )
            }
            Self::BadHexDigit { offset, field } => {
                write!(f, "cpio: header field '{field}' at offset {offset} is not an 8-digit hexadecimal number")
            }
            Self::TruncatedHeader { offset } => write!(f, "cpio: archive is truncated: it ends inside the header at offset {offset}"),
            Self::TruncatedName { offset } => {
                write!(f, "cpio: archive is truncated: it ends inside the name of the entry at offset {offset}")
            }
            Self::TruncatedData { offset, size } => write!(
                f,
                "cpio: archive is truncated: it ends inside the {size}-byte data of the entry \
                 at offset {offset}"
            ),
            Self::NameNotTerminated { offset } => write!(f, "cpio: the name of the entry at offset {offset} is not NUL-terminated"),
            Self::InvalidName { offset } => write!(f, "cpio: the name of the entry at offset {offset} is empty or contains a NUL byte"),
            Self::NameTooLong { offset, len } => write!(
                f,
                "cpio: the name of the entry at offset {offset} is {len} bytes long \
                 (at most {} allowed)",
                crate::MAX_NAME_LEN
            ),
            Self::MissingTrailer { offset } => write!(
                f,
                "cpio: archive ends at offset {offset} without a TRAILER!!! entry \
                 (truncated archive?)"
            ),
            Self::SizeOverflow { offset } => write!(f, "cpio: sizes in the entry at offset {offset} overflow the address space"),
            Self::ChecksumMismatch { offset, expected, actual } => write!(
                f,
                "cpio: data checksum of the entry at offset {offset} is {actual:#010x}, \
                 header says {expected:#010x} (corrupted archive)"
            ),
            Self::BadEntryName => f.write_str("cpio: entry name is empty, contains a NUL byte, or is the reserved name TRAILER!!!"),
            Self::EntryNameTooLong { len } => write!(f, "cpio: entry name is {len} bytes long (at most {} allowed)", crate::MAX_NAME_LEN),
            Self::BadMode { mode } => write!(f, "cpio: mode {mode:#o} has a file type that does not match the kind of entry added"),
            Self::FileTooLarge { size } => write!(f, "cpio: {size} bytes is too large for a newc entry (at most 4294967295)"),
            Self::TooManyEntries => f.write_str("cpio: too many entries for 32-bit inode numbers"),
            Self::DataSizeMismatch { expected, written } => {
                write!(f, "cpio: {written} bytes of file data written, {expected} were announced")
            }
            Self::Finished => f.write_str("cpio: entry added after the archive was finished"),
        }
    }
}

impl core::error::Error for CpioError {}

/// Shows bytes as an ASCII string with escapes, for error messages.
struct EscBytes<'a>(&'a [u8]);

impl fmt::Debug for EscBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for &b in self.0 {
            for c in core::ascii::escape_default(b) {
                fmt::Write::write_char(f, char::from(c))?;
            }
        }
        f.write_str("\"")
    }
}
