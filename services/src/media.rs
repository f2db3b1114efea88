//! Media use cases: upload slots (presigned PUTs), the one verification that `complete` and the
//! media processor share, downloads (presigned GETs), deletion and the erase of a customer's
//! media. The bytes never pass through the API: S3 receives them and this code reads back only
//! what it must (the object's size, its first 8 KiB and last 1 KiB; an avatar whole, to
//! re-encode it).
//!
//! Re-encoding needs an image library, which only the processor's binary links: it hands its
//! renderer in through `App::avatar_renderer`. Without one (the API's media function in AWS)
//! an avatar's `complete` waits for the processor, which the bucket's event started when the
//! upload landed.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use aws_sdk_s3::presigning::PresigningConfig;
use store::StoreError;
use store::media::{Claim, MediaStoreError, Outcome};
use thiserror::Error;

use crate::App;
use crate::customers::update_customer;
use crate::domain::audit::{AuditAction, AuditNote};
use crate::domain::media::{
    HEAD_BYTES, Media, MediaId, MediaStatus, ObjectKey, Purpose, Rejection, RenderedAvatar, StoredObject, TAIL_BYTES,
    UploadRequest, Variant, avatar_media_id, verify,
};
use crate::domain::{Customer, CustomerId};
use crate::time::Timestamp;

pub use crate::app::AvatarRenderer;

/// How long a worker holds a media item it verifies before another may take over.
const LEASE_SECONDS: i64 = 60;
/// How long `complete` waits for another worker's outcome (inside the function's timeout).
const WAIT_FOR_OUTCOME: Duration = Duration::from_secs(8);
const POLL_EVERY: Duration = Duration::from_millis(100);
/// The tag a presigned upload carries until its media is ready: the bucket's lifecycle rule
/// expires tagged objects, so an upload never completed does not stay.
pub const PENDING_TAG: &str = "upload=pending";
/// The variant a download serves by default: a verified copy of the upload, or an avatar's
/// re-encoded image.
const ORIGINAL: &str = "original";
/// The key name of an avatar's re-encoded image (kept as it was for avatars already stored).
const ORIGINAL_RENDITION: &str = "image";

#[derive(Debug, Error)]
pub enum MediaError {
    #[error("no such media")]
    NotFound,
    #[error("{}", .0.reason.clone().unwrap_or_default())]
    Rejected(Box<Media>),
    #[error("the media is still being processed")]
    StillProcessing,
    #[error("the media is not ready")]
    NotReady(MediaStatus),
    #[error("storage: {0}")]
    Storage(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<MediaStoreError> for MediaError {
    fn from(err: MediaStoreError) -> Self {
        match err {
            MediaStoreError::NoCustomer => MediaError::NotFound,
            MediaStoreError::Store(err) => MediaError::Store(err),
        }
    }
}

fn storage<E: std::error::Error + 'static>(err: aws_sdk_s3::error::SdkError<E>) -> MediaError {
    MediaError::Storage(aws_sdk_s3::error::DisplayErrorContext(err).to_string())
}

/// A presigned upload: where to PUT the bytes, with which headers, until when.
pub struct UploadSlot {
    pub media: Media,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub expires_at: Timestamp,
}

impl UploadSlot {
    pub fn to_json(&self) -> serde_json::Value {
        let headers: serde_json::Map<String, serde_json::Value> =
            self.headers.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
        serde_json::json!({
            "media_id": self.media.media_id,
            "upload_url": self.url,
            "upload_method": "PUT",
            "upload_headers": headers,
            "expires_at": self.expires_at,
            "media": self.media.to_json(),
        })
    }
}

/// Records a pending media item for `owner` and signs a PUT of exactly the declared type and
/// length (and the pending tag) to the server-chosen key.
pub async fn create_upload(
    app: &App,
    request: UploadRequest,
    owner: CustomerId,
    actor: &str,
) -> Result<UploadSlot, MediaError> {
    let (now, now_ms) = app.clock.now_with_ms();
    let ttl = app.config.media.upload_url_ttl;
    let expires_at = now.plus_seconds(ttl.as_secs() as i64);
    let media = Media {
        media_id: MediaId::generate(),
        customer_id: owner,
        purpose: request.purpose,
        filename: request.filename,
        content_type: request.media_type,
        size: request.size,
        status: MediaStatus::Pending,
        created_at: now,
        created_ms: now_ms,
        uploaded_by: actor.to_string(),
        reason: None,
        variants: Default::default(),
    };
    app.store.create_media(&media, expires_at.unix()).await?;
    let presigning = PresigningConfig::expires_in(ttl).map_err(|e| MediaError::Storage(e.to_string()))?;
    let presigned = app
        .s3()
        .put_object()
        .bucket(&app.config.media_bucket)
        .key(media.upload_key())
        .content_type(media.content_type.mime())
        .content_length(media.size as i64)
        .tagging(PENDING_TAG)
        .presigned(presigning)
        .await
        .map_err(storage)?;
    let headers = presigned.headers().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Ok(UploadSlot { url: presigned.uri().to_string(), headers, expires_at, media })
}

/// Verifies an upload and settles its media item: `ready` (an avatar re-encoded and set as the
/// customer's `avatar_url`) or `Rejected` with the reason and the object removed. Idempotent:
/// a settled item answers as it was settled; one being verified by another caller is waited for.
pub async fn complete(app: &App, id: &MediaId) -> Result<Media, MediaError> {
    let started = Instant::now();
    loop {
        let media = app.store.get_media(id).await?.ok_or(MediaError::NotFound)?;
        match media.status {
            MediaStatus::Ready => return Ok(media),
            MediaStatus::Rejected => return Err(MediaError::Rejected(Box::new(media))),
            MediaStatus::Pending | MediaStatus::Processing => {
                if may_settle_here(app, &media).await?
                    && let Some(claim) = app.store.claim_media(id, app.clock.now().unix(), LEASE_SECONDS).await?
                {
                    settle(app, media, &claim).await?;
                    continue;
                }
            }
        }
        if started.elapsed() > WAIT_FOR_OUTCOME {
            return Err(MediaError::StillProcessing);
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Whether this process may verify `media` itself. An avatar needs the renderer; without one
/// (the API in AWS) the processor does it, except when nothing was uploaded at all, which needs
/// no image library to reject.
async fn may_settle_here(app: &App, media: &Media) -> Result<bool, MediaError> {
    if media.purpose != Purpose::Avatar || app.avatar_renderer.is_some() {
        return Ok(true);
    }
    Ok(head_object(app, &media.upload_key()).await?.is_none())
}

/// Runs the verification under `claim` and records the outcome (which the caller re-reads).
async fn settle(app: &App, media: Media, claim: &Claim) -> Result<(), MediaError> {
    if media.purpose == Purpose::Avatar {
        let stored = read_ends(app, &media.upload_key()).await?;
        if let Err(rejection) = verify_stored(&media, stored.as_ref()) {
            return reject(app, &media, claim, &rejection.message()).await;
        }
        return settle_avatar(app, media, claim).await;
    }
    settle_file(app, media, claim).await
}

fn verify_stored(media: &Media, stored: Option<&(u64, Vec<u8>, Vec<u8>)>) -> Result<(), Rejection> {
    let stored = stored.map(|(size, head, tail)| StoredObject { size: *size, head, tail });
    verify(media.content_type, media.size, stored.as_ref())
}

/// A document or attachment: the upload is copied to the media's own key first and the copy is
/// what is verified and served, so the upload URL (valid until it expires, and not single-use)
/// can change neither a ready item's bytes nor, by tagging them again, their lifetime.
async fn settle_file(app: &App, media: Media, claim: &Claim) -> Result<(), MediaError> {
    let upload = media.upload_key();
    let original = media.variant_key(ORIGINAL);
    let copied = copy_object(app, &upload, &original).await?;
    let stored = if copied { read_ends(app, &original).await? } else { None };
    if let Err(rejection) = verify_stored(&media, stored.as_ref()) {
        return reject(app, &media, claim, &rejection.message()).await;
    }
    let mut ready = media;
    let variant = Variant {
        key: original.clone(),
        content_type: ready.content_type,
        size: ready.size,
        width: None,
        height: None,
    };
    ready.variants.insert(ORIGINAL.into(), variant);
    untag(app, &original).await?;
    if app.store.finish_media(&ready, claim, Outcome::Ready(&ready)).await? {
        delete_object(app, &upload).await?;
    }
    Ok(())
}

/// An avatar: re-encoded (the upload, with whatever EXIF and GPS data it carried, is deleted),
/// a thumbnail made, set as the customer's `avatar_url`, and the previous avatar removed. The
/// renditions are written tagged as pending and untagged only just before the item is settled,
/// so a processor that dies in between leaves nothing the bucket's lifecycle keeps; one that
/// loses the item (deleted, or its customer erased, meanwhile) removes what it wrote.
async fn settle_avatar(app: &App, media: Media, claim: &Claim) -> Result<(), MediaError> {
    let Some(render) = app.avatar_renderer else {
        return Err(MediaError::StillProcessing);
    };
    let bytes = get_object(app, &media.upload_key()).await?;
    let rendered = match render(&bytes, media.content_type) {
        Ok(rendered) => rendered,
        Err(rejection) => return reject(app, &media, claim, &rejection.message()).await,
    };
    let mut ready = media;
    let image =
        rendition(&ready, ORIGINAL_RENDITION, &rendered, (rendered.image.len(), rendered.width, rendered.height));
    let thumb =
        rendition(&ready, "thumb", &rendered, (rendered.thumb.len(), rendered.thumb_width, rendered.thumb_height));
    put_pending(app, &image, rendered.image).await?;
    put_pending(app, &thumb, rendered.thumb).await?;
    ready.variants.insert(ORIGINAL.into(), image);
    ready.variants.insert("thumb".into(), thumb);
    let AvatarSet::Replaced(previous) = set_avatar(app, &ready).await? else {
        // The customer was erased meanwhile: its media go with it.
        return remove_objects_and_item(app, &ready).await;
    };
    for variant in ready.variants.values() {
        untag(app, &variant.key).await?;
    }
    if !app.store.finish_media(&ready, claim, Outcome::Ready(&ready)).await? {
        return abandon_lost_avatar(app, &ready).await;
    }
    delete_object(app, &ready.upload_key()).await?;
    if let Some(previous) = previous.filter(|p| *p != ready.media_id)
        && let Some(old) = app.store.get_media(&previous).await?
        && old.customer_id == ready.customer_id
    {
        remove_objects_and_item(app, &old).await?;
    }
    Ok(())
}

/// The item could not be settled by this worker: when it was deleted meanwhile, what this
/// worker wrote (renditions, the customer's `avatar_url`) is undone; when another worker settled
/// it, that worker's outcome stands (it wrote the same keys).
async fn abandon_lost_avatar(app: &App, ours: &Media) -> Result<(), MediaError> {
    if app.store.get_media(&ours.media_id).await?.is_some() {
        return Ok(());
    }
    clear_avatar(app, ours).await?;
    delete_objects_of(app, ours).await
}

/// A rendition the processor made of `media`: its key beside the upload, type and dimensions.
fn rendition(
    media: &Media,
    name: &str,
    rendered: &RenderedAvatar,
    (bytes, width, height): (usize, u32, u32),
) -> Variant {
    Variant {
        key: media.variant_key(name),
        content_type: rendered.image_type,
        size: bytes as u64,
        width: Some(width),
        height: Some(height),
    }
}

/// What pointing a customer's `avatar_url` at a new avatar found.
enum AvatarSet {
    /// Set; the avatar it replaced, if any.
    Replaced(Option<MediaId>),
    /// The customer no longer exists (erased while the avatar was processed).
    CustomerGone,
}

/// Points the customer's `avatar_url` at `media` through the customer write path (versioned and
/// audited; a repeat changes nothing).
async fn set_avatar(app: &App, media: &Media) -> Result<AvatarSet, MediaError> {
    let url = media.download_path();
    let previous = std::sync::Mutex::new(None);
    let note = AuditNote::new(media.uploaded_by.as_str(), AuditAction::Update);
    let change = |current: &Customer, _now: Timestamp| -> Result<Customer, Infallible> {
        if let Ok(mut slot) = previous.lock() {
            *slot = current.avatar_url.as_deref().and_then(avatar_media_id);
        }
        Ok(Customer { avatar_url: Some(url.clone()), ..current.clone() })
    };
    match update_customer(app, &media.customer_id, None, &note, change).await {
        Ok(_) => Ok(AvatarSet::Replaced(previous.into_inner().unwrap_or_default())),
        Err(crate::customers::UpdateError::NotFound) => Ok(AvatarSet::CustomerGone),
        Err(crate::customers::UpdateError::Store(err)) => Err(err.into()),
        Err(other) => Err(MediaError::Storage(other.to_string())),
    }
}

/// Removes what was uploaded (and any copy of it) and records why (the caller re-reads the
/// item and reports it).
async fn reject(app: &App, media: &Media, claim: &Claim, reason: &str) -> Result<(), MediaError> {
    delete_object(app, &media.upload_key()).await?;
    delete_object(app, &media.variant_key(ORIGINAL)).await?;
    if app.store.finish_media(media, claim, Outcome::Rejected(reason)).await? {
        platform::metrics::count("media", platform::metrics::Metric::MediaRejected);
    }
    Ok(())
}

/// A short-lived GET of a ready media item's `variant` (`original`, or `thumb` for an avatar).
pub async fn download_url(app: &App, media: &Media, variant: &str) -> Result<String, MediaError> {
    if media.status != MediaStatus::Ready {
        return Err(MediaError::NotReady(media.status));
    }
    let stored = media.variants.get(variant).ok_or(MediaError::NotFound)?;
    let presigning = PresigningConfig::expires_in(app.config.media.download_url_ttl)
        .map_err(|e| MediaError::Storage(e.to_string()))?;
    let disposition = format!("inline; filename*=UTF-8''{}", percent_encode(&media.filename));
    let presigned = app
        .s3()
        .get_object()
        .bucket(&app.config.media_bucket)
        .key(&stored.key)
        .response_content_type(stored.content_type.mime())
        .response_content_disposition(disposition)
        .presigned(presigning)
        .await
        .map_err(storage)?;
    Ok(presigned.uri().to_string())
}

fn percent_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Deletes a media item: its objects, its records, and the customer's `avatar_url` when it
/// pointed here.
pub async fn delete(app: &App, media: &Media) -> Result<(), MediaError> {
    if media.purpose == Purpose::Avatar {
        clear_avatar(app, media).await?;
    }
    remove_objects_and_item(app, media).await
}

async fn clear_avatar(app: &App, media: &Media) -> Result<(), MediaError> {
    let note = AuditNote::new(media.uploaded_by.as_str(), AuditAction::Update);
    let change = |current: &Customer, _now: Timestamp| -> Result<Customer, Infallible> {
        let points_here = current.avatar_url.as_deref().and_then(avatar_media_id).as_ref() == Some(&media.media_id);
        Ok(if points_here { Customer { avatar_url: None, ..current.clone() } } else { current.clone() })
    };
    match update_customer(app, &media.customer_id, None, &note, change).await {
        Ok(_) | Err(crate::customers::UpdateError::NotFound) => Ok(()),
        Err(crate::customers::UpdateError::Store(err)) => Err(err.into()),
        Err(other) => Err(MediaError::Storage(other.to_string())),
    }
}

async fn remove_objects_and_item(app: &App, media: &Media) -> Result<(), MediaError> {
    delete_objects_of(app, media).await?;
    app.store.delete_media(media).await?;
    Ok(())
}

/// The upload and every variant of `media`.
async fn delete_objects_of(app: &App, media: &Media) -> Result<(), MediaError> {
    delete_object(app, &media.upload_key()).await?;
    for variant in media.variants.values() {
        delete_object(app, &variant.key).await?;
    }
    Ok(())
}

/// Removes every object and item of an erased customer's media (the entries in the customer's
/// partition go with the erase's sweep), then every object left under the customer's prefix
/// (renditions a processor wrote for an item the erase had already removed, uploads never
/// completed).
pub async fn purge_customer(app: &App, customer: &CustomerId) -> Result<(), MediaError> {
    for media in app.store.customer_media(customer).await? {
        delete_objects_of(app, &media).await?;
        app.store.delete_media_item(&media.media_id).await?;
    }
    delete_prefix(app, &crate::domain::media::customer_prefix(customer)).await
}

/// What the processor does with one `s3:ObjectCreated:*` record: verifies an upload (as
/// `complete` would), ignores its own renditions, and deletes an object whose media item no
/// longer exists (expired, deleted, or its customer erased).
pub async fn on_object_created(app: &App, key: &str) -> Result<ObjectCreated, MediaError> {
    let ObjectKey::Upload { media_id, .. } = ObjectKey::parse(key) else {
        return Ok(ObjectCreated::Ignored);
    };
    let Some(media) = app.store.get_media(&media_id).await? else {
        delete_object(app, key).await?;
        return Ok(ObjectCreated::Orphan);
    };
    if media.status.is_final() && !media.variants.values().any(|v| v.key == key) {
        // Another PUT to a settled item's upload URL: its bytes are fixed, so this goes.
        delete_object(app, key).await?;
    }
    match complete(app, &media_id).await {
        Ok(_) => Ok(ObjectCreated::Ready),
        Err(MediaError::Rejected(_)) => Ok(ObjectCreated::Rejected),
        Err(MediaError::NotFound) => Ok(ObjectCreated::Orphan),
        Err(err) => Err(err),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectCreated {
    Ready,
    Rejected,
    Orphan,
    Ignored,
}

// S3 helpers.

async fn head_object(app: &App, key: &str) -> Result<Option<u64>, MediaError> {
    match app.s3().head_object().bucket(&app.config.media_bucket).key(key).send().await {
        Ok(out) => Ok(Some(out.content_length().unwrap_or_default().max(0) as u64)),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
        Err(err) => Err(storage(err)),
    }
}

/// The object's size, first bytes and last bytes; `None` when there is no object.
async fn read_ends(app: &App, key: &str) -> Result<Option<(u64, Vec<u8>, Vec<u8>)>, MediaError> {
    let Some(size) = head_object(app, key).await? else { return Ok(None) };
    let head = get_range(app, key, &format!("bytes=0-{}", HEAD_BYTES - 1)).await?;
    let tail = get_range(app, key, &format!("bytes=-{TAIL_BYTES}")).await?;
    Ok(Some((size, head, tail)))
}

async fn get_range(app: &App, key: &str, range: &str) -> Result<Vec<u8>, MediaError> {
    let out =
        app.s3().get_object().bucket(&app.config.media_bucket).key(key).range(range).send().await.map_err(storage)?;
    let bytes = out.body.collect().await.map_err(|e| MediaError::Storage(e.to_string()))?;
    Ok(bytes.into_bytes().to_vec())
}

async fn get_object(app: &App, key: &str) -> Result<Vec<u8>, MediaError> {
    let out = app.s3().get_object().bucket(&app.config.media_bucket).key(key).send().await.map_err(storage)?;
    let bytes = out.body.collect().await.map_err(|e| MediaError::Storage(e.to_string()))?;
    Ok(bytes.into_bytes().to_vec())
}

/// Writes a rendition tagged as pending, so the lifecycle rule removes it unless it is settled.
async fn put_pending(app: &App, variant: &Variant, bytes: Vec<u8>) -> Result<(), MediaError> {
    app.s3()
        .put_object()
        .bucket(&app.config.media_bucket)
        .key(&variant.key)
        .content_type(variant.content_type.mime())
        .tagging(PENDING_TAG)
        .body(bytes.into())
        .send()
        .await
        .map_err(storage)?;
    Ok(())
}

/// Copies `from` to `to` (tags included); `false` when `from` is gone.
async fn copy_object(app: &App, from: &str, to: &str) -> Result<bool, MediaError> {
    let bucket = &app.config.media_bucket;
    let source = format!("{bucket}/{}", percent_encoding::utf8_percent_encode(from, COPY_SOURCE));
    match app.s3().copy_object().bucket(bucket).key(to).copy_source(source).send().await {
        Ok(_) => Ok(true),
        Err(err) if err.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(false),
        Err(err) => Err(storage(err)),
    }
}

/// Characters a copy source keeps as they are (the key's slashes among them).
const COPY_SOURCE: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'/').remove(b'-').remove(b'_').remove(b'.');

/// Removes the pending tag: the object is part of a settled item now.
async fn untag(app: &App, key: &str) -> Result<(), MediaError> {
    app.s3().delete_object_tagging().bucket(&app.config.media_bucket).key(key).send().await.map_err(storage)?;
    Ok(())
}

/// Deletes every object under `prefix`, a page of up to 1,000 at a time.
async fn delete_prefix(app: &App, prefix: &str) -> Result<(), MediaError> {
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    let bucket = &app.config.media_bucket;
    loop {
        let page = app.s3().list_objects_v2().bucket(bucket).prefix(prefix).send().await.map_err(storage)?;
        let keys: Vec<ObjectIdentifier> = page
            .contents()
            .iter()
            .filter_map(|object| object.key())
            .filter_map(|key| ObjectIdentifier::builder().key(key).build().ok())
            .collect();
        if keys.is_empty() {
            return Ok(());
        }
        let batch = Delete::builder()
            .set_objects(Some(keys))
            .quiet(true)
            .build()
            .map_err(|e| MediaError::Storage(e.to_string()))?;
        let out = app.s3().delete_objects().bucket(bucket).delete(batch).send().await.map_err(storage)?;
        if let Some(failed) = out.errors().first() {
            return Err(MediaError::Storage(format!(
                "{} not deleted: {:?}",
                failed.key().unwrap_or("?"),
                failed.code()
            )));
        }
    }
}

async fn delete_object(app: &App, key: &str) -> Result<(), MediaError> {
    app.s3().delete_object().bucket(&app.config.media_bucket).key(key).send().await.map_err(storage)?;
    Ok(())
}

/// The media item with this id, whoever's it is (the caller's access is the edge's to check).
pub async fn get(app: &App, id: &MediaId) -> Result<Option<Media>, StoreError> {
    app.store.get_media(id).await
}

/// A page of a customer's media, newest first, of one purpose or all.
pub async fn list(
    app: &App,
    customer: &CustomerId,
    purpose: Option<Purpose>,
    limit: i32,
    start: Option<store::PageToken>,
) -> Result<store::Page<Media>, StoreError> {
    app.store.list_media(customer, purpose, limit, start).await
}

/// Why a customer may not upload for themselves.
#[derive(Debug, Error)]
pub enum UploaderRefusal {
    /// The account is gone (an access token outlives an erase by a few minutes).
    #[error("no such customer")]
    NoCustomer,
    /// Only an active customer uploads.
    #[error("this account is {}", .0.as_str())]
    Inactive(crate::domain::CustomerStatus),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether the customer `me` may upload media of their own: only while their account is active.
pub async fn ensure_may_upload(app: &App, me: &CustomerId) -> Result<(), UploaderRefusal> {
    let customer = app.store.get_customer(me).await?.ok_or(UploaderRefusal::NoCustomer)?;
    if !customer.is_active() {
        return Err(UploaderRefusal::Inactive(customer.status));
    }
    Ok(())
}
