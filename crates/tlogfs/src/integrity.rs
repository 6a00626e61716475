//! What lets `verify` check every byte of the log, not only the bodies.
//!
//! - A **data file**'s BLAKE3 is recorded in its `add` action's `tags` (under
//!   [`FILE_HASH_TAG`]); Delta readers ignore tags.
//! - A **commit file** seals itself: pond's commit info carries `digest`, the BLAKE3 of the
//!   whole file as written with [`PLACEHOLDER`] in the digest's place. Any changed byte,
//!   the digest's own included, breaks the seal.
//! - Each commit also records, under `previous`, the BLAKE3 of the commit file before it
//!   and of that version's checkpoint if one was written: so commit 0 (written by Delta
//!   itself, unsealed) and every checkpoint are covered by the next commit, like a hash
//!   chain. A checkpoint newer than the last commit is checked by decoding it whole.
//!
//! Commits and data files written before these records existed are checked by parsing and
//! decoding them whole, which finds most damage but not a changed value.

use crate::error::Result;
use crate::protocol::Previous;

/// The `add.tags` key of a data file's BLAKE3.
pub(crate) const FILE_HASH_TAG: &str = "pond.blake3";

/// The `add.tags` key of a data file's row count (what merging a node's files plans by).
pub(crate) const FILE_ROWS_TAG: &str = "pond.rows";

/// What a commit's digest is while the digest is computed.
pub(crate) const PLACEHOLDER: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

const DIGEST_KEY: &str = "\"digest\":\"";

/// `text` (a commit file with [`PLACEHOLDER`] as its digest) with its digest filled in.
pub(crate) fn seal(text: &str) -> String {
    let hash = blake3::hash(text.as_bytes()).to_hex();
    let placeholder = format!("{DIGEST_KEY}{PLACEHOLDER}\"");
    text.replacen(&placeholder, &format!("{DIGEST_KEY}{hash}\""), 1)
}

/// What checking a commit file's seal found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Seal {
    /// The digest matches.
    Intact,
    /// There is a digest and it does not match.
    Broken,
    /// The commit carries no digest (written by Delta itself, or before pond sealed).
    Absent,
}

/// Checks the seal of the commit file `text`.
pub(crate) fn check_seal(text: &str) -> Seal {
    let first = text.lines().next().unwrap_or_default();
    let Some(at) = first.find(DIGEST_KEY) else {
        return Seal::Absent;
    };
    let start = at + DIGEST_KEY.len();
    let Some(recorded) = text.get(start..start + PLACEHOLDER.len()) else {
        return Seal::Broken;
    };
    let mut unsealed = String::with_capacity(text.len());
    unsealed.push_str(&text[..start]);
    unsealed.push_str(PLACEHOLDER);
    unsealed.push_str(&text[start + PLACEHOLDER.len()..]);
    if blake3::hash(unsealed.as_bytes()).to_hex().as_str() == recorded {
        Seal::Intact
    } else {
        Seal::Broken
    }
}

/// What a commit on top of pond version `base` of the log in `log` records of it: the
/// BLAKE3 of its commit file (`known` when the caller has it) and of its checkpoint, where
/// they exist.
pub(crate) async fn previous(
    log: &crate::store::Store,
    base: u64,
    known: Option<blake3::Hash>,
) -> Result<Previous> {
    let commit = async {
        match known {
            Some(hash) => Ok::<_, crate::Error>(Some(hash)),
            None => Ok(log
                .get(&crate::delta_log::commit_key(base))
                .await?
                .map(|b| blake3::hash(&b))),
        }
    };
    let checkpoint = async {
        Ok::<_, crate::Error>(
            log.get(&crate::delta_log::checkpoint_key(base))
                .await?
                .map(|b| blake3::hash(&b)),
        )
    };
    let (commit, checkpoint): (Option<blake3::Hash>, Option<blake3::Hash>) =
        futures::future::try_join(commit, checkpoint).await?;
    let hex = |hash: Option<blake3::Hash>| hash.map(|h| h.to_hex().to_string());
    Ok(Previous {
        version: base,
        commit: hex(commit),
        checkpoint: hex(checkpoint),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seal_breaks_on_any_changed_byte() {
        let text = format!(
            "{{\"commitInfo\":{{\"pond\":{{\"digest\":\"{PLACEHOLDER}\",\"user\":\"a\"}}}}}}\n{{\"add\":{{\"path\":\"x\"}}}}\n"
        );
        let sealed = seal(&text);
        assert_ne!(sealed, text);
        assert_eq!(check_seal(&sealed), Seal::Intact);
        for i in 0..sealed.len() {
            let mut bytes = sealed.clone().into_bytes();
            bytes[i] ^= 0x01;
            let Ok(damaged) = String::from_utf8(bytes) else {
                continue;
            };
            assert_ne!(check_seal(&damaged), Seal::Intact, "a flip at byte {i}");
        }
        assert_eq!(check_seal("{\"commitInfo\":{}}\n"), Seal::Absent);
    }
}
