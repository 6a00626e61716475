//! Writing a table stream out as Parquet: how a computed table becomes bytes.

use tokio::io::AsyncSeekExt;

use crate::error::{Error, Result};
use crate::parquet_writer::{write_parquet, writer_properties};
use datafusion::physical_plan::SendableRecordBatchStream;

/// Writes `table` to an anonymous temporary file as Parquet (zstd, as imports are) and
/// returns the file positioned at its start. Streams: memory holds one row group at a
/// time, not the table; the file is gone when the handle is dropped.
pub(crate) async fn to_parquet_file(table: SendableRecordBatchStream) -> Result<tokio::fs::File> {
    let io = |source| Error::Io {
        path: "a temporary file".into(),
        source,
    };
    let file = tokio::fs::File::from_std(tempfile::tempfile().map_err(io)?);
    let written = write_parquet(
        file,
        table.schema(),
        writer_properties(),
        table,
        "a temporary file",
    )
    .await?;
    let mut file = written.sink;
    file.rewind().await.map_err(io)?;
    Ok(file)
}
