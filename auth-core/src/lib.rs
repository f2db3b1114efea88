//! Authentication: ES256 JWT access tokens, opaque refresh tokens, one-time codes, TOTP, signed
//! list cursors, the secrets that key them all, and the one place where routes state which role
//! they need. No I/O: the store and the services use it; the checks that re-read an account at
//! request time are the edge's (`edge::current`).
//!
//! Layer: `domain` ← `auth-core` ← `platform`, `services`, `edge`.

// The domain as `crate::domain` (and its timestamps as `crate::time`), the paths this code had
// when it was part of `shared`.
use ::domain::{self, time};

pub mod cursor;
pub mod es256;
pub mod jwt;
pub mod keys;
pub mod otp;
pub mod refresh;
pub mod roles;
pub mod signing;
pub mod totp;

pub use crate::domain::password;
pub use jwt::{Claims, JwtKeys};
pub use roles::{Principal, Role};

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("missing bearer token")]
    MissingToken,
    #[error("invalid or expired token")]
    InvalidToken,
    #[error("this route needs the {0} role")]
    Forbidden(&'static str),
    #[error("could not sign a token")]
    Signing,
    #[error("this function has no {0} key")]
    NoKey(&'static str),
}
