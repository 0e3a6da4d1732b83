//! What a chat input may be. Bodies are unprocessable (422) when a field breaks these rules, a
//! path segment (the emoji) is a bad request (400). The limits are the ones the OpenAPI
//! document declares on the request schemas.

use crate::error::ApiError;

/// Longest message body, in characters.
pub const MAX_BODY_CHARS: usize = 10_000;
/// Longest client message id (visible ASCII, so bytes are characters).
pub const MAX_CLIENT_ID: usize = 64;
/// Longest reaction, in characters (a flag or a family emoji is several).
pub const MAX_EMOJI_CHARS: usize = 32;
/// Longest channel topic, in characters.
pub const MAX_TOPIC_CHARS: usize = 1_000;

/// A message body: 1 to 10,000 characters, kept as sent, without NUL (which no database text
/// column takes).
pub fn body(body: &str) -> Result<&str, ApiError> {
    let chars = body.chars().count();
    if chars == 0 || chars > MAX_BODY_CHARS {
        return Err(ApiError::unprocessable(format!(
            "body must be 1 to {MAX_BODY_CHARS} characters long, not {chars}"
        )));
    }
    if body.contains('\0') {
        return Err(ApiError::unprocessable("body must not contain NUL"));
    }
    Ok(body)
}

/// A client message id: 1 to 64 visible ASCII characters (`!` to `~`).
pub fn client_id(id: &str) -> Result<&str, ApiError> {
    let visible = id.bytes().all(|b| b.is_ascii_graphic());
    if id.is_empty() || id.len() > MAX_CLIENT_ID || !visible {
        return Err(ApiError::unprocessable(format!(
            "client_id must be 1 to {MAX_CLIENT_ID} visible ASCII characters"
        )));
    }
    Ok(id)
}

/// A reaction: 1 to 32 characters, none of them whitespace or control characters.
pub fn emoji(emoji: &str) -> Result<&str, ApiError> {
    let chars = emoji.chars().count();
    let clean = emoji.chars().all(|c| !c.is_whitespace() && !c.is_control());
    if chars == 0 || chars > MAX_EMOJI_CHARS || !clean {
        return Err(ApiError::bad_request(format!(
            "a reaction must be 1 to {MAX_EMOJI_CHARS} characters, without whitespace or control characters"
        )));
    }
    Ok(emoji)
}

/// A channel name: trimmed, 1 to 100 characters, without NUL.
pub fn channel_name(name: &str) -> Result<String, ApiError> {
    let name = crate::orgs::valid_name(name)?;
    if name.contains('\0') {
        return Err(ApiError::unprocessable("name must not contain NUL"));
    }
    Ok(name)
}

/// A channel topic: trimmed, at most 1,000 characters, without NUL; empty when absent.
pub fn topic(topic: Option<&str>) -> Result<String, ApiError> {
    let topic = topic.unwrap_or_default().trim();
    if topic.chars().count() > MAX_TOPIC_CHARS || topic.contains('\0') {
        return Err(ApiError::unprocessable(format!(
            "topic must be at most {MAX_TOPIC_CHARS} characters long, without NUL"
        )));
    }
    Ok(topic.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_hold_at_their_edges() {
        assert!(body("x").is_ok());
        assert!(body("").is_err());
        assert!(body(&"é".repeat(MAX_BODY_CHARS)).is_ok());
        assert!(body(&"é".repeat(MAX_BODY_CHARS + 1)).is_err());
        assert!(body("a\0b").is_err());
        assert!(body("line one\nline two").is_ok());

        assert!(client_id("a").is_ok());
        assert!(client_id(&"~".repeat(MAX_CLIENT_ID)).is_ok());
        assert!(client_id(&"a".repeat(MAX_CLIENT_ID + 1)).is_err());
        for bad in ["", "a b", "é", "a\tb", "\x7f"] {
            assert!(client_id(bad).is_err(), "{bad:?}");
        }

        for good in ["👍", "❤️", "👨‍👩‍👧‍👦", "🇫🇷", "+1", ":tada:"] {
            assert!(emoji(good).is_ok(), "{good:?}");
        }
        for bad in ["", " ", "👍 ", "a\u{85}", "\u{7}", "\u{a0}"] {
            assert!(emoji(bad).is_err(), "{bad:?}");
        }
        assert!(emoji(&"x".repeat(MAX_EMOJI_CHARS)).is_ok());
        assert!(emoji(&"x".repeat(MAX_EMOJI_CHARS + 1)).is_err());

        assert_eq!(channel_name("  general ").ok().as_deref(), Some("general"));
        assert!(channel_name("a\0").is_err());
        assert_eq!(topic(None).ok().as_deref(), Some(""));
        assert!(topic(Some(&"t".repeat(MAX_TOPIC_CHARS + 1))).is_err());
    }
}
