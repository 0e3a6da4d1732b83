//! Converting the traces' code-point positions to the UTF-16 offsets yrs counts in.
//!
//! yrs 0.28 counts text offsets in bytes or UTF-16 units, never in code points, while traces
//! count code points. The two differ only after characters outside the Basic Multilingual Plane
//! (emoji and the like, two UTF-16 units each), so this keeps the sorted code-point positions of
//! just those characters: conversion is free for the usual BMP-only text and stays cheap with a
//! few emoji, without a shadow copy of the whole document.

/// Code-point positions of the astral (non-BMP) characters of one text.
#[derive(Debug, Default)]
pub(crate) struct AstralIndex {
    positions: Vec<usize>,
}

fn is_astral(c: char) -> bool {
    c.len_utf16() == 2
}

impl AstralIndex {
    pub(crate) fn new(text: &str) -> Self {
        AstralIndex {
            positions: astral_positions(text, 0).collect(),
        }
    }

    /// Number of astral characters in the text.
    pub(crate) fn count(&self) -> usize {
        self.positions.len()
    }

    fn count_before(&self, pos: usize) -> usize {
        self.positions.partition_point(|&p| p < pos)
    }

    /// UTF-16 offset of code point `pos`.
    pub(crate) fn utf16_offset(&self, pos: usize) -> usize {
        pos + self.count_before(pos)
    }

    /// Records that `del` code points were deleted at `pos`.
    pub(crate) fn delete(&mut self, pos: usize, del: usize) {
        let (from, to) = (self.count_before(pos), self.count_before(pos + del));
        self.positions.drain(from..to);
        for p in &mut self.positions[from..] {
            *p -= del;
        }
    }

    /// Records that `inserted` was inserted at code point `pos`.
    pub(crate) fn insert(&mut self, pos: usize, inserted: &str) {
        let at = self.count_before(pos);
        if at < self.positions.len() {
            let shift = inserted.chars().count();
            for p in &mut self.positions[at..] {
                *p += shift;
            }
        }
        if inserted.chars().any(is_astral) {
            self.positions
                .splice(at..at, astral_positions(inserted, pos).collect::<Vec<_>>());
        }
    }
}

fn astral_positions(text: &str, base: usize) -> impl Iterator<Item = usize> + '_ {
    text.chars()
        .enumerate()
        .filter(|&(_, c)| is_astral(c))
        .map(move |(i, _)| base + i)
}
