//! Roles and the single authorisation check every route goes through.

use http::HeaderMap;

use super::{AuthError, Claims, JwtKeys};
pub use crate::domain::Role;

/// Who may call a route. Declared next to every route in each function's route table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Anyone,
    /// Exactly a customer (their own resources).
    Customer,
    /// Staff or admin.
    Staff,
    Admin,
    /// Any signed-in principal: customer, staff or admin.
    SignedIn,
    /// A customer on their own resources, or a current staff member (or admin) on anyone's:
    /// the skeleton re-reads a staff caller's account, the handler checks the customer owns
    /// what they name (404 otherwise, as for an unknown id).
    OwnerOrStaff,
    /// A customer by bearer token, or else a guest by `X-Guest-Token` (a guest cart). A bearer
    /// token, when sent, decides: a staff token is 403 even with a guest token beside it.
    CustomerOrGuest,
}

impl Access {
    pub fn allows(&self, role: Role) -> bool {
        match self {
            Access::Anyone | Access::SignedIn | Access::OwnerOrStaff => true,
            Access::Customer | Access::CustomerOrGuest => role == Role::Customer,
            Access::Staff => matches!(role, Role::Staff | Role::Admin),
            Access::Admin => role == Role::Admin,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Access::Anyone | Access::SignedIn | Access::OwnerOrStaff => "signed-in",
            Access::Customer => "customer",
            Access::CustomerOrGuest => "customer (or guest token)",
            Access::Staff => "staff",
            Access::Admin => "admin",
        }
    }
}

/// The authenticated caller, taken from a verified access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    pub role: Role,
    pub session_id: String,
    pub claims: Claims,
}

/// The header that carries a guest cart's token.
pub const GUEST_TOKEN_HEADER: &str = "x-guest-token";

/// Verifies the bearer token and checks the role. `Ok(None)` for `Access::Anyone`, and for
/// `Access::CustomerOrGuest` when there is no `Authorization` header but an `X-Guest-Token`
/// (the handler then looks the guest cart up by it: the token is the credential).
impl Principal {
    /// The customer a customer token speaks for (an invalid token for anything else).
    pub fn customer_id(&self) -> Result<crate::domain::CustomerId, AuthError> {
        crate::domain::CustomerId::parse(&self.subject).ok_or(AuthError::InvalidToken)
    }
}

pub fn authorize(
    headers: &HeaderMap,
    access: Access,
    keys: &JwtKeys,
    issuer: &str,
) -> Result<Option<Principal>, AuthError> {
    if access == Access::Anyone {
        return Ok(None);
    }
    let guest = access == Access::CustomerOrGuest
        && !headers.contains_key(http::header::AUTHORIZATION)
        && headers.contains_key(GUEST_TOKEN_HEADER);
    if guest {
        return Ok(None);
    }
    let token = bearer_token(headers)?;
    let claims = keys.verify(token, issuer)?;
    if !access.allows(claims.role) {
        return Err(AuthError::Forbidden(access.name()));
    }
    Ok(Some(Principal { subject: claims.sub.clone(), role: claims.role, session_id: claims.sid.clone(), claims }))
}

fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthError> {
    let value = headers
        .get(http::header::AUTHORIZATION)
        .ok_or(AuthError::MissingToken)?
        .to_str()
        .map_err(|_| AuthError::InvalidToken)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError::InvalidToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::InvalidToken);
    }
    Ok(token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_may_do_what_staff_may_but_customers_may_not() {
        assert!(Access::Staff.allows(Role::Admin));
        assert!(Access::Staff.allows(Role::Staff));
        assert!(!Access::Staff.allows(Role::Customer));
        assert!(!Access::Admin.allows(Role::Staff));
        assert!(!Access::Customer.allows(Role::Staff));
        assert!(Access::SignedIn.allows(Role::Customer));
        assert!(Access::CustomerOrGuest.allows(Role::Customer));
        assert!(!Access::CustomerOrGuest.allows(Role::Staff));
        assert!(!Access::CustomerOrGuest.allows(Role::Admin));
    }

    #[test]
    fn a_guest_token_stands_in_only_where_no_bearer_token_is_sent() {
        let keys = JwtKeys::new(None, vec![], "test", std::time::Duration::from_secs(60));
        let mut headers = HeaderMap::new();
        assert_eq!(authorize(&headers, Access::CustomerOrGuest, &keys, "https://test"), Err(AuthError::MissingToken));
        headers.insert(GUEST_TOKEN_HEADER, "anything".parse().expect("header"));
        assert_eq!(authorize(&headers, Access::CustomerOrGuest, &keys, "https://test"), Ok(None));
        assert_eq!(authorize(&headers, Access::Customer, &keys, "https://test"), Err(AuthError::MissingToken));
        headers.insert(http::header::AUTHORIZATION, "Bearer forged".parse().expect("header"));
        assert_eq!(authorize(&headers, Access::CustomerOrGuest, &keys, "https://test"), Err(AuthError::InvalidToken));
    }

    #[test]
    fn bearer_scheme_is_required() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer_token(&headers), Err(AuthError::MissingToken));
        headers.insert(http::header::AUTHORIZATION, "Basic abc".parse().expect("header"));
        assert_eq!(bearer_token(&headers), Err(AuthError::InvalidToken));
        headers.insert(http::header::AUTHORIZATION, "bearer abc".parse().expect("header"));
        assert_eq!(bearer_token(&headers), Ok("abc"));
    }
}
