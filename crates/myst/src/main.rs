//! The `myst` command line. Command names and option spellings follow Mystikos.

mod exec;
mod images;
mod syscalls;

use std::path::PathBuf;

/// All allocations come from the shared kernel heap, so that processes made by a host
/// `fork` share kernel state (see docs/architecture.md).
#[global_allocator]
static HEAP: myst_target_linux::SharedHeap = myst_target_linux::SharedHeap;
use std::process::ExitCode;

const USAGE: &str = "\
Usage: myst <command> [options] ...

Commands:
  exec-linux [options] ROOTFS PROGRAM [ARGS...]
                        Run PROGRAM from ROOTFS (a directory, a CPIO archive or an ext2
                        image) under the
                        myst kernel on the linux target.
  mkcpio DIR IMAGE      Pack DIR into a CPIO (newc) archive.
  excpio IMAGE DIR      Unpack a CPIO archive into DIR.
  appdir ROOTDIR PROGRAM...
                        Copy host programs with their shared libraries and loader into
                        ROOTDIR, ready for exec-linux.
  mkext2 [--force] [--size=SIZE] [--sign=PUB.pem:PRIV.pem] [--encrypt=KEYFILE]
         [--passphrase=P] [--quiet] DIR IMAGE
                        Build a trusted ext2 image of DIR: ext2, dm-verity hash tree and
                        FSSIG trailer (signed with --sign); --encrypt puts the ext2 in LUKS1
                        aes-xts-plain64 with the 64-byte key in KEYFILE.
  fssig [--roothash] IMAGE
                        Print an image's FSSIG trailer, or only its root hash.
  verify IMAGE [--pubkey PEM]... [--roothash HEX]... [--key KEYFILE]
                        Check an image offline: trailer, signature or root hash, the whole
                        verity tree, the LUKS header and key, and the ext2 file system.
  syscalls [--markdown] Print the syscall support table.
  target-info           Show what this host supports (SUD, FSGSBASE, KVM, SGX).
  help                  Show this text.

exec-linux options (accepted anywhere before `--`, as in Mystikos):
  --memory-size SIZE          Application memory (e.g. 512m, 2g; default 1g)
  --main-stack-size SIZE      Main-thread stack (default 8m)
  --thread-stack-size SIZE    Default stack of new threads (glibc: via RLIMIT_STACK;
                              musl: via the program's PT_GNU_STACK size)
  --app-config-path FILE      config.json (EnvironmentVariables, HostEnvironmentVariables,
                              CurrentWorkingDirectory, ApplicationParameters, MemorySize...)
  --max-affinity-cpus N       Cap the CPUs sched_getaffinity reports
  --pubkey PEM                Trust ext2 images signed by this key (repeatable)
  --roothash HEX|FILE         Trust ext2 images with this root hash (repeatable)
  --debug                     Debug run: untrusted images may be used, unverified
  --key KEYFILE               64-byte key of an encrypted (LUKS) ext2 rootfs
  --mount HOSTPATH=TARGET     Mount a host directory or ext2 image (or the source of a
                              config Mount entry) at TARGET
  --strace                    Trace every syscall (named, decoded arguments and results)
  --strace-failing            Trace only failing syscalls
  --strace-filter 'a:b:...'   Trace only the named syscalls
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(cmd) = args.get(1) else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest = &args[2..];
    let r: Result<u8, String> = match cmd.as_str() {
        "exec-linux" | "exec" => exec::exec_linux(rest),
        "mkcpio" => mkcpio(rest),
        "excpio" => excpio(rest),
        "appdir" => appdir(rest),
        "mkext2" => images::mkext2(rest),
        "fssig" => images::fssig(rest),
        "verify" => images::verify(rest),
        "syscalls" => syscalls::run(rest),
        "target-info" | "fsgsbase" => target_info(),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(0)
        }
        other => Err(format!("unknown command '{other}'; run 'myst help'")),
    };
    match r {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("myst: {e}");
            ExitCode::from(1)
        }
    }
}

fn two_paths(cmd: &str, rest: &[String], a: &str, b: &str) -> Result<(PathBuf, PathBuf), String> {
    match rest {
        [x, y] => Ok((PathBuf::from(x), PathBuf::from(y))),
        _ => Err(format!("usage: myst {cmd} {a} {b}")),
    }
}

fn mkcpio(rest: &[String]) -> Result<u8, String> {
    let (dir, img) = two_paths("mkcpio", rest, "DIR", "IMAGE")?;
    let bar = progress_bar();
    let n = myst_image::cpio::mkcpio(&dir, &img, &mut |done, total| {
        if let Some(b) = &bar {
            b.set_length(total);
            b.set_position(done);
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    eprintln!("myst: wrote {} ({n} entries)", img.display());
    Ok(0)
}

fn progress_bar() -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let b = indicatif::ProgressBar::new(0);
    b.set_style(indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} entries").ok()?);
    Some(b)
}

fn excpio(rest: &[String]) -> Result<u8, String> {
    let (img, dir) = two_paths("excpio", rest, "IMAGE", "DIR")?;
    myst_image::cpio::excpio(&img, &dir)?;
    Ok(0)
}

fn appdir(rest: &[String]) -> Result<u8, String> {
    if rest.len() < 2 {
        return Err("usage: myst appdir ROOTDIR PROGRAM...".into());
    }
    let root = PathBuf::from(&rest[0]);
    let progs: Vec<PathBuf> = rest[1..].iter().map(PathBuf::from).collect();
    for p in myst_image::appdir::appdir(&root, &progs)? {
        println!("{p}");
    }
    Ok(0)
}

fn target_info() -> Result<u8, String> {
    let s = myst_target_linux::probe();
    let yn = |b: bool| if b { "yes" } else { "no" };
    println!("host kernel:                          {}", s.kernel);
    println!("Syscall User Dispatch:                {}", yn(s.sud));
    println!("Syscall User Dispatch inclusive mode: {}", yn(s.sud_inclusive));
    println!("FSGSBASE in user space:               {}", yn(s.fsgsbase));
    println!("KVM (/dev/kvm):                       {}", yn(s.kvm));
    println!("SGX (/dev/sgx_enclave):               {}", yn(s.sgx));
    let linux_ok = s.sud_inclusive && s.fsgsbase;
    println!("linux target usable:                  {}", yn(linux_ok));
    Ok(0)
}
