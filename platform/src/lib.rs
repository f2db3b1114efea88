//! What every function runs on, below the use cases: configuration read once at init, the
//! handlers' clock, the secrets and the keys derived from them, the delivery of codes by SMS and
//! email, JSON logs and metrics.
//!
//! Layer: `domain`, `auth-core` ← `platform` ← `services` ← `edge`; it knows nothing of the
//! store, the use cases or HTTP.

pub mod clock;
pub mod config;
pub mod email;
pub mod logging;
pub mod metrics;
pub mod oidc;
pub mod secrets;
pub mod sms;

// The domain as `crate::domain` (and its timestamps as `crate::time`), the paths this code had
// when it was part of `shared`.
use ::domain::{self, time};
