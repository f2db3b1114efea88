//! Media: what may be uploaded (types, sizes, purposes), the upload request's rules, and the
//! verification of what was stored, decided on the object's bytes rather than on what the
//! client declared. No I/O here: the service reads the object and hands the bytes in.

use serde::{Deserialize, Serialize};

use super::CustomerId;
use super::time::Timestamp;
use super::validation::ValidationErrors;

/// `MED_` followed by 16 upper-case hex characters (64 random bits: media ids appear in URLs
/// that a customer may share, so they are not guessable).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MediaId(String);

impl MediaId {
    const PREFIX: &'static str = "MED_";

    pub fn generate() -> Self {
        Self(format!("{}{:016X}", Self::PREFIX, rand::random::<u64>()))
    }

    pub fn parse(input: &str) -> Option<Self> {
        let hex = input.strip_prefix(Self::PREFIX)?;
        let valid = hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b));
        valid.then(|| Self(input.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for MediaId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an upload is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    Avatar,
    Document,
    Attachment,
}

impl Purpose {
    pub const ALL: [Purpose; 3] = [Purpose::Avatar, Purpose::Document, Purpose::Attachment];

    pub fn as_str(&self) -> &'static str {
        match self {
            Purpose::Avatar => "avatar",
            Purpose::Document => "document",
            Purpose::Attachment => "attachment",
        }
    }

    pub fn parse(input: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == input)
            .ok_or_else(|| "must be one of avatar, document, attachment".to_string())
    }
}

/// The types the platform knows how to verify by their bytes. Stored and shown as MIME types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum MediaType {
    Jpeg,
    Png,
    Webp,
    Gif,
    Pdf,
}

impl MediaType {
    pub const ALL: [MediaType; 5] = [MediaType::Jpeg, MediaType::Png, MediaType::Webp, MediaType::Gif, MediaType::Pdf];

    pub fn mime(&self) -> &'static str {
        match self {
            MediaType::Jpeg => "image/jpeg",
            MediaType::Png => "image/png",
            MediaType::Webp => "image/webp",
            MediaType::Gif => "image/gif",
            MediaType::Pdf => "application/pdf",
        }
    }

    /// A short name for messages and configuration (`jpeg`, `png`, `webp`, `gif`, `pdf`).
    pub fn name(&self) -> &'static str {
        match self {
            MediaType::Jpeg => "jpeg",
            MediaType::Png => "png",
            MediaType::Webp => "webp",
            MediaType::Gif => "gif",
            MediaType::Pdf => "pdf",
        }
    }

    /// From a MIME type as a client sends it (`image/jpeg`, `IMAGE/JPG`, with parameters).
    pub fn from_mime(input: &str) -> Option<Self> {
        let essence = input.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        let essence = if essence == "image/jpg" { "image/jpeg".to_string() } else { essence };
        Self::ALL.into_iter().find(|t| t.mime() == essence)
    }

    /// From a configuration name (`jpeg` or `image/jpeg`).
    pub fn from_name(input: &str) -> Option<Self> {
        let input = input.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|t| t.name() == input || (input == "jpg" && *t == MediaType::Jpeg))
            .or_else(|| Self::from_mime(&input))
    }

    pub fn is_image(&self) -> bool {
        !matches!(self, MediaType::Pdf)
    }

    /// What the first bytes of a file say it is, by its magic number.
    pub fn detect(head: &[u8]) -> Option<Self> {
        infer::get(head).and_then(|kind| Self::from_mime(kind.mime_type()))
    }
}

impl From<MediaType> for String {
    fn from(kind: MediaType) -> Self {
        kind.mime().to_string()
    }
}

impl TryFrom<String> for MediaType {
    type Error = String;

    fn try_from(mime: String) -> Result<Self, Self::Error> {
        Self::from_mime(&mime).ok_or_else(|| format!("{mime} is not a known media type"))
    }
}

/// The default allow-list of the contract: JPEG, PNG, WebP, GIF and PDF; 10 MB per file, and
/// avatars images of at most 5 MB.
pub const DEFAULT_MAX_BYTES: u64 = 10 * 1024 * 1024;
pub const DEFAULT_AVATAR_MAX_BYTES: u64 = 5 * 1024 * 1024;
/// Files in one bulk request.
pub const MAX_BULK_FILES: usize = 20;
pub const MAX_FILENAME_CHARS: usize = 255;

/// What a deployment accepts (template parameters; the contract's defaults otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPolicy {
    pub allowed: Vec<MediaType>,
    pub max_bytes: u64,
    pub avatar_max_bytes: u64,
}

impl Default for MediaPolicy {
    fn default() -> Self {
        Self {
            allowed: MediaType::ALL.to_vec(),
            max_bytes: DEFAULT_MAX_BYTES,
            avatar_max_bytes: DEFAULT_AVATAR_MAX_BYTES,
        }
    }
}

impl MediaPolicy {
    fn limit_for(&self, purpose: Purpose) -> u64 {
        match purpose {
            Purpose::Avatar => self.avatar_max_bytes.min(self.max_bytes),
            _ => self.max_bytes,
        }
    }
}

/// One upload as a client asks for it (`POST /v1/media/uploads`, or one of `files` in bulk).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadInput {
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    pub purpose: String,
    #[serde(default)]
    pub customer_id: Option<String>,
}

impl crate::JsonBody for UploadInput {
    const FIELDS: &'static [&'static str] = &["filename", "content_type", "size", "purpose", "customer_id"];
}

/// An upload that passed every rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRequest {
    pub filename: String,
    pub media_type: MediaType,
    pub size: u64,
    pub purpose: Purpose,
    /// The customer it is for, when the body named one.
    pub customer_id: Option<CustomerId>,
}

impl UploadInput {
    /// Checks every field, naming each bad one under `prefix` (`""`, or `files[3].` in bulk).
    pub fn validate(&self, policy: &MediaPolicy, prefix: &str) -> Result<UploadRequest, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let field = |name: &str| format!("{prefix}{name}");
        let filename = errors.check(&field("filename"), clean_filename(&self.filename));
        let purpose = errors.check(&field("purpose"), Purpose::parse(&self.purpose));
        let media_type = errors.check(&field("content_type"), allowed_type(&self.content_type, policy));
        if let (Some(Purpose::Avatar), Some(kind)) = (purpose, media_type)
            && !kind.is_image()
        {
            errors.add(field("content_type"), "an avatar must be an image");
        }
        let size = errors.check(&field("size"), allowed_size(self.size, purpose, policy));
        let customer_id = match &self.customer_id {
            None => None,
            Some(raw) => errors.check(
                &field("customer_id"),
                CustomerId::parse(raw).map(Some).ok_or_else(|| "not a customer id (CUST_ + 8 hex)".to_string()),
            ),
        };
        errors.clone().into_result()?;
        match (filename, media_type, size, purpose) {
            (Some(filename), Some(media_type), Some(size), Some(purpose)) => {
                Ok(UploadRequest { filename, media_type, size, purpose, customer_id: customer_id.flatten() })
            }
            _ => Err(errors),
        }
    }
}

fn allowed_type(input: &str, policy: &MediaPolicy) -> Result<MediaType, String> {
    let allowed = || policy.allowed.iter().map(MediaType::mime).collect::<Vec<_>>().join(", ");
    match MediaType::from_mime(input) {
        Some(kind) if policy.allowed.contains(&kind) => Ok(kind),
        _ => Err(format!("must be one of {}", allowed())),
    }
}

fn allowed_size(size: u64, purpose: Option<Purpose>, policy: &MediaPolicy) -> Result<u64, String> {
    let limit = policy.limit_for(purpose.unwrap_or(Purpose::Document));
    match size {
        0 => Err("must be at least 1 byte".into()),
        size if size > limit => Err(format!("must be at most {limit} bytes for this purpose")),
        size => Ok(size),
    }
}

/// A file name as shown back to people: trimmed, 1 to 255 characters, no control characters
/// and no path (only the last segment of `a/b\c.png` is kept). It never names the object.
pub fn clean_filename(input: &str) -> Result<String, String> {
    let last = input.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    if last.is_empty() || last == "." || last == ".." {
        return Err("must name a file".into());
    }
    if last.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    if last.chars().count() > MAX_FILENAME_CHARS {
        return Err(format!("must be at most {MAX_FILENAME_CHARS} characters"));
    }
    Ok(last.to_string())
}

/// Where a media item is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaStatus {
    /// Slot issued; nothing verified yet.
    Pending,
    /// Being verified (and, for an avatar, re-encoded) by one worker holding a lease.
    Processing,
    /// Verified; the only status that may be downloaded.
    Ready,
    /// Failed verification; the object was removed.
    Rejected,
}

impl MediaStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            MediaStatus::Pending => "pending",
            MediaStatus::Processing => "processing",
            MediaStatus::Ready => "ready",
            MediaStatus::Rejected => "rejected",
        }
    }

    pub fn is_final(&self) -> bool {
        matches!(self, MediaStatus::Ready | MediaStatus::Rejected)
    }
}

/// How many bytes of the start and of the end of an object the verification reads.
pub const HEAD_BYTES: u64 = 8 * 1024;
pub const TAIL_BYTES: u64 = 1024;

/// Why an object was rejected; the message is what the client is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    NotUploaded,
    SizeMismatch {
        declared: u64,
        stored: u64,
    },
    UnknownContent {
        declared: MediaType,
    },
    WrongType {
        declared: MediaType,
        found: MediaType,
    },
    Truncated {
        declared: MediaType,
    },
    Undecodable(String),
    /// An image larger than an avatar may be, told from its header before any pixel is decoded.
    TooManyPixels {
        width: u32,
        height: u32,
    },
    /// An image whose decoded pixels (at its colour depth) exceed what the processor may hold.
    TooDeep {
        width: u32,
        height: u32,
        decoded_bytes: u64,
    },
}

/// The most pixels an avatar may have (API.md: 40 megapixels) ...
pub const MAX_AVATAR_PIXELS: u64 = 40_000_000;
/// ... and the longest side it may have.
pub const MAX_AVATAR_SIDE: u32 = 10_000;

/// Whether an image of these dimensions may be decoded as an avatar (checked from the header).
pub fn check_avatar_dimensions(width: u32, height: u32) -> Result<(), Rejection> {
    let pixels = u64::from(width) * u64::from(height);
    if width > MAX_AVATAR_SIDE || height > MAX_AVATAR_SIDE || pixels > MAX_AVATAR_PIXELS {
        return Err(Rejection::TooManyPixels { width, height });
    }
    Ok(())
}

impl Rejection {
    pub fn message(&self) -> String {
        match self {
            Rejection::NotUploaded => "no file was uploaded to the upload URL".into(),
            Rejection::SizeMismatch { declared, stored } => {
                format!("the uploaded file is {stored} bytes, not the {declared} bytes declared")
            }
            Rejection::UnknownContent { declared } => {
                format!("the uploaded file is not a {} file (its content matches no allowed type)", declared.name())
            }
            Rejection::WrongType { declared, found } => {
                format!("the uploaded file is a {} file, not the {} declared", found.name(), declared.name())
            }
            Rejection::Truncated { declared } => format!("the uploaded {} file is truncated", declared.name()),
            Rejection::Undecodable(why) => format!("the uploaded image cannot be decoded: {why}"),
            Rejection::TooManyPixels { width, height } => format!(
                "the uploaded image is {width} × {height} pixels; an avatar may have at most {} megapixels \
                 and {MAX_AVATAR_SIDE} pixels a side",
                MAX_AVATAR_PIXELS / 1_000_000
            ),
            Rejection::TooDeep { width, height, decoded_bytes } => format!(
                "the uploaded image ({width} × {height} pixels) would take {} MiB to decode; use 8 bits per channel",
                decoded_bytes.div_ceil(1024 * 1024)
            ),
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

/// What the verification knows of a stored object: its size, its first bytes and its last.
pub struct StoredObject<'a> {
    pub size: u64,
    pub head: &'a [u8],
    pub tail: &'a [u8],
}

/// The verdict on a stored object: present, the size declared, the type declared by its magic
/// bytes, and complete by its format's trailer.
pub fn verify(declared_type: MediaType, declared_size: u64, stored: Option<&StoredObject>) -> Result<(), Rejection> {
    let stored = stored.ok_or(Rejection::NotUploaded)?;
    if stored.size != declared_size {
        return Err(Rejection::SizeMismatch { declared: declared_size, stored: stored.size });
    }
    match MediaType::detect(stored.head) {
        None => return Err(Rejection::UnknownContent { declared: declared_type }),
        Some(found) if found != declared_type => return Err(Rejection::WrongType { declared: declared_type, found }),
        Some(_) => {}
    }
    if !is_complete(declared_type, stored) {
        return Err(Rejection::Truncated { declared: declared_type });
    }
    Ok(())
}

/// Whether the file ends the way its format ends: a cheap check that catches an upload cut
/// short, without reading the whole object.
fn is_complete(kind: MediaType, stored: &StoredObject) -> bool {
    let tail = trim_trailing_padding(stored.tail, kind);
    match kind {
        MediaType::Png => tail.ends_with(&[0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82]),
        MediaType::Jpeg => tail.ends_with(&[0xFF, 0xD9]),
        MediaType::Gif => tail.ends_with(&[0x3B]),
        MediaType::Pdf => contains(tail, b"%%EOF"),
        // RIFF's length field (bytes 4..8, little-endian) counts everything after the first 8.
        MediaType::Webp => stored
            .head
            .get(4..8)
            .map(|b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])) + 8)
            .is_some_and(|riff| riff == stored.size || riff + 1 == stored.size),
    }
}

/// Writers often add a newline after `%%EOF` or zero padding after an image's end marker.
fn trim_trailing_padding(tail: &[u8], kind: MediaType) -> &[u8] {
    let pad = |b: &u8| match kind {
        MediaType::Pdf => b.is_ascii_whitespace(),
        _ => *b == 0,
    };
    let end = tail.iter().rposition(|b| !pad(b)).map_or(0, |i| i + 1);
    &tail[..end]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// One stored rendition of a media item: the upload itself (`original`) or one the processor
/// made (`thumb`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    pub key: String,
    pub content_type: MediaType,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

/// A media item: the record of one upload and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    pub media_id: MediaId,
    pub customer_id: CustomerId,
    pub purpose: Purpose,
    pub filename: String,
    pub content_type: MediaType,
    pub size: u64,
    pub status: MediaStatus,
    pub created_at: Timestamp,
    /// `created_at` in milliseconds: orders a customer's list.
    pub created_ms: i64,
    /// Who asked for the upload slot (the customer, or a staff id).
    pub uploaded_by: String,
    /// Why it was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What can be downloaded once ready, by name (`original`, and `thumb` for an avatar).
    /// Left out of the item while empty (see `Cart::lines`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub variants: std::collections::BTreeMap<String, Variant>,
}

/// Every object of a customer's media lies under this prefix.
pub fn customer_prefix(customer: &CustomerId) -> String {
    format!("media/{customer}/")
}

impl Media {
    /// The object a client uploads to: chosen by the server, never from the file name.
    pub fn upload_key(&self) -> String {
        format!("media/{}/{}", self.customer_id, self.media_id)
    }

    /// Where the processor writes a rendition of this item (beside the upload, under `media/`).
    pub fn variant_key(&self, name: &str) -> String {
        format!("media/{}/{}/{name}", self.customer_id, self.media_id)
    }

    /// The stable URL an avatar is shown at (`avatar_url`).
    pub fn download_path(&self) -> String {
        format!("/v1/media/{}/download", self.media_id)
    }

    pub fn to_json(&self) -> serde_json::Value {
        let variants: serde_json::Map<String, serde_json::Value> = self
            .variants
            .iter()
            .map(|(name, v)| {
                (
                    name.clone(),
                    serde_json::json!({
                        "content_type": v.content_type.mime(),
                        "size": v.size,
                        "width": v.width,
                        "height": v.height,
                    }),
                )
            })
            .collect();
        serde_json::json!({
            "media_id": self.media_id,
            "customer_id": self.customer_id,
            "purpose": self.purpose.as_str(),
            "filename": self.filename,
            "content_type": self.content_type.mime(),
            "size": self.size,
            "status": self.status.as_str(),
            "reason": self.reason,
            "created_at": self.created_at,
            "variants": variants,
        })
    }
}

/// The media id an `avatar_url` of this platform points at.
pub fn avatar_media_id(avatar_url: &str) -> Option<MediaId> {
    avatar_url.strip_prefix("/v1/media/")?.strip_suffix("/download").and_then(MediaId::parse)
}

/// Which object an S3 key names: an upload (`media/<customer>/<media>`) or one of the
/// renditions the processor wrote beside it (which it must not process again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectKey {
    Upload { customer_id: CustomerId, media_id: MediaId },
    Rendition,
    Foreign,
}

impl ObjectKey {
    pub fn parse(key: &str) -> Self {
        let mut parts = key.split('/');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("media"), Some(customer), Some(media), None) => {
                match (CustomerId::parse(customer), MediaId::parse(media)) {
                    (Some(customer_id), Some(media_id)) => ObjectKey::Upload { customer_id, media_id },
                    _ => ObjectKey::Foreign,
                }
            }
            (Some("media"), Some(_), Some(_), Some(_)) => ObjectKey::Rendition,
            _ => ObjectKey::Foreign,
        }
    }
}

/// An avatar's re-encoded image and its thumbnail, made by the media processor.
#[derive(Debug, Clone)]
pub struct RenderedAvatar {
    pub image: Vec<u8>,
    pub image_type: MediaType,
    pub width: u32,
    pub height: u32,
    pub thumb: Vec<u8>,
    pub thumb_width: u32,
    pub thumb_height: u32,
}

/// The longest side of an avatar's thumbnail.
pub const THUMB_SIZE: u32 = 256;

#[cfg(test)]
mod tests {
    use super::*;

    const PNG_HEAD: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R'];
    const PNG_END: &[u8] = &[0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82];

    fn object<'a>(size: u64, head: &'a [u8], tail: &'a [u8]) -> StoredObject<'a> {
        StoredObject { size, head, tail }
    }

    #[test]
    fn avatars_are_held_to_forty_megapixels_and_ten_thousand_pixels_a_side() {
        assert_eq!(check_avatar_dimensions(8_000, 5_000), Ok(()), "exactly 40 megapixels");
        assert_eq!(
            check_avatar_dimensions(8_000, 5_001),
            Err(Rejection::TooManyPixels { width: 8_000, height: 5_001 })
        );
        assert_eq!(check_avatar_dimensions(10_001, 10), Err(Rejection::TooManyPixels { width: 10_001, height: 10 }));
        assert_eq!(
            check_avatar_dimensions(u32::MAX, u32::MAX).map_err(|r| r.message().contains("40 megapixels")),
            Err(true)
        );
    }

    #[test]
    fn a_complete_png_passes() {
        assert_eq!(verify(MediaType::Png, 100, Some(&object(100, PNG_HEAD, PNG_END))), Ok(()));
    }

    #[test]
    fn each_failure_is_named() {
        assert_eq!(verify(MediaType::Png, 100, None), Err(Rejection::NotUploaded));
        assert_eq!(
            verify(MediaType::Png, 100, Some(&object(120, PNG_HEAD, PNG_END))),
            Err(Rejection::SizeMismatch { declared: 100, stored: 120 })
        );
        let pdf = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n";
        assert_eq!(
            verify(MediaType::Png, 100, Some(&object(100, pdf, b"%%EOF\n"))),
            Err(Rejection::WrongType { declared: MediaType::Png, found: MediaType::Pdf })
        );
        let html = b"<!DOCTYPE html><html><body>hi</body></html>";
        assert!(matches!(
            verify(MediaType::Pdf, 100, Some(&object(100, html, html))),
            Err(Rejection::UnknownContent { .. } | Rejection::WrongType { .. })
        ));
        assert_eq!(
            verify(MediaType::Png, 100, Some(&object(100, PNG_HEAD, &PNG_END[..6]))),
            Err(Rejection::Truncated { declared: MediaType::Png })
        );
    }

    #[test]
    fn a_pdf_may_end_with_a_newline() {
        let pdf = b"%PDF-1.7\n";
        assert_eq!(verify(MediaType::Pdf, 50, Some(&object(50, pdf, b"trailer\n%%EOF\r\n"))), Ok(()));
    }

    #[test]
    fn upload_rules_name_each_field() {
        let policy = MediaPolicy::default();
        let input = UploadInput {
            filename: "../../etc/passwd".into(),
            content_type: "text/html".into(),
            size: 0,
            purpose: "selfie".into(),
            customer_id: Some("nobody".into()),
        };
        let errors = input.validate(&policy, "files[2].").unwrap_err();
        let fields: Vec<&str> = errors.fields().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["files[2].purpose", "files[2].content_type", "files[2].size", "files[2].customer_id"]);
    }

    #[test]
    fn avatars_are_images_of_at_most_5_mb() {
        let policy = MediaPolicy::default();
        let input = |content_type: &str, size| UploadInput {
            filename: "me.png".into(),
            content_type: content_type.into(),
            size,
            purpose: "avatar".into(),
            customer_id: None,
        };
        assert!(input("image/png", DEFAULT_AVATAR_MAX_BYTES).validate(&policy, "").is_ok());
        assert!(input("image/png", DEFAULT_AVATAR_MAX_BYTES + 1).validate(&policy, "").is_err());
        assert!(input("application/pdf", 10).validate(&policy, "").is_err());
    }

    #[test]
    fn a_filename_keeps_its_last_segment_only() {
        assert_eq!(clean_filename("C:\\Users\\me\\scan 1.pdf").as_deref(), Ok("scan 1.pdf"));
        assert!(clean_filename("a\u{0}b.png").is_err());
        assert!(clean_filename("dir/").is_err());
    }

    #[test]
    fn media_ids_round_trip_and_reject_lookalikes() {
        let id = MediaId::generate();
        assert_eq!(MediaId::parse(id.as_str()), Some(id));
        assert_eq!(MediaId::parse("MED_0123456789abcdef"), None);
        assert_eq!(MediaId::parse("CUST_01234567"), None);
    }
}
