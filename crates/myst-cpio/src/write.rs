use alloc::vec::Vec;
use core::convert::Infallible;
use core::fmt;

use crate::{
    normalize_name, CpioError, HEADER_LEN, MAGIC_NEWC, MAX_NAME_LEN, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG,
    S_IFSOCK, TRAILER_NAME,
};

/// Where a [`StreamWriter`] puts its bytes.
pub trait Sink {
    type Error;
    /// Writes all of `bytes`, or fails.
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), Self::Error>;
}

impl Sink for Vec<u8> {
    type Error = Infallible;
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), Infallible> {
        self.extend_from_slice(bytes);
        Ok(())
    }
}

impl<S: Sink + ?Sized> Sink for &mut S {
    type Error = S::Error;
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), S::Error> {
        (**self).write_all(bytes)
    }
}

/// A [`Sink`] that hands every piece of output to a closure.
pub struct FnSink<F>(pub F);

impl<F: FnMut(&[u8])> Sink for FnSink<F> {
    type Error = Infallible;
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), Infallible> {
        (self.0)(bytes);
        Ok(())
    }
}

/// A [`Sink`] over any [`std::io::Write`] (wrap files in a `BufWriter`).
#[cfg(any(test, feature = "std"))]
pub struct IoSink<W>(pub W);

#[cfg(any(test, feature = "std"))]
impl<W: std::io::Write> Sink for IoSink<W> {
    type Error = std::io::Error;
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), std::io::Error> {
        self.0.write_all(bytes)
    }
}

/// Error of a [`StreamWriter`]: a bad entry, or a failure of the sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteError<E> {
    Cpio(CpioError),
    Sink(E),
}

impl<E> From<CpioError> for WriteError<E> {
    fn from(e: CpioError) -> Self {
        Self::Cpio(e)
    }
}

impl<E: fmt::Display> fmt::Display for WriteError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpio(e) => e.fmt(f),
            Self::Sink(e) => write!(f, "cpio: writing the archive failed: {e}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for WriteError<E> {}

/// The numeric fields of a header.
#[derive(Default, Clone, Copy)]
struct Fields {
    ino: u32,
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u32,
    mtime: u32,
    filesize: u32,
    rdevmajor: u32,
    rdevminor: u32,
}

/// Data still owed for a file started with [`StreamWriter::begin_file`].
#[derive(Clone, Copy)]
struct Pending {
    size: u64,
    written: u64,
}

/// Writes a newc archive to a [`Sink`] entry by entry, so that a large tree never has to be
/// held in memory.
///
/// Inode numbers are assigned sequentially from 1; device numbers of the archived files are
/// written as 0. Names are normalised like the reader's ([`crate::normalize_name`]), so
/// `/etc/passwd`, `./etc/passwd` and `etc/passwd` are all written as `etc/passwd`.
/// A mode given to `add_dir`, `add_file` may hold only permission bits or also the matching
/// file-type bits.
///
/// After a sink error the archive is incomplete and the writer should be dropped.
pub struct StreamWriter<S: Sink> {
    sink: S,
    position: u64,
    next_ino: u32,
    pending: Option<Pending>,
    finished: bool,
}

impl<S: Sink> StreamWriter<S> {
    pub fn new(sink: S) -> Self {
        Self { sink, position: 0, next_ino: 1, pending: None, finished: false }
    }

    /// Bytes written to the sink so far.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Adds a directory.
    pub fn add_dir(&mut self, name: impl AsRef<[u8]>, mode: u32, uid: u32, gid: u32, mtime: u32) -> Result<(), WriteError<S::Error>> {
        let mode = typed_mode(mode, S_IFDIR)?;
        let fields = Fields { mode, uid, gid, nlink: 2, mtime, ..Fields::default() };
        self.entry(name.as_ref(), fields, &[])
    }

    /// Adds a regular file with its contents.
    pub fn add_file(
        &mut self,
        name: impl AsRef<[u8]>,
        mode: u32,
        uid: u32,
        gid: u32,
        mtime: u32,
        data: &[u8],
    ) -> Result<(), WriteError<S::Error>> {
        let mode = typed_mode(mode, S_IFREG)?;
        let fields = Fields { mode, uid, gid, nlink: 1, mtime, filesize: data_size(data.len())?, ..Fields::default() };
        self.entry(name.as_ref(), fields, data)
    }

    /// Adds one regular file under several names (hard links). As in GNU cpio, every name gets
    /// the same inode number and link count and the data goes with the last name.
    pub fn add_hardlinked_file<N: AsRef<[u8]>>(
        &mut self,
        names: &[N],
        mode: u32,
        uid: u32,
        gid: u32,
        mtime: u32,
        data: &[u8],
    ) -> Result<(), WriteError<S::Error>> {
        let mode = typed_mode(mode, S_IFREG)?;
        if names.is_empty() {
            return Err(CpioError::BadEntryName.into());
        }
        let nlink = u32::try_from(names.len()).map_err(|_| CpioError::TooManyEntries)?;
        let filesize = data_size(data.len())?;
        for name in names {
            check_name(name.as_ref())?;
        }
        let ino = self.take_ino()?;
        for (i, name) in names.iter().enumerate() {
            let last = i + 1 == names.len();
            let fields = Fields { ino, mode, uid, gid, nlink, mtime, filesize: if last { filesize } else { 0 }, ..Fields::default() };
            self.entry_with_ino(name.as_ref(), fields, if last { data } else { &[] })?;
        }
        Ok(())
    }

    /// Starts a regular file of `size` bytes whose contents follow through
    /// [`StreamWriter::write_data`]. Exactly `size` bytes must be written before the next entry
    /// or [`StreamWriter::finish`].
    pub fn begin_file(
        &mut self,
        name: impl AsRef<[u8]>,
        mode: u32,
        uid: u32,
        gid: u32,
        mtime: u32,
        size: u64,
    ) -> Result<(), WriteError<S::Error>> {
        let mode = typed_mode(mode, S_IFREG)?;
        let filesize = u32::try_from(size).map_err(|_| CpioError::FileTooLarge { size })?;
        let fields = Fields { mode, uid, gid, nlink: 1, mtime, filesize, ..Fields::default() };
        self.header(name.as_ref(), fields, None)?;
        if size > 0 {
            self.pending = Some(Pending { size, written: 0 });
        }
        Ok(())
    }

    /// Writes the next piece of the file started with [`StreamWriter::begin_file`].
    pub fn write_data(&mut self, data: &[u8]) -> Result<(), WriteError<S::Error>> {
        let Some(mut pending) = self.pending else {
            return if data.is_empty() {
                Ok(())
            } else {
                Err(CpioError::DataSizeMismatch { expected: 0, written: data.len() as u64 }.into())
            };
        };
        let written = pending.written.saturating_add(data.len() as u64);
        if written > pending.size {
            return Err(CpioError::DataSizeMismatch { expected: pending.size, written }.into());
        }
        self.emit(data)?;
        pending.written = written;
        if written == pending.size {
            self.pending = None;
            self.pad()?;
        } else {
            self.pending = Some(pending);
        }
        Ok(())
    }

    /// Adds a symbolic link pointing at `target` (mode `0o777`).
    pub fn add_symlink(
        &mut self,
        name: impl AsRef<[u8]>,
        target: impl AsRef<[u8]>,
        uid: u32,
        gid: u32,
        mtime: u32,
    ) -> Result<(), WriteError<S::Error>> {
        let target = target.as_ref();
        if target.is_empty() || target.contains(&0) {
            return Err(CpioError::BadEntryName.into());
        }
        let fields = Fields { mode: S_IFLNK | 0o777, uid, gid, nlink: 1, mtime, filesize: data_size(target.len())?, ..Fields::default() };
        self.entry(name.as_ref(), fields, target)
    }

    /// Adds a named pipe, character device, block device or socket; `mode` must carry the
    /// file type (`S_IFIFO | 0o644`, `S_IFCHR | 0o666`, ...). `rdev` is `(major, minor)` and
    /// is meaningful only for devices.
    pub fn add_special(
        &mut self,
        name: impl AsRef<[u8]>,
        mode: u32,
        uid: u32,
        gid: u32,
        mtime: u32,
        rdev: (u32, u32),
    ) -> Result<(), WriteError<S::Error>> {
        if mode & !0o177_777 != 0 || !matches!(mode & S_IFMT, S_IFIFO | S_IFCHR | S_IFBLK | S_IFSOCK) {
            return Err(CpioError::BadMode { mode }.into());
        }
        let fields = Fields { mode, uid, gid, nlink: 1, mtime, rdevmajor: rdev.0, rdevminor: rdev.1, ..Fields::default() };
        self.entry(name.as_ref(), fields, &[])
    }

    /// Writes the trailer and returns the sink.
    pub fn finish(mut self) -> Result<S, WriteError<S::Error>> {
        self.check_open()?;
        let fields = Fields { nlink: 1, ..Fields::default() };
        self.write_header(TRAILER_NAME, fields)?;
        self.finished = true;
        Ok(self.sink)
    }

    fn check_open(&self) -> Result<(), CpioError> {
        if self.finished {
            return Err(CpioError::Finished);
        }
        if let Some(p) = self.pending {
            return Err(CpioError::DataSizeMismatch { expected: p.size, written: p.written });
        }
        Ok(())
    }

    fn take_ino(&mut self) -> Result<u32, CpioError> {
        let ino = self.next_ino;
        self.next_ino = ino.checked_add(1).ok_or(CpioError::TooManyEntries)?;
        Ok(ino)
    }

    /// Writes a complete entry with a fresh inode number.
    fn entry(&mut self, name: &[u8], fields: Fields, data: &[u8]) -> Result<(), WriteError<S::Error>> {
        self.header(name, fields, None)?;
        self.emit(data)?;
        self.pad()
    }

    /// Writes a complete entry with the inode number already in `fields`.
    fn entry_with_ino(&mut self, name: &[u8], fields: Fields, data: &[u8]) -> Result<(), WriteError<S::Error>> {
        self.header(name, fields, Some(fields.ino))?;
        self.emit(data)?;
        self.pad()
    }

    /// Validates and writes a header; `ino: None` assigns the next inode number.
    fn header(&mut self, name: &[u8], mut fields: Fields, ino: Option<u32>) -> Result<(), WriteError<S::Error>> {
        self.check_open()?;
        let name = check_name(name)?;
        fields.ino = match ino {
            Some(ino) => ino,
            None => self.take_ino()?,
        };
        self.write_header(name, fields)
    }

    fn write_header(&mut self, name: &[u8], f: Fields) -> Result<(), WriteError<S::Error>> {
        let namesize = name.len() + 1;
        let mut header = [0u8; HEADER_LEN];
        header[..6].copy_from_slice(MAGIC_NEWC);
        let values = [
            f.ino,
            f.mode,
            f.uid,
            f.gid,
            f.nlink,
            f.mtime,
            f.filesize,
            0, // devmajor
            0, // devminor
            f.rdevmajor,
            f.rdevminor,
            // check_name keeps names far below 4 GiB.
            u32::try_from(namesize).map_err(|_| CpioError::BadEntryName)?,
            0, // check
        ];
        for (slot, value) in header[6..].chunks_exact_mut(8).zip(values) {
            write_hex8(slot, value);
        }
        self.emit(&header)?;
        self.emit(name)?;
        // The NUL terminator, then padding of header + name to four bytes.
        let pad = (4 - (HEADER_LEN + namesize) % 4) % 4;
        self.emit(&[0u8; 4][..1 + pad])
    }

    /// Pads the output to a multiple of four bytes.
    fn pad(&mut self) -> Result<(), WriteError<S::Error>> {
        let pad = ((4 - self.position % 4) % 4) as usize;
        self.emit(&[0u8; 3][..pad])
    }

    fn emit(&mut self, bytes: &[u8]) -> Result<(), WriteError<S::Error>> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.sink.write_all(bytes).map_err(WriteError::Sink)?;
        self.position = self.position.saturating_add(bytes.len() as u64);
        Ok(())
    }
}

/// Builds a newc archive in memory; see [`StreamWriter`] for the conventions.
///
/// ```
/// let mut w = myst_cpio::Writer::new();
/// w.add_dir("etc", 0o755, 0, 0, 0).unwrap();
/// w.add_file("etc/hostname", 0o644, 0, 0, 0, b"myst\n").unwrap();
/// let archive = w.finish();
/// let entries = myst_cpio::parse(&archive).unwrap();
/// assert_eq!(entries[1].data, b"myst\n");
/// ```
pub struct Writer {
    inner: StreamWriter<Vec<u8>>,
}

impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

fn infallible(e: WriteError<Infallible>) -> CpioError {
    match e {
        WriteError::Cpio(e) => e,
        WriteError::Sink(never) => match never {},
    }
}

impl Writer {
    pub fn new() -> Self {
        Self { inner: StreamWriter::new(Vec::new()) }
    }

    /// Bytes of archive built so far.
    pub fn len(&self) -> usize {
        self.inner.sink.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.sink.is_empty()
    }

    /// See [`StreamWriter::add_dir`].
    pub fn add_dir(&mut self, name: impl AsRef<[u8]>, mode: u32, uid: u32, gid: u32, mtime: u32) -> Result<(), CpioError> {
        self.inner.add_dir(name, mode, uid, gid, mtime).map_err(infallible)
    }

    /// See [`StreamWriter::add_file`].
    pub fn add_file(&mut self, name: impl AsRef<[u8]>, mode: u32, uid: u32, gid: u32, mtime: u32, data: &[u8]) -> Result<(), CpioError> {
        self.inner.add_file(name, mode, uid, gid, mtime, data).map_err(infallible)
    }

    /// See [`StreamWriter::add_hardlinked_file`].
    pub fn add_hardlinked_file<N: AsRef<[u8]>>(
        &mut self,
        names: &[N],
        mode: u32,
        uid: u32,
        gid: u32,
        mtime: u32,
        data: &[u8],
    ) -> Result<(), CpioError> {
        self.inner.add_hardlinked_file(names, mode, uid, gid, mtime, data).map_err(infallible)
    }

    /// See [`StreamWriter::add_symlink`].
    pub fn add_symlink(
        &mut self,
        name: impl AsRef<[u8]>,
        target: impl AsRef<[u8]>,
        uid: u32,
        gid: u32,
        mtime: u32,
    ) -> Result<(), CpioError> {
        self.inner.add_symlink(name, target, uid, gid, mtime).map_err(infallible)
    }

    /// See [`StreamWriter::add_special`].
    pub fn add_special(
        &mut self,
        name: impl AsRef<[u8]>,
        mode: u32,
        uid: u32,
        gid: u32,
        mtime: u32,
        rdev: (u32, u32),
    ) -> Result<(), CpioError> {
        self.inner.add_special(name, mode, uid, gid, mtime, rdev).map_err(infallible)
    }

    /// Adds the trailer and returns the archive.
    pub fn finish(self) -> Vec<u8> {
        let mut inner = self.inner;
        // `Writer` has no streaming entries, so nothing is ever pending and the trailer cannot
        // fail; should that change, return what was built rather than panic.
        let trailer = Fields { nlink: 1, ..Fields::default() };
        match inner.write_header(TRAILER_NAME, trailer) {
            Ok(()) | Err(WriteError::Cpio(_)) => inner.sink,
            Err(WriteError::Sink(never)) => match never {},
        }
    }
}

/// Applies the file type `kind` to `mode`, which may carry only permission bits or already
/// the same type.
fn typed_mode(mode: u32, kind: u32) -> Result<u32, CpioError> {
    if mode & !0o177_777 != 0 {
        return Err(CpioError::BadMode { mode });
    }
    match mode & S_IFMT {
        0 => Ok(mode | kind),
        t if t == kind => Ok(mode),
        _ => Err(CpioError::BadMode { mode }),
    }
}

fn data_size(len: usize) -> Result<u32, CpioError> {
    u32::try_from(len).map_err(|_| CpioError::FileTooLarge { size: len as u64 })
}

/// Normalises a name for writing and checks it.
fn check_name(name: &[u8]) -> Result<&[u8], CpioError> {
    let name = normalize_name(name);
    if name.contains(&0) || name == TRAILER_NAME {
        return Err(CpioError::BadEntryName);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(CpioError::EntryNameTooLong { len: name.len() });
    }
    Ok(name)
}

fn write_hex8(out: &mut [u8], value: u32) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for (i, slot) in out.iter_mut().enumerate().take(8) {
        let shift = 28 - 4 * i;
        *slot = DIGITS[((value >> shift) & 0xf) as usize];
    }
}
