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
use thiserror::Error;

use crate::App;
use crate::domain::audit::{AuditAction, AuditNote};
use crate::domain::media::{
    HEAD_BYTES, Media, MediaId, MediaStatus, MediaType, ObjectKey, Purpose, RenderedAvatar, StoredObject, TAIL_BYTES,
    UploadRequest, Variant, avatar_media_id, verify,
};
use crate::domain::{Customer, CustomerId};
use crate::services::customers::update_customer;
use crate::store::StoreError;
use crate::store::media::{Claim, MediaStoreError, Outcome};
use crate::time::Timestamp;

/// Decodes an avatar and writes it again (which drops EXIF and location data) with a thumbnail.
pub type AvatarRenderer = fn(&[u8], MediaType) -> Result<RenderedAvatar, String>;

/// How long a worker holds a media item it verifies before another may take over.
const LEASE_SECONDS: i64 = 60;
/// How long `complete` waits for another worker's outcome (inside the function's timeout).
const WAIT_FOR_OUTCOME: Duration = Duration::from_secs(8);
const POLL_EVERY: Duration = Duration::from_millis(100);
/// The tag a presigned upload carries until its media is ready: the bucket's lifecycle rule
/// expires tagged objects, so an upload never completed does not stay.
pub const PENDING_TAG: &str = "upload=pending";

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
    let key = media.upload_key();
    let stored = read_ends(app, &key).await?;
    let verdict = verify(
        media.content_type,
        media.size,
        stored.as_ref().map(|(size, head, tail)| StoredObject { size: *size, head, tail }).as_ref(),
    );
    if let Err(rejection) = verdict {
        return reject(app, &media, claim, &rejection.message()).await;
    }
    if media.purpose == Purpose::Avatar {
        return settle_avatar(app, media, claim).await;
    }
    let mut ready = media;
    ready.variants.insert(
        "original".into(),
        Variant { key: key.clone(), content_type: ready.content_type, size: ready.size, width: None, height: None },
    );
    app.s3().delete_object_tagging().bucket(&app.config.media_bucket).key(&key).send().await.map_err(storage)?;
    app.store.finish_media(&ready, claim, Outcome::Ready(&ready)).await?;
    Ok(())
}

/// An avatar: re-encoded (the upload, with whatever EXIF and GPS data it carried, is deleted),
/// a thumbnail made, set as the customer's `avatar_url`, and the previous avatar removed.
async fn settle_avatar(app: &App, media: Media, claim: &Claim) -> Result<(), MediaError> {
    let Some(render) = app.avatar_renderer else {
        return Err(MediaError::StillProcessing);
    };
    let bytes = get_object(app, &media.upload_key()).await?;
    let rendered = match render(&bytes, media.content_type) {
        Ok(rendered) => rendered,
        Err(why) => {
            let message = crate::domain::media::Rejection::Undecodable(why).message();
            return reject(app, &media, claim, &message).await;
        }
    };
    let mut ready = media;
    let image = rendition(&ready, "image", &rendered, (rendered.image.len(), rendered.width, rendered.height));
    let thumb =
        rendition(&ready, "thumb", &rendered, (rendered.thumb.len(), rendered.thumb_width, rendered.thumb_height));
    put_object(app, &image, rendered.image).await?;
    put_object(app, &thumb, rendered.thumb).await?;
    ready.variants.insert("original".into(), image);
    ready.variants.insert("thumb".into(), thumb);
    let previous = set_avatar(app, &ready).await?;
    if !app.store.finish_media(&ready, claim, Outcome::Ready(&ready)).await? {
        return Ok(());
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

/// Points the customer's `avatar_url` at `media` through the customer write path (versioned and
/// audited; a repeat changes nothing). Returns the avatar it replaced.
async fn set_avatar(app: &App, media: &Media) -> Result<Option<MediaId>, MediaError> {
    let url = media.download_path();
    let previous = std::sync::Mutex::new(None);
    let note = AuditNote::new(media.uploaded_by.as_str(), AuditAction::Update);
    let change = |current: &Customer, _now: Timestamp| -> Result<Customer, Infallible> {
        if let Ok(mut slot) = previous.lock() {
            *slot = current.avatar_url.as_deref().and_then(avatar_media_id);
        }
        Ok(Customer { avatar_url: Some(url.clone()), ..current.clone() })
    };
    match update_customer(&app.store, &app.clock, &media.customer_id, None, &note, change).await {
        Ok(_) => Ok(previous.into_inner().unwrap_or_default()),
        // The customer was erased meanwhile: its media go with it.
        Err(crate::services::customers::UpdateError::NotFound) => Ok(None),
        Err(crate::services::customers::UpdateError::Store(err)) => Err(err.into()),
        Err(other) => Err(MediaError::Storage(other.to_string())),
    }
}

/// Removes the object and records why (the caller re-reads the item and reports it).
async fn reject(app: &App, media: &Media, claim: &Claim, reason: &str) -> Result<(), MediaError> {
    delete_object(app, &media.upload_key()).await?;
    if app.store.finish_media(media, claim, Outcome::Rejected(reason)).await? {
        crate::metrics::count("media", crate::metrics::Metric::MediaRejected);
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
    match update_customer(&app.store, &app.clock, &media.customer_id, None, &note, change).await {
        Ok(_) | Err(crate::services::customers::UpdateError::NotFound) => Ok(()),
        Err(crate::services::customers::UpdateError::Store(err)) => Err(err.into()),
        Err(other) => Err(MediaError::Storage(other.to_string())),
    }
}

async fn remove_objects_and_item(app: &App, media: &Media) -> Result<(), MediaError> {
    delete_object(app, &media.upload_key()).await?;
    for variant in media.variants.values() {
        delete_object(app, &variant.key).await?;
    }
    app.store.delete_media(media).await?;
    Ok(())
}

/// Removes every object and item of an erased customer's media (the entries in the customer's
/// partition go with the erase's sweep).
pub async fn purge_customer(app: &App, customer: &CustomerId) -> Result<(), MediaError> {
    for media in app.store.customer_media(customer).await? {
        delete_object(app, &media.upload_key()).await?;
        for variant in media.variants.values() {
            delete_object(app, &variant.key).await?;
        }
        app.store.delete_media_item(&media.media_id).await?;
    }
    Ok(())
}

/// What the processor does with one `s3:ObjectCreated:*` record: verifies an upload (as
/// `complete` would), ignores its own renditions, and deletes an object whose media item no
/// longer exists (expired, deleted, or its customer erased).
pub async fn on_object_created(app: &App, key: &str) -> Result<ObjectCreated, MediaError> {
    let ObjectKey::Upload { media_id, .. } = ObjectKey::parse(key) else {
        return Ok(ObjectCreated::Ignored);
    };
    if app.store.get_media(&media_id).await?.is_none() {
        delete_object(app, key).await?;
        return Ok(ObjectCreated::Orphan);
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

async fn put_object(app: &App, variant: &Variant, bytes: Vec<u8>) -> Result<(), MediaError> {
    app.s3()
        .put_object()
        .bucket(&app.config.media_bucket)
        .key(&variant.key)
        .content_type(variant.content_type.mime())
        .body(bytes.into())
        .send()
        .await
        .map_err(storage)?;
    Ok(())
}

async fn delete_object(app: &App, key: &str) -> Result<(), MediaError> {
    app.s3().delete_object().bucket(&app.config.media_bucket).key(key).send().await.map_err(storage)?;
    Ok(())
}
