//! ELF64 x86-64 parser for the myst program loader.
//!
//! [`parse`] reads the ELF header and the program-header table of an executable (`ET_EXEC`)
//! or a position-independent executable or shared object (`ET_DYN`), and checks everything
//! the loader relies on, so that the loader itself can map segments without re-checking
//! offsets and sizes. Section headers are not read: loading does not need them.
//!
//! Every check uses checked arithmetic and every failure is an [`ElfError`] whose message says
//! what is wrong with the file; no input makes the parser panic or allocate more than one
//! [`ProgramHeader`] per 56 bytes of input.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

mod error;

use alloc::vec::Vec;

pub use error::{machine_name, ElfError};

/// Page size the loader maps with.
pub const PAGE_SIZE: u64 = 4096;
/// Largest accepted distance between the lowest and highest loaded address (1 TiB).
pub const MAX_SPAN: u64 = 1 << 40;
/// First address above the x86-64 user address space (47-bit).
pub const USER_TOP: u64 = 1 << 47;
/// Longest accepted `PT_INTERP` path, NUL included (Linux's `PATH_MAX`).
pub const MAX_INTERP_LEN: u64 = 4096;

/// Size of the ELF64 file header.
pub const EHDR_SIZE: usize = 64;
/// Size of one ELF64 program header.
pub const PHDR_SIZE: usize = 56;

pub const ELFMAG: &[u8; 4] = b"\x7fELF";
pub const ELFCLASS32: u8 = 1;
pub const ELFCLASS64: u8 = 2;
pub const ELFDATA2LSB: u8 = 1;
pub const ELFDATA2MSB: u8 = 2;
pub const EV_CURRENT: u32 = 1;

pub const ET_NONE: u16 = 0;
pub const ET_REL: u16 = 1;
pub const ET_EXEC: u16 = 2;
pub const ET_DYN: u16 = 3;
pub const ET_CORE: u16 = 4;

pub const EM_386: u16 = 3;
pub const EM_X86_64: u16 = 62;
pub const EM_AARCH64: u16 = 183;

/// `e_phnum` value meaning "the real count is in section header 0" (not supported).
pub const PN_XNUM: u16 = 0xffff;

pub const PT_NULL: u32 = 0;
pub const PT_LOAD: u32 = 1;
pub const PT_DYNAMIC: u32 = 2;
pub const PT_INTERP: u32 = 3;
pub const PT_NOTE: u32 = 4;
pub const PT_SHLIB: u32 = 5;
pub const PT_PHDR: u32 = 6;
pub const PT_TLS: u32 = 7;
pub const PT_GNU_EH_FRAME: u32 = 0x6474_e550;
pub const PT_GNU_STACK: u32 = 0x6474_e551;
pub const PT_GNU_RELRO: u32 = 0x6474_e552;
pub const PT_GNU_PROPERTY: u32 = 0x6474_e553;

pub const PF_X: u32 = 1;
pub const PF_W: u32 = 2;
pub const PF_R: u32 = 4;

/// One entry of the program-header table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgramHeader {
    pub p_type: u32,
    pub p_flags: u32,
    pub p_offset: u64,
    pub p_vaddr: u64,
    pub p_paddr: u64,
    pub p_filesz: u64,
    pub p_memsz: u64,
    pub p_align: u64,
}

impl ProgramHeader {
    /// Decodes one little-endian ELF64 program header; `None` if `b` is shorter than
    /// [`PHDR_SIZE`].
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        Some(Self {
            p_type: u32::from_le_bytes(field(b, 0)?),
            p_flags: u32::from_le_bytes(field(b, 4)?),
            p_offset: u64::from_le_bytes(field(b, 8)?),
            p_vaddr: u64::from_le_bytes(field(b, 16)?),
            p_paddr: u64::from_le_bytes(field(b, 24)?),
            p_filesz: u64::from_le_bytes(field(b, 32)?),
            p_memsz: u64::from_le_bytes(field(b, 40)?),
            p_align: u64::from_le_bytes(field(b, 48)?),
        })
    }

    pub fn is_load(&self) -> bool {
        self.p_type == PT_LOAD
    }

    pub fn readable(&self) -> bool {
        self.p_flags & PF_R != 0
    }

    pub fn writable(&self) -> bool {
        self.p_flags & PF_W != 0
    }

    pub fn executable(&self) -> bool {
        self.p_flags & PF_X != 0
    }

    /// End of the segment in memory (`p_vaddr + p_memsz`); for `PT_LOAD` and `PT_TLS` entries
    /// of a parsed [`Elf`] this never saturates.
    pub fn vaddr_end(&self) -> u64 {
        self.p_vaddr.saturating_add(self.p_memsz)
    }

    /// The segment's bytes in the file (`p_filesz` bytes at `p_offset`), or `None` if `data`
    /// does not hold them (never for a parsed [`Elf`] and the data it was parsed from).
    /// An empty segment gives an empty slice wherever its `p_offset` points.
    pub fn file_bytes<'d>(&self, data: &'d [u8]) -> Option<&'d [u8]> {
        if self.p_filesz == 0 {
            return Some(&[]);
        }
        let start = usize::try_from(self.p_offset).ok()?;
        let len = usize::try_from(self.p_filesz).ok()?;
        data.get(start..start.checked_add(len)?)
    }
}

/// A parsed and validated ELF64 x86-64 executable or shared object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elf {
    /// [`ET_EXEC`] (fixed addresses) or [`ET_DYN`] (PIE / shared object, loaded at a bias).
    pub e_type: u16,
    /// Always [`EM_X86_64`].
    pub e_machine: u16,
    pub e_flags: u32,
    /// Entry point (before adding the load bias for `ET_DYN`).
    pub e_entry: u64,
    pub e_phoff: u64,
    pub e_phentsize: u16,
    pub e_phnum: u16,
    /// The program-header table, in file order.
    pub phdrs: Vec<ProgramHeader>,
    bounds: (u64, u64),
}

/// Reads `N` bytes at `off`.
fn field<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    b.get(off..off.checked_add(N)?)?.try_into().ok()
}

fn align_down(v: u64, align: u64) -> u64 {
    v & !(align - 1)
}

fn align_up(v: u64, align: u64) -> Option<u64> {
    Some(v.checked_add(align - 1)? & !(align - 1))
}

/// Parses and validates an ELF64 x86-64 `ET_EXEC` or `ET_DYN` file held in `data`.
///
/// Checks, in order: magic, class, byte order, version, header size, machine, type, the
/// program-header table's entry size, count and position, then each program header (file
/// range, `p_filesz <= p_memsz`, address overflow, alignment, ascending `PT_LOAD`s, a
/// well-formed `PT_INTERP`), and finally that there is a `PT_LOAD` and that the loaded span is
/// at most [`MAX_SPAN`] (and, for `ET_EXEC`, below [`USER_TOP`]).
pub fn parse(data: &[u8]) -> Result<Elf, ElfError> {
    let len = data.len() as u64;
    let truncated = ElfError::TruncatedHeader { len };

    // Identification.
    if !data.starts_with(ELFMAG) {
        if ELFMAG.starts_with(data) {
            return Err(truncated);
        }
        let mut found = [0u8; 4];
        for (dst, src) in found.iter_mut().zip(data) {
            *dst = *src;
        }
        return Err(ElfError::NotElf { found });
    }
    let class = *data.get(4).ok_or(truncated.clone())?;
    if class != ELFCLASS64 {
        return Err(ElfError::Not64Bit { class });
    }
    let encoding = *data.get(5).ok_or(truncated.clone())?;
    if encoding != ELFDATA2LSB {
        return Err(ElfError::NotLittleEndian { encoding });
    }
    let version = *data.get(6).ok_or(truncated.clone())?;
    if u32::from(version) != EV_CURRENT {
        return Err(ElfError::BadVersion { version: u32::from(version) });
    }
    let h = data.get(..EHDR_SIZE).ok_or(truncated.clone())?;
    let rd16 = |off| field(h, off).map(u16::from_le_bytes).ok_or(truncated.clone());
    let rd32 = |off| field(h, off).map(u32::from_le_bytes).ok_or(truncated.clone());
    let rd64 = |off| field(h, off).map(u64::from_le_bytes).ok_or(truncated.clone());
    let e_type = rd16(16)?;
    let e_machine = rd16(18)?;
    let e_version = rd32(20)?;
    let e_entry = rd64(24)?;
    let e_phoff = rd64(32)?;
    let e_flags = rd32(48)?;
    let e_ehsize = rd16(52)?;
    let e_phentsize = rd16(54)?;
    let e_phnum = rd16(56)?;

    if e_machine != EM_X86_64 {
        return Err(ElfError::WrongMachine { machine: e_machine });
    }
    if e_version != EV_CURRENT {
        return Err(ElfError::BadVersion { version: e_version });
    }
    if usize::from(e_ehsize) < EHDR_SIZE {
        return Err(ElfError::BadEhsize { ehsize: e_ehsize });
    }
    if e_type != ET_EXEC && e_type != ET_DYN {
        return Err(ElfError::UnsupportedType { e_type });
    }

    // Program-header table.
    if e_phnum == 0 {
        return Err(ElfError::NoLoadSegment);
    }
    if e_phnum == PN_XNUM {
        return Err(ElfError::TooManyProgramHeaders { phnum: e_phnum });
    }
    if usize::from(e_phentsize) != PHDR_SIZE {
        return Err(ElfError::BadPhentsize { phentsize: e_phentsize });
    }
    let table_len = u64::from(e_phnum) * PHDR_SIZE as u64;
    let table_end = e_phoff.checked_add(table_len);
    let table = table_end
        .filter(|&end| end <= len)
        .and_then(|end| {
            let start = usize::try_from(e_phoff).ok()?;
            let end = usize::try_from(end).ok()?;
            data.get(start..end)
        })
        .ok_or(ElfError::TruncatedProgramHeaders { phoff: e_phoff, phnum: e_phnum, len })?;

    let mut phdrs = Vec::new();
    let mut prev_load: Option<u64> = None;
    let mut seen_interp = false;
    let mut seen_tls = false;
    let mut lo = u64::MAX;
    let mut hi = 0u64;
    for (index, raw) in table.chunks_exact(PHDR_SIZE).enumerate() {
        let ph = ProgramHeader::from_bytes(raw).ok_or(ElfError::TruncatedProgramHeaders { phoff: e_phoff, phnum: e_phnum, len })?;
        check_segment(&ph, index, len)?;
        match ph.p_type {
            PT_LOAD => {
                if let Some(prev) = prev_load {
                    if ph.p_vaddr < prev {
                        return Err(ElfError::LoadsNotAscending { index, vaddr: ph.p_vaddr, prev_vaddr: prev });
                    }
                }
                prev_load = Some(ph.p_vaddr);
                lo = lo.min(align_down(ph.p_vaddr, PAGE_SIZE));
                let end = align_up(ph.vaddr_end(), PAGE_SIZE).ok_or(ElfError::VaddrOverflow { index })?;
                hi = hi.max(end);
            }
            PT_INTERP => {
                if seen_interp {
                    return Err(ElfError::MultipleInterp);
                }
                seen_interp = true;
                check_interp(&ph, data)?;
            }
            PT_TLS => {
                if seen_tls {
                    return Err(ElfError::MultipleTls);
                }
                seen_tls = true;
            }
            _ => {}
        }
        phdrs.push(ph);
    }
    if prev_load.is_none() {
        return Err(ElfError::NoLoadSegment);
    }
    let span = hi.saturating_sub(lo);
    if span > MAX_SPAN {
        return Err(ElfError::TooLarge { span });
    }
    if e_type == ET_EXEC && hi > USER_TOP {
        return Err(ElfError::AddressOutOfRange { end: hi });
    }
    Ok(Elf { e_type, e_machine, e_flags, e_entry, e_phoff, e_phentsize, e_phnum, phdrs, bounds: (lo, hi) })
}

/// Checks one program header on its own.
fn check_segment(ph: &ProgramHeader, index: usize, len: u64) -> Result<(), ElfError> {
    let in_file = ph.p_offset.checked_add(ph.p_filesz).is_some_and(|end| ph.p_filesz == 0 || end <= len);
    if !in_file {
        return Err(if ph.p_type == PT_INTERP {
            ElfError::InterpOutOfBounds { offset: ph.p_offset, size: ph.p_filesz, len }
        } else {
            ElfError::SegmentOutOfFile { index, p_type: ph.p_type, offset: ph.p_offset, filesz: ph.p_filesz, len }
        });
    }
    if ph.p_type != PT_LOAD && ph.p_type != PT_TLS {
        return Ok(());
    }
    if ph.p_filesz > ph.p_memsz {
        return Err(ElfError::FileszExceedsMemsz { index, filesz: ph.p_filesz, memsz: ph.p_memsz });
    }
    if ph.p_vaddr.checked_add(ph.p_memsz).is_none() {
        return Err(ElfError::VaddrOverflow { index });
    }
    if ph.p_align > 1 && !ph.p_align.is_power_of_two() {
        return Err(ElfError::BadAlignment { index, align: ph.p_align });
    }
    if ph.p_type == PT_LOAD && ph.p_align > 1 && ph.p_vaddr % PAGE_SIZE != ph.p_offset % PAGE_SIZE {
        return Err(ElfError::MisalignedSegment { index, vaddr: ph.p_vaddr, offset: ph.p_offset });
    }
    Ok(())
}

/// The interpreter path of a `PT_INTERP` header: the bytes before the terminating NUL.
fn interp_path<'d>(ph: &ProgramHeader, data: &'d [u8]) -> Result<&'d str, ElfError> {
    let bytes =
        ph.file_bytes(data).ok_or(ElfError::InterpOutOfBounds { offset: ph.p_offset, size: ph.p_filesz, len: data.len() as u64 })?;
    let (nul, path) = bytes.split_last().ok_or(ElfError::InterpNotTerminated)?;
    if *nul != 0 {
        return Err(ElfError::InterpNotTerminated);
    }
    if path.is_empty() || path.contains(&0) || ph.p_filesz > MAX_INTERP_LEN {
        return Err(ElfError::BadInterp);
    }
    core::str::from_utf8(path).map_err(|_| ElfError::BadInterp)
}

fn check_interp(ph: &ProgramHeader, data: &[u8]) -> Result<(), ElfError> {
    interp_path(ph, data).map(|_| ())
}

impl Elf {
    /// Whether the file is position independent (`ET_DYN`) and must be loaded at a bias.
    pub fn is_dyn(&self) -> bool {
        self.e_type == ET_DYN
    }

    /// The `PT_INTERP` path (e.g. `/lib64/ld-linux-x86-64.so.2`) without its NUL, read from
    /// `data`, which must be the bytes this `Elf` was parsed from. `None` for a static
    /// executable (or if `data` is some other buffer that does not hold a valid path there).
    pub fn interp<'d>(&self, data: &'d [u8]) -> Option<&'d str> {
        let ph = self.phdrs.iter().find(|p| p.p_type == PT_INTERP)?;
        interp_path(ph, data).ok()
    }

    /// The `PT_LOAD` headers, in ascending address order.
    pub fn load_segments(&self) -> impl Iterator<Item = &ProgramHeader> + '_ {
        self.phdrs.iter().filter(|p| p.is_load())
    }

    /// The `PT_TLS` header (the initial image and size of the thread-local block), if any.
    pub fn tls(&self) -> Option<&ProgramHeader> {
        self.phdrs.iter().find(|p| p.p_type == PT_TLS)
    }

    /// The `PT_DYNAMIC` header, if any.
    pub fn dynamic(&self) -> Option<&ProgramHeader> {
        self.phdrs.iter().find(|p| p.p_type == PT_DYNAMIC)
    }

    /// `Some(executable)` from the `PT_GNU_STACK` header, `None` if there is none.
    pub fn gnu_stack(&self) -> Option<bool> {
        self.phdrs.iter().find(|p| p.p_type == PT_GNU_STACK).map(ProgramHeader::executable)
    }

    /// Whether the stack must be executable: only if `PT_GNU_STACK` asks for it. A missing
    /// `PT_GNU_STACK` means a non-executable stack, as on x86-64 Linux since 5.8.
    pub fn exec_stack(&self) -> bool {
        self.gnu_stack() == Some(true)
    }

    /// Virtual address (before the load bias) of the program-header table, for `AT_PHDR`:
    /// `p_vaddr` of `PT_PHDR` if present, otherwise computed from the `PT_LOAD` whose file
    /// range contains the whole table. `None` if the table is not loaded at all.
    pub fn phdr_vaddr(&self) -> Option<u64> {
        if let Some(ph) = self.phdrs.iter().find(|p| p.p_type == PT_PHDR) {
            return Some(ph.p_vaddr);
        }
        let table_len = u64::from(self.e_phnum).checked_mul(u64::from(self.e_phentsize))?;
        let table_end = self.e_phoff.checked_add(table_len)?;
        self.load_segments().find_map(|ph| {
            let seg_end = ph.p_offset.checked_add(ph.p_filesz)?;
            if ph.p_offset <= self.e_phoff && table_end <= seg_end {
                ph.p_vaddr.checked_add(self.e_phoff - ph.p_offset)
            } else {
                None
            }
        })
    }

    /// `(lowest PT_LOAD address rounded down to a page, highest PT_LOAD end rounded up to a
    /// page)`, before the load bias. The loader reserves `hi - lo` bytes.
    pub fn bounds(&self) -> (u64, u64) {
        self.bounds
    }

    /// Bytes spanned by the loaded segments (`hi - lo` of [`Elf::bounds`]), at most
    /// [`MAX_SPAN`].
    pub fn span(&self) -> u64 {
        self.bounds.1.saturating_sub(self.bounds.0)
    }
}

#[cfg(test)]
mod tests;
