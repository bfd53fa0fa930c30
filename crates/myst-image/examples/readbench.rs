//! Sequential read throughput of the image readers, single-threaded, from a warm page cache:
//!
//!     readbench IMAGE [KEYFILE]
//!
//! Prints `verity MB/s` (every block checked against the tree) and, for an encrypted image
//! with its key, `verity+luks MB/s` (checked and decrypted), plus `raw MB/s` (plain file
//! reads, the floor cost). Used by bench/images.sh.

use myst_crypt::LuksDevice;
use myst_image::ext2img::{read_fssig, read_key_file};
use myst_image::imgio::FileWindow;
use myst_verity::{BlockRead, VerityDevice};
use std::fs::File;
use std::path::Path;
use std::time::Instant;

const CHUNK: usize = 1 << 20;

fn stream(dev: &dyn BlockRead) -> Result<(u64, f64), String> {
    let mut buf = vec![0u8; CHUNK];
    let len = dev.len();
    let t = Instant::now();
    let mut off = 0u64;
    while off < len {
        let n = (len - off).min(CHUNK as u64) as usize;
        dev.read_at(off, &mut buf[..n]).map_err(|e| e.to_string())?;
        off += n as u64;
    }
    Ok((len, t.elapsed().as_secs_f64()))
}

fn best(runs: usize, mut f: impl FnMut() -> Result<(u64, f64), String>) -> Result<f64, String> {
    let mut top: f64 = 0.0;
    for _ in 0..runs {
        let (bytes, secs) = f()?;
        top = top.max(bytes as f64 / secs / 1e6);
    }
    Ok(top)
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let Some(image) = args.get(1) else {
        return Err("usage: readbench IMAGE [KEYFILE]".into());
    };
    let image = Path::new(image);
    let trailer = read_fssig(image)?;
    let f = File::open(image).map_err(|e| e.to_string())?;
    let area_end = f.metadata().map_err(|e| e.to_string())?.len() - 4096;
    let window = || FileWindow { file: &f, len: area_end };
    // Warm the page cache.
    stream(&window())?;
    let raw = best(3, || stream(&FileWindow { file: &f, len: trailer.hash_offset }))?;
    println!("raw MB/s {raw:.0}");
    let v = best(3, || {
        let dev = VerityDevice::open(window(), trailer.hash_offset, trailer.root_hash).map_err(|e| e.to_string())?;
        stream(&dev)
    })?;
    println!("verity MB/s {v:.0}");
    if let Some(k) = args.get(2) {
        let key = read_key_file(Path::new(k))?;
        let vl = best(3, || {
            let dev = VerityDevice::open(window(), trailer.hash_offset, trailer.root_hash).map_err(|e| e.to_string())?;
            let luks = LuksDevice::open(&dev, &key).map_err(|e| e.to_string())?;
            stream(&luks)
        })?;
        println!("verity+luks MB/s {vl:.0}");
    }
    Ok(())
}
