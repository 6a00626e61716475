//! Walking a glob over a working directory: [`WD::glob`] and its matches.

use std::collections::BTreeMap;

use crate::error::{Result, ResultExt};
use crate::glob::{Pattern, Segment};
use crate::node::{Node, NodeKind};
use crate::wd::{Frame, WD, child_path, frames_path};

/// One match of [`WD::glob`].
#[derive(Clone, Debug)]
pub struct GlobMatch {
    /// The matched path, absolute, spelled as the pattern walked it (through symlinks).
    pub path: String,
    /// The node matched.
    pub node: Node,
    /// What each wildcard matched, left to right.
    pub captures: Vec<String>,
}

impl WD {
    /// Every path matching `pattern` (see [`crate::glob`]), sorted by path, each once.
    pub async fn glob(&self, pattern: &str) -> Result<Vec<GlobMatch>> {
        let pattern = Pattern::parse(pattern)?;
        let segments = pattern.segments();
        let start = if pattern.is_absolute() {
            self.frames[..1].to_vec()
        } else {
            self.frames.clone()
        };
        let mut out: BTreeMap<String, GlobMatch> = BTreeMap::new();
        let mut work = vec![(start, 0usize, Vec::<String>::new())];
        while let Some((frames, idx, captures)) = work.pop() {
            let Some(segment) = segments.get(idx) else {
                let node = frames
                    .last()
                    .expect("frames start at the root")
                    .node
                    .clone();
                let path = frames_path(&frames);
                out.entry(path.clone()).or_insert(GlobMatch {
                    path,
                    node,
                    captures,
                });
                continue;
            };
            let last = idx + 1 == segments.len();
            match segment {
                Segment::Literal(name) if name == "." => work.push((frames, idx + 1, captures)),
                Segment::Literal(name) if name == ".." => {
                    let mut frames = frames;
                    if frames.len() > 1 {
                        frames.pop();
                    }
                    work.push((frames, idx + 1, captures));
                }
                Segment::Literal(name) => {
                    let dir = frames.last().and_then(|f| f.node.as_dir()).expect("a dir");
                    let here = child_path(&frames, name);
                    if let Some(node) = dir.get(name).await.at(&here)? {
                        self.glob_step(
                            &mut work, &mut out, frames, name, node, idx, last, captures,
                        )
                        .await?;
                    }
                }
                Segment::Wild(wild) => {
                    let here = frames_path(&frames);
                    let dir = frames.last().and_then(|f| f.node.as_dir()).expect("a dir");
                    for (name, node) in dir.entries().await.at(&here)? {
                        if let Some(more) = wild.matches(&name) {
                            let mut caps = captures.clone();
                            caps.extend(more);
                            self.glob_step(
                                &mut work,
                                &mut out,
                                frames.clone(),
                                &name,
                                node,
                                idx,
                                last,
                                caps,
                            )
                            .await?;
                        }
                    }
                }
                Segment::Recursive => {
                    // Every directory below, with its path relative to here; at the end of
                    // a pattern, every entry. It does not cross symlinks (no cycles) nor
                    // enter stored dynamic directories (a host mount may be a whole disk;
                    // name one to go inside: `/mnt/**`).
                    if !last {
                        let mut caps = captures.clone();
                        caps.push(String::new());
                        work.push((frames.clone(), idx + 1, caps));
                    }
                    let mut below = vec![(frames, String::new())];
                    while let Some((frames, rel)) = below.pop() {
                        let here = frames_path(&frames);
                        let dir = frames.last().and_then(|f| f.node.as_dir()).expect("a dir");
                        for (name, node) in dir.entries().await.at(&here)? {
                            let rel = if rel.is_empty() {
                                name.clone()
                            } else {
                                format!("{rel}/{name}")
                            };
                            let is_dir = node.as_dir().is_some() && node.factory().is_none();
                            let mut sub = frames.clone();
                            sub.push(Frame { name, node });
                            let mut caps = captures.clone();
                            caps.push(rel.clone());
                            if last {
                                let path = frames_path(&sub);
                                let node = sub.last().expect("just pushed").node.clone();
                                out.entry(path.clone()).or_insert(GlobMatch {
                                    path,
                                    node,
                                    captures: caps,
                                });
                            } else if is_dir {
                                work.push((sub.clone(), idx + 1, caps));
                            }
                            if is_dir {
                                below.push((sub, rel));
                            }
                        }
                    }
                }
            }
        }
        Ok(out.into_values().collect())
    }

    /// One matched entry `name` of a glob: the end of the pattern, or a directory (or a
    /// symlink to one) to continue in.
    #[allow(clippy::too_many_arguments)]
    async fn glob_step(
        &self,
        work: &mut Vec<(Vec<Frame>, usize, Vec<String>)>,
        out: &mut BTreeMap<String, GlobMatch>,
        frames: Vec<Frame>,
        name: &str,
        node: Node,
        idx: usize,
        last: bool,
        captures: Vec<String>,
    ) -> Result<()> {
        let mut sub = frames;
        if last {
            sub.push(Frame {
                name: name.to_string(),
                node: node.clone(),
            });
            let path = frames_path(&sub);
            out.entry(path.clone()).or_insert(GlobMatch {
                path,
                node,
                captures,
            });
            return Ok(());
        }
        let dir_node = match node.kind() {
            NodeKind::Directory(_) => node,
            NodeKind::Symlink(_) => {
                // Follow a link in the middle of a pattern, as resolution would; a dangling
                // link, a loop, or a link to a file simply does not match.
                let from = WD {
                    fs: self.fs.clone(),
                    frames: sub.clone(),
                };
                match from.get(name).await {
                    Ok(Some(target)) if target.as_dir().is_some() => target,
                    _ => return Ok(()),
                }
            }
            NodeKind::File(_) => return Ok(()),
        };
        sub.push(Frame {
            name: name.to_string(),
            node: dir_node,
        });
        work.push((sub, idx + 1, captures));
        Ok(())
    }
}
