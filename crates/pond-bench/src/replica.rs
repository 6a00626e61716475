//! Replicas of a pond of about 1 GB: `pond clone` ÷ copying its files one by one as an
//! object-store copy does (read, write; each fsynced, as the clone does), and an incremental `pond push` after one new version: bytes
//! sent ÷ the new version's bytes, and time.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tinyfs::{EntryType, TxnMeta};
use tlogfs::Pond;

use crate::ms;

/// Size of each body.
const BODY: usize = 16 << 20;

/// Writes body `i` (distinct bytes) as the next version of `/data/b{i % 8}.bin`.
async fn write_body(pond: &Pond, i: usize, body: &mut [u8]) -> Result<()> {
    blake3::Hasher::new()
        .update(&i.to_le_bytes())
        .finalize_xof()
        .fill(body);
    let tx = pond.fs().begin(TxnMeta::default()).await?;
    tx.root().create_dir_all("/data").await?;
    tx.root()
        .write_file(
            format!("/data/b{}.bin", i % 8).as_str(),
            EntryType::FileData,
            body,
        )
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Copies every file below `from` to `to` as an object-store copy does (read it, write
/// it), each fsynced as pond's writes are; the bytes copied. With `hash`, also hashes each.
fn copy_tree(from: &Path, to: &Path, hash: bool) -> Result<u64> {
    let mut bytes = 0;
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            bytes += copy_tree(&entry.path(), &target, hash)?;
        } else {
            let data = std::fs::read(entry.path())?;
            if hash {
                blake3::hash(&data);
            }
            let mut file = std::fs::File::create(&target)?;
            std::io::Write::write_all(&mut file, &data)?;
            file.sync_all()?;
            bytes += data.len() as u64;
        }
    }
    Ok(bytes)
}

fn pond(bin: &Path, pond_dir: &Path, args: &[&str]) -> Result<(Duration, String)> {
    let start = Instant::now();
    let out = Command::new(bin)
        .arg("--pond")
        .arg(pond_dir)
        .args(args)
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    let took = start.elapsed();
    if !out.status.success() {
        bail!(
            "pond {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok((took, String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// The bytes a push or clone reports it wrote (`…, 16.0 MiB)`), as it printed them.
fn reported(out: &str) -> &str {
    out.trim_end()
        .rsplit(", ")
        .next()
        .unwrap_or("")
        .trim_end_matches(')')
}

pub(crate) async fn run(bin: &Path, megabytes: usize) -> Result<()> {
    let work = tempfile::tempdir()?;
    let source = work.path().join("pond");
    let p = Pond::init(&source).await?;
    let bodies = (megabytes << 20).div_ceil(BODY);
    let mut body = vec![0u8; BODY];
    for i in 0..bodies {
        write_body(&p, i, &mut body).await?;
    }
    drop(p);

    let clone = work.path().join("clone");
    let source_arg = source.to_string_lossy().to_string();
    let clone_arg = clone.to_string_lossy().to_string();
    let (cloned, out) = pond(bin, &source, &["clone", &source_arg, &clone_arg])?;
    let plain_copy = |name: &str, hash: bool| -> Result<(u64, Duration)> {
        let start = Instant::now();
        let to = work.path().join(name);
        let copied = copy_tree(&source.join("log"), &to.join("log"), hash)?
            + copy_tree(&source.join("content"), &to.join("content"), hash)?;
        Ok((copied, start.elapsed()))
    };
    let (copied, plain) = plain_copy("plain", false)?;
    let (_, hashed) = plain_copy("hashed", true)?;
    let mb = copied as f64 / (1 << 20) as f64;
    println!("a pond of {bodies} versions of 16 MiB ({mb:.0} MB of files):");
    println!(
        "  pond clone (whole process)        {:>12}  {:>6.0} MB/s  ({})",
        ms(cloned),
        mb / cloned.as_secs_f64(),
        reported(&out)
    );
    println!(
        "  read + write each file, fsynced   {:>12}  {:>6.0} MB/s",
        ms(plain),
        mb / plain.as_secs_f64()
    );
    println!(
        "  the same, hashing each too       {:>12}  {:>6.0} MB/s",
        ms(hashed),
        mb / hashed.as_secs_f64()
    );
    println!(
        "  ratio clone ÷ plain copy: {:.2} (goal ≤ 1.3); ÷ copy and hash: {:.2}",
        cloned.as_secs_f64() / plain.as_secs_f64(),
        cloned.as_secs_f64() / hashed.as_secs_f64()
    );

    // The clone's remote is the source: one more version there, then a pull.
    let p = Pond::open(&source).await?;
    write_body(&p, bodies, &mut body).await?;
    drop(p);
    let (pulled, out) = pond(bin, &clone, &["pull"])?;
    println!(
        "  pull of one new 16 MiB version: {} ({}; the version is 16.0 MiB, so the log adds \
         the rest)",
        ms(pulled),
        out.trim_end()
    );
    let (idle, _) = pond(bin, &clone, &["pull"])?;
    println!("  pull with nothing new: {}", ms(idle));
    Ok(())
}
