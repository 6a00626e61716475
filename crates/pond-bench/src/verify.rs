//! `pond verify` of a pond of about 1 GB ÷ reading and hashing the same bodies with
//! BLAKE3 in one process: what checking every stored byte costs over the bytes themselves.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use tinyfs::{EntryType, TxnMeta};
use tlogfs::Pond;

use crate::{median, ms, time_pond};

/// Size of each body.
const BODY: usize = 16 << 20;

/// Reads and hashes every file under `dir`; the bytes hashed.
fn hash_all(dir: &Path) -> Result<u64> {
    let mut bytes = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            bytes += hash_all(&entry.path())?;
        } else {
            let file = std::fs::File::open(entry.path())?;
            bytes += entry.metadata()?.len();
            blake3::Hasher::new().update_reader(file)?;
        }
    }
    Ok(bytes)
}

pub(crate) async fn run(bin: &Path, megabytes: usize) -> Result<()> {
    let work = tempfile::tempdir()?;
    let pond_dir = work.path().join("pond");
    let pond = Pond::init(&pond_dir).await?;
    let bodies = (megabytes << 20).div_ceil(BODY);
    let mut body = vec![0u8; BODY];
    for batch in 0..bodies.div_ceil(8) {
        let tx = pond.fs().begin(TxnMeta::default()).await?;
        tx.root().create_dir_all("/data").await?;
        for i in batch * 8..((batch + 1) * 8).min(bodies) {
            // Distinct bytes per body, so none is stored once for two.
            blake3::Hasher::new()
                .update(&i.to_le_bytes())
                .finalize_xof()
                .fill(&mut body);
            tx.root()
                .write_file(
                    format!("/data/b{i}.bin").as_str(),
                    EntryType::FileData,
                    &body,
                )
                .await?;
        }
        tx.commit().await?;
    }
    drop(pond);
    let content = pond_dir.join("content");
    let (mut verify, mut baseline) = (Vec::new(), Vec::new());
    let mut stored = 0;
    for _ in 0..3 {
        let start = Instant::now();
        stored = hash_all(&content)?;
        baseline.push(start.elapsed());
        verify.push(time_pond(bin, &pond_dir, &["verify"], 1)?);
    }
    let (v, b): (Duration, Duration) = (median(verify), median(baseline));
    let mb = stored as f64 / (1 << 20) as f64;
    println!("verify of a pond of {bodies} bodies, {mb:.0} MB, median of 3, warm cache:");
    println!(
        "  pond verify                 {:>12}  {:>7.0} MB/s",
        ms(v),
        mb / v.as_secs_f64()
    );
    println!(
        "  read + BLAKE3, one process  {:>12}  {:>7.0} MB/s",
        ms(b),
        mb / b.as_secs_f64()
    );
    println!(
        "  ratio pond verify ÷ hashing the bodies: {:.2}",
        v.as_secs_f64() / b.as_secs_f64()
    );
    Ok(())
}
