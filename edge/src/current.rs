//! Checks against the account as it is now, not as the token remembers it: an admin demoted or
//! disabled a minute ago must not keep admin powers for the rest of the token's lifetime.

use auth_core::{Principal, Role};
use services::App;

use crate::ApiError;
use crate::domain::staff::StaffId;

/// Admin routes re-read the staff member: 403 once demoted, 401 once disabled or gone.
pub async fn ensure_current_admin(app: &App, principal: &Principal) -> Result<(), ApiError> {
    let id = StaffId::parse(&principal.subject)
        .ok_or_else(|| ApiError::Forbidden("this route needs the admin role".into()))?;
    match app.store.get_staff(&id).await? {
        Some(staff) if !staff.disabled && staff.role == Role::Admin => Ok(()),
        Some(staff) if !staff.disabled => Err(ApiError::Forbidden("this route needs the admin role".into())),
        _ => Err(ApiError::Unauthorized("this account is disabled".into())),
    }
}

/// Staff routes re-read the staff member too: 401 once disabled or gone. One read per call; a
/// disabled member's access token stops working at once, not when it expires.
pub async fn ensure_current_staff(app: &App, principal: &Principal) -> Result<(), ApiError> {
    let Some(id) = StaffId::parse(&principal.subject) else {
        return Err(ApiError::Forbidden("this route is for staff".into()));
    };
    match app.store.get_staff(&id).await? {
        Some(staff) if !staff.disabled => Ok(()),
        _ => Err(ApiError::Unauthorized("this account is disabled".into())),
    }
}
