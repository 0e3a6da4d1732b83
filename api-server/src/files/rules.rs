//! What a new upload may declare: a file name, a content type on the configured allow-list and
//! a size under the configured maximum. Checked before anything is stored or signed, so a
//! refused declaration leaves nothing behind.

use crate::Config;
use crate::error::ApiError;

/// Longest file name, in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// Longest content type, in characters.
pub const MAX_CONTENT_TYPE_CHARS: usize = 255;

/// A declaration that passed every rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub name: String,
    /// As the upload must send it (trimmed; case and parameters kept).
    pub content_type: String,
    pub size: u64,
}

/// Checks a declared upload against the rules and `config`'s limits.
pub fn check(
    config: &Config,
    name: &str,
    content_type: &str,
    size: u64,
) -> Result<Declared, ApiError> {
    check_name(name)?;
    let content_type = check_content_type(&config.upload_types, content_type)?;
    if size > config.upload_max_bytes {
        return Err(ApiError::unprocessable(format!(
            "the file is {size} bytes; uploads may be at most {} bytes",
            config.upload_max_bytes
        )));
    }
    Ok(Declared {
        name: name.to_owned(),
        content_type,
        size,
    })
}

/// A file name is 1 to 255 characters without control characters or path separators, since
/// clients save files under it.
pub fn check_name(name: &str) -> Result<(), ApiError> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(ApiError::unprocessable(format!(
            "the file name must be 1 to {MAX_NAME_CHARS} characters long"
        )));
    }
    if name
        .chars()
        .any(|c| c.is_control() || c == '/' || c == '\\')
    {
        return Err(ApiError::unprocessable(
            "the file name must not contain control characters, `/` or `\\`",
        ));
    }
    Ok(())
}

/// The content type, without surrounding blanks, if it is a printable ASCII header value whose media type
/// (without parameters, ignoring case) is one of `allowed`.
pub fn check_content_type(allowed: &[String], content_type: &str) -> Result<String, ApiError> {
    let content_type = content_type.trim_matches([' ', '\t']);
    if content_type.is_empty()
        || content_type.chars().count() > MAX_CONTENT_TYPE_CHARS
        || !content_type.chars().all(|c| matches!(c, ' '..='~'))
    {
        return Err(ApiError::unprocessable(format!(
            "the content type must be 1 to {MAX_CONTENT_TYPE_CHARS} printable ASCII characters"
        )));
    }
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim_end();
    if !allowed
        .iter()
        .any(|t| !t.trim().is_empty() && t.trim().eq_ignore_ascii_case(essence))
    {
        let list: Vec<&str> = allowed
            .iter()
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .collect();
        return Err(ApiError::unprocessable(format!(
            "files of type {essence:?} are not accepted; allowed types: {}",
            list.join(", ")
        )));
    }
    Ok(content_type.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        vec!["text/plain".into(), " image/PNG ".into(), String::new()]
    }

    #[test]
    fn names() {
        for ok in [
            "a",
            "report (final).pdf",
            "日本語.txt",
            &"x".repeat(255),
            " spaced ",
        ] {
            assert!(check_name(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "",
            &"x".repeat(256),
            "a/b",
            "a\\b",
            "tab\there",
            "nul\0",
            "del\u{7f}",
            "c1\u{85}",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(
            check_content_type(&allowed(), " text/plain; charset=utf-8 ").unwrap(),
            "text/plain; charset=utf-8"
        );
        assert_eq!(
            check_content_type(&allowed(), "Image/Png").unwrap(),
            "Image/Png"
        );
        for bad in [
            "",
            "   ",
            "text/html",
            "text/plain\n",
            "text/plainé",
            "image/png2",
        ] {
            assert!(check_content_type(&allowed(), bad).is_err(), "{bad:?}");
        }
    }
}
