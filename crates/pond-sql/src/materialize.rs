//! Writing a table stream out as Parquet: how a computed table becomes bytes.

use futures::TryStreamExt;
use parquet::arrow::AsyncArrowWriter;
use tokio::io::AsyncSeekExt;

use crate::error::{Error, Result};
use crate::import::writer_properties;
use crate::read::TableStream;

/// Writes `table` to an anonymous temporary file as Parquet (zstd, as imports are) and
/// returns the file positioned at its start. Streams: memory holds one row group at a
/// time, not the table; the file is gone when the handle is dropped.
pub(crate) async fn to_parquet_file(mut table: TableStream) -> Result<tokio::fs::File> {
    let io = |source| Error::Io {
        path: "a temporary file".into(),
        source,
    };
    let file = tokio::fs::File::from_std(tempfile::tempfile().map_err(io)?);
    let parquet = |source| Error::Parquet {
        path: "a temporary file".into(),
        source,
    };
    let mut writer =
        AsyncArrowWriter::try_new(file, table.schema.clone(), Some(writer_properties()))
            .map_err(parquet)?;
    while let Some(batch) = table.batches.try_next().await? {
        writer.write(&batch).await.map_err(parquet)?;
    }
    writer.finish().await.map_err(parquet)?;
    let mut file = writer.into_inner();
    file.rewind().await.map_err(io)?;
    Ok(file)
}
