//! Exercises the Rust standard library's use of the system: args, files and
//! directories, collections, time, and unwinding.  Prints only facts that are
//! the same natively and under myst.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Instant;

fn check(ok: bool, what: &str, failures: &mut u32) {
    if !ok {
        println!("FAIL {what}");
        *failures += 1;
    }
}

fn main() {
    let mut failures = 0u32;
    let args: Vec<String> = std::env::args().collect();
    let prog = Path::new(&args[0])
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    println!("program: {prog}");
    println!("args: {:?}", &args[1..]);

    // A file given on the command line: count its lines and words.
    if let Some(input) = args.get(1) {
        match fs::File::open(input) {
            Ok(f) => {
                let mut words: BTreeMap<String, usize> = BTreeMap::new();
                let mut lines = 0;
                for line in BufReader::new(f).lines() {
                    let line = line.expect("read line");
                    lines += 1;
                    for w in line.split_whitespace() {
                        *words.entry(w.to_lowercase()).or_default() += 1;
                    }
                }
                println!("{lines} lines, {} distinct words", words.len());
                let mut top: Vec<(&String, &usize)> = words.iter().collect();
                top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
                for (w, n) in top.iter().take(3) {
                    println!("  {w}: {n}");
                }
            }
            Err(e) => {
                println!("cannot open input: {}", e.kind());
                failures += 1;
            }
        }
    }

    // Files and directories in a scratch directory under /tmp.
    let dir = format!("/tmp/myst-hello-rs-{}", std::process::id());
    fs::create_dir_all(format!("{dir}/sub/deeper")).expect("create_dir_all");
    for name in ["b.txt", "a.txt", "c.txt"] {
        fs::write(format!("{dir}/{name}"), format!("contents of {name}\n")).expect("write");
    }
    let mut names: Vec<String> = fs::read_dir(&dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    println!("dir entries: {names:?}");
    check(names == ["a.txt", "b.txt", "c.txt", "sub"], "read_dir listing", &mut failures);
    let text = fs::read_to_string(format!("{dir}/b.txt")).expect("read_to_string");
    print!("read back: {text}");
    let meta = fs::metadata(format!("{dir}/b.txt")).expect("metadata");
    println!("b.txt: {} bytes, file={}", meta.len(), meta.is_file());
    check(fs::metadata(format!("{dir}/sub")).map(|m| m.is_dir()).unwrap_or(false), "sub is a dir", &mut failures);

    let path = format!("{dir}/rw.bin");
    {
        let mut f = fs::OpenOptions::new().create(true).read(true).write(true).open(&path).expect("open rw");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        f.write_all(&data).expect("write_all");
        f.seek(SeekFrom::Start(1000)).expect("seek");
        let mut buf = [0u8; 4];
        f.read_exact(&mut buf).expect("read_exact");
        check(buf == data[1000..1004], "seek+read", &mut failures);
        f.sync_all().expect("sync_all");
    }
    fs::rename(&path, format!("{dir}/renamed.bin")).expect("rename");
    check(!Path::new(&path).exists(), "renamed away", &mut failures);
    fs::copy(format!("{dir}/renamed.bin"), format!("{dir}/copy.bin")).expect("copy");
    check(fs::read(format!("{dir}/copy.bin")).map(|v| v.len()).unwrap_or(0) == 100_000, "copy size", &mut failures);
    let missing = fs::read(format!("{dir}/missing"));
    println!("missing file: {:?}", missing.err().map(|e| e.kind()));
    fs::remove_dir_all(&dir).expect("remove_dir_all");
    check(!Path::new(&dir).exists(), "removed", &mut failures);

    // Collections and hashing (HashMap's random keys come from getrandom).
    let mut hm: HashMap<u64, u64> = HashMap::new();
    for i in 0..100_000u64 {
        hm.insert(i * 2654435761 % 1_000_003, i);
    }
    let set: HashSet<u64> = hm.values().copied().filter(|v| v % 3 == 0).collect();
    let sum: u64 = set.iter().sum();
    println!("hashmap: {} keys, sum of multiples of 3: {sum}", hm.len());
    let mut v: Vec<i64> = (0..50_000).map(|i| (i * 7919) % 10007 - 5000).collect();
    v.sort_unstable();
    v.dedup();
    println!("sorted unique: {} values, min {}, max {}", v.len(), v[0], v[v.len() - 1]);

    // Time moves forward.
    let t0 = Instant::now();
    std::thread::sleep(std::time::Duration::from_millis(10));
    check(t0.elapsed().as_millis() >= 10, "sleep >= 10ms", &mut failures);

    // Unwinding through the program's own frames.
    std::panic::set_hook(Box::new(|_| {}));
    let caught = std::panic::catch_unwind(|| {
        let v: Vec<u32> = Vec::new();
        v[3]
    });
    let _ = std::panic::take_hook();
    println!("caught panic: {}", caught.is_err());

    std::io::stdout().flush().expect("flush");
    if failures == 0 {
        println!("hello-rs: all checks passed");
    } else {
        println!("hello-rs: {failures} checks FAILED");
        std::process::exit(1);
    }
}
