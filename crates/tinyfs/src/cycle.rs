//! One cycle check for every dynamic node.
//!
//! A dynamic node reads other nodes — a csvdir lists the files its source glob matches, a
//! derived table plans the tables its patterns match — and those may be dynamic too, so a
//! node can reach itself: a csvdir whose source walks into it, two derived tables that read
//! each other. Each such read runs inside [`reading`], which marks the node on the current
//! task; reaching a marked node again is an error naming the cycle, not an endless walk or
//! a stack overflow.
//!
//! The marks are task-local because the reads nest through trait methods that carry no
//! context ([`Directory::entries`](crate::Directory::entries) lists a csvdir, which globs,
//! which lists again). Work spawned onto another task starts with no marks, so a node awaits
//! the reads of its inputs on its own task.

use std::future::Future;

use crate::error::Error;
use crate::node_id::NodeId;

tokio::task_local! {
    /// The nodes reading their inputs on this task, outermost first, each with the name
    /// errors show for it.
    static READING: Vec<(NodeId, String)>;
}

/// Runs `read`, node `id`'s read of its inputs. `name` is how an error shows the node: its
/// pond path where the node knows it, else a description (`csvdir of /raw/*.csv`). If `id`
/// is already reading its inputs further up this task, `read` does not run: the error is
/// [`Error::InvalidConfig`] naming the cycle, `a -> b -> a`, at `name` if that is a path
/// (else with no path, for the walk that met it to add its own).
pub async fn reading<F, T, E>(id: NodeId, name: &str, read: F) -> Result<T, E>
where
    F: Future<Output = Result<T, E>>,
    E: From<Error>,
{
    let mut chain = READING.try_with(Vec::clone).unwrap_or_default();
    if let Some(at) = chain.iter().position(|(node, _)| *node == id) {
        let mut names: Vec<&str> = chain[at..].iter().map(|(_, n)| n.as_str()).collect();
        names.push(name);
        return Err(Error::InvalidConfig {
            path: if name.starts_with('/') {
                name.to_string()
            } else {
                String::new()
            },
            detail: format!("dynamic nodes form a cycle: {}", names.join(" -> ")),
        }
        .into());
    }
    chain.push((id, name.to_string()));
    READING.scope(chain, read).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    /// Node `ids[0]` reads `ids[1]`, which reads `ids[2]`, ...; the last reads `ids[0]`
    /// again when `closes`.
    fn chain(
        ids: &[NodeId],
        at: usize,
        closes: bool,
    ) -> futures::future::BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move {
            let next = at + 1;
            reading(
                ids[at % ids.len()],
                &format!("/n{}", at % ids.len()),
                async {
                    if next < ids.len() || (closes && next == ids.len()) {
                        chain(ids, next, closes).await
                    } else {
                        Ok(())
                    }
                },
            )
            .await
        })
    }

    #[tokio::test]
    async fn a_node_reaching_itself_is_named_and_nothing_else_is() {
        let ids: Vec<NodeId> = (0..3).map(|_| NodeId::generate()).collect();
        chain(&ids, 0, false).await.unwrap();
        let err = chain(&ids, 0, true).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidConfig);
        assert!(
            err.to_string()
                .contains("dynamic nodes form a cycle: /n0 -> /n1 -> /n2 -> /n0"),
            "{err}"
        );
        // The same node read twice in a row, not nested, is no cycle.
        for _ in 0..2 {
            reading(ids[0], "/n0", async { Ok::<_, Error>(()) })
                .await
                .unwrap();
        }
    }
}
