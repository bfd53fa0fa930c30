//! ELF loading and the initial stack, Linux-exact: argv, envp, auxv, alignment.

use crate::error::KResult;
use crate::mm::{page_down, page_up, Mm, PAGE};
use crate::process::Process;
use crate::vfs::InodeRef;
use crate::{kerr, BootArgs, Kernel};
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use myst_abi::consts::*;
use myst_abi::Errno;
use myst_tcall::UserRegs;

/// A load failure with a user-facing message.
#[derive(Debug)]
pub struct LoadError(pub String);

/// Largest program file the loader reads.
const MAX_IMAGE: u64 = 1 << 31;
/// Where a position-independent main program is placed (above the non-PIE range, with the
/// break area growing up behind it).
const PIE_BASE_OFFSET: u64 = 0x0100_0000;

/// A loaded image.
#[derive(Debug, Clone, Copy)]
pub struct Loaded {
    /// Load bias.
    pub base: u64,
    /// Entry point (biased).
    pub entry: u64,
    /// Address of the program headers in memory.
    pub phdr: u64,
    /// Program-header count.
    pub phnum: u64,
    /// End of the highest segment.
    pub end: u64,
}

fn read_whole(node: &InodeRef) -> KResult<Vec<u8>> {
    let st = node.stat()?;
    if st.mode & S_IFMT != S_IFREG {
        kerr!(EACCES);
    }
    let size = st.size.max(0) as u64;
    if size > MAX_IMAGE {
        kerr!(EFBIG);
    }
    let mut data = vec![0u8; size as usize];
    let mut off = 0usize;
    while off < data.len() {
        let n = node.read_at(off as u64, &mut data[off..])?;
        if n == 0 {
            data.truncate(off);
            break;
        }
        off += n;
    }
    Ok(data)
}

/// Maps one ELF image into `mm`. `main` chooses the placement policy for ET_DYN.
fn map_image(mm: &mut Mm, data: &[u8], elf: &myst_elf::Elf, name: &str, main: bool) -> Result<Loaded, LoadError> {
    let t = crate::tcall();
    let (lo, hi) = elf.bounds();
    if hi <= lo {
        return Err(LoadError(format!("{name}: no loadable segments")));
    }
    let span = hi - lo;
    let base = if elf.e_type == myst_elf::ET_DYN {
        let pick = if main { mm.find_free_above(span, mm.start + PIE_BASE_OFFSET) } else { mm.find_free(span, mm.end) };
        match pick {
            Some(a) => a - lo,
            None => return Err(LoadError(format!("{name}: does not fit in the memory region (raise --memory-size)"))),
        }
    } else {
        if !mm.is_free(lo, span) {
            return Err(LoadError(format!(
                "{name}: fixed load address {lo:#x}..{hi:#x} is outside the application region {:#x}..{:#x} or taken",
                mm.start, mm.end
            )));
        }
        0
    };
    let mut protects: Vec<(u64, u64, u32)> = Vec::new();
    for ph in elf.load_segments() {
        let start = page_down(base + ph.p_vaddr);
        let end = page_up(base + ph.p_vaddr + ph.p_memsz).unwrap_or(u64::MAX);
        // Commit pages not already committed by a previous segment sharing a page.
        let mut cur = start;
        while cur < end {
            if mm.is_free(cur, PAGE) {
                let mut run = PAGE;
                while cur + run < end && mm.is_free(cur + run, PAGE) {
                    run += PAGE;
                }
                t.mem_commit(cur, run, PROT_READ | PROT_WRITE).map_err(|e| LoadError(format!("{name}: cannot map segment: {e}")))?;
                mm.insert(cur, run, PROT_READ | PROT_WRITE, MAP_PRIVATE, String::from(name));
                cur += run;
            } else {
                cur += PAGE;
            }
        }
        let off = ph.p_offset as usize;
        let fs = ph.p_filesz as usize;
        if fs > 0 {
            t.user_write(base + ph.p_vaddr, &data[off..off + fs]).map_err(|e| LoadError(format!("{name}: cannot copy segment: {e}")))?;
        }
        let mut prot = 0;
        if ph.p_flags & 4 != 0 {
            prot |= PROT_READ;
        }
        if ph.p_flags & 2 != 0 {
            prot |= PROT_WRITE;
        }
        if ph.p_flags & 1 != 0 {
            prot |= PROT_EXEC;
        }
        protects.push((start, end, prot));
    }
    if main {
        raise_gnu_stack(elf, base, lo);
    }
    for (s, e, p) in protects {
        mm.protect(t, s, e - s, p).map_err(|e| LoadError(format!("{name}: mprotect: {}", e.errno)))?;
    }
    let phdr = base + elf.phdr_vaddr().unwrap_or(lo + elf.e_phoff);
    Ok(Loaded { base, entry: base + elf.e_entry, phdr, phnum: elf.phdrs.len() as u64, end: base + hi })
}

/// Raises PT_GNU_STACK's `p_memsz` in the loaded program headers to `--thread-stack-size`
/// (musl sizes its default thread stack from it), as Mystikos does.
fn raise_gnu_stack(elf: &myst_elf::Elf, base: u64, lo: u64) {
    let want = crate::current_thread().map(|t| t.process.thread_stack_size).unwrap_or(0);
    let want = if want == 0 { THREAD_STACK.load(core::sync::atomic::Ordering::Relaxed) } else { want };
    if want == 0 {
        return;
    }
    let phdr = base + elf.phdr_vaddr().unwrap_or(lo + elf.e_phoff);
    for (i, ph) in elf.phdrs.iter().enumerate() {
        if ph.p_type == myst_elf::PT_GNU_STACK && ph.p_memsz < want {
            let _ = crate::tcall().user_write(phdr + 56 * i as u64 + 40, &want.to_le_bytes());
        }
    }
}

/// `--thread-stack-size` for the first program (set at boot, before any thread exists).
pub static THREAD_STACK: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// An exec failure: the errno for `execve` and a message for the user.
#[derive(Debug)]
pub struct ExecError {
    /// errno for the application.
    pub errno: Errno,
    /// What went wrong.
    pub msg: String,
}

fn eerr(errno: Errno, msg: String) -> ExecError {
    ExecError { errno, msg }
}

/// A program checked and read, ready to replace an address space.
pub struct Prepared {
    /// Canonical absolute path of the program (for AT_EXECFN and /proc/self/exe).
    pub path: String,
    /// The path as given (for messages).
    pub given: String,
    data: Vec<u8>,
    elf: myst_elf::Elf,
    interp: Option<(String, Vec<u8>, myst_elf::Elf)>,
    /// Final argv (after `#!` rewriting).
    pub argv: Vec<Vec<u8>>,
}

/// Resolves, reads and parses `path` (relative to `cwd`), following `#!` interpreters.
pub fn prepare(k: &Kernel, cwd: &[u8], path: &[u8], argv: Vec<Vec<u8>>, depth: u32) -> Result<Prepared, ExecError> {
    let given = String::from_utf8_lossy(path).into_owned();
    if path.is_empty() {
        return Err(eerr(Errno::ENOENT, format!("{given}: empty program path")));
    }
    let abs = crate::vfs::join(cwd, path);
    let (node, canon) = k
        .vfs
        .walk(&abs, true)
        .map_err(|e| eerr(e.errno, format!("{given}: not found in the root file system ({})", e.errno.description())))?;
    let st = node.stat().map_err(|e| eerr(e.errno, format!("{given}: {}", e.errno)))?;
    if st.mode & S_IFMT != S_IFREG {
        return Err(eerr(Errno::EACCES, format!("{given}: not a regular file")));
    }
    if st.mode & 0o111 == 0 {
        return Err(eerr(Errno::EACCES, format!("{given}: permission denied (not executable)")));
    }
    let data = read_whole(&node).map_err(|e| eerr(e.errno, format!("{given}: cannot read: {}", e.errno)))?;
    if data.starts_with(b"#!") {
        if depth >= 4 {
            return Err(eerr(Errno::ELOOP, format!("{given}: too many levels of #! interpreters")));
        }
        let line_end = data.iter().take(256).position(|&b| b == b'\n').unwrap_or(data.len().min(256));
        let line = &data[2..line_end];
        let line: Vec<u8> = line.iter().copied().skip_while(|b| *b == b' ' || *b == b'\t').collect();
        let mut parts = line.splitn(2, |b| *b == b' ' || *b == b'\t');
        let interp = parts.next().unwrap_or(&[]).to_vec();
        let arg: Vec<u8> = parts.next().map(|a| a.trim_ascii().to_vec()).unwrap_or_default();
        if interp.is_empty() {
            return Err(eerr(Errno::ENOEXEC, format!("{given}: empty #! line")));
        }
        let mut nargv = alloc::vec![interp.clone()];
        if !arg.is_empty() {
            nargv.push(arg);
        }
        nargv.push(path.to_vec());
        nargv.extend(argv.into_iter().skip(1));
        return prepare(k, cwd, &interp, nargv, depth + 1);
    }
    let elf = myst_elf::parse(&data).map_err(|e| eerr(Errno::ENOEXEC, format!("{given}: {e}")))?;
    let interp = match elf.interp(&data) {
        Some(ip) => {
            let ip = String::from(ip);
            let (inode, _) = k.vfs.walk(ip.as_bytes(), true).map_err(|e| {
                eerr(e.errno, format!("{given}: interpreter {ip} not found in the root file system ({})", e.errno.description()))
            })?;
            let idata = read_whole(&inode).map_err(|e| eerr(e.errno, format!("interpreter {ip}: cannot read: {}", e.errno)))?;
            let ielf = myst_elf::parse(&idata).map_err(|e| eerr(Errno::ELIBBAD, format!("interpreter {ip}: {e}")))?;
            if ielf.interp(&idata).is_some() {
                return Err(eerr(Errno::ELIBBAD, format!("interpreter {ip}: itself needs an interpreter")));
            }
            Some((ip, idata, ielf))
        }
        None => None,
    };
    Ok(Prepared { path: String::from_utf8_lossy(&canon).into_owned(), given, data, elf, interp, argv })
}

/// Maps a prepared program into `proc`'s (empty) address space and builds its stack.
pub fn install(proc: &Process, prep: &Prepared, envp: &[Vec<u8>], stack_size: u64) -> Result<UserRegs, ExecError> {
    let le = |e: LoadError| eerr(Errno::ENOMEM, e.0);
    let mut mm = proc.mm.lock();
    let main = map_image(&mut mm, &prep.data, &prep.elf, &prep.path, true).map_err(le)?;
    let mut interp_base = 0;
    let mut entry = main.entry;
    if let Some((ip, idata, ielf)) = &prep.interp {
        let il = map_image(&mut mm, idata, ielf, ip, false).map_err(le)?;
        interp_base = il.base;
        entry = il.entry;
    }
    let brk = page_up(main.end).unwrap_or(main.end);
    mm.brk_start = brk;
    mm.brk = brk;
    let stack_size = page_up(stack_size.max(64 * 1024)).unwrap_or(8 << 20);
    // A guard gap below the stack (Linux keeps 1 MiB): an overflow faults instead of running
    // into the mappings placed below it.
    const GUARD: u64 = 1 << 20;
    let Some(guard_lo) = mm.find_free(stack_size + GUARD, mm.end) else {
        return Err(eerr(Errno::ENOMEM, "no room for the stack (raise --memory-size)".into()));
    };
    mm.insert(guard_lo, GUARD, PROT_NONE, MAP_PRIVATE, "[stack guard]".into());
    let stack_lo = guard_lo + GUARD;
    let stack_hi = stack_lo + stack_size;
    let stack_prot = if prep.elf.exec_stack() { PROT_READ | PROT_WRITE | PROT_EXEC } else { PROT_READ | PROT_WRITE };
    mm.map_fresh(crate::tcall(), stack_lo, stack_size, stack_prot, MAP_PRIVATE | MAP_GROWSDOWN, "[stack]".into())
        .map_err(|e| eerr(e.errno, format!("cannot map the stack: {}", e.errno)))?;
    drop(mm);
    let info = crate::tcall().info();
    let mut random = [0u8; 16];
    let _ = crate::random(&mut random);
    let auxv_base = [
        (AT_HWCAP, info.hwcap),
        (AT_PAGESZ, PAGE),
        (AT_CLKTCK, 100),
        (AT_PHDR, main.phdr),
        (AT_PHENT, 56),
        (AT_PHNUM, main.phnum),
        (AT_BASE, interp_base),
        (AT_FLAGS, 0),
        (AT_ENTRY, main.entry),
        (AT_UID, proc.creds.uid as u64),
        (AT_EUID, proc.creds.uid as u64),
        (AT_GID, proc.creds.gid as u64),
        (AT_EGID, proc.creds.gid as u64),
        (AT_SECURE, 0),
        // The target's vDSO (clock_gettime, gettimeofday, time, getcpu at native speed), if
        // it offers one; AT_IGNORE otherwise.
        if info.vdso != 0 { (AT_SYSINFO_EHDR, info.vdso) } else { (1, 0) },
    ];
    let img = build_stack(stack_hi, &prep.argv, envp, prep.path.as_bytes(), &random, &auxv_base, info.hwcap2, info.minsigstksz);
    crate::tcall().user_write(img.sp, &img.bytes).map_err(|e| eerr(e, format!("cannot write the initial stack: {e}")))?;
    Ok(UserRegs { rsp: img.sp, rip: entry, ..Default::default() })
}

/// Loads the first program from the boot arguments.
pub fn exec_first(k: &Kernel, proc: &Process, args: &BootArgs) -> Result<UserRegs, LoadError> {
    let cwd = &args.cwd;
    let (cwd_node, cwd_path) = k.vfs.walk(cwd.as_bytes(), true).map_err(|e| LoadError(format!("working directory {cwd}: {}", e.errno)))?;
    if cwd_node.stat().map(|s| s.mode & S_IFMT != S_IFDIR).unwrap_or(true) {
        return Err(LoadError(format!("working directory {cwd}: not a directory")));
    }
    *proc.cwd.lock() = cwd_path.clone();
    let argv: Vec<Vec<u8>> = args.argv.iter().map(|a| a.as_bytes().to_vec()).collect();
    let envp: Vec<Vec<u8>> = args.envp.iter().map(|a| a.as_bytes().to_vec()).collect();
    THREAD_STACK.store(args.thread_stack_size, core::sync::atomic::Ordering::Relaxed);
    let prep = prepare(k, &cwd_path, args.program.as_bytes(), argv, 0).map_err(|e| LoadError(e.msg))?;
    let regs = install(proc, &prep, &envp, args.main_stack_size).map_err(|e| LoadError(e.msg))?;
    let mut img = proc.image.lock();
    img.exe = prep.path.clone();
    img.cmdline = join_nul(&prep.argv);
    Ok(regs)
}

/// Joins byte strings with NUL terminators.
pub fn join_nul(v: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for s in v {
        out.extend_from_slice(s);
        out.push(0);
    }
    out
}

/// The initial stack image: `bytes` go at `sp`.
pub struct StackImage {
    /// Initial stack pointer (16-byte aligned, pointing at argc).
    pub sp: u64,
    /// Bytes from `sp` up to the top.
    pub bytes: Vec<u8>,
}

/// Builds the Linux initial stack below `top`: strings at the top (execfn, then envp and
/// argv strings below it), platform string and AT_RANDOM bytes, then the 16-byte aligned
/// argc / argv / envp / auxv block.
#[allow(clippy::too_many_arguments)]
pub fn build_stack(
    top: u64,
    argv: &[Vec<u8>],
    envp: &[Vec<u8>],
    execfn: &[u8],
    random: &[u8; 16],
    auxv: &[(u64, u64)],
    hwcap2: u64,
    minsigstksz: u64,
) -> StackImage {
    // Work downwards from top, recording string addresses.
    let mut hi: Vec<u8> = Vec::new(); // bytes laid out from low to high; prepended as we go
    let mut cur = top - 8; // 8 bytes of zero at the very top, as Linux leaves
    let mut push = |s: &[u8], cur: &mut u64| -> u64 {
        *cur -= s.len() as u64 + 1;
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s);
        v.push(0);
        v.extend_from_slice(&hi);
        hi = v;
        *cur
    };
    let execfn_addr = push(execfn, &mut cur);
    let mut env_addrs: Vec<u64> = envp.iter().rev().map(|e| push(e, &mut cur)).collect();
    env_addrs.reverse();
    let mut arg_addrs: Vec<u64> = argv.iter().rev().map(|a| push(a, &mut cur)).collect();
    arg_addrs.reverse();
    let platform_addr = push(b"x86_64", &mut cur);
    // 16 random bytes right below the platform string, as Linux places them.
    let strings_lo = cur;
    let rand_addr = strings_lo - 16;
    let mut aux: Vec<(u64, u64)> = auxv.to_vec();
    aux.push((AT_RANDOM, rand_addr));
    aux.push((AT_HWCAP2, hwcap2));
    aux.push((AT_EXECFN, execfn_addr));
    aux.push((AT_PLATFORM, platform_addr));
    aux.push((AT_MINSIGSTKSZ, minsigstksz));
    aux.push((AT_NULL, 0));
    let words = 1 + arg_addrs.len() + 1 + env_addrs.len() + 1 + aux.len() * 2;
    let mut sp = rand_addr - (words as u64) * 8;
    sp &= !15;
    let mut block: Vec<u8> = Vec::with_capacity((top - sp) as usize);
    let mut w = |v: u64| block.extend_from_slice(&v.to_le_bytes());
    w(arg_addrs.len() as u64);
    for a in &arg_addrs {
        w(*a);
    }
    w(0);
    for e in &env_addrs {
        w(*e);
    }
    w(0);
    for (k, v) in &aux {
        w(*k);
        w(*v);
    }
    // Pad up to the random bytes, then the random bytes, then pad to the strings.
    block.resize((rand_addr - sp) as usize, 0);
    block.extend_from_slice(random);
    block.resize((strings_lo - sp) as usize, 0);
    block.extend_from_slice(&hi);
    block.resize((top - sp) as usize, 0);
    StackImage { sp, bytes: block }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rd(img: &StackImage, addr: u64) -> u64 {
        let o = (addr - img.sp) as usize;
        u64::from_le_bytes(img.bytes[o..o + 8].try_into().unwrap())
    }

    fn cstr(img: &StackImage, addr: u64) -> String {
        let o = (addr - img.sp) as usize;
        let end = img.bytes[o..].iter().position(|&b| b == 0).unwrap();
        String::from_utf8(img.bytes[o..o + end].to_vec()).unwrap()
    }

    #[test]
    fn initial_stack_has_argc_argv_envp_and_auxv_in_linux_order() {
        let top = 0x7000_0000u64;
        let argv = vec![b"/bin/prog".to_vec(), b"-x".to_vec()];
        let envp = vec![b"A=1".to_vec()];
        let img = build_stack(top, &argv, &envp, b"/bin/prog", &[7; 16], &[(AT_PAGESZ, 4096)], 2, 2048);
        assert_eq!(img.sp % 16, 0);
        assert_eq!(img.sp + img.bytes.len() as u64, top);
        assert_eq!(rd(&img, img.sp), 2);
        assert_eq!(cstr(&img, rd(&img, img.sp + 8)), "/bin/prog");
        assert_eq!(cstr(&img, rd(&img, img.sp + 16)), "-x");
        assert_eq!(rd(&img, img.sp + 24), 0);
        assert_eq!(cstr(&img, rd(&img, img.sp + 32)), "A=1");
        assert_eq!(rd(&img, img.sp + 40), 0);
        let mut a = img.sp + 48;
        let mut seen = alloc::collections::BTreeMap::new();
        loop {
            let (k, v) = (rd(&img, a), rd(&img, a + 8));
            if k == AT_NULL {
                break;
            }
            seen.insert(k, v);
            a += 16;
        }
        assert_eq!(seen[&AT_PAGESZ], 4096);
        assert_eq!(seen[&AT_HWCAP2], 2);
        assert_eq!(seen[&AT_MINSIGSTKSZ], 2048);
        assert_eq!(cstr(&img, seen[&AT_EXECFN]), "/bin/prog");
        assert_eq!(cstr(&img, seen[&AT_PLATFORM]), "x86_64");
        let r = seen[&AT_RANDOM];
        assert_eq!(r + 16, seen[&AT_PLATFORM]);
        assert_eq!(&img.bytes[(r - img.sp) as usize..(r - img.sp) as usize + 16], &[7u8; 16]);
    }
}
