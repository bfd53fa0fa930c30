//! `myst exec-linux`.

use myst_image::config::Config;
use myst_image::size::parse_size;
use myst_kernel::{BootArgs, MountKind, MountSpec, RootFs, StraceConfig};

const DEFAULT_MEMORY: u64 = 1 << 30;
const DEFAULT_STACK: u64 = 8 << 20;

#[derive(Default)]
struct Opts {
    memory_size: Option<u64>,
    main_stack_size: Option<u64>,
    thread_stack_size: Option<u64>,
    config: Option<String>,
    max_affinity_cpus: Option<u32>,
    strace: StraceConfig,
    pubkeys: Vec<String>,
    roothashes: Vec<String>,
    debug: bool,
    key: Option<String>,
    mounts: Vec<String>,
    positional: Vec<String>,
}

fn take_value(args: &[String], i: &mut usize, name: &str) -> Result<String, String> {
    let a = &args[*i];
    if let Some(v) = a.strip_prefix(&format!("{name}=")) {
        return Ok(v.to_string());
    }
    *i += 1;
    args.get(*i).cloned().ok_or_else(|| format!("option {name} needs a value"))
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts::default();
    let mut i = 0;
    let mut filter_names: Vec<String> = Vec::new();
    while i < args.len() {
        let a = args[i].as_str();
        let name = a.split('=').next().unwrap_or(a);
        match name {
            "--" => {
                o.positional.extend(args[i + 1..].iter().cloned());
                break;
            }
            "--memory-size" | "--user-mem-size" => o.memory_size = Some(parse_size(&take_value(args, &mut i, name)?)?),
            "--main-stack-size" => o.main_stack_size = Some(parse_size(&take_value(args, &mut i, name)?)?),
            "--thread-stack-size" => o.thread_stack_size = Some(parse_size(&take_value(args, &mut i, name)?)?),
            "--app-config-path" => o.config = Some(take_value(args, &mut i, name)?),
            "--max-affinity-cpus" => {
                let v = take_value(args, &mut i, name)?;
                o.max_affinity_cpus = Some(v.parse().map_err(|_| format!("--max-affinity-cpus: '{v}' is not a number"))?);
            }
            "--pubkey" => o.pubkeys.push(take_value(args, &mut i, name)?),
            "--roothash" => o.roothashes.push(take_value(args, &mut i, name)?),
            "--key" => o.key = Some(take_value(args, &mut i, name)?),
            "--mount" => o.mounts.push(take_value(args, &mut i, name)?),
            "--debug" => o.debug = true,
            "--strace" | "--trace-syscalls" => o.strace.enabled = true,
            "--strace-failing" => {
                o.strace.enabled = true;
                o.strace.failing_only = true;
            }
            "--strace-filter" => {
                o.strace.enabled = true;
                let v = take_value(args, &mut i, name)?;
                filter_names.extend(v.split(':').filter(|s| !s.is_empty()).map(|s| s.trim_start_matches("SYS_").to_string()));
            }
            _ => o.positional.push(args[i].clone()),
        }
        i += 1;
    }
    for n in filter_names {
        let nr = myst_abi::nr::number(&n).ok_or_else(|| format!("--strace-filter: unknown syscall '{n}'"))?;
        o.strace.filter.push(nr);
    }
    Ok(o)
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    let s = s.trim();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// A root hash given as 64 hex digits or as a file holding them (Mystikos's form).
fn parse_roothash(v: &str) -> Result<[u8; 32], String> {
    if let Some(h) = hex32(v) {
        return Ok(h);
    }
    let text = std::fs::read_to_string(v).map_err(|e| format!("--roothash {v}: not 64 hex digits and not a readable file ({e})"))?;
    hex32(&text).ok_or_else(|| format!("--roothash {v}: the file does not hold a 64-hex-digit root hash"))
}

fn read_pem(path: &str) -> Result<String, String> {
    let s = std::fs::read_to_string(path).map_err(|e| format!("public key {path}: {e}"))?;
    if !s.contains("-----BEGIN") {
        return Err(format!("public key {path}: not a PEM file"));
    }
    Ok(s)
}

fn read_key(path: &str) -> Result<[u8; 64], String> {
    let b = std::fs::read(path).map_err(|e| format!("key file {path}: {e}"))?;
    b.as_slice().try_into().map_err(|_| format!("key file {path}: must be exactly 64 bytes (a 512-bit aes-xts key), found {}", b.len()))
}

/// Whether a file looks like an ext2 image myst can mount (plain, with a trailer, or LUKS).
fn is_image(path: &str) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else { return false };
    let mut head = vec![0u8; 1082];
    let n = f.read(&mut head).unwrap_or(0);
    if n >= 6 && head[..6] == *b"LUKS\xba\xbe" {
        return true;
    }
    if n >= 1082 && head[1080..1082] == [0x53, 0xef] {
        return true;
    }
    let mut tail = [0u8; 8];
    f.seek(SeekFrom::End(-4096)).is_ok() && f.read_exact(&mut tail).is_ok() && u64::from_le_bytes(tail) == 0xf551_98a1_5362_4d38
}

fn detect_rootfs(path: &str, key: Option<[u8; 64]>) -> Result<RootFs, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("rootfs {path}: {e}"))?;
    if meta.is_dir() {
        let abs = std::fs::canonicalize(path).map_err(|e| format!("rootfs {path}: {e}"))?;
        return Ok(RootFs::HostDir(abs.to_string_lossy().into_owned()));
    }
    if is_image(path) {
        let abs = std::fs::canonicalize(path).map_err(|e| format!("rootfs {path}: {e}"))?;
        return Ok(RootFs::Ext2 { path: abs.to_string_lossy().into_owned(), key });
    }
    let data = std::fs::read(path).map_err(|e| format!("rootfs {path}: {e}"))?;
    if data.starts_with(b"070701") {
        return Ok(RootFs::Cpio(data));
    }
    Err(format!("rootfs {path}: not a directory, a CPIO (newc) archive or an ext2 image"))
}

/// Pairs `--mount HOST=TARGET` sources with config `Mount` entries; a `--mount` without an
/// entry mounts a directory (hostfs) or an image (ext2).
fn build_mounts(cli: &[String], config: Option<&Config>) -> Result<Vec<MountSpec>, String> {
    let mut sources = std::collections::BTreeMap::new();
    for m in cli {
        let (src, dst) = m.split_once('=').ok_or_else(|| format!("--mount {m}: expected HOSTPATH=TARGET"))?;
        if !dst.starts_with('/') {
            return Err(format!("--mount {m}: TARGET must be an absolute path"));
        }
        let abs = std::fs::canonicalize(src).map_err(|e| format!("--mount {m}: {src}: {e}"))?;
        sources.insert(dst.trim_end_matches('/').to_string(), abs.to_string_lossy().into_owned());
    }
    let mut out = Vec::new();
    if let Some(c) = config {
        for cm in &c.mounts {
            if !cm.flags.is_empty() {
                return Err(format!("config Mount {}: Flags are not supported yet ({:?})", cm.target, cm.flags));
            }
            let target = cm.target.trim_end_matches('/').to_string();
            let source = sources.remove(&target);
            let kind = match cm.fs_type.as_str() {
                "ramfs" => MountKind::Ramfs,
                "hostfs" => MountKind::HostDir,
                _ => MountKind::Ext2 {
                    key: None,
                    pubkey: match &cm.public_key {
                        Some(p) => Some(read_pem(p)?),
                        None => None,
                    },
                    roothash: match &cm.root_hash {
                        Some(r) => Some(parse_roothash(r)?),
                        None => None,
                    },
                    key_file: cm.key_file.clone(),
                },
            };
            let source = match (&kind, source) {
                (MountKind::Ramfs, s) => s.unwrap_or_default(),
                (_, Some(s)) => s,
                (_, None) => return Err(format!("config Mount {target}: give its source with --mount HOSTPATH={target}")),
            };
            out.push(MountSpec { source, target, kind });
        }
    }
    for (target, source) in sources {
        let kind = if std::path::Path::new(&source).is_dir() {
            MountKind::HostDir
        } else if is_image(&source) {
            MountKind::Ext2 { key: None, pubkey: None, roothash: None, key_file: None }
        } else {
            return Err(format!("--mount {source}={target}: not a directory or an ext2 image"));
        };
        out.push(MountSpec { source, target, kind });
    }
    Ok(out)
}

pub fn exec_linux(args: &[String]) -> Result<u8, String> {
    let o = parse(args)?;
    let config = match &o.config {
        Some(p) => Some(Config::load(p)?),
        None => None,
    };
    if let Some(c) = &config {
        for k in &c.unknown_keys {
            eprintln!("myst: warning: {}: unknown key \"{k}\" ignored", o.config.as_deref().unwrap_or(""));
        }
    }
    let mut pos = o.positional.into_iter();
    let rootfs = pos.next().ok_or("usage: myst exec-linux [options] ROOTFS PROGRAM [ARGS...]")?;
    let cli_prog = pos.next();
    let cli_args: Vec<String> = pos.collect();
    let program = cli_prog
        .clone()
        .or_else(|| config.as_ref().and_then(|c| c.application_path.clone()))
        .ok_or("usage: myst exec-linux [options] ROOTFS PROGRAM [ARGS...] (or ApplicationPath in the config)")?;
    let mut argv = vec![program.clone()];
    match &config {
        Some(c) if !c.host_application_parameters && cli_args.is_empty() => {
            argv.extend(c.application_parameters.clone().unwrap_or_default());
        }
        _ => argv.extend(cli_args),
    }
    let host_env: Vec<(String, String)> = std::env::vars().collect();
    let envp = match &config {
        Some(c) => c.environment(&host_env),
        None => vec!["MYST_TARGET=linux".to_string()],
    };
    let memory = o.memory_size.or(config.as_ref().and_then(|c| c.memory_size)).unwrap_or(DEFAULT_MEMORY);
    if memory < 16 << 20 {
        return Err(format!("--memory-size {memory} is too small; at least 16m is needed"));
    }
    let stack = o.main_stack_size.or(config.as_ref().and_then(|c| c.main_stack_size)).unwrap_or(DEFAULT_STACK);
    if stack >= memory / 2 {
        return Err("--main-stack-size must be less than half of --memory-size".into());
    }
    let key = match &o.key {
        Some(k) => Some(read_key(k)?),
        None => None,
    };
    let root = detect_rootfs(&rootfs, key)?;
    let mut trust = myst_kernel::blockdev::Trust { debug: o.debug || config.as_ref().is_some_and(|c| c.debug), ..Default::default() };
    for p in &o.pubkeys {
        trust.pubkeys.push(read_pem(p)?);
    }
    for r in &o.roothashes {
        trust.roothashes.push(parse_roothash(r)?);
    }
    let mounts = build_mounts(&o.mounts, config.as_ref())?;
    let mut default_files = Vec::new();
    for f in ["/etc/resolv.conf", "/etc/hosts"] {
        if let Ok(d) = std::fs::read(f) {
            default_files.push((f.to_string(), d));
        }
    }
    let boot = BootArgs {
        rootfs: root,
        program,
        argv,
        envp,
        cwd: config.as_ref().and_then(|c| c.cwd.clone()).unwrap_or_else(|| "/".into()),
        hostname: config.as_ref().and_then(|c| c.hostname.clone()),
        main_stack_size: stack,
        thread_stack_size: o.thread_stack_size.or(config.as_ref().and_then(|c| c.thread_stack_size)).unwrap_or(0),
        max_affinity_cpus: o.max_affinity_cpus.or(config.as_ref().and_then(|c| c.max_affinity_cpus)).unwrap_or(0),
        strace: o.strace,
        trust,
        mounts,
        default_files,
    };
    let target = myst_target_linux::LinuxTarget::new(memory)?;
    match myst_kernel::boot(target, boot) {
        Ok(never) => match never {},
        Err(e) => {
            eprintln!("myst: {e}");
            Ok(127)
        }
    }
}
