// Shared by the `parse` fuzz target (fuzz/fuzz_targets/parse.rs) and the regression test
// (tests/fuzz_regressions.rs), so that every saved fuzz input is re-checked by `cargo test`.

/// Parses `data`; it must never panic, and whatever it accepts must satisfy everything the
/// loader relies on.
pub fn check(data: &[u8]) {
    let Ok(elf) = myst_elf::parse(data) else {
        return;
    };
    let (lo, hi) = elf.bounds();
    assert!(lo <= hi && hi - lo <= myst_elf::MAX_SPAN);
    assert_eq!(lo % myst_elf::PAGE_SIZE, 0);
    assert_eq!(hi % myst_elf::PAGE_SIZE, 0);
    assert_eq!(elf.span(), hi - lo);
    assert_eq!(elf.phdrs.len(), usize::from(elf.e_phnum));
    assert!(elf.e_type == myst_elf::ET_EXEC || elf.e_type == myst_elf::ET_DYN);
    if elf.e_type == myst_elf::ET_EXEC {
        assert!(hi <= myst_elf::USER_TOP);
    }
    let mut prev = 0;
    let mut loads = 0;
    for p in elf.load_segments() {
        loads += 1;
        assert!(p.p_filesz <= p.p_memsz);
        assert!(p.p_vaddr >= prev);
        prev = p.p_vaddr;
        assert!(p.p_vaddr.checked_add(p.p_memsz).is_some());
        assert!(p.p_vaddr >= lo && p.vaddr_end() <= hi);
        assert_eq!(p.file_bytes(data).map(|b| b.len() as u64), Some(p.p_filesz));
        if p.p_align > 1 {
            assert_eq!(p.p_vaddr % myst_elf::PAGE_SIZE, p.p_offset % myst_elf::PAGE_SIZE);
        }
    }
    assert!(loads > 0);
    if let Some(tls) = elf.tls() {
        assert!(tls.p_filesz <= tls.p_memsz);
        assert!(tls.file_bytes(data).is_some());
    }
    if elf.phdrs.iter().any(|p| p.p_type == myst_elf::PT_INTERP) {
        let path = elf.interp(data).expect("validated PT_INTERP must be readable");
        assert!(!path.is_empty() && !path.contains('\0'));
    }
    let _ = elf.phdr_vaddr();
    let _ = elf.gnu_stack();
}
