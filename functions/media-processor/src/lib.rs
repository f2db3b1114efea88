//! The media processor: fed by the bucket's `s3:ObjectCreated:*` events, it runs the same
//! verification as `POST /v1/media/{id}/complete` (`shared::services::media`), and re-encodes
//! avatars. It is the only binary that links an image library: decoding and writing an image
//! again is what strips the EXIF and GPS data a phone photo carries.

use std::io::Cursor;

use aws_lambda_events::event::s3::S3Event;
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use shared::App;
use shared::domain::media::{
    MAX_AVATAR_SIDE, MediaType, Rejection, RenderedAvatar, THUMB_SIZE, check_avatar_dimensions,
};
use shared::services::media::{MediaError, ObjectCreated, on_object_created};

/// What one image's decoded pixels may take. 40 megapixels of RGBA at 8 bits a channel is
/// 160 MB; an EXIF rotation copies the image once, the thumbnail and the encoder add a little,
/// so the processor's peak stays well inside its memory (docs/benchmarks.md). Deeper images of
/// the same size (16 bits a channel) are refused rather than decoded.
const MAX_DECODED_BYTES: u64 = 192 * 1024 * 1024;
const JPEG_QUALITY: u8 = 85;

/// Decodes an avatar (turned upright by its EXIF orientation), writes it again without any
/// metadata, and makes a thumbnail whose longer side is 256 px. JPEG stays JPEG; the other
/// formats become PNG (lossless, and every client shows it).
pub fn render_avatar(bytes: &[u8], kind: MediaType) -> Result<RenderedAvatar, Rejection> {
    let image = decode(bytes, kind)?;
    let output = if kind == MediaType::Jpeg { MediaType::Jpeg } else { MediaType::Png };
    let thumb = image.thumbnail(THUMB_SIZE, THUMB_SIZE);
    Ok(RenderedAvatar {
        image: encode(&image, output).map_err(Rejection::Undecodable)?,
        image_type: output,
        width: image.width(),
        height: image.height(),
        thumb: encode(&thumb, output).map_err(Rejection::Undecodable)?,
        thumb_width: thumb.width(),
        thumb_height: thumb.height(),
    })
}

/// Decodes `bytes` after reading only its header: an image larger than an avatar may be, or
/// one whose pixels would take more than the budget, is refused before any pixel is allocated
/// (a few hundred bytes of PNG can declare gigabytes of pixels).
fn decode(bytes: &[u8], kind: MediaType) -> Result<DynamicImage, Rejection> {
    let undecodable = |e: image::ImageError| Rejection::Undecodable(e.to_string());
    let format = match kind {
        MediaType::Jpeg => ImageFormat::Jpeg,
        MediaType::Png => ImageFormat::Png,
        MediaType::Webp => ImageFormat::WebP,
        MediaType::Gif => ImageFormat::Gif,
        MediaType::Pdf => return Err(Rejection::Undecodable("a PDF is not an image".into())),
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_AVATAR_SIDE);
    limits.max_image_height = Some(MAX_AVATAR_SIDE);
    limits.max_alloc = Some(MAX_DECODED_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| refusal_from_header(e, bytes, format))?;
    check_pixel_budget(decoder.dimensions(), decoder.total_bytes())?;
    let orientation = decoder.orientation().map_err(undecodable)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// The header's dimensions and the decoded size at the image's colour depth, against the
/// avatar's limits and the processor's budget.
fn check_pixel_budget((width, height): (u32, u32), decoded_bytes: u64) -> Result<(), Rejection> {
    check_avatar_dimensions(width, height)?;
    if decoded_bytes > MAX_DECODED_BYTES {
        return Err(Rejection::TooDeep { width, height, decoded_bytes });
    }
    Ok(())
}

/// A decoder that refused its own limits (a side over 10,000 px) is reported with the
/// dimensions its header declares, like any image over the limit.
fn refusal_from_header(err: image::ImageError, bytes: &[u8], format: ImageFormat) -> Rejection {
    if matches!(err, image::ImageError::Limits(_))
        && let Ok((width, height)) = ImageReader::with_format(Cursor::new(bytes), format).into_dimensions()
    {
        return Rejection::TooManyPixels { width, height };
    }
    Rejection::Undecodable(err.to_string())
}

fn encode(image: &DynamicImage, kind: MediaType) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    match kind {
        MediaType::Jpeg => {
            // A decoded JPEG is RGB already: encode it in place rather than from a copy (a
            // 12-megapixel photo's copy is 34 MiB of the processor's peak).
            let mut encoder = JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
            match image {
                DynamicImage::ImageRgb8(rgb) => encoder.encode_image(rgb),
                other => encoder.encode_image(&other.to_rgb8()),
            }
            .map_err(|e| e.to_string())?;
        }
        _ => image.write_to(&mut Cursor::new(&mut out), ImageFormat::Png).map_err(|e| e.to_string())?,
    }
    Ok(out)
}

/// Handles one S3 notification: each record's object is verified (or ignored, or deleted as
/// an orphan). An error fails the invocation, so Lambda retries it and then sends it to the DLQ.
pub async fn handle_event(app: &App, event: S3Event) -> Result<Vec<ObjectCreated>, MediaError> {
    let mut outcomes = Vec::new();
    for record in event.records {
        let Some(key) = record.s3.object.key.as_deref() else { continue };
        let key = decode_key(key);
        let outcome = on_object_created(app, &key).await?;
        tracing::info!(outcome = ?outcome, "media object processed");
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// S3 event keys are URL-encoded, with `+` for a space.
fn decode_key(key: &str) -> String {
    let spaced = key.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}
