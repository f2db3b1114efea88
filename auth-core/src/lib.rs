//! Authentication: ES256 JWT access tokens, opaque refresh tokens, one-time codes, and the one place
//! where routes state which role they need.

pub mod current;
pub mod es256;
pub mod jwt;
pub mod keys;
pub mod otp;
pub mod refresh;
pub mod roles;
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
