//! RFC 6901 JSON pointers to where a design is wrong, and the list of problems found.
//!
//! The validator walks the JSON once, keeping the pointer of the value it is looking at in one
//! growing string (push a segment on the way down, truncate on the way back), so reporting a
//! problem costs one copy of that string.

use serde::{Deserialize, Serialize};

/// One thing wrong with a design.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    /// RFC 6901 JSON pointer into the submitted design (`""` is the whole design), e.g.
    /// `/children/1/children/0/geometry/width`.
    pub pointer: String,
    /// What is wrong there, for a human.
    pub detail: String,
}

/// The pointer of the value being looked at.
#[derive(Debug, Default)]
pub(crate) struct Pointer(String);

impl Pointer {
    /// Appends a member name; returns the length to [`Pointer::pop`] back to.
    pub(crate) fn push(&mut self, key: &str) -> usize {
        let len = self.0.len();
        self.0.push('/');
        escape_into(&mut self.0, key);
        len
    }

    /// Appends an array index; returns the length to [`Pointer::pop`] back to.
    pub(crate) fn push_index(&mut self, index: usize) -> usize {
        let len = self.0.len();
        self.0.push('/');
        self.0.push_str(&index.to_string());
        len
    }

    pub(crate) fn pop(&mut self, len: usize) {
        self.0.truncate(len);
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// The pointer of member `key` of the value being looked at.
    pub(crate) fn member(&self, key: &str) -> String {
        let mut out = String::with_capacity(self.0.len() + key.len() + 1);
        out.push_str(&self.0);
        out.push('/');
        escape_into(&mut out, key);
        out
    }
}

/// RFC 6901 §3: `~` is written `~0` and `/` is written `~1`.
fn escape_into(out: &mut String, key: &str) {
    for c in key.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
}

/// The problems found so far, at most `max` of them kept.
#[derive(Debug)]
pub(crate) struct Issues {
    list: Vec<Issue>,
    dropped: usize,
    max: usize,
}

impl Issues {
    pub(crate) fn new(max: usize) -> Issues {
        Issues {
            list: Vec::new(),
            dropped: 0,
            max: max.max(1),
        }
    }

    pub(crate) fn push(&mut self, pointer: impl Into<String>, detail: impl Into<String>) {
        if self.list.len() < self.max {
            self.list.push(Issue {
                pointer: pointer.into(),
                detail: detail.into(),
            });
        } else {
            self.dropped += 1;
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Every problem kept, then one counting those that were not.
    pub(crate) fn into_vec(mut self) -> Vec<Issue> {
        if self.dropped > 0 {
            self.list.push(Issue {
                pointer: String::new(),
                detail: format!(
                    "{} more problems were found and not listed (at most {} are)",
                    self.dropped, self.max
                ),
            });
        }
        self.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_pointers_escape_tilde_and_slash() {
        let mut p = Pointer::default();
        let root = p.push("children");
        let child = p.push_index(3);
        assert_eq!(p.as_str(), "/children/3");
        assert_eq!(p.member("a/b~c"), "/children/3/a~1b~0c");
        p.pop(child);
        assert_eq!(p.as_str(), "/children");
        p.pop(root);
        assert_eq!(p.as_str(), "");
    }

    #[test]
    fn design_issues_beyond_the_cap_are_counted() {
        let mut issues = Issues::new(2);
        for i in 0..5 {
            issues.push(format!("/{i}"), "bad");
        }
        let list = issues.into_vec();
        assert_eq!(list.len(), 3);
        assert_eq!(list[1].pointer, "/1");
        assert_eq!(list[2].pointer, "");
        assert!(list[2].detail.starts_with("3 more problems"));
    }
}
