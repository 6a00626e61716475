//! Model-based testing: random operations on a filesystem and on a `BTreeMap`, compared.
//!
//! The model is a map from path to entry, with the committed state kept beside the state
//! of the open transaction. Every [`Op`] is applied to both; each must succeed or fail with
//! the same [`ErrorKind`], and after every step the whole tree (types, and every version of
//! every file) must be equal.

use std::collections::BTreeMap;

use proptest::prelude::*;

use crate::{EntryType, ErrorKind, FS, NodeKind, Transaction, TxnMeta};

/// A path in the model: the names from the root.
pub type ModelPath = Vec<String>;

/// One operation.
#[derive(Clone, Debug)]
pub enum Op {
    /// `create_dir`
    Mkdir(ModelPath),
    /// `create_dir_all`
    MkdirAll(ModelPath),
    /// `write_file` (creates or adds a version)
    Write(ModelPath, EntryType, Vec<u8>),
    /// `read_file`, optionally of one version
    Read(ModelPath, Option<u64>),
    /// `remove`
    Remove(ModelPath, bool),
    /// `rename`
    Rename(ModelPath, ModelPath),
    /// Commit the transaction and begin the next.
    Commit,
    /// Roll back the transaction and begin the next.
    Rollback,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    Dir,
    File(EntryType, Vec<Vec<u8>>),
}

type Tree = BTreeMap<ModelPath, Entry>;

fn path_strategy() -> impl Strategy<Value = ModelPath> {
    prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 1..=3)
        .prop_map(|v| v.into_iter().map(String::from).collect())
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let file_type = prop::sample::select(vec![
        EntryType::FileData,
        EntryType::FileTable,
        EntryType::FileSeries,
    ]);
    prop_oneof![
        3 => path_strategy().prop_map(Op::Mkdir),
        1 => path_strategy().prop_map(Op::MkdirAll),
        4 => (path_strategy(), file_type, prop::collection::vec(any::<u8>(), 0..6))
            .prop_map(|(p, t, b)| Op::Write(p, t, b)),
        2 => (path_strategy(), prop::option::of(1u64..4)).prop_map(|(p, v)| Op::Read(p, v)),
        2 => (path_strategy(), any::<bool>()).prop_map(|(p, r)| Op::Remove(p, r)),
        2 => (path_strategy(), path_strategy()).prop_map(|(a, b)| Op::Rename(a, b)),
        1 => Just(Op::Commit),
        1 => Just(Op::Rollback),
    ]
}

/// Sequences of up to `max_len` operations.
pub fn ops(max_len: usize) -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op_strategy(), 1..=max_len)
}

fn text(p: &[String]) -> String {
    format!("/{}", p.join("/"))
}

/// Walks every parent of `p`: `NotFound` or `NotADirectory` where the walk fails.
fn check_parents(tree: &Tree, p: &[String]) -> Result<(), ErrorKind> {
    for i in 1..p.len() {
        match tree.get(&p[..i]) {
            None => return Err(ErrorKind::NotFound),
            Some(Entry::File(..)) => return Err(ErrorKind::NotADirectory),
            Some(Entry::Dir) => {}
        }
    }
    Ok(())
}

fn apply(tree: &mut Tree, op: &Op) -> Result<Option<Vec<u8>>, ErrorKind> {
    match op {
        Op::Mkdir(p) => {
            check_parents(tree, p)?;
            if tree.contains_key(p) {
                return Err(ErrorKind::AlreadyExists);
            }
            tree.insert(p.clone(), Entry::Dir);
        }
        Op::MkdirAll(p) => {
            for i in 1..=p.len() {
                match tree.get(&p[..i]) {
                    Some(Entry::File(..)) => return Err(ErrorKind::NotADirectory),
                    Some(Entry::Dir) => {}
                    None => {
                        tree.insert(p[..i].to_vec(), Entry::Dir);
                    }
                }
            }
        }
        Op::Write(p, t, body) => {
            check_parents(tree, p)?;
            match tree.get_mut(p) {
                Some(Entry::Dir) => return Err(ErrorKind::IsADirectory),
                Some(Entry::File(existing, _)) if existing != t => {
                    return Err(ErrorKind::AlreadyExists);
                }
                Some(Entry::File(_, versions)) => versions.push(body.clone()),
                None => {
                    tree.insert(p.clone(), Entry::File(*t, vec![body.clone()]));
                }
            }
        }
        Op::Read(p, v) => {
            check_parents(tree, p)?;
            return match tree.get(p) {
                None => Err(ErrorKind::NotFound),
                Some(Entry::Dir) => Err(ErrorKind::IsADirectory),
                Some(Entry::File(_, versions)) => {
                    let i = v.map(|v| v as usize).unwrap_or(versions.len());
                    versions
                        .get(i - 1)
                        .cloned()
                        .map(Some)
                        .ok_or(ErrorKind::NotFound)
                }
            };
        }
        Op::Remove(p, recursive) => {
            check_parents(tree, p)?;
            match tree.get(p) {
                None => return Err(ErrorKind::NotFound),
                Some(Entry::Dir) if !recursive && has_children(tree, p) => {
                    return Err(ErrorKind::NotEmpty);
                }
                _ => tree.retain(|k, _| !k.starts_with(p)),
            }
        }
        Op::Rename(src, dst) => {
            check_parents(tree, src)?;
            if !tree.contains_key(src) {
                return Err(ErrorKind::NotFound);
            }
            check_parents(tree, dst)?;
            if tree.contains_key(dst) {
                return Err(ErrorKind::AlreadyExists);
            }
            if dst.starts_with(src) {
                return Err(ErrorKind::InvalidPath);
            }
            let moved: Vec<(ModelPath, Entry)> = tree
                .iter()
                .filter(|(k, _)| k.starts_with(src))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for (k, v) in moved {
                tree.remove(&k);
                let mut new = dst.clone();
                new.extend_from_slice(&k[src.len()..]);
                tree.insert(new, v);
            }
        }
        Op::Commit | Op::Rollback => {}
    }
    Ok(None)
}

fn has_children(tree: &Tree, p: &[String]) -> bool {
    tree.range(p.to_vec()..)
        .nth(1)
        .is_some_and(|(k, _)| k.starts_with(p))
}

async fn run(root: &crate::WD, op: &Op) -> Result<Option<Vec<u8>>, ErrorKind> {
    let r = match op {
        Op::Mkdir(p) => root.create_dir(text(p)).await.map(|_| None),
        Op::MkdirAll(p) => root.create_dir_all(text(p)).await.map(|_| None),
        Op::Write(p, t, body) => root.write_file(text(p), *t, body).await.map(|_| None),
        Op::Read(p, v) => {
            let path = match v {
                Some(v) => format!("{}@v{v}", text(p)),
                None => text(p),
            };
            root.read_file(path).await.map(Some)
        }
        Op::Remove(p, recursive) => root.remove(text(p), *recursive).await.map(|_| None),
        Op::Rename(a, b) => root.rename(text(a), text(b)).await.map(|_| None),
        Op::Commit | Op::Rollback => Ok(None),
    };
    r.map_err(|e| e.kind())
}

/// The observable state of `fs`: every entry under the root with its type and bodies.
async fn observe(fs: &FS) -> Tree {
    let mut tree = Tree::new();
    let root = fs.root();
    for m in root.glob("/**").await.expect("glob /**") {
        let path: ModelPath = m.path[1..].split('/').map(String::from).collect();
        let entry = match m.node.kind() {
            NodeKind::Directory(_) => Entry::Dir,
            NodeKind::File(f) => {
                let mut bodies = Vec::new();
                for v in f.versions().await.expect("versions") {
                    bodies.push(
                        root.read_file(format!("{}@v{}", m.path, v.version))
                            .await
                            .expect("read"),
                    );
                }
                Entry::File(f.entry_type(), bodies)
            }
            NodeKind::Symlink(_) => panic!("the model makes no symlinks: {}", m.path),
        };
        tree.insert(path, entry);
    }
    tree
}

/// Applies `ops` to `fs` (which must be empty) and to the model, panicking at the first
/// difference in a result or in the observable state.
pub async fn check(fs: FS, ops: &[Op]) {
    let meta = || TxnMeta {
        command: vec!["model".into()],
        user: "test".into(),
    };
    let mut committed = Tree::new();
    let mut pending = Tree::new();
    let mut tx: Option<Transaction> = Some(fs.begin(meta()).await.expect("begin"));
    for (step, op) in ops.iter().enumerate() {
        let expected = apply(&mut pending, op);
        let got = run(&tx.as_ref().expect("open").root(), op).await;
        assert_eq!(got, expected, "step {step}: {op:?}");
        match op {
            Op::Commit => {
                tx.take().expect("open").commit().await.expect("commit");
                committed = pending.clone();
                tx = Some(fs.begin(meta()).await.expect("begin"));
            }
            Op::Rollback => {
                tx.take().expect("open").rollback();
                pending = committed.clone();
                tx = Some(fs.begin(meta()).await.expect("begin"));
            }
            _ => {}
        }
        assert_eq!(
            observe(&fs).await,
            pending,
            "state after step {step}: {op:?}"
        );
    }
    if let Some(tx) = tx {
        tx.commit().await.expect("final commit");
    }
    assert_eq!(observe(&fs).await, pending, "state after the final commit");
}
