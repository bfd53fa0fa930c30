//! `myst mkext2`, `myst fssig` and `myst verify`: trusted ext2 images.

use myst_image::ext2img::{self, MkExt2Options, Phase};
use myst_image::size::parse_size;
use myst_image::verify::{self, VerifyOptions};
use std::path::PathBuf;

/// The value of `--name=V` or `--name V` (advancing `i`).
fn value(args: &[String], i: &mut usize, name: &str) -> Result<String, String> {
    if let Some(v) = args[*i].strip_prefix(&format!("{name}=")) {
        return Ok(v.to_string());
    }
    *i += 1;
    args.get(*i).cloned().ok_or_else(|| format!("option {name} needs a value"))
}

fn bar(quiet: bool) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    Some(indicatif::ProgressBar::new(0))
}

fn style(template: &str) -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template(template).unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
}

const MKEXT2_USAGE: &str =
    "usage: myst mkext2 [--force] [--size=SIZE] [--sign=PUB.pem:PRIV.pem] [--encrypt=KEYFILE] [--passphrase=P] [--quiet] DIR IMAGE";

/// `myst mkext2 [options] DIR IMAGE`.
pub fn mkext2(args: &[String]) -> Result<u8, String> {
    let mut o = MkExt2Options::default();
    let mut quiet = false;
    let mut pos = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let name = if a.starts_with("--") { a.split('=').next().unwrap_or(a) } else { a };
        match name {
            "--force" | "-f" => o.force = true,
            "--quiet" | "-q" => quiet = true,
            "--size" => o.size = Some(parse_size(&value(args, &mut i, name)?).map_err(|e| format!("--size: {e}"))?),
            "--sign" => {
                let v = value(args, &mut i, name)?;
                let (p, s) = v.split_once(':').filter(|(p, s)| !p.is_empty() && !s.is_empty()).ok_or_else(|| {
                    format!("--sign={v}: expected PUBLIC.pem:PRIVATE.pem (the public and the private key, separated by ':')")
                })?;
                o.sign = Some((PathBuf::from(p), PathBuf::from(s)));
            }
            "--encrypt" => o.encrypt = Some(PathBuf::from(value(args, &mut i, name)?)),
            "--passphrase" => o.passphrase = Some(value(args, &mut i, name)?.into_bytes()),
            "--" => {
                pos.extend(args[i + 1..].iter().cloned());
                break;
            }
            _ if a.starts_with('-') && a.len() > 1 => return Err(format!("mkext2: unknown option '{a}'\n{MKEXT2_USAGE}")),
            _ => pos.push(args[i].clone()),
        }
        i += 1;
    }
    let [dir, image] = pos.as_slice() else {
        return Err(MKEXT2_USAGE.into());
    };
    let pb = bar(quiet);
    let mut phase = None;
    let r = ext2img::mkext2(dir.as_ref(), image.as_ref(), &o, &mut |p, done, total| {
        let Some(b) = &pb else { return };
        if phase != Some(p) {
            phase = Some(p);
            b.reset();
            b.set_style(match p {
                Phase::Scan => style("{spinner} scanning {pos} entries"),
                Phase::Ext2 => style("ext2   {bar:40} {bytes}/{total_bytes} {bytes_per_sec}"),
                Phase::Hash => style("verity {bar:40} {percent}% of {len} blocks"),
            });
        }
        b.set_length(total);
        b.set_position(done);
    });
    if let Some(b) = pb {
        b.finish_and_clear();
    }
    let r = r?;
    if !quiet {
        eprintln!(
            "myst: wrote {image} ({} bytes): ext2 {} bytes from {} entries{}, verity hash offset {}, root hash {}, {}",
            r.image_size,
            r.ext2_size,
            r.entries,
            if r.encrypted { format!(", LUKS1 aes-xts-plain64 (payload at {})", r.payload_offset) } else { String::new() },
            r.hash_offset,
            hex(&r.root_hash),
            match r.signer {
                Some(s) => format!("signed by {}", hex(&s)),
                None => "unsigned (trust it with --roothash)".into(),
            }
        );
        if r.passphrase_is_key_file {
            eprintln!("myst: LUKS key slot 0 opens with the key file itself as the passphrase (cryptsetup --key-file KEYFILE)");
        }
    }
    Ok(0)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `myst fssig [--roothash] IMAGE`.
pub fn fssig(args: &[String]) -> Result<u8, String> {
    let mut only_root = false;
    let mut pos = Vec::new();
    for a in args {
        match a.as_str() {
            "--roothash" => only_root = true,
            s if s.starts_with('-') && s.len() > 1 => {
                return Err(format!("fssig: unknown option '{s}'\nusage: myst fssig [--roothash] IMAGE"))
            }
            _ => pos.push(a.clone()),
        }
    }
    let [image] = pos.as_slice() else {
        return Err("usage: myst fssig [--roothash] IMAGE".into());
    };
    let t = ext2img::read_fssig(image.as_ref())?;
    if only_root {
        println!("{}", hex(&t.root_hash));
        return Ok(0);
    }
    println!("magic:          {:#018x}", ext2img::FSSIG_MAGIC);
    println!("version:        {}", ext2img::FSSIG_VERSION);
    println!("hash_offset:    {}", t.hash_offset);
    println!("root_hash:      {}", hex(&t.root_hash));
    println!("signer:         {}", hex(&t.signer));
    println!("signature_size: {}", t.signature().len());
    println!("signature:      {}", hex(t.signature()));
    Ok(0)
}

const VERIFY_USAGE: &str = "usage: myst verify IMAGE [--pubkey PEM]... [--roothash HEX]... [--key KEYFILE] [--quiet]";

/// `myst verify IMAGE [--pubkey PEM]... [--roothash HEX]... [--key KEYFILE]`.
pub fn verify(args: &[String]) -> Result<u8, String> {
    let mut o = VerifyOptions::default();
    let mut quiet = false;
    let mut pos = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let name = if a.starts_with("--") { a.split('=').next().unwrap_or(a) } else { a };
        match name {
            "--pubkey" => o.pubkeys.push(PathBuf::from(value(args, &mut i, name)?)),
            "--roothash" => o.roothashes.push(value(args, &mut i, name)?),
            "--key" => o.key = Some(PathBuf::from(value(args, &mut i, name)?)),
            "--quiet" | "-q" => quiet = true,
            _ if a.starts_with('-') && a.len() > 1 => return Err(format!("verify: unknown option '{a}'\n{VERIFY_USAGE}")),
            _ => pos.push(args[i].clone()),
        }
        i += 1;
    }
    let [image] = pos.as_slice() else {
        return Err(VERIFY_USAGE.into());
    };
    let pb = bar(quiet);
    if let Some(b) = &pb {
        b.set_style(style("verity {bar:40} {percent}% of {len} blocks"));
    }
    let r = verify::verify(
        image.as_ref(),
        &o,
        &mut |line| {
            if !quiet {
                match &pb {
                    Some(b) => b.println(format!("  {line}")),
                    None => println!("  {line}"),
                }
            }
        },
        &mut |done, total| {
            if let Some(b) = &pb {
                b.set_length(total);
                b.set_position(done);
            }
        },
    );
    if let Some(b) = pb {
        b.finish_and_clear();
    }
    let r = r?;
    if !r.trusted {
        return Err(format!(
            "{image}: not verified against any trusted key or root hash (give --pubkey or --roothash); the other checks passed"
        ));
    }
    if !quiet {
        println!("{image}: OK{}", if r.ext2_checked { "" } else { " (ext2 inside the encryption not checked: no --key)" });
    }
    Ok(0)
}
