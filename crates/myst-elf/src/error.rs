use core::fmt;

use crate::{MAX_INTERP_LEN, MAX_SPAN, PHDR_SIZE, USER_TOP};

/// Why a file cannot be loaded. The messages name the problem and, where it helps, what to do;
/// the caller adds the file name (e.g. `"/bin/app: "` + message).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ElfError {
    /// The file does not start with `\x7fELF`.
    NotElf { found: [u8; 4] },
    /// The file is shorter than the 64-byte ELF64 header.
    TruncatedHeader { len: u64 },
    /// `EI_CLASS` is not `ELFCLASS64`.
    Not64Bit { class: u8 },
    /// `EI_DATA` is not `ELFDATA2LSB`.
    NotLittleEndian { encoding: u8 },
    /// `EI_VERSION` or `e_version` is not 1.
    BadVersion { version: u32 },
    /// `e_ehsize` is smaller than an ELF64 header.
    BadEhsize { ehsize: u16 },
    /// `e_machine` is not `EM_X86_64`.
    WrongMachine { machine: u16 },
    /// `e_type` is neither `ET_EXEC` nor `ET_DYN`.
    UnsupportedType { e_type: u16 },
    /// `e_phentsize` is not 56.
    BadPhentsize { phentsize: u16 },
    /// `e_phnum` is `PN_XNUM` (65535): extended numbering is not supported.
    TooManyProgramHeaders { phnum: u16 },
    /// The program-header table does not fit in the file.
    TruncatedProgramHeaders { phoff: u64, phnum: u16, len: u64 },
    /// A segment's `p_offset + p_filesz` lies beyond the end of the file.
    SegmentOutOfFile { index: usize, p_type: u32, offset: u64, filesz: u64, len: u64 },
    /// A `PT_LOAD` or `PT_TLS` with more bytes in the file than in memory.
    FileszExceedsMemsz { index: usize, filesz: u64, memsz: u64 },
    /// `p_vaddr + p_memsz` (or its page-rounded end) overflows 64 bits.
    VaddrOverflow { index: usize },
    /// `p_align` is not a power of two.
    BadAlignment { index: usize, align: u64 },
    /// A `PT_LOAD` whose address and file offset differ modulo the page size, so it cannot be
    /// mapped.
    MisalignedSegment { index: usize, vaddr: u64, offset: u64 },
    /// A `PT_LOAD` at a lower address than the one before it.
    LoadsNotAscending { index: usize, vaddr: u64, prev_vaddr: u64 },
    /// No `PT_LOAD` segment (or no program headers at all).
    NoLoadSegment,
    /// The `PT_INTERP` path lies (partly) outside the file.
    InterpOutOfBounds { offset: u64, size: u64, len: u64 },
    /// The `PT_INTERP` path does not end with NUL.
    InterpNotTerminated,
    /// The `PT_INTERP` path is empty, contains NUL, is not UTF-8 or is too long.
    BadInterp,
    /// More than one `PT_INTERP`.
    MultipleInterp,
    /// More than one `PT_TLS`.
    MultipleTls,
    /// The loaded segments span more than [`MAX_SPAN`] bytes.
    TooLarge { span: u64 },
    /// An `ET_EXEC` whose segments reach above the user address space.
    AddressOutOfRange { end: u64 },
}

/// Name of an ELF machine number, for messages.
pub fn machine_name(machine: u16) -> Option<&'static str> {
    Some(match machine {
        2 => "SPARC",
        3 => "i386",
        8 => "MIPS",
        20 => "PowerPC",
        21 => "PowerPC64",
        22 => "S/390",
        40 => "ARM",
        43 => "SPARC V9",
        50 => "IA-64",
        62 => "x86-64",
        183 => "AArch64",
        243 => "RISC-V",
        247 => "BPF",
        258 => "LoongArch",
        _ => return None,
    })
}

fn type_name(p_type: u32) -> &'static str {
    match p_type {
        crate::PT_NULL => "PT_NULL",
        crate::PT_LOAD => "PT_LOAD",
        crate::PT_DYNAMIC => "PT_DYNAMIC",
        crate::PT_INTERP => "PT_INTERP",
        crate::PT_NOTE => "PT_NOTE",
        crate::PT_SHLIB => "PT_SHLIB",
        crate::PT_PHDR => "PT_PHDR",
        crate::PT_TLS => "PT_TLS",
        crate::PT_GNU_EH_FRAME => "PT_GNU_EH_FRAME",
        crate::PT_GNU_STACK => "PT_GNU_STACK",
        crate::PT_GNU_RELRO => "PT_GNU_RELRO",
        crate::PT_GNU_PROPERTY => "PT_GNU_PROPERTY",
        _ => "segment",
    }
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotElf { found } => {
                write!(f, "not an ELF file (starts with ")?;
                for b in found {
                    write!(f, "{}", core::ascii::escape_default(*b))?;
                }
                f.write_str(")")?;
                if found.starts_with(b"#!") {
                    f.write_str("; it looks like a script")?;
                }
                Ok(())
            }
            Self::TruncatedHeader { len } => write!(f, "ELF file is truncated: {len} bytes, too short for the 64-byte ELF64 header"),
            Self::Not64Bit { class } => match class {
                1 => f.write_str("ELF is 32-bit (ELFCLASS32), expected a 64-bit x86-64 program"),
                _ => write!(f, "ELF has invalid class {class}, expected 64-bit (ELFCLASS64)"),
            },
            Self::NotLittleEndian { encoding } => match encoding {
                2 => f.write_str("ELF is big-endian, expected little-endian x86-64"),
                _ => write!(f, "ELF has invalid data encoding {encoding}, expected little-endian"),
            },
            Self::BadVersion { version } => {
                write!(f, "ELF has version {version}, expected 1 (EV_CURRENT)")
            }
            Self::BadEhsize { ehsize } => write!(f, "ELF header size e_ehsize is {ehsize}, expected at least 64"),
            Self::WrongMachine { machine } => match machine_name(*machine) {
                Some(name) => write!(
                    f,
                    "ELF for machine {machine} ({name}), expected x86-64; \
                     rebuild the program for x86-64"
                ),
                None => write!(
                    f,
                    "ELF for machine {machine} (unknown), expected x86-64; \
                     rebuild the program for x86-64"
                ),
            },
            Self::UnsupportedType { e_type } => {
                let what = match e_type {
                    0 => "ET_NONE, no file type",
                    1 => "ET_REL, a relocatable object file; link it into an executable first",
                    4 => "ET_CORE, a core dump",
                    _ => "unknown type",
                };
                write!(
                    f,
                    "ELF type {e_type} ({what}) cannot be run; expected an executable \
                     (ET_EXEC) or PIE/shared object (ET_DYN)"
                )
            }
            Self::BadPhentsize { phentsize } => write!(f, "ELF program header size e_phentsize is {phentsize}, expected {PHDR_SIZE}"),
            Self::TooManyProgramHeaders { phnum } => write!(f, "ELF has {phnum} program headers (extended numbering is not supported)"),
            Self::TruncatedProgramHeaders { phoff, phnum, len } => write!(
                f,
                "ELF program header table ({phnum} entries at offset {phoff:#x}) extends \
                 beyond the end of the {len}-byte file (truncated file?)"
            ),
            Self::SegmentOutOfFile { index, p_type, offset, filesz, len } => write!(
                f,
                "ELF {} (program header {index}) covers file bytes {offset:#x}+{filesz:#x}, \
                 beyond the end of the {len}-byte file (truncated file?)",
                type_name(*p_type)
            ),
            Self::FileszExceedsMemsz { index, filesz, memsz } => write!(
                f,
                "ELF program header {index} has p_filesz {filesz:#x} larger than \
                 p_memsz {memsz:#x}"
            ),
            Self::VaddrOverflow { index } => write!(f, "ELF program header {index}: p_vaddr + p_memsz overflows the address space"),
            Self::BadAlignment { index, align } => write!(f, "ELF program header {index} has alignment {align:#x}, not a power of two"),
            Self::MisalignedSegment { index, vaddr, offset } => write!(
                f,
                "ELF PT_LOAD (program header {index}) at address {vaddr:#x} and file offset \
                 {offset:#x} cannot be mapped: they differ modulo the 4096-byte page size"
            ),
            Self::LoadsNotAscending { index, vaddr, prev_vaddr } => write!(
                f,
                "ELF PT_LOAD segments are not in ascending address order: program header \
                 {index} at {vaddr:#x} follows one at {prev_vaddr:#x}"
            ),
            Self::NoLoadSegment => f.write_str("ELF has no PT_LOAD segment, nothing to load"),
            Self::InterpOutOfBounds { offset, size, len } => write!(
                f,
                "ELF PT_INTERP (interpreter path, {size:#x} bytes at offset {offset:#x}) lies \
                 outside the {len}-byte file"
            ),
            Self::InterpNotTerminated => f.write_str("ELF PT_INTERP interpreter path is not NUL-terminated"),
            Self::BadInterp => write!(
                f,
                "ELF PT_INTERP interpreter path is empty, contains NUL, is not UTF-8 or is \
                 longer than {MAX_INTERP_LEN} bytes"
            ),
            Self::MultipleInterp => f.write_str("ELF has more than one PT_INTERP"),
            Self::MultipleTls => f.write_str("ELF has more than one PT_TLS"),
            Self::TooLarge { span } => write!(f, "ELF segments span {span:#x} bytes, more than the {MAX_SPAN:#x} allowed"),
            Self::AddressOutOfRange { end } => write!(
                f,
                "ELF (ET_EXEC) segments end at {end:#x}, above the user address space \
                 ({USER_TOP:#x})"
            ),
        }
    }
}

impl core::error::Error for ElfError {}
