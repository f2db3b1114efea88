//! A phone-photo-like JPEG for the media benchmarks: a large noisy image (sky, ground, a few
//! shapes, sensor noise) encoded at the highest quality that stays within a byte budget, with
//! an EXIF block (camera make and model, orientation, GPS position) as a phone writes it.

use image::codecs::jpeg::JpegEncoder;
use image::{ImageBuffer, Rgb, RgbImage};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A generated photo and how it was made.
pub struct Photo {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub quality: u8,
    pub exif_bytes: usize,
}

/// Qualities tried, best first, until the file fits the budget.
const QUALITIES: [u8; 10] = [98, 96, 95, 94, 93, 92, 90, 88, 85, 80];

/// A `width` × `height` photo-like JPEG of at most `max_bytes` (EXIF included), encoded at the
/// highest quality of [`QUALITIES`] that fits (the lowest one when none does).
pub fn phone_photo(width: u32, height: u32, max_bytes: usize) -> Photo {
    phone_photo_oriented(width, height, max_bytes, 1)
}

/// [`phone_photo`] with another EXIF orientation (6: the phone was held upright, so the
/// processor turns the image a quarter, which copies its pixels once).
pub fn phone_photo_oriented(width: u32, height: u32, max_bytes: usize, orientation: u16) -> Photo {
    let pixels = photo_pixels(width, height, 0x5EED);
    let app1 = exif_app1(orientation);
    let mut best = None;
    for quality in QUALITIES {
        let jpeg = with_app1(&encode(&pixels, quality), &app1);
        let fits = jpeg.len() <= max_bytes;
        best = Some((jpeg, quality));
        if fits {
            break;
        }
    }
    let (jpeg, quality) = best.expect("QUALITIES is not empty");
    Photo { jpeg, width, height, quality, exif_bytes: app1.len() }
}

fn encode(pixels: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality).encode_image(pixels).expect("encoding a JPEG in memory");
    out
}

/// Sky fading to a horizon, textured ground, a few soft discs, and per-pixel noise: enough
/// detail that a high-quality JPEG of a 12 MP image is a few MB, as a phone's is.
fn photo_pixels(width: u32, height: u32, seed: u64) -> RgbImage {
    let mut rng = StdRng::seed_from_u64(seed);
    let discs: Vec<(f32, f32, f32, [f32; 3])> = (0..12)
        .map(|_| {
            let x = rng.random_range(0.0..width as f32);
            let y = rng.random_range(0.0..height as f32);
            let r = rng.random_range(0.03..0.15) * width as f32;
            let colour = [rng.random_range(0.0..255.0), rng.random_range(0.0..255.0), rng.random_range(0.0..255.0)];
            (x, y, r, colour)
        })
        .collect();
    let horizon = height as f32 * 0.45;
    ImageBuffer::from_fn(width, height, |x, y| {
        let (fx, fy) = (x as f32, y as f32);
        let mut rgb = if fy < horizon {
            let t = fy / horizon;
            [90.0 + 100.0 * t, 140.0 + 70.0 * t, 230.0 - 30.0 * t]
        } else {
            let wave = ((fx * 0.013).sin() + (fy * 0.021).cos() + (fx * 0.002 + fy * 0.004).sin()) * 18.0;
            [95.0 + wave, 120.0 + wave * 0.8, 60.0 + wave * 0.5]
        };
        for (cx, cy, r, colour) in &discs {
            let d = ((fx - cx).powi(2) + (fy - cy).powi(2)).sqrt();
            if d < *r {
                let w = 1.0 - d / r;
                for (c, target) in rgb.iter_mut().zip(colour) {
                    *c += (target - *c) * w;
                }
            }
        }
        let noise: u32 = rng.random();
        let luma = ((noise & 0xFF) as f32 - 127.5) * 0.09;
        Rgb(std::array::from_fn(|i| {
            let chroma = (((noise >> (8 * (i + 1))) & 0xFF) as f32 - 127.5) * 0.05;
            (rgb[i] + luma + chroma).clamp(0.0, 255.0) as u8
        }))
    })
}

/// Inserts an APP1 segment right after the JPEG's SOI marker.
fn with_app1(jpeg: &[u8], app1: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(jpeg.len() + app1.len());
    out.extend_from_slice(&jpeg[..2]);
    out.extend_from_slice(app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// One TIFF directory entry: tag, type (1 byte, 2 ASCII, 3 short, 4 long, 5 rational), count,
/// and the value's bytes (little-endian).
struct Entry {
    tag: u16,
    kind: u16,
    count: u32,
    value: Vec<u8>,
}

fn ascii(tag: u16, text: &str) -> Entry {
    let mut value = text.as_bytes().to_vec();
    value.push(0);
    Entry { tag, kind: 2, count: value.len() as u32, value }
}

fn rationals(tag: u16, values: &[(u32, u32)]) -> Entry {
    let value = values.iter().flat_map(|(n, d)| n.to_le_bytes().into_iter().chain(d.to_le_bytes())).collect();
    Entry { tag, kind: 5, count: values.len() as u32, value }
}

/// A directory's length with its out-of-line values (each padded to an even length).
fn ifd_len(entries: &[Entry]) -> usize {
    let data: usize = entries.iter().filter(|e| e.value.len() > 4).map(|e| e.value.len().next_multiple_of(2)).sum();
    2 + 12 * entries.len() + 4 + data
}

/// A directory placed at `offset` of the TIFF data, followed by its out-of-line values.
fn ifd(entries: &[Entry], offset: usize) -> Vec<u8> {
    let mut data_at = offset + 2 + 12 * entries.len() + 4;
    let mut head = (entries.len() as u16).to_le_bytes().to_vec();
    let mut data = Vec::new();
    for entry in entries {
        head.extend(entry.tag.to_le_bytes());
        head.extend(entry.kind.to_le_bytes());
        head.extend(entry.count.to_le_bytes());
        if entry.value.len() <= 4 {
            let mut inline = entry.value.clone();
            inline.resize(4, 0);
            head.extend(inline);
        } else {
            head.extend((data_at as u32).to_le_bytes());
            let mut value = entry.value.clone();
            value.resize(value.len().next_multiple_of(2), 0);
            data_at += value.len();
            data.extend(value);
        }
    }
    head.extend(0u32.to_le_bytes());
    head.extend(data);
    head
}

/// `FF E1`, length, `Exif\0\0` and a little-endian TIFF: IFD0 with make, model, orientation,
/// date and the GPS pointer; the GPS IFD with a position (15°25' S, 28°17' E).
fn exif_app1(orientation: u16) -> Vec<u8> {
    let gps_pointer = |offset: u32| Entry { tag: 0x8825, kind: 4, count: 1, value: offset.to_le_bytes().to_vec() };
    let ifd0 = |gps: u32| {
        vec![
            ascii(0x010F, "BenchPhone"),
            ascii(0x0110, "BP-12 Pro"),
            Entry { tag: 0x0112, kind: 3, count: 1, value: orientation.to_le_bytes().to_vec() },
            ascii(0x0132, "2026:11:23 10:15:00"),
            gps_pointer(gps),
        ]
    };
    let gps_offset = 8 + ifd_len(&ifd0(0));
    let gps = vec![
        Entry { tag: 0x0000, kind: 1, count: 4, value: vec![2, 2, 0, 0] },
        ascii(0x0001, "S"),
        rationals(0x0002, &[(15, 1), (25, 1), (1234, 100)]),
        ascii(0x0003, "E"),
        rationals(0x0004, &[(28, 1), (17, 1), (5678, 100)]),
    ];
    let mut tiff = b"II*\0".to_vec();
    tiff.extend(8u32.to_le_bytes());
    tiff.extend(ifd(&ifd0(gps_offset as u32), 8));
    tiff.extend(ifd(&gps, gps_offset));
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend(tiff);
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend(((payload.len() + 2) as u16).to_be_bytes());
    app1.extend(payload);
    app1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_photo_decodes_and_carries_exif() {
        let photo = phone_photo(64, 48, 1 << 20);
        assert_eq!(photo.quality, QUALITIES[0]);
        assert!(photo.jpeg.windows(6).any(|w| w == b"Exif\0\0"));
        let decoded = image::load_from_memory(&photo.jpeg).expect("decodes");
        assert_eq!((decoded.width(), decoded.height()), (64, 48));
    }
}
