//! procfs: `/proc/self`, `/proc/thread-self`, `/proc/<pid>/...`, and the system files Linux
//! programs read, in Linux's formats. Contents are generated when read.

use super::{DirEntry, Inode, InodeRef};
use crate::error::KResult;
use crate::kerr;
use crate::process::Process;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::fmt::Write;
use myst_abi::consts::*;
use myst_abi::structs::{Stat, Statfs};

/// What a procfs node is.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    Root,
    SelfLink,
    ThreadSelfLink,
    File(&'static str),
    SysDir(&'static str),
    Pid(u32),
    PidFile(u32, &'static str),
    PidLink(u32, &'static str),
    FdDir(u32, bool),
    FdLink(u32, i32),
    FdInfo(u32, i32),
    TaskDir(u32),
    /// `/proc/<pid>/task/<tid>`: the process's entries, without `task`.
    Tid(u32, u32),
}

/// A procfs inode.
pub struct ProcNode {
    node: Node,
    dev: u64,
}

const ROOT_FILES: &[&str] =
    &["cpuinfo", "meminfo", "stat", "uptime", "loadavg", "version", "filesystems", "mounts", "cmdline", "swaps", "devices"];
const PID_FILES: &[&str] =
    &["cmdline", "environ", "maps", "smaps", "status", "stat", "statm", "mounts", "comm", "limits", "auxv", "oom_score_adj"];
const PID_LINKS: &[&str] = &["exe", "cwd", "root"];
const SYS_FILES: &[(&str, &str)] = &[
    ("sys/kernel/hostname", ""),
    ("sys/kernel/osrelease", ""),
    ("sys/kernel/ostype", "Linux\n"),
    ("sys/kernel/pid_max", "4194304\n"),
    ("sys/kernel/random/uuid", ""),
    ("sys/kernel/random/boot_id", ""),
    ("sys/kernel/ngroups_max", "65536\n"),
    ("sys/kernel/cap_last_cap", "40\n"),
    ("sys/vm/overcommit_memory", "0\n"),
    ("sys/vm/max_map_count", "65530\n"),
    ("sys/fs/file-max", "9223372036854775807\n"),
    ("sys/fs/nr_open", "1048576\n"),
    ("sys/net/core/somaxconn", "4096\n"),
];

/// Builds the procfs root.
pub fn build() -> InodeRef {
    Arc::new(ProcNode { node: Node::Root, dev: super::DEV_IDS.next() })
}

fn proc_of(pid: u32) -> KResult<Arc<Process>> {
    match crate::kernel().procs.lock().get(&pid) {
        Some(p) => Ok(p.clone()),
        None => kerr!(ENOENT),
    }
}

fn current_pid() -> u32 {
    crate::current_thread().map(|t| t.process.pid).unwrap_or(crate::process::FIRST_PID)
}

fn uuid() -> String {
    let mut b = [0u8; 16];
    let _ = crate::random(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}\n", h[0..4].concat(), h[4..6].concat(), h[6..8].concat(), h[8..10].concat(), h[10..16].concat())
}

fn mounts_text() -> String {
    let mut s = String::new();
    let k = crate::kernel();
    let _ = writeln!(s, "{} / {} rw,relatime 0 0", k.root_source, k.root_fstype);
    for m in k.vfs.mounts() {
        let _ = writeln!(s, "{} {} {} rw,relatime 0 0", m.source, m.path, m.fstype);
    }
    s
}

fn maps_text(p: &Process) -> String {
    let mm = p.mm.lock();
    let mut s = String::new();
    for (start, v) in mm.vmas.iter() {
        let r = if v.prot & PROT_READ != 0 { 'r' } else { '-' };
        let w = if v.prot & PROT_WRITE != 0 { 'w' } else { '-' };
        let x = if v.prot & PROT_EXEC != 0 { 'x' } else { '-' };
        let sh = if v.flags & MAP_TYPE == MAP_SHARED { 's' } else { 'p' };
        let _ = write!(s, "{:08x}-{:08x} {r}{w}{x}{sh} 00000000 00:00 0", start, v.end);
        if v.name.is_empty() {
            s.push('\n');
        } else {
            let _ = writeln!(s, "{:>width$}{}", "", v.name, width = 26usize.saturating_sub(0).min(26));
        }
    }
    s
}

fn status_text(p: &Process) -> String {
    let name = p.comm();
    let mm = p.mm.lock();
    let kb = mm.committed / 1024;
    drop(mm);
    let threads = p.threads.lock().len();
    let mask = p.pending.lock().set();
    let ign: u64 =
        p.sigactions.lock().iter().enumerate().skip(1).filter(|(_, a)| a.handler == SIG_IGN).fold(0, |m, (i, _)| m | 1 << (i - 1));
    let cgt: u64 = p.sigactions.lock().iter().enumerate().skip(1).filter(|(_, a)| a.handler > 1).fold(0, |m, (i, _)| m | 1 << (i - 1));
    // SigBlk is the mask of the thread the file is read for; here, the main thread's.
    let blk = crate::kernel().threads.lock().get(&p.pid).map(|t| *t.sigmask.lock()).unwrap_or(0);
    let c = p.creds;
    format!(
        "Name:\t{name:.15}\nUmask:\t{:04o}\nState:\tR (running)\nTgid:\t{pid}\nNgid:\t0\nPid:\t{pid}\nPPid:\t{}\nTracerPid:\t0\n\
Uid:\t{u}\t{u}\t{u}\t{u}\nGid:\t{g}\t{g}\t{g}\t{g}\nFDSize:\t64\nGroups:\t{g}\nVmPeak:\t{kb:8} kB\nVmSize:\t{kb:8} kB\nVmRSS:\t{kb:8} kB\n\
Threads:\t{threads}\nSigQ:\t0/4096\nSigPnd:\t0000000000000000\nShdPnd:\t{mask:016x}\nSigBlk:\t{blk:016x}\nSigIgn:\t{ign:016x}\n\
SigCgt:\t{cgt:016x}\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\nCpus_allowed_list:\t0-{}\n",
        *p.umask.lock(),
        p.ppid(),
        crate::tcall().info().ncpus.max(1) - 1,
        pid = p.pid,
        u = c.uid,
        g = c.gid,
    )
}

fn stat_text(p: &Process) -> String {
    let name = p.comm();
    let mm = p.mm.lock();
    let vsize = mm.committed;
    let (start_brk, brk) = (mm.brk_start, mm.brk);
    drop(mm);
    let threads = p.threads.lock().len();
    let nice = crate::kernel().thread(p.pid).map(|t| t.nice.load(core::sync::atomic::Ordering::Relaxed)).unwrap_or(0);
    let prio = 20 + nice;
    format!(
        "{} ({:.15}) R {} {} {} 0 -1 4194560 0 0 0 0 0 0 0 0 {prio} {nice} {threads} 0 {} {vsize} {} 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 {start_brk} {brk} 0 0 0 0\n",
        p.pid,
        name,
        p.ppid(),
        p.pid,
        p.pid,
        p.start_ns / 10_000_000,
        vsize / 4096,
    )
}

fn content(node: &Node) -> KResult<Vec<u8>> {
    let k = crate::kernel();
    let t = crate::tcall();
    let info = t.info();
    Ok(match node {
        Node::File("cpuinfo") => {
            let mut s = String::new();
            for i in 0..info.ncpus.max(1) {
                let _ = write!(
                    s,
                    "processor\t: {i}\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel name\t: myst virtual CPU\ncpu MHz\t\t: 2000.000\ncache size\t: 32768 KB\nphysical id\t: 0\nsiblings\t: {n}\ncore id\t\t: {i}\ncpu cores\t: {n}\napicid\t\t: {i}\nfpu\t\t: yes\nfpu_exception\t: yes\ncpuid level\t: 13\nwp\t\t: yes\nflags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx lm constant_tsc rep_good nopl xtopology cpuid pni pclmulqdq ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand hypervisor lahf_lm abm fsgsbase bmi1 avx2 bmi2 erms rdseed adx\nbogomips\t: 4000.00\nclflush size\t: 64\ncache_alignment\t: 64\naddress sizes\t: 46 bits physical, 48 bits virtual\npower management:\n\n",
                    n = info.ncpus.max(1)
                );
            }
            s.into_bytes()
        }
        Node::File("meminfo") => {
            let p = proc_of(current_pid())?;
            let mm = p.mm.lock();
            let total = mm.total() / 1024;
            let free = total.saturating_sub(mm.committed / 1024);
            format!(
                "MemTotal:       {total:8} kB\nMemFree:        {free:8} kB\nMemAvailable:   {free:8} kB\nBuffers:               0 kB\nCached:                0 kB\nSwapCached:            0 kB\nSwapTotal:             0 kB\nSwapFree:              0 kB\nShmem:                 0 kB\n"
            )
            .into_bytes()
        }
        Node::File("stat") => {
            let mut s = String::from("cpu  0 0 0 0 0 0 0 0 0 0\n");
            for i in 0..info.ncpus.max(1) {
                let _ = writeln!(s, "cpu{i} 0 0 0 0 0 0 0 0 0 0");
            }
            let boot = t.clock_gettime(CLOCK_REALTIME)?.sec - (t.clock_gettime(CLOCK_MONOTONIC)?.sec - k.boot_mono.sec);
            let _ = write!(s, "intr 0\nctxt 0\nbtime {boot}\nprocesses {}\nprocs_running 1\nprocs_blocked 0\n", k.procs.lock().len());
            s.into_bytes()
        }
        Node::File("uptime") => {
            let now = t.clock_gettime(CLOCK_MONOTONIC)?;
            let up = now.as_nanos().saturating_sub(k.boot_mono.as_nanos());
            format!("{}.{:02} 0.00\n", up / 1_000_000_000, (up / 10_000_000) % 100).into_bytes()
        }
        Node::File("loadavg") => {
            format!("0.00 0.00 0.00 1/{} {}\n", k.threads.lock().len(), k.next_tid.load(core::sync::atomic::Ordering::Relaxed) - 1)
                .into_bytes()
        }
        Node::File("version") => format!("Linux version {} (myst) #1 SMP myst\n", crate::syscall::RELEASE).into_bytes(),
        Node::File("filesystems") => b"nodev\tramfs\nnodev\ttmpfs\nnodev\tproc\nnodev\tdevtmpfs\nnodev\thostfs\n\text2\n".to_vec(),
        Node::File("mounts") => mounts_text().into_bytes(),
        Node::File("cmdline") => b"myst\n".to_vec(),
        Node::File("swaps") => b"Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n".to_vec(),
        Node::File("devices") => b"Character devices:\n  1 mem\n  4 tty\n  5 /dev/tty\n\nBlock devices:\n".to_vec(),
        Node::File(f) => match SYS_FILES.iter().find(|(n, _)| n == f) {
            Some((n, v)) => match *n {
                "sys/kernel/hostname" => format!("{}\n", k.hostname.lock()).into_bytes(),
                "sys/kernel/osrelease" => format!("{}\n", crate::syscall::RELEASE).into_bytes(),
                "sys/kernel/random/uuid" | "sys/kernel/random/boot_id" => uuid().into_bytes(),
                _ => v.as_bytes().to_vec(),
            },
            None => kerr!(ENOENT),
        },
        Node::PidFile(pid, f) => {
            let p = proc_of(*pid)?;
            match *f {
                "cmdline" => p.image.lock().cmdline.clone(),
                "environ" => p.image.lock().environ.clone(),
                "maps" => maps_text(&p).into_bytes(),
                "smaps" => {
                    let mut s = String::new();
                    for line in maps_text(&p).lines() {
                        let _ = writeln!(s, "{line}");
                        let _ = write!(s, "Size:                  0 kB\nRss:                   0 kB\nPss:                   0 kB\n");
                    }
                    s.into_bytes()
                }
                "status" => status_text(&p).into_bytes(),
                "stat" => stat_text(&p).into_bytes(),
                "statm" => {
                    let pages = p.mm.lock().committed / 4096;
                    format!("{pages} {pages} 0 0 0 {pages} 0\n").into_bytes()
                }
                "mounts" => mounts_text().into_bytes(),
                "comm" => format!("{:.15}\n", p.comm()).into_bytes(),
                "limits" => {
                    let l = p.rlimits.lock();
                    let names = [
                        ("Max cpu time", "seconds"),
                        ("Max file size", "bytes"),
                        ("Max data size", "bytes"),
                        ("Max stack size", "bytes"),
                        ("Max core file size", "bytes"),
                        ("Max resident set", "bytes"),
                        ("Max processes", "processes"),
                        ("Max open files", "files"),
                        ("Max locked memory", "bytes"),
                        ("Max address space", "bytes"),
                    ];
                    let mut s = String::from("Limit                     Soft Limit           Hard Limit           Units     \n");
                    for (i, (n, u)) in names.iter().enumerate() {
                        let f = |v: u64| if v == RLIM_INFINITY { String::from("unlimited") } else { format!("{v}") };
                        let _ = writeln!(s, "{n:<26}{:<21}{:<21}{u:<10}", f(l[i].cur), f(l[i].max));
                    }
                    s.into_bytes()
                }
                "oom_score_adj" => b"0\n".to_vec(),
                "auxv" => Vec::new(),
                _ => kerr!(ENOENT),
            }
        }
        Node::FdInfo(pid, fd) => {
            let p = proc_of(*pid)?;
            let t = p.fds.lock();
            let e = t.get(*fd)?;
            let pos = *e.file.pos.lock();
            let flags = *e.file.flags.lock() | if e.cloexec { O_CLOEXEC } else { 0 };
            format!("pos:\t{pos}\nflags:\t0{flags:o}\nmnt_id:\t0\nino:\t{}\n", e.file.inode.stat().map(|s| s.ino).unwrap_or(0)).into_bytes()
        }
        _ => kerr!(EISDIR),
    })
}

impl ProcNode {
    fn child(&self, node: Node) -> InodeRef {
        Arc::new(ProcNode { node, dev: self.dev })
    }

    fn ino(&self) -> u64 {
        let h = |s: &str| s.bytes().fold(0u64, |a, b| a.wrapping_mul(31).wrapping_add(b as u64));
        match &self.node {
            Node::Root => 1,
            Node::SelfLink => 2,
            Node::ThreadSelfLink => 3,
            Node::File(f) => 0x100 + (h(f) & 0xffff),
            Node::SysDir(d) => 0x20000 + (h(d) & 0xffff),
            Node::Pid(p) => (*p as u64) << 16,
            Node::TaskDir(p) => ((*p as u64) << 16) | 1,
            Node::Tid(p, t) => ((*p as u64) << 16) | 0x4000 | (*t as u64 & 0x3fff),
            Node::FdDir(p, info) => ((*p as u64) << 16) | 2 | *info as u64,
            Node::PidFile(p, f) | Node::PidLink(p, f) => ((*p as u64) << 16) | 0x100 | (h(f) & 0xff),
            Node::FdLink(p, fd) | Node::FdInfo(p, fd) => ((*p as u64) << 16) | 0x8000 | (*fd as u64 & 0x7fff),
        }
    }

    fn is_dir(&self) -> bool {
        matches!(self.node, Node::Root | Node::SysDir(_) | Node::Pid(_) | Node::FdDir(..) | Node::TaskDir(_) | Node::Tid(..))
    }

    fn is_link(&self) -> bool {
        matches!(self.node, Node::SelfLink | Node::ThreadSelfLink | Node::PidLink(..) | Node::FdLink(..))
    }
}

impl Inode for ProcNode {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn stat(&self) -> KResult<Stat> {
        let (mode, nlink) = if self.is_dir() {
            (S_IFDIR | 0o555, 2)
        } else if self.is_link() {
            (S_IFLNK | 0o777, 1)
        } else {
            (S_IFREG | 0o444, 1)
        };
        let (uid, gid) = match &self.node {
            Node::Pid(p) | Node::Tid(p, _) | Node::PidFile(p, _) | Node::PidLink(p, _) | Node::FdDir(p, _) | Node::FdLink(p, _) => {
                proc_of(*p).map(|x| (x.creds.uid, x.creds.gid)).unwrap_or((0, 0))
            }
            _ => (0, 0),
        };
        let now = crate::now();
        Ok(Stat {
            dev: self.dev,
            ino: self.ino(),
            nlink,
            mode,
            uid,
            gid,
            blksize: 1024,
            atime: now,
            mtime: now,
            ctime: now,
            ..Default::default()
        })
    }

    fn statfs(&self) -> KResult<Statfs> {
        Ok(Statfs { fs_type: PROC_SUPER_MAGIC, bsize: 4096, namelen: 255, frsize: 4096, ..Default::default() })
    }

    fn lookup(&self, name: &[u8]) -> KResult<InodeRef> {
        let n = core::str::from_utf8(name).map_err(|_| crate::Error::from(myst_abi::Errno::ENOENT))?;
        match &self.node {
            Node::Root => {
                if n == "self" {
                    return Ok(self.child(Node::SelfLink));
                }
                if n == "thread-self" {
                    return Ok(self.child(Node::ThreadSelfLink));
                }
                if let Some(f) = ROOT_FILES.iter().find(|f| **f == n) {
                    return Ok(self.child(Node::File(f)));
                }
                if n == "sys" {
                    return Ok(self.child(Node::SysDir("sys")));
                }
                if let Ok(pid) = n.parse::<u32>() {
                    if crate::kernel().procs.lock().contains_key(&pid) {
                        return Ok(self.child(Node::Pid(pid)));
                    }
                    if let Some(t) = crate::kernel().thread(pid) {
                        return Ok(self.child(Node::Pid(t.process.pid)));
                    }
                }
                kerr!(ENOENT)
            }
            Node::SysDir(d) => {
                let path = format!("{d}/{n}");
                if let Some((f, _)) = SYS_FILES.iter().find(|(f, _)| *f == path) {
                    return Ok(self.child(Node::File(f)));
                }
                if let Some((f, _)) = SYS_FILES.iter().find(|(f, _)| f.starts_with(&format!("{path}/"))) {
                    // Intermediate directory: use the static prefix of the file's path.
                    let end = path.len();
                    return Ok(self.child(Node::SysDir(&f[..end])));
                }
                kerr!(ENOENT)
            }
            Node::Pid(p) | Node::Tid(p, _) => {
                if let Some(f) = PID_FILES.iter().find(|f| **f == n) {
                    return Ok(self.child(Node::PidFile(*p, f)));
                }
                if let Some(f) = PID_LINKS.iter().find(|f| **f == n) {
                    return Ok(self.child(Node::PidLink(*p, f)));
                }
                match n {
                    "fd" => Ok(self.child(Node::FdDir(*p, false))),
                    "fdinfo" => Ok(self.child(Node::FdDir(*p, true))),
                    "task" if matches!(self.node, Node::Pid(_)) => Ok(self.child(Node::TaskDir(*p))),
                    _ => kerr!(ENOENT),
                }
            }
            Node::TaskDir(p) => {
                let tid: u32 = n.parse().map_err(|_| crate::Error::from(myst_abi::Errno::ENOENT))?;
                if proc_of(*p)?.threads.lock().contains(&tid) {
                    return Ok(self.child(Node::Tid(*p, tid)));
                }
                kerr!(ENOENT)
            }
            Node::FdDir(p, info) => {
                let fd: i32 = n.parse().map_err(|_| crate::Error::from(myst_abi::Errno::ENOENT))?;
                proc_of(*p)?.fds.lock().get(fd).map_err(|_| crate::Error::from(myst_abi::Errno::ENOENT))?;
                Ok(self.child(if *info { Node::FdInfo(*p, fd) } else { Node::FdLink(*p, fd) }))
            }
            _ => kerr!(ENOTDIR),
        }
    }

    fn readdir(&self) -> KResult<Vec<DirEntry>> {
        let mut out = Vec::new();
        let mut add = |name: String, node: Node| {
            let n = ProcNode { node, dev: self.dev };
            let st = n.stat().unwrap_or_default();
            out.push(DirEntry { name: name.into_bytes(), ino: st.ino, dtype: dtype_of(st.mode) });
        };
        match &self.node {
            Node::Root => {
                for f in ROOT_FILES {
                    add((*f).into(), Node::File(f));
                }
                add("self".into(), Node::SelfLink);
                add("thread-self".into(), Node::ThreadSelfLink);
                add("sys".into(), Node::SysDir("sys"));
                let pids: Vec<u32> = crate::kernel().procs.lock().keys().copied().collect();
                for p in pids {
                    add(format!("{p}"), Node::Pid(p));
                }
            }
            Node::SysDir(d) => {
                let prefix = format!("{d}/");
                let mut seen: Vec<&str> = Vec::new();
                for (f, _) in SYS_FILES {
                    if let Some(rest) = f.strip_prefix(prefix.as_str()) {
                        let first = rest.split('/').next().unwrap_or(rest);
                        if !seen.contains(&first) {
                            seen.push(first);
                            if rest.contains('/') {
                                add(first.into(), Node::SysDir(&f[..prefix.len() + first.len()]));
                            } else {
                                add(first.into(), Node::File(f));
                            }
                        }
                    }
                }
            }
            Node::Pid(p) | Node::Tid(p, _) => {
                for f in PID_FILES {
                    add((*f).into(), Node::PidFile(*p, f));
                }
                for f in PID_LINKS {
                    add((*f).into(), Node::PidLink(*p, f));
                }
                add("fd".into(), Node::FdDir(*p, false));
                add("fdinfo".into(), Node::FdDir(*p, true));
                if matches!(self.node, Node::Pid(_)) {
                    add("task".into(), Node::TaskDir(*p));
                }
            }
            Node::TaskDir(p) => {
                let ts = proc_of(*p)?.threads.lock().clone();
                for t in ts {
                    add(format!("{t}"), Node::Tid(*p, t));
                }
            }
            Node::FdDir(p, info) => {
                let fds: Vec<i32> = proc_of(*p)?.fds.lock().iter().map(|(fd, _)| fd).collect();
                for fd in fds {
                    add(format!("{fd}"), if *info { Node::FdInfo(*p, fd) } else { Node::FdLink(*p, fd) });
                }
            }
            _ => kerr!(ENOTDIR),
        }
        Ok(out)
    }

    fn readlink(&self) -> KResult<Vec<u8>> {
        Ok(match &self.node {
            Node::SelfLink => format!("{}", current_pid()).into_bytes(),
            Node::ThreadSelfLink => {
                let tid = crate::current_thread().map(|t| t.tid).unwrap_or(current_pid());
                format!("{}/task/{tid}", current_pid()).into_bytes()
            }
            Node::PidLink(p, "exe") => proc_of(*p)?.exe().into_bytes(),
            Node::PidLink(p, "cwd") => proc_of(*p)?.cwd.lock().clone(),
            Node::PidLink(_, "root") => b"/".to_vec(),
            Node::FdLink(p, fd) => {
                let pr = proc_of(*p)?;
                let t = pr.fds.lock();
                let e = t.get(*fd)?;
                e.file.path.clone()
            }
            _ => kerr!(EINVAL),
        })
    }

    fn read_at(&self, off: u64, buf: &mut [u8]) -> KResult<usize> {
        if self.is_dir() {
            kerr!(EISDIR);
        }
        let data = content(&self.node)?;
        if off >= data.len() as u64 {
            return Ok(0);
        }
        let n = (data.len() - off as usize).min(buf.len());
        buf[..n].copy_from_slice(&data[off as usize..off as usize + n]);
        Ok(n)
    }

    fn write_at(&self, _off: u64, buf: &[u8]) -> KResult<usize> {
        match &self.node {
            Node::PidFile(_, "oom_score_adj") | Node::PidFile(_, "comm") => Ok(buf.len()),
            Node::File("sys/kernel/hostname") => {
                let s = String::from_utf8_lossy(buf);
                *crate::kernel().hostname.lock() = String::from(s.trim_end_matches('\n'));
                Ok(buf.len())
            }
            _ => kerr!(EACCES),
        }
    }

    fn truncate(&self, _len: u64) -> KResult<()> {
        Ok(())
    }
}
