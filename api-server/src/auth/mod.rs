//! Accounts and sessions: register, log in, rotate refresh tokens, log out, who am I.
//!
//! A session is a *family* of refresh tokens: logging in starts one, every refresh replaces the
//! token presented by a new one of the same family, and presenting a token that was already
//! replaced revokes the whole family (someone else holds a copy). Access tokens are short JWTs
//! (at most 15 minutes) checked without touching the database.

pub mod password;
pub mod routes;
pub mod tokens;
