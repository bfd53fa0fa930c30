//! `myst exec-linux`.

use myst_image::config::Config;
use myst_image::size::parse_size;
use myst_kernel::{BootArgs, RootFs, StraceConfig};

const DEFAULT_MEMORY: u64 = 1 << 30;
const DEFAULT_STACK: u64 = 8 << 20;

#[derive(Default)]
struct Opts {
    memory_size: Option<u64>,
    main_stack_size: Option<u64>,
    config: Option<String>,
    max_affinity_cpus: Option<u32>,
    strace: StraceConfig,
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
            "--app-config-path" => o.config = Some(take_value(args, &mut i, name)?),
            "--max-affinity-cpus" => {
                let v = take_value(args, &mut i, name)?;
                o.max_affinity_cpus = Some(v.parse().map_err(|_| format!("--max-affinity-cpus: '{v}' is not a number"))?);
            }
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

fn detect_rootfs(path: &str) -> Result<RootFs, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("rootfs {path}: {e}"))?;
    if meta.is_dir() {
        let abs = std::fs::canonicalize(path).map_err(|e| format!("rootfs {path}: {e}"))?;
        return Ok(RootFs::HostDir(abs.to_string_lossy().into_owned()));
    }
    let data = std::fs::read(path).map_err(|e| format!("rootfs {path}: {e}"))?;
    if data.starts_with(b"070701") {
        return Ok(RootFs::Cpio(data));
    }
    if data.len() >= 1082 && data[1080..1082] == [0x53, 0xef] {
        return Err(format!("rootfs {path}: ext2 images are not supported by this build yet (use a directory or a CPIO archive)"));
    }
    Err(format!("rootfs {path}: not a directory, a CPIO (newc) archive or an ext2 image"))
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
    let root = detect_rootfs(&rootfs)?;
    let boot = BootArgs {
        rootfs: root,
        program,
        argv,
        envp,
        cwd: config.as_ref().and_then(|c| c.cwd.clone()).unwrap_or_else(|| "/".into()),
        hostname: config.as_ref().and_then(|c| c.hostname.clone()),
        main_stack_size: stack,
        max_affinity_cpus: o.max_affinity_cpus.or(config.as_ref().and_then(|c| c.max_affinity_cpus)).unwrap_or(0),
        strace: o.strace,
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
