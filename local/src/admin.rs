//! Creating an admin account: the local stack's `LOCAL_ADMIN_*` admin, and the first admin of a
//! deployed stack (`create-admin`).

use shared::domain::EmailAddress;
use shared::domain::staff::new_staff;
use shared::store::Store;
use shared::time::Timestamp;

#[derive(Debug, PartialEq, Eq)]
pub enum AdminOutcome {
    Created(String),
    AlreadyExists(String),
}

/// Creates an admin with this email unless a staff account with it exists (then nothing
/// changes: an existing password is never overwritten).
pub async fn ensure_admin(store: &Store, email: &str, password: &str, name: &str) -> Result<AdminOutcome, String> {
    let normalised = EmailAddress::parse(email).map_err(|m| format!("admin email {m}"))?;
    if let Some(existing) = store.find_staff_by_email(&normalised).await.map_err(|e| e.to_string())? {
        return Ok(AdminOutcome::AlreadyExists(existing.staff_id.to_string()));
    }
    let admin = new_staff(email, password, name, "admin", Timestamp::now()).map_err(|errors| {
        let problems: Vec<String> = errors.fields().iter().map(|e| format!("{} {}", e.field, e.message)).collect();
        problems.join("; ")
    })?;
    store.create_staff(&admin).await.map_err(|e| e.to_string())?;
    Ok(AdminOutcome::Created(admin.staff_id.to_string()))
}
