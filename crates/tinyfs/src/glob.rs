//! Glob patterns with captures.
//!
//! A pattern is a path whose segments may hold wildcards:
//!
//! | syntax | matches |
//! |---|---|
//! | `*` | any run of characters within one name, including none |
//! | `?` | exactly one character |
//! | `[abc]`, `[a-z]`, `[!a-z]` | one character in (or, with `!`, not in) the set |
//! | `**` (a whole segment) | any number of directories: none or more in the middle or at the start of a pattern (`**/x.csv`, `a/**/x`), one or more at its end (`a/**` is everything below `a`) |
//! | `\c` | the character `c` itself |
//!
//! Every wildcard captures what it matched, left to right; a `**` captures the directories
//! it spanned joined by `/` (empty when it spanned none). Factories use captures to name
//! what they derive from each match.
//!
//! Names beginning with `.` are matched like any other. `**` does not descend through
//! symlinks, so a symlink cycle cannot make a walk endless, nor into a dynamic directory
//! (a host mount may be a whole disk): `/**` stops at `/mnt`, `/mnt/**` goes inside. A
//! literal segment follows symlinks as resolution does.

use crate::error::{Error, Result};

/// A parsed glob pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    absolute: bool,
    segments: Vec<Segment>,
}

/// One `/`-separated segment of a pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// A name without wildcards (also `.` and `..`): looked up, not listed.
    Literal(String),
    /// A name with wildcards.
    Wild(WildName),
    /// `**`.
    Recursive,
}

/// A name pattern with at least one wildcard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WildName {
    tokens: Vec<Token>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Char(char),
    Star,
    One,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Pattern {
    /// Parses `text`. Errors are [`Error::InvalidPath`]: an empty pattern or segment, an
    /// unclosed `[`, a trailing `\`.
    pub fn parse(text: &str) -> Result<Self> {
        if text.is_empty() {
            return Err(Error::invalid_path(text, "empty glob pattern"));
        }
        let absolute = text.starts_with('/');
        let body = text.strip_prefix('/').unwrap_or(text);
        let body = body.strip_suffix('/').unwrap_or(body);
        let mut segments = Vec::new();
        if !body.is_empty() {
            for seg in body.split('/') {
                segments.push(parse_segment(seg).map_err(|why| Error::invalid_path(text, why))?);
            }
        }
        // `a/**/**/b` means the same as `a/**/b`; folding keeps the walk linear.
        segments.dedup_by(|a, b| *a == Segment::Recursive && *b == Segment::Recursive);
        Ok(Pattern {
            text: text.to_string(),
            absolute,
            segments,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern starts at the root.
    pub fn is_absolute(&self) -> bool {
        self.absolute
    }

    /// The segments.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Whether `text` holds any wildcard (and so should be globbed rather than resolved).
    pub fn has_wildcards(text: &str) -> bool {
        text.contains(['*', '?', '[', '\\'])
    }

    /// Whether the relative path `path` (names joined by `/`) matches, by the rules a walk
    /// follows: what matching names found elsewhere (host files) uses.
    pub fn matches_path(&self, path: &str) -> bool {
        let names: Vec<&str> = path.split('/').filter(|n| !n.is_empty()).collect();
        match_segments(&self.segments, &names)
    }
}

fn match_segments(segments: &[Segment], names: &[&str]) -> bool {
    let Some((segment, rest)) = segments.split_first() else {
        return names.is_empty();
    };
    match segment {
        Segment::Literal(literal) => {
            names.first() == Some(&literal.as_str()) && match_segments(rest, &names[1..])
        }
        Segment::Wild(wild) => names
            .first()
            .is_some_and(|name| wild.matches(name).is_some() && match_segments(rest, &names[1..])),
        // One or more names at the end of a pattern, none or more before another segment.
        Segment::Recursive if rest.is_empty() => !names.is_empty(),
        Segment::Recursive => (0..=names.len()).any(|skip| match_segments(rest, &names[skip..])),
    }
}

fn parse_segment(seg: &str) -> std::result::Result<Segment, String> {
    if seg.is_empty() {
        return Err("empty name between slashes".into());
    }
    if seg == "**" {
        return Ok(Segment::Recursive);
    }
    let mut tokens = Vec::new();
    let mut chars = seg.chars().peekable();
    let mut wild = false;
    while let Some(c) = chars.next() {
        match c {
            '*' => {
                wild = true;
                // `a**b` within one name is the same as `a*b`.
                if tokens.last() != Some(&Token::Star) {
                    tokens.push(Token::Star);
                }
            }
            '?' => {
                wild = true;
                tokens.push(Token::One);
            }
            '\\' => match chars.next() {
                Some(escaped) => tokens.push(Token::Char(escaped)),
                None => return Err("a pattern cannot end with '\\'".into()),
            },
            '[' => {
                wild = true;
                let negated = chars.next_if(|&c| c == '!' || c == '^').is_some();
                let mut ranges = Vec::new();
                let mut first = true;
                loop {
                    let Some(c) = chars.next() else {
                        return Err(format!("unclosed '[' in {seg:?}"));
                    };
                    if c == ']' && !first {
                        break;
                    }
                    first = false;
                    let lo = if c == '\\' {
                        chars
                            .next()
                            .ok_or_else(|| format!("unclosed '[' in {seg:?}"))?
                    } else {
                        c
                    };
                    if chars.peek() == Some(&'-') {
                        let mut ahead = chars.clone();
                        ahead.next();
                        if let Some(&hi) = ahead.peek()
                            && hi != ']'
                        {
                            chars.next();
                            chars.next();
                            if hi < lo {
                                return Err(format!("bad range {lo}-{hi} in {seg:?}"));
                            }
                            ranges.push((lo, hi));
                            continue;
                        }
                    }
                    ranges.push((lo, lo));
                }
                tokens.push(Token::Class { negated, ranges });
            }
            c => tokens.push(Token::Char(c)),
        }
    }
    if wild {
        Ok(Segment::Wild(WildName { tokens }))
    } else {
        let literal: String = tokens
            .into_iter()
            .map(|t| match t {
                Token::Char(c) => c,
                _ => unreachable!("a pattern without wildcards has only characters"),
            })
            .collect();
        Ok(Segment::Literal(literal))
    }
}

impl WildName {
    /// Matches `name`, returning one capture per wildcard, or `None`.
    pub fn matches(&self, name: &str) -> Option<Vec<String>> {
        let chars: Vec<char> = name.chars().collect();
        let mut captures = Vec::new();
        match_tokens(&self.tokens, &chars, &mut captures).then_some(captures)
    }
}

fn match_tokens(tokens: &[Token], name: &[char], captures: &mut Vec<String>) -> bool {
    let Some((token, rest)) = tokens.split_first() else {
        return name.is_empty();
    };
    match token {
        Token::Char(c) => name.first() == Some(c) && match_tokens(rest, &name[1..], captures),
        Token::One | Token::Class { .. } => {
            let Some(&c) = name.first() else {
                return false;
            };
            if let Token::Class { negated, ranges } = token {
                let inside = ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
                if inside == *negated {
                    return false;
                }
            }
            captures.push(c.to_string());
            if match_tokens(rest, &name[1..], captures) {
                return true;
            }
            captures.pop();
            false
        }
        Token::Star => {
            // Shortest match first, so `*.csv` on `a.b.csv` captures `a.b` either way,
            // and `*_*` splits at the first `_`.
            for take in 0..=name.len() {
                captures.push(name[..take].iter().collect());
                if match_tokens(rest, &name[take..], captures) {
                    return true;
                }
                captures.pop();
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn relative_paths_match_as_a_walk_would() {
        let m = |p: &str, path: &str| Pattern::parse(p).unwrap().matches_path(path);
        assert!(m("*.csv", "a.csv"));
        assert!(!m("*.csv", "d/a.csv"));
        assert!(m("**/*.csv", "a.csv"));
        assert!(m("**/*.csv", "d/e/a.csv"));
        assert!(m("d/**", "d/e/a.csv"));
        assert!(!m("d/**", "d"));
        assert!(m("d/*/x", "d/e/x"));
        assert!(!m("d/*/x", "d/x"));
        assert!(m("d/**/x", "d/x"));
        assert!(!m("[!a]*", "a.csv"));
    }

    fn wild(p: &str) -> WildName {
        match parse_segment(p).unwrap() {
            Segment::Wild(w) => w,
            other => panic!("{p}: {other:?}"),
        }
    }

    #[test]
    fn star_question_and_classes_capture() {
        assert_eq!(wild("*.csv").matches("a.b.csv").unwrap(), ["a.b"]);
        assert_eq!(wild("*_*").matches("x_y_z").unwrap(), ["x", "y_z"]);
        assert_eq!(wild("?x").matches("ax").unwrap(), ["a"]);
        assert_eq!(wild("[a-c]*").matches("bob").unwrap(), ["b", "ob"]);
        assert_eq!(wild("[!a-c]*").matches("dan").unwrap(), ["d", "an"]);
        assert!(wild("[!a-c]*").matches("bob").is_none());
        assert_eq!(wild("[abc]").matches("c").unwrap(), ["c"]);
        assert!(wild("[abc]").matches("d").is_none());
        assert!(wild("*.csv").matches("a.csv.bak").is_none());
        assert_eq!(wild("*").matches("").unwrap(), [""]);
        assert_eq!(
            wild("s?_*_[0-9].csv").matches("s1_temp_7.csv").unwrap(),
            ["1", "temp", "7"]
        );
    }

    #[test]
    fn escapes_and_class_edge_cases() {
        assert_eq!(
            parse_segment("a\\*b").unwrap(),
            Segment::Literal("a*b".into())
        );
        assert_eq!(wild("[]a]").matches("]").unwrap(), ["]"]);
        assert_eq!(wild("[a-]").matches("-").unwrap(), ["-"]);
        assert_eq!(wild("*\\?").matches("why?").unwrap(), ["why"]);
    }

    #[test]
    fn segments_and_errors() {
        let p = Pattern::parse("/a/**/**/b*/").unwrap();
        assert!(p.is_absolute());
        assert_eq!(p.segments().len(), 3);
        assert_eq!(p.segments()[1], Segment::Recursive);
        for bad in ["", "a//b", "[ab", "a\\", "[z-a]"] {
            assert_eq!(
                Pattern::parse(bad).unwrap_err().kind(),
                ErrorKind::InvalidPath,
                "{bad:?}"
            );
        }
    }
}
