//! Which document names a URL may carry.
//!
//! One path segment of 1–200 characters from `A-Za-z0-9._~:-`: safe as a storage key, a Redis
//! channel suffix and a log field without escaping.

pub const MAX_LEN: usize = 200;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DocNameError {
    #[error("document name is empty")]
    Empty,
    #[error("document name is longer than {MAX_LEN} characters")]
    TooLong,
    #[error("document name may only contain A-Z a-z 0-9 . _ ~ : -")]
    BadCharacter,
}

/// Checks a document name taken from the URL path.
pub fn validate(name: &str) -> Result<(), DocNameError> {
    if name.is_empty() {
        return Err(DocNameError::Empty);
    }
    if name.len() > MAX_LEN {
        return Err(DocNameError::TooLong);
    }
    let ok = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(DocNameError::BadCharacter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_allowed_alphabet_and_refuses_the_rest() {
        assert_eq!(validate("Doc-1.v2_~:x"), Ok(()));
        assert_eq!(validate(&"a".repeat(200)), Ok(()));
        assert_eq!(validate(&"a".repeat(201)), Err(DocNameError::TooLong));
        assert_eq!(validate(""), Err(DocNameError::Empty));
        for bad in ["a/b", "a b", "..%2F", "é", "a?b", "a\0"] {
            assert_eq!(validate(bad), Err(DocNameError::BadCharacter), "{bad}");
        }
    }
}
