//! Linux structures, encoded to and decoded from their exact x86-64 byte layout.

/// Little-endian byte builder used to encode structures.
#[derive(Debug)]
pub struct Enc<const N: usize> {
    buf: [u8; N],
    pos: usize,
}

impl<const N: usize> Default for Enc<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Enc<N> {
    /// A zero-filled buffer.
    pub const fn new() -> Self {
        Self { buf: [0; N], pos: 0 }
    }
    fn put(&mut self, b: &[u8]) -> &mut Self {
        self.buf[self.pos..self.pos + b.len()].copy_from_slice(b);
        self.pos += b.len();
        self
    }
    /// Appends a u64.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.put(&v.to_le_bytes())
    }
    /// Appends an i64.
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.put(&v.to_le_bytes())
    }
    /// Appends a u32.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.put(&v.to_le_bytes())
    }
    /// Appends an i32.
    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.put(&v.to_le_bytes())
    }
    /// Appends a u16.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.put(&v.to_le_bytes())
    }
    /// Appends raw bytes.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.put(b)
    }
    /// Skips `n` zero bytes.
    pub fn pad(&mut self, n: usize) -> &mut Self {
        self.pos += n;
        self
    }
    /// Moves to absolute offset `at`.
    pub fn seek(&mut self, at: usize) -> &mut Self {
        self.pos = at;
        self
    }
    /// The finished bytes.
    pub fn finish(&self) -> [u8; N] {
        self.buf
    }
}

/// Reads little-endian integers from a byte slice of known layout.
pub fn rd_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}
/// Reads an i64 at `at`.
pub fn rd_i64(b: &[u8], at: usize) -> i64 {
    rd_u64(b, at) as i64
}
/// Reads a u32 at `at`.
pub fn rd_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}
/// Reads an i16 at `at`.
pub fn rd_i16(b: &[u8], at: usize) -> i16 {
    i16::from_le_bytes([b[at], b[at + 1]])
}

/// `struct timespec`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timespec {
    /// Seconds.
    pub sec: i64,
    /// Nanoseconds, 0..1e9.
    pub nsec: i64,
}

impl Timespec {
    /// Size in bytes.
    pub const SIZE: usize = 16;
    /// Encodes.
    pub fn to_bytes(&self) -> [u8; 16] {
        Enc::<16>::new().i64(self.sec).i64(self.nsec).finish()
    }
    /// Decodes.
    pub fn from_bytes(b: &[u8; 16]) -> Self {
        Self { sec: rd_i64(b, 0), nsec: rd_i64(b, 8) }
    }
    /// Total nanoseconds (saturating).
    pub fn as_nanos(&self) -> u128 {
        (self.sec.max(0) as u128) * 1_000_000_000 + self.nsec.max(0) as u128
    }
    /// From nanoseconds.
    pub fn from_nanos(ns: u128) -> Self {
        Self { sec: (ns / 1_000_000_000) as i64, nsec: (ns % 1_000_000_000) as i64 }
    }
    /// Valid per POSIX (nsec in range, sec non-negative).
    pub fn is_valid(&self) -> bool {
        self.sec >= 0 && (0..1_000_000_000).contains(&self.nsec)
    }
}

/// `struct stat` (x86-64, 144 bytes) as the kernel's filesystems report it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    pub dev: u64,
    pub ino: u64,
    pub nlink: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: i64,
    pub blksize: i64,
    pub blocks: i64,
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
}

impl Stat {
    /// Size of `struct stat`.
    pub const SIZE: usize = 144;
    /// Encodes as `struct stat`.
    pub fn to_bytes(&self) -> [u8; 144] {
        Enc::<144>::new()
            .u64(self.dev)
            .u64(self.ino)
            .u64(self.nlink)
            .u32(self.mode)
            .u32(self.uid)
            .u32(self.gid)
            .pad(4)
            .u64(self.rdev)
            .i64(self.size)
            .i64(self.blksize)
            .i64(self.blocks)
            .i64(self.atime.sec)
            .i64(self.atime.nsec)
            .i64(self.mtime.sec)
            .i64(self.mtime.nsec)
            .i64(self.ctime.sec)
            .i64(self.ctime.nsec)
            .finish()
    }

    /// Encodes as `struct statx` (256 bytes) with the basic-stats mask.
    pub fn to_statx_bytes(&self) -> [u8; 256] {
        let ts = |e: &mut Enc<256>, t: &Timespec| {
            e.i64(t.sec).u32(t.nsec as u32).pad(4);
        };
        let mut e = Enc::<256>::new();
        e.u32(crate::consts::STATX_BASIC_STATS)
            .u32(self.blksize as u32)
            .u64(0) // attributes
            .u32(self.nlink as u32)
            .u32(self.uid)
            .u32(self.gid)
            .u16(self.mode as u16)
            .pad(2)
            .u64(self.ino)
            .u64(self.size as u64)
            .u64(self.blocks as u64)
            .u64(0); // attributes_mask
        ts(&mut e, &self.atime);
        ts(&mut e, &Timespec::default()); // btime (not in mask)
        ts(&mut e, &self.ctime);
        ts(&mut e, &self.mtime);
        e.u32((self.rdev >> 8) as u32 & 0xfff)
            .u32((self.rdev & 0xff) as u32)
            .u32((self.dev >> 8) as u32 & 0xfff)
            .u32((self.dev & 0xff) as u32);
        e.finish()
    }
}

/// `struct statfs` (120 bytes).
#[derive(Clone, Copy, Debug, Default)]
pub struct Statfs {
    pub fs_type: i64,
    pub bsize: i64,
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub fsid: u64,
    pub namelen: i64,
    pub frsize: i64,
    pub flags: i64,
}

impl Statfs {
    /// Encodes.
    pub fn to_bytes(&self) -> [u8; 120] {
        Enc::<120>::new()
            .i64(self.fs_type)
            .i64(self.bsize)
            .u64(self.blocks)
            .u64(self.bfree)
            .u64(self.bavail)
            .u64(self.files)
            .u64(self.ffree)
            .u64(self.fsid)
            .i64(self.namelen)
            .i64(self.frsize)
            .i64(self.flags)
            .finish()
    }
}

/// `struct new_utsname` (6 × 65 bytes).
#[derive(Clone, Copy, Debug)]
pub struct Utsname<'a> {
    pub sysname: &'a str,
    pub nodename: &'a str,
    pub release: &'a str,
    pub version: &'a str,
    pub machine: &'a str,
    pub domainname: &'a str,
}

impl Utsname<'_> {
    /// Encodes, truncating each field to 64 bytes plus NUL.
    pub fn to_bytes(&self) -> [u8; 390] {
        let mut e = Enc::<390>::new();
        for (i, f) in [self.sysname, self.nodename, self.release, self.version, self.machine, self.domainname].iter().enumerate() {
            let b = f.as_bytes();
            let n = b.len().min(64);
            e.seek(i * 65).bytes(&b[..n]);
        }
        e.finish()
    }
}

/// `struct rlimit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimit {
    pub cur: u64,
    pub max: u64,
}

impl Rlimit {
    /// Encodes.
    pub fn to_bytes(&self) -> [u8; 16] {
        Enc::<16>::new().u64(self.cur).u64(self.max).finish()
    }
    /// Decodes.
    pub fn from_bytes(b: &[u8; 16]) -> Self {
        Self { cur: rd_u64(b, 0), max: rd_u64(b, 8) }
    }
}

/// `struct flock` (32 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flock {
    pub l_type: i16,
    pub l_whence: i16,
    pub l_start: i64,
    pub l_len: i64,
    pub l_pid: i32,
}

impl Flock {
    /// Encodes.
    pub fn to_bytes(&self) -> [u8; 32] {
        Enc::<32>::new().u16(self.l_type as u16).u16(self.l_whence as u16).pad(4).i64(self.l_start).i64(self.l_len).i32(self.l_pid).finish()
    }
    /// Decodes.
    pub fn from_bytes(b: &[u8; 32]) -> Self {
        Self { l_type: rd_i16(b, 0), l_whence: rd_i16(b, 2), l_start: rd_i64(b, 8), l_len: rd_i64(b, 16), l_pid: rd_u32(b, 24) as i32 }
    }
}

/// Appends one `linux_dirent64` record to `out`; returns false if it does not fit in `limit`.
pub fn push_dirent64(out: &mut [u8], pos: &mut usize, ino: u64, off: i64, dtype: u8, name: &[u8]) -> bool {
    let reclen = (19 + name.len() + 1).next_multiple_of(8);
    if *pos + reclen > out.len() {
        return false;
    }
    let r = &mut out[*pos..*pos + reclen];
    r.fill(0);
    r[0..8].copy_from_slice(&ino.to_le_bytes());
    r[8..16].copy_from_slice(&off.to_le_bytes());
    r[16..18].copy_from_slice(&(reclen as u16).to_le_bytes());
    r[18] = dtype;
    r[19..19 + name.len()].copy_from_slice(name);
    *pos += reclen;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_layout_places_size_and_times_where_linux_does() {
        let s = Stat { size: 0x1122, mtime: Timespec { sec: 7, nsec: 9 }, mode: 0o100644, ..Default::default() };
        let b = s.to_bytes();
        assert_eq!(rd_u32(&b, 24), 0o100644);
        assert_eq!(rd_i64(&b, 48), 0x1122);
        assert_eq!(rd_i64(&b, 88), 7);
        assert_eq!(rd_i64(&b, 96), 9);
    }

    #[test]
    fn dirent_records_are_eight_byte_aligned_and_bounded() {
        let mut buf = [0u8; 48];
        let mut pos = 0;
        assert!(push_dirent64(&mut buf, &mut pos, 5, 1, 8, b"abc"));
        assert_eq!(pos, 24);
        assert!(push_dirent64(&mut buf, &mut pos, 6, 2, 8, b"d"));
        assert!(!push_dirent64(&mut buf, &mut pos, 7, 3, 8, b"toolongname"));
    }

    #[test]
    fn errno_round_trips_through_raw_values() {
        assert_eq!(crate::Errno::from_raw(2), Some(crate::Errno::ENOENT));
        assert_eq!(crate::Errno::ENOSYS.raw(), 38);
        assert_eq!(crate::nr::name(0), Some("read"));
        assert_eq!(crate::nr::number("exit_group"), Some(231));
    }
}
