use super::*;

/// Tiny deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[derive(Clone, Copy)]
struct Ph {
    p_type: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
    align: u64,
}

fn ph(p_type: u32, flags: u32, offset: u64, vaddr: u64, filesz: u64, memsz: u64) -> Ph {
    Ph { p_type, flags, offset, vaddr, filesz, memsz, align: if p_type == PT_LOAD { 0x1000 } else { 8 } }
}

/// Builds an ELF64 x86-64 file: header, program headers at 64, zero padding to `len`, and
/// `extra` bytes written at their offsets.
fn build(e_type: u16, phdrs: &[Ph], len: usize, extra: &[(usize, &[u8])]) -> Vec<u8> {
    let mut d = vec![0u8; len.max(64 + phdrs.len() * 56)];
    d[..4].copy_from_slice(ELFMAG);
    d[4] = ELFCLASS64;
    d[5] = ELFDATA2LSB;
    d[6] = 1;
    d[16..18].copy_from_slice(&e_type.to_le_bytes());
    d[18..20].copy_from_slice(&EM_X86_64.to_le_bytes());
    d[20..24].copy_from_slice(&1u32.to_le_bytes());
    d[24..32].copy_from_slice(&0x1040u64.to_le_bytes()); // entry
    d[32..40].copy_from_slice(&64u64.to_le_bytes()); // phoff
    d[52..54].copy_from_slice(&64u16.to_le_bytes()); // ehsize
    d[54..56].copy_from_slice(&56u16.to_le_bytes()); // phentsize
    d[56..58].copy_from_slice(&(phdrs.len() as u16).to_le_bytes());
    for (i, p) in phdrs.iter().enumerate() {
        let o = 64 + i * 56;
        d[o..o + 4].copy_from_slice(&p.p_type.to_le_bytes());
        d[o + 4..o + 8].copy_from_slice(&p.flags.to_le_bytes());
        d[o + 8..o + 16].copy_from_slice(&p.offset.to_le_bytes());
        d[o + 16..o + 24].copy_from_slice(&p.vaddr.to_le_bytes());
        d[o + 24..o + 32].copy_from_slice(&p.vaddr.to_le_bytes());
        d[o + 32..o + 40].copy_from_slice(&p.filesz.to_le_bytes());
        d[o + 40..o + 48].copy_from_slice(&p.memsz.to_le_bytes());
        d[o + 48..o + 56].copy_from_slice(&p.align.to_le_bytes());
    }
    for (off, bytes) in extra {
        d[*off..*off + bytes.len()].copy_from_slice(bytes);
    }
    d
}

const INTERP: &[u8] = b"/lib64/ld-linux-x86-64.so.2\0";

/// A small but complete PIE: PHDR, INTERP, two LOADs, DYNAMIC, TLS, GNU_STACK.
fn sample_phdrs() -> Vec<Ph> {
    vec![
        ph(PT_PHDR, PF_R, 64, 64, 7 * 56, 7 * 56),
        ph(PT_INTERP, PF_R, 0x200, 0x200, INTERP.len() as u64, INTERP.len() as u64),
        ph(PT_LOAD, PF_R | PF_X, 0, 0, 0x1800, 0x1800),
        ph(PT_LOAD, PF_R | PF_W, 0x1800, 0x2800, 0x300, 0x5000),
        ph(PT_DYNAMIC, PF_R | PF_W, 0x1900, 0x2900, 0x100, 0x100),
        ph(PT_TLS, PF_R, 0x1a00, 0x2a00, 0x10, 0x40),
        ph(PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0),
    ]
}

fn sample() -> Vec<u8> {
    build(ET_DYN, &sample_phdrs(), 0x1b00, &[(0x200, INTERP)])
}

/// Builds the sample with one program header changed.
fn sample_with(index: usize, change: impl FnOnce(&mut Ph)) -> Vec<u8> {
    let mut phdrs = sample_phdrs();
    change(&mut phdrs[index]);
    build(ET_DYN, &phdrs, 0x1b00, &[(0x200, INTERP)])
}

#[test]
fn parses_the_sample() {
    let data = sample();
    let elf = parse(&data).unwrap();
    assert_eq!(elf.e_type, ET_DYN);
    assert!(elf.is_dyn());
    assert_eq!(elf.e_machine, EM_X86_64);
    assert_eq!(elf.e_entry, 0x1040);
    assert_eq!(elf.e_phoff, 64);
    assert_eq!(elf.e_phentsize, 56);
    assert_eq!(elf.e_phnum, 7);
    assert_eq!(elf.phdrs.len(), 7);
    assert_eq!(elf.interp(&data), Some("/lib64/ld-linux-x86-64.so.2"));
    let loads: Vec<_> = elf.load_segments().map(|p| p.p_vaddr).collect();
    assert_eq!(loads, [0, 0x2800]);
    let tls = elf.tls().unwrap();
    assert_eq!((tls.p_filesz, tls.p_memsz), (0x10, 0x40));
    assert_eq!(elf.dynamic().unwrap().p_vaddr, 0x2900);
    assert_eq!(elf.gnu_stack(), Some(false));
    assert!(!elf.exec_stack());
    assert_eq!(elf.phdr_vaddr(), Some(64));
    assert_eq!(elf.bounds(), (0, 0x8000));
    assert_eq!(elf.span(), 0x8000);
    let text = &elf.phdrs[2];
    assert!(text.readable() && text.executable() && !text.writable());
    assert_eq!(text.file_bytes(&data).unwrap().len(), 0x1800);
    assert_eq!(text.vaddr_end(), 0x1800);
    // Another buffer gives no interpreter rather than garbage or a panic.
    assert_eq!(elf.interp(&[]), None);
}

#[test]
fn static_exec_without_optional_headers() {
    let phdrs = [ph(PT_LOAD, PF_R | PF_X, 0, 0x40_0000, 0x1000, 0x1000), ph(PT_LOAD, PF_R | PF_W, 0x1000, 0x40_1000, 0x10, 0x2000)];
    let data = build(ET_EXEC, &phdrs, 0x1010, &[]);
    let elf = parse(&data).unwrap();
    assert!(!elf.is_dyn());
    assert_eq!(elf.interp(&data), None);
    assert_eq!(elf.tls(), None);
    assert_eq!(elf.gnu_stack(), None);
    assert!(!elf.exec_stack());
    // No PT_PHDR: the table (at file offset 64) lies inside the first PT_LOAD.
    assert_eq!(elf.phdr_vaddr(), Some(0x40_0040));
    assert_eq!(elf.bounds(), (0x40_0000, 0x40_3000));
}

#[test]
fn phdr_vaddr_when_table_is_not_loaded() {
    // The only PT_LOAD starts after the table.
    let phdrs = [ph(PT_LOAD, PF_R, 0x1000, 0x1000, 0x10, 0x10)];
    let data = build(ET_DYN, &phdrs, 0x1010, &[]);
    assert_eq!(parse(&data).unwrap().phdr_vaddr(), None);
}

#[test]
fn executable_stack_and_page_rounding() {
    let phdrs = [
        ph(PT_LOAD, PF_R, 0x10, 0x40_0010, 0x20, 0x20),
        ph(PT_LOAD, PF_R, 0x40, 0x40_2040, 0x20, 0x1000),
        ph(PT_GNU_STACK, PF_R | PF_W | PF_X, 0, 0, 0, 0),
    ];
    let data = build(ET_EXEC, &phdrs, 0x200, &[]);
    let elf = parse(&data).unwrap();
    assert_eq!(elf.gnu_stack(), Some(true));
    assert!(elf.exec_stack());
    assert_eq!(elf.bounds(), (0x40_0000, 0x40_4000));
}

#[test]
fn align_zero_or_one_skips_congruence() {
    let mut p = ph(PT_LOAD, PF_R, 0x10, 0x4_0000, 0x20, 0x20);
    p.align = 1;
    assert!(parse(&build(ET_DYN, &[p], 0x100, &[])).is_ok());
    p.align = 0;
    assert!(parse(&build(ET_DYN, &[p], 0x100, &[])).is_ok());
    p.align = 0x1000;
    assert_eq!(parse(&build(ET_DYN, &[p], 0x100, &[])), Err(ElfError::MisalignedSegment { index: 0, vaddr: 0x4_0000, offset: 0x10 }));
    // Large alignments (2 MiB) only need page congruence.
    p.align = 0x20_0000;
    p.vaddr = 0x4_0010;
    assert!(parse(&build(ET_DYN, &[p], 0x100, &[])).is_ok());
}

#[test]
fn identification_errors() {
    assert_eq!(parse(&[]), Err(ElfError::TruncatedHeader { len: 0 }));
    assert_eq!(parse(b"\x7fEL"), Err(ElfError::TruncatedHeader { len: 3 }));
    assert_eq!(parse(b"#!/bin/sh\necho hi\n"), Err(ElfError::NotElf { found: *b"#!/b" }));
    assert_eq!(parse(b"MZ"), Err(ElfError::NotElf { found: *b"MZ\0\0" }));

    let mut d = sample();
    d[4] = ELFCLASS32;
    assert_eq!(parse(&d), Err(ElfError::Not64Bit { class: 1 }));
    d[4] = 7;
    assert_eq!(parse(&d), Err(ElfError::Not64Bit { class: 7 }));

    let mut d = sample();
    d[5] = ELFDATA2MSB;
    assert_eq!(parse(&d), Err(ElfError::NotLittleEndian { encoding: 2 }));

    let mut d = sample();
    d[6] = 0;
    assert_eq!(parse(&d), Err(ElfError::BadVersion { version: 0 }));
    let mut d = sample();
    d[20] = 2;
    assert_eq!(parse(&d), Err(ElfError::BadVersion { version: 2 }));

    let mut d = sample();
    d[52] = 52;
    assert_eq!(parse(&d), Err(ElfError::BadEhsize { ehsize: 52 }));

    // Only the identification is present.
    let d = sample();
    assert_eq!(parse(&d[..16]), Err(ElfError::TruncatedHeader { len: 16 }));
    assert_eq!(parse(&d[..63]), Err(ElfError::TruncatedHeader { len: 63 }));
}

#[test]
fn machine_errors_name_the_machine() {
    let mut d = sample();
    d[18..20].copy_from_slice(&EM_AARCH64.to_le_bytes());
    let err = parse(&d).unwrap_err();
    assert_eq!(err, ElfError::WrongMachine { machine: 183 });
    assert_eq!(err.to_string(), "ELF for machine 183 (AArch64), expected x86-64; rebuild the program for x86-64");
    d[18..20].copy_from_slice(&9999u16.to_le_bytes());
    assert!(parse(&d).unwrap_err().to_string().contains("9999 (unknown)"));
    d[18..20].copy_from_slice(&EM_386.to_le_bytes());
    assert!(parse(&d).unwrap_err().to_string().contains("i386"));
}

#[test]
fn type_errors() {
    for (t, word) in [(ET_REL, "relocatable"), (ET_CORE, "core dump"), (ET_NONE, "ET_NONE")] {
        let mut d = sample();
        d[16..18].copy_from_slice(&t.to_le_bytes());
        let err = parse(&d).unwrap_err();
        assert_eq!(err, ElfError::UnsupportedType { e_type: t });
        assert!(err.to_string().contains(word), "{err}");
    }
    let mut d = sample();
    d[16..18].copy_from_slice(&0xfe00u16.to_le_bytes());
    assert!(matches!(parse(&d), Err(ElfError::UnsupportedType { .. })));
}

#[test]
fn program_header_table_errors() {
    let mut d = sample();
    d[54..56].copy_from_slice(&32u16.to_le_bytes());
    assert_eq!(parse(&d), Err(ElfError::BadPhentsize { phentsize: 32 }));

    let mut d = sample();
    d[56..58].copy_from_slice(&0u16.to_le_bytes());
    assert_eq!(parse(&d), Err(ElfError::NoLoadSegment));

    let mut d = sample();
    d[56..58].copy_from_slice(&0xffffu16.to_le_bytes());
    assert_eq!(parse(&d), Err(ElfError::TooManyProgramHeaders { phnum: 0xffff }));

    // 1000 entries do not fit in the file.
    let mut d = sample();
    d[56..58].copy_from_slice(&1000u16.to_le_bytes());
    assert_eq!(parse(&d), Err(ElfError::TruncatedProgramHeaders { phoff: 64, phnum: 1000, len: d.len() as u64 }));
    // An offset that overflows.
    let mut d = sample();
    d[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(parse(&d), Err(ElfError::TruncatedProgramHeaders { .. })));
    // An offset past the end.
    let mut d = sample();
    let past = d.len() as u64 - 55;
    d[32..40].copy_from_slice(&past.to_le_bytes());
    assert!(matches!(parse(&d), Err(ElfError::TruncatedProgramHeaders { .. })));
}

#[test]
fn segment_errors() {
    let len = 0x1b00u64;
    assert_eq!(
        parse(&sample_with(3, |p| p.filesz = 0x1000)),
        Err(ElfError::SegmentOutOfFile { index: 3, p_type: PT_LOAD, offset: 0x1800, filesz: 0x1000, len })
    );
    assert!(matches!(parse(&sample_with(4, |p| p.offset = u64::MAX)), Err(ElfError::SegmentOutOfFile { index: 4, .. })));
    // An empty segment may point anywhere.
    assert!(parse(&sample_with(6, |p| p.offset = u64::MAX)).is_ok());

    assert_eq!(parse(&sample_with(3, |p| p.memsz = 0x100)), Err(ElfError::FileszExceedsMemsz { index: 3, filesz: 0x300, memsz: 0x100 }));
    assert_eq!(parse(&sample_with(5, |p| p.memsz = 1)), Err(ElfError::FileszExceedsMemsz { index: 5, filesz: 0x10, memsz: 1 }));
    // Non-loaded segments may have p_filesz > p_memsz.
    assert!(parse(&sample_with(4, |p| p.memsz = 0)).is_ok());

    assert_eq!(
        parse(&sample_with(3, |p| {
            p.vaddr = u64::MAX - 0xfff - 0x800;
            p.memsz = 0x5000
        })),
        Err(ElfError::VaddrOverflow { index: 3 })
    );
    // The end fits but its page-rounded end does not.
    assert_eq!(
        parse(&sample_with(3, |p| {
            p.vaddr = u64::MAX - 0x7ff - 0x5000;
            p.memsz = 0x4ff0
        })),
        Err(ElfError::VaddrOverflow { index: 3 })
    );
    assert_eq!(parse(&sample_with(5, |p| p.vaddr = u64::MAX - 0x10)), Err(ElfError::VaddrOverflow { index: 5 }));

    assert_eq!(parse(&sample_with(3, |p| p.align = 0x1800)), Err(ElfError::BadAlignment { index: 3, align: 0x1800 }));
    assert_eq!(parse(&sample_with(3, |p| p.vaddr = 0x2900)), Err(ElfError::MisalignedSegment { index: 3, vaddr: 0x2900, offset: 0x1800 }));
}

#[test]
fn load_order_errors() {
    let phdrs = [ph(PT_LOAD, PF_R, 0x1000, 0x40_1000, 0x10, 0x10), ph(PT_LOAD, PF_R, 0, 0x40_0000, 0x10, 0x10)];
    assert_eq!(
        parse(&build(ET_EXEC, &phdrs, 0x1010, &[])),
        Err(ElfError::LoadsNotAscending { index: 1, vaddr: 0x40_0000, prev_vaddr: 0x40_1000 })
    );
    let phdrs = [ph(PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0), ph(PT_NOTE, PF_R, 0x100, 0x100, 0x10, 0x10)];
    assert_eq!(parse(&build(ET_DYN, &phdrs, 0x200, &[])), Err(ElfError::NoLoadSegment));
}

#[test]
fn interp_errors() {
    // Not NUL-terminated.
    let d = sample_with(1, |p| p.filesz -= 1);
    assert_eq!(parse(&d), Err(ElfError::InterpNotTerminated));
    // Empty.
    let d = sample_with(1, |p| p.filesz = 0);
    assert_eq!(parse(&d), Err(ElfError::InterpNotTerminated));
    // Only a NUL.
    let d = sample_with(1, |p| {
        p.offset = 0x1ff;
        p.filesz = 1
    });
    assert_eq!(parse(&d), Err(ElfError::BadInterp));
    // Interior NUL.
    let d = sample_with(1, |p| p.filesz += 1);
    assert_eq!(parse(&d), Err(ElfError::BadInterp));
    // Out of the file.
    let d = sample_with(1, |p| p.offset = 0x1b00 - 4);
    assert_eq!(parse(&d), Err(ElfError::InterpOutOfBounds { offset: 0x1afc, size: INTERP.len() as u64, len: 0x1b00 }));
    let d = sample_with(1, |p| p.offset = u64::MAX - 2);
    assert!(matches!(parse(&d), Err(ElfError::InterpOutOfBounds { .. })));
    // Not UTF-8.
    let mut d = sample();
    d[0x201] = 0xff;
    assert_eq!(parse(&d), Err(ElfError::BadInterp));
    // Too long.
    let long = vec![b'a'; 5000];
    let mut phdrs = sample_phdrs();
    phdrs[1].filesz = 5001;
    phdrs[2].filesz = 0x3000;
    phdrs[2].memsz = 0x3000;
    phdrs[3].vaddr = 0x3800;
    let d = build(ET_DYN, &phdrs[..3], 0x3000, &[(0x200, &long)]);
    assert_eq!(parse(&d), Err(ElfError::BadInterp));
    // Two of them.
    let mut phdrs = sample_phdrs();
    phdrs[6] = phdrs[1];
    let d = build(ET_DYN, &phdrs, 0x1b00, &[(0x200, INTERP)]);
    assert_eq!(parse(&d), Err(ElfError::MultipleInterp));
}

#[test]
fn multiple_tls_is_an_error() {
    let mut phdrs = sample_phdrs();
    phdrs[6] = phdrs[5];
    let d = build(ET_DYN, &phdrs, 0x1b00, &[(0x200, INTERP)]);
    assert_eq!(parse(&d), Err(ElfError::MultipleTls));
}

#[test]
fn span_limits() {
    let phdrs = [ph(PT_LOAD, PF_R, 0, 0, 0x100, 0x100), ph(PT_LOAD, PF_R, 0, MAX_SPAN, 0x100, 0x100)];
    assert_eq!(parse(&build(ET_DYN, &phdrs, 0x100, &[])), Err(ElfError::TooLarge { span: MAX_SPAN + 0x1000 }));
    // Exactly the limit is fine.
    let phdrs = [ph(PT_LOAD, PF_R, 0, 0, 0x100, MAX_SPAN)];
    assert_eq!(parse(&build(ET_DYN, &phdrs, 0x100, &[])).unwrap().span(), MAX_SPAN);
    // A fixed-address executable above the user address space.
    let phdrs = [ph(PT_LOAD, PF_R, 0, USER_TOP, 0x100, 0x100)];
    assert_eq!(parse(&build(ET_EXEC, &phdrs, 0x100, &[])), Err(ElfError::AddressOutOfRange { end: USER_TOP + 0x1000 }));
    // A huge memsz in one segment.
    let phdrs = [ph(PT_LOAD, PF_R, 0, 0x1000, 0x100, u64::MAX / 2)];
    assert!(matches!(parse(&build(ET_DYN, &phdrs, 0x100, &[])), Err(ElfError::TooLarge { .. })));
}

#[test]
fn every_truncation_is_an_error() {
    let d = sample();
    assert!(parse(&d).is_ok());
    for len in 0..d.len() {
        assert!(parse(&d[..len]).is_err(), "prefix of {len} bytes parsed");
    }
}

#[test]
fn random_byte_flips_never_panic() {
    let base = sample();
    let mut rng = Rng(0xdead_beef_1234_5678);
    let mut accepted = 0;
    for _ in 0..50_000 {
        let mut d = base.clone();
        for _ in 0..1 + rng.below(4) {
            // Mostly the headers, sometimes anywhere.
            let i = if rng.below(4) == 0 { rng.below(d.len()) } else { rng.below(64 + 7 * 56) };
            d[i] = match rng.below(3) {
                0 => rng.next() as u8,
                1 => d[i] ^ (1 << rng.below(8)),
                _ => [0, 0xff, 0x80, 1][rng.below(4)],
            };
        }
        if let Ok(elf) = parse(&d) {
            accepted += 1;
            check_invariants(&elf, &d);
        }
        let cut = rng.below(d.len() + 1);
        if let Ok(elf) = parse(&d[..cut]) {
            check_invariants(&elf, &d[..cut]);
        }
    }
    assert!(accepted > 0);
}

/// What a loader may rely on for any accepted file.
fn check_invariants(elf: &Elf, data: &[u8]) {
    let (lo, hi) = elf.bounds();
    assert!(lo <= hi && hi - lo <= MAX_SPAN);
    assert_eq!(lo % PAGE_SIZE, 0);
    assert_eq!(hi % PAGE_SIZE, 0);
    let mut prev = 0;
    for p in elf.load_segments() {
        assert!(p.p_filesz <= p.p_memsz);
        assert!(p.p_vaddr >= prev);
        prev = p.p_vaddr;
        assert!(p.p_vaddr >= lo && p.vaddr_end() <= hi);
        assert!(p.file_bytes(data).is_some());
    }
    if elf.phdrs.iter().any(|p| p.p_type == PT_INTERP) {
        assert!(elf.interp(data).is_some());
    }
    let _ = elf.phdr_vaddr();
}

#[test]
fn error_messages_are_readable() {
    let all = [
        ElfError::NotElf { found: *b"#!/b" },
        ElfError::TruncatedHeader { len: 3 },
        ElfError::Not64Bit { class: 1 },
        ElfError::Not64Bit { class: 9 },
        ElfError::NotLittleEndian { encoding: 2 },
        ElfError::NotLittleEndian { encoding: 0 },
        ElfError::BadVersion { version: 2 },
        ElfError::BadEhsize { ehsize: 1 },
        ElfError::WrongMachine { machine: 40 },
        ElfError::UnsupportedType { e_type: 1 },
        ElfError::BadPhentsize { phentsize: 32 },
        ElfError::TooManyProgramHeaders { phnum: 0xffff },
        ElfError::TruncatedProgramHeaders { phoff: 64, phnum: 9, len: 100 },
        ElfError::SegmentOutOfFile { index: 1, p_type: PT_LOAD, offset: 0, filesz: 9, len: 3 },
        ElfError::FileszExceedsMemsz { index: 0, filesz: 2, memsz: 1 },
        ElfError::VaddrOverflow { index: 0 },
        ElfError::BadAlignment { index: 0, align: 3 },
        ElfError::MisalignedSegment { index: 0, vaddr: 1, offset: 2 },
        ElfError::LoadsNotAscending { index: 1, vaddr: 0, prev_vaddr: 1 },
        ElfError::NoLoadSegment,
        ElfError::InterpOutOfBounds { offset: 1, size: 2, len: 3 },
        ElfError::InterpNotTerminated,
        ElfError::BadInterp,
        ElfError::MultipleInterp,
        ElfError::MultipleTls,
        ElfError::TooLarge { span: 1 << 41 },
        ElfError::AddressOutOfRange { end: 1 << 48 },
    ];
    for e in &all {
        let msg = e.to_string();
        assert!(msg.len() > 20, "{msg}");
    }
    assert!(all[0].to_string().contains("script"));
    assert!(all[2].to_string().contains("32-bit"));
    assert!(all[8].to_string().contains("machine 40 (ARM)"));
    assert!(all[13].to_string().contains("PT_LOAD"));
    assert_eq!(machine_name(EM_X86_64), Some("x86-64"));
}

#[test]
fn empty_segment_beyond_the_file_has_empty_bytes() {
    // Found by the fuzzer (tests/fuzz-regressions/crash-4e7d7f...): a PT_LOAD with
    // p_filesz 0 whose p_offset lies past the end of the file is valid (pure .bss), and its
    // file bytes are empty rather than missing.
    let phdrs = [ph(PT_LOAD, PF_R, 0, 0, 0x100, 0x100), ph(PT_LOAD, PF_R | PF_W, 0x5000, 0x5000, 0, 0x2000)];
    let data = build(ET_DYN, &phdrs, 0x100, &[]);
    let elf = parse(&data).unwrap();
    assert_eq!(elf.phdrs[1].file_bytes(&data), Some(&[][..]));
    assert_eq!(elf.bounds(), (0, 0x7000));
    check_invariants(&elf, &data);
}
