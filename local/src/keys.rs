//! The local stack's access-token key: random text kept in a file under `.local/` (git-ignored),
//! made at the first start, so tokens survive a restart and nothing secret is committed.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The key text in `file`, made (48 random bytes, base64url) if the file does not exist.
pub fn kept_access_token_key(file: &Path) -> std::io::Result<String> {
    match std::fs::read_to_string(file) {
        Ok(text) if text.trim().len() >= 32 => return Ok(text.trim().to_string()),
        Ok(_) => tracing::warn!(file = %file.display(), "the kept access-token key is too short; making another"),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    let key = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 48]>());
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut out = std::fs::File::create(file)?;
    restrict_to_owner(&out)?;
    out.write_all(key.as_bytes())?;
    tracing::info!(file = %file.display(), "made the local access-token key");
    Ok(key)
}

#[cfg(unix)]
fn restrict_to_owner(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn restrict_to_owner(_: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("local-key-{:x}", rand::random::<u64>()));
        let file = dir.join("access-token-key");
        let made = kept_access_token_key(&file).expect("made");
        assert!(made.len() >= 32);
        assert_eq!(kept_access_token_key(&file).expect("kept"), made);
        std::fs::remove_dir_all(dir).ok();
    }
}
