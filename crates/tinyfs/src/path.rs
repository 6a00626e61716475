//! Paths, parsed once.
//!
//! A [`Path`] is absolute (`/a/b`) or relative to a working directory (`a/b`, `../c`). It
//! keeps `.` and `..` as components; they are applied during resolution, where `..` of the
//! root is the root. The last component may name a version of a file: `data.csv@v2`.
//!
//! Invariants of a parsed path: no component is empty; no name contains NUL or `/`; no name
//! is longer than [`MAX_NAME_LEN`] bytes; only the last component carries a version, and a
//! version is at least 1.

use std::fmt;

use crate::error::{Error, Result};

/// The longest name, in bytes.
pub const MAX_NAME_LEN: usize = 255;

/// One component of a path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Component {
    /// `.`
    CurDir,
    /// `..`
    ParentDir,
    /// A name.
    Name(String),
}

/// A parsed path.
///
/// Invariants: no component is empty; no name contains NUL or `/`; no name is longer than
/// [`MAX_NAME_LEN`] bytes; only the last component carries a version, and it is at least 1.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Path {
    absolute: bool,
    components: Vec<Component>,
    version: Option<u64>,
}

impl Path {
    /// The root, `/`.
    pub fn root() -> Self {
        Path {
            absolute: true,
            components: Vec::new(),
            version: None,
        }
    }

    /// Parses `text`. A trailing `/` is allowed; `//`, an empty path, bad names and
    /// misplaced versions are [`Error::InvalidPath`].
    pub fn parse(text: &str) -> Result<Self> {
        if text.is_empty() {
            return Err(Error::invalid_path(text, "empty path"));
        }
        let absolute = text.starts_with('/');
        let body = text.strip_prefix('/').unwrap_or(text);
        let body = body.strip_suffix('/').unwrap_or(body);
        let mut path = Path {
            absolute,
            components: Vec::new(),
            version: None,
        };
        if body.is_empty() {
            return if absolute {
                Ok(path)
            } else {
                Err(Error::invalid_path(text, "empty path"))
            };
        }
        let parts: Vec<&str> = body.split('/').collect();
        let last = parts.len() - 1;
        for (i, part) in parts.into_iter().enumerate() {
            let component = match part {
                "" => return Err(Error::invalid_path(text, "empty name between slashes")),
                "." => Component::CurDir,
                ".." => Component::ParentDir,
                name => {
                    let (name, version) = split_version(name);
                    if let Some(version) = version {
                        let version = version.map_err(|why| Error::invalid_path(text, why))?;
                        if i != last {
                            return Err(Error::invalid_path(
                                text,
                                format!("a version (@v{version}) may only end a path"),
                            ));
                        }
                        path.version = Some(version);
                    }
                    check_name_chars(name).map_err(|why| Error::invalid_path(text, why))?;
                    match name {
                        "." | ".." => {
                            return Err(Error::invalid_path(
                                text,
                                format!("{name:?} has no versions"),
                            ));
                        }
                        _ => Component::Name(name.to_string()),
                    }
                }
            };
            path.components.push(component);
        }
        Ok(path)
    }

    /// Whether the path starts at the root.
    pub fn is_absolute(&self) -> bool {
        self.absolute
    }

    /// The components, `.` and `..` included.
    pub fn components(&self) -> &[Component] {
        &self.components
    }

    /// The version named by the last component (`name@vN`), if any.
    pub fn version(&self) -> Option<u64> {
        self.version
    }

    /// The same path without its version.
    pub fn without_version(&self) -> Path {
        Path {
            version: None,
            ..self.clone()
        }
    }

    /// The last component if it is a name.
    pub fn file_name(&self) -> Option<&str> {
        match self.components.last() {
            Some(Component::Name(name)) => Some(name),
            _ => None,
        }
    }

    /// This path with `name` appended. `name` must be a valid name (see [`validate_name`]).
    pub fn join(&self, name: &str) -> Path {
        let mut components = self.components.clone();
        components.push(Component::Name(name.to_string()));
        Path {
            absolute: self.absolute,
            components,
            version: None,
        }
    }

    /// This path followed by `other`; an absolute `other` replaces it.
    pub fn join_path(&self, other: &Path) -> Path {
        if other.absolute {
            return other.clone();
        }
        let mut components = self.components.clone();
        components.extend(other.components.iter().cloned());
        Path {
            absolute: self.absolute,
            components,
            version: other.version,
        }
    }

    /// The path with `.` removed and `..` applied lexically (`..` of the root is the root;
    /// a relative path keeps its leading `..`).
    pub fn normalize(&self) -> Path {
        let mut out: Vec<Component> = Vec::new();
        for c in &self.components {
            match c {
                Component::CurDir => {}
                Component::ParentDir => match out.last() {
                    Some(Component::Name(_)) => {
                        out.pop();
                    }
                    _ if self.absolute => {}
                    _ => out.push(Component::ParentDir),
                },
                Component::Name(_) => out.push(c.clone()),
            }
        }
        Path {
            absolute: self.absolute,
            components: out,
            version: self.version,
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.absolute {
            f.write_str("/")?;
        } else if self.components.is_empty() {
            f.write_str(".")?;
        }
        for (i, c) in self.components.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            match c {
                Component::CurDir => f.write_str(".")?,
                Component::ParentDir => f.write_str("..")?,
                Component::Name(name) => f.write_str(name)?,
            }
        }
        if let Some(v) = self.version {
            write!(f, "@v{v}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Path {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Path::parse(s)
    }
}

/// Something that can be turned into a [`Path`]: `&str`, `String`, `&Path`, `Path`.
pub trait IntoPath {
    /// Parses or clones into a path.
    fn into_path(self) -> Result<Path>;
}

impl IntoPath for &str {
    fn into_path(self) -> Result<Path> {
        Path::parse(self)
    }
}

impl IntoPath for &String {
    fn into_path(self) -> Result<Path> {
        Path::parse(self)
    }
}

impl IntoPath for String {
    fn into_path(self) -> Result<Path> {
        Path::parse(&self)
    }
}

impl IntoPath for &Path {
    fn into_path(self) -> Result<Path> {
        Ok(self.clone())
    }
}

impl IntoPath for Path {
    fn into_path(self) -> Result<Path> {
        Ok(self)
    }
}

/// Checks that `name` can be the name of a new entry: not empty, not `.` or `..`, no NUL
/// or `/`, at most [`MAX_NAME_LEN`] bytes, and not ending in a version suffix (`@v3`), which
/// would make `name@vN` ambiguous.
pub fn validate_name(name: &str) -> Result<()> {
    if name == "." || name == ".." {
        return Err(Error::invalid_path(name, "not a name for a new entry"));
    }
    if name.contains('/') {
        return Err(Error::invalid_path(name, "a name cannot contain '/'"));
    }
    check_name_chars(name).map_err(|why| Error::invalid_path(name, why))?;
    if split_version(name).1.is_some() {
        return Err(Error::invalid_path(
            name,
            "a name cannot end in a version suffix like @v1",
        ));
    }
    Ok(())
}

fn check_name_chars(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("empty name".into());
    }
    if name.contains('\0') {
        return Err("a name cannot contain NUL".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "a name is at most {MAX_NAME_LEN} bytes, this one is {}",
            name.len()
        ));
    }
    Ok(())
}

/// Splits `name@vN` into `name` and the parsed N. `None` when there is no suffix.
fn split_version(name: &str) -> (&str, Option<std::result::Result<u64, String>>) {
    let Some(at) = name.rfind("@v") else {
        return (name, None);
    };
    let digits = &name[at + 2..];
    if at == 0 || digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return (name, None);
    }
    let parsed = match digits.parse::<u64>() {
        // A stored file's versions start at v1; an external Delta table's at v0.
        Ok(v) => Ok(v),
        Err(_) => Err(format!("version {digits} is too large")),
    };
    (&name[..at], Some(parsed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn names(p: &Path) -> Vec<String> {
        p.components()
            .iter()
            .map(|c| match c {
                Component::CurDir => ".".into(),
                Component::ParentDir => "..".into(),
                Component::Name(n) => n.clone(),
            })
            .collect()
    }

    #[test]
    fn parses_absolute_relative_and_dots() {
        let p = Path::parse("/a/./b/../c/").unwrap();
        assert!(p.is_absolute());
        assert_eq!(names(&p), ["a", ".", "b", "..", "c"]);
        assert_eq!(p.normalize().to_string(), "/a/c");
        let p = Path::parse("../x").unwrap();
        assert!(!p.is_absolute());
        assert_eq!(p.normalize().to_string(), "../x");
        assert_eq!(Path::parse("/").unwrap(), Path::root());
        assert_eq!(Path::parse("/..").unwrap().normalize(), Path::root());
    }

    #[test]
    fn parses_versions_on_the_last_component() {
        let p = Path::parse("/d/data.csv@v12").unwrap();
        assert_eq!(p.version(), Some(12));
        assert_eq!(p.file_name(), Some("data.csv"));
        assert_eq!(p.to_string(), "/d/data.csv@v12");
        assert_eq!(p.without_version().to_string(), "/d/data.csv");
        // Not a version suffix: kept as part of the name.
        for name in ["a@v", "a@vx", "@v1", "a@b"] {
            let p = Path::parse(name).unwrap();
            assert_eq!(p.version(), None, "{name}");
            assert_eq!(p.file_name(), Some(name));
        }
    }

    #[test]
    fn rejects_bad_paths() {
        let long = "x".repeat(256);
        for bad in [
            "",
            "a//b",
            "a\0b",
            long.as_str(),
            "/d@v1/x",
            "/a@v99999999999999999999999",
            "..@v1",
        ] {
            let err = Path::parse(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidPath, "{bad:?}: {err}");
        }
        assert!(Path::parse(&"x".repeat(255)).is_ok());
    }

    #[test]
    fn validates_new_names() {
        for bad in ["", ".", "..", "a/b", "a\0", "x@v1"] {
            assert_eq!(
                validate_name(bad).unwrap_err().kind(),
                ErrorKind::InvalidPath,
                "{bad:?}"
            );
        }
        validate_name("ok name.csv").unwrap();
        validate_name("a@b").unwrap();
    }

    #[test]
    fn error_names_the_path_and_reason() {
        let err = Path::parse("a//b").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid path \"a//b\": empty name between slashes"
        );
    }
}
