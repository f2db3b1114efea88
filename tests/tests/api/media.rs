//! Media: presigned uploads with real HTTP PUTs of real bytes to the local S3 endpoint, the
//! verification of what landed, avatars re-encoded without their metadata, downloads through
//! presigned GETs, who may see what, and deletion and erase leaving nothing behind.

use std::io::Cursor;

use futures::future::join_all;
use image::{ImageBuffer, ImageFormat, Rgb};
use integration_tests::{TestApp, TestResponse, http_request};
use serde_json::{Value, json};

async fn customer(t: &TestApp, phone: &str, name: &str) -> (String, String) {
    let login = t.sign_in(phone, name).await;
    let token = login["access_token"].as_str().expect("token").to_string();
    let id = login["customer"]["customer_id"].as_str().expect("id").to_string();
    (token, id)
}

fn png(width: u32, height: u32) -> (Vec<u8>, ImageBuffer<Rgb<u8>, Vec<u8>>) {
    let pixels =
        ImageBuffer::from_fn(width, height, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8]));
    let mut bytes = Vec::new();
    pixels.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png).expect("encode PNG");
    (bytes, pixels)
}

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// A JPEG carrying an EXIF block with GPS tags (latitude N 15 deg, the way a phone writes it).
fn jpeg_with_gps() -> Vec<u8> {
    let pixels = ImageBuffer::from_fn(320, 240, |x, y| Rgb([(x % 256) as u8, 90, (y % 256) as u8]));
    let mut plain = Vec::new();
    pixels.write_to(&mut Cursor::new(&mut plain), ImageFormat::Jpeg).expect("encode JPEG");
    // TIFF (little-endian): IFD0 with one entry, the GPS IFD pointer; the GPS IFD with the
    // version and the latitude reference and value.
    let mut tiff: Vec<u8> = b"II*\0".to_vec();
    tiff.extend(8u32.to_le_bytes());
    tiff.extend(1u16.to_le_bytes());
    tiff.extend([0x25, 0x88, 4, 0, 1, 0, 0, 0]);
    tiff.extend(26u32.to_le_bytes());
    tiff.extend(0u32.to_le_bytes());
    tiff.extend(3u16.to_le_bytes());
    tiff.extend([0, 0, 1, 0, 4, 0, 0, 0, 2, 2, 0, 0]);
    tiff.extend([1, 0, 2, 0, 2, 0, 0, 0, b'N', 0, 0, 0]);
    tiff.extend([2, 0, 5, 0, 3, 0, 0, 0]);
    tiff.extend(68u32.to_le_bytes());
    tiff.extend(0u32.to_le_bytes());
    for (num, den) in [(15u32, 1u32), (30, 1), (0, 1)] {
        tiff.extend(num.to_le_bytes());
        tiff.extend(den.to_le_bytes());
    }
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(tiff);
    let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE1];
    jpeg.extend(((app1.len() + 2) as u16).to_be_bytes());
    jpeg.extend(app1);
    jpeg.extend(&plain[2..]);
    jpeg
}

fn has_exif(jpeg: &[u8]) -> bool {
    jpeg.windows(6).any(|w| w == b"Exif\0\0") || jpeg.windows(2).any(|w| w == [0xFF, 0xE1])
}

async fn slot(t: &TestApp, token: &str, body: Value) -> TestResponse {
    t.call("POST", "/v1/media/uploads", Some(token), Some(body)).await
}

async fn upload(slot: &Value, bytes: &[u8]) -> TestResponse {
    integration_tests::put_to_slot(slot, bytes).await
}

/// Asks for a slot, uploads `bytes` and completes it.
async fn upload_and_complete(t: &TestApp, token: &str, request: Value, bytes: &[u8]) -> (String, TestResponse) {
    let created = slot(t, token, request).await;
    assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.body));
    let media_id = created.json()["media_id"].as_str().expect("media_id").to_string();
    let put = upload(&created.json(), bytes).await;
    assert_eq!(put.status, 200, "PUT to the presigned URL: {}", String::from_utf8_lossy(&put.body));
    let done = t.call("POST", &format!("/v1/media/{media_id}/complete"), Some(token), None).await;
    (media_id, done)
}

/// Follows a download redirect to the presigned GET.
async fn download(t: &TestApp, token: &str, path: &str) -> TestResponse {
    let redirect = t.call("GET", path, Some(token), None).await;
    assert_eq!(redirect.status, 302, "{}", String::from_utf8_lossy(&redirect.body));
    let url = redirect.header("location").expect("Location").to_string();
    http_request("GET", &url, &[], Vec::new()).await
}

async fn object_exists(t: &TestApp, key: &str) -> bool {
    let app = t.app();
    app.s3().head_object().bucket(&app.config.media_bucket).key(key).send().await.is_ok()
}

async fn objects_under(t: &TestApp, prefix: &str) -> usize {
    let app = t.app();
    let out = app.s3().list_objects_v2().bucket(&app.config.media_bucket).prefix(prefix).send().await.expect("list");
    out.contents().len()
}

#[tokio::test]
async fn a_png_avatar_is_uploaded_verified_set_and_served_with_a_256px_thumbnail() {
    let t = TestApp::new().await;
    let (token, me) = customer(&t, "+260971110001", "Ada Avatar").await;
    let (bytes, pixels) = png(600, 400);
    let request = json!({"filename": "me.png", "content_type": "image/png", "size": bytes.len(), "purpose": "avatar"});

    let created = slot(&t, &token, request.clone()).await;
    assert_eq!(created.status, 201);
    let body = created.json();
    let url = body["upload_url"].as_str().expect("url");
    assert_eq!(body["upload_method"], "PUT");
    assert!(url.contains(&format!("media/{me}/{}", body["media_id"].as_str().unwrap_or_default())), "{url}");
    assert!(!url.contains("me.png"), "the key is the server's, never the file name");
    let expires: u64 = url
        .split("X-Amz-Expires=")
        .nth(1)
        .and_then(|v| v.split('&').next())
        .and_then(|v| v.parse().ok())
        .expect("X-Amz-Expires");
    assert!(expires <= 900, "upload URLs are short-lived: {expires}");
    let signed = url.split("X-Amz-SignedHeaders=").nth(1).unwrap_or_default().to_ascii_lowercase();
    assert!(
        signed.contains("content-length") && signed.contains("content-type"),
        "type and length are signed: {signed}"
    );
    assert_eq!(
        created.header("location"),
        Some(format!("/v1/media/{}", body["media_id"].as_str().unwrap_or_default()).as_str())
    );
    assert_eq!(body["media"]["status"], "pending");

    let put = upload(&body, &bytes).await;
    assert_eq!(put.status, 200);
    let media_id = body["media_id"].as_str().expect("id");
    let done = t.call("POST", &format!("/v1/media/{media_id}/complete"), Some(&token), None).await;
    assert_eq!(done.status, 200, "{}", String::from_utf8_lossy(&done.body));
    assert_eq!(done.json()["status"], "ready");
    assert_eq!(done.json()["variants"]["thumb"]["width"], 256);

    let profile = t.call("GET", "/v1/me", Some(&token), None).await.json();
    assert_eq!(profile["avatar_url"], format!("/v1/media/{media_id}/download"));

    let image = download(&t, &token, &format!("/v1/media/{media_id}/download")).await;
    assert_eq!(image.status, 200);
    let decoded = image::load_from_memory(&image.body).expect("the avatar decodes").to_rgb8();
    assert_eq!(decoded, pixels, "the re-encoded PNG has the same pixels");

    let thumb = download(&t, &token, &format!("/v1/media/{media_id}/download?variant=thumb")).await;
    let thumb = image::load_from_memory(&thumb.body).expect("the thumbnail decodes");
    assert_eq!((thumb.width(), thumb.height()), (256, 171));

    // Completing again changes nothing.
    let again = t.call("POST", &format!("/v1/media/{media_id}/complete"), Some(&token), None).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json(), done.json());
}

#[tokio::test]
async fn a_jpeg_avatar_loses_its_exif_and_gps_data() {
    let t = TestApp::new().await;
    let (token, _) = customer(&t, "+260971110002", "Gps Person").await;
    let jpeg = jpeg_with_gps();
    assert!(has_exif(&jpeg) && image::load_from_memory(&jpeg).is_ok(), "the fixture is a valid JPEG with EXIF");
    let request =
        json!({"filename": "IMG_0001.JPG", "content_type": "image/jpeg", "size": jpeg.len(), "purpose": "avatar"});
    let (media_id, done) = upload_and_complete(&t, &token, request, &jpeg).await;
    assert_eq!(done.status, 200, "{}", String::from_utf8_lossy(&done.body));
    let served = download(&t, &token, &format!("/v1/media/{media_id}/download")).await;
    assert_eq!(served.status, 200);
    assert!(served.body.starts_with(&[0xFF, 0xD8]), "still a JPEG");
    assert!(!has_exif(&served.body), "no EXIF block is served");
    let decoded = image::load_from_memory(&served.body).expect("decodes");
    assert_eq!((decoded.width(), decoded.height()), (320, 240));
    assert!(
        !object_exists(&t, &format!("media/{}/{media_id}", done.json()["customer_id"].as_str().unwrap_or_default()))
            .await,
        "the upload with its EXIF is gone"
    );
}

#[tokio::test]
async fn uploads_that_do_not_match_what_was_declared_are_rejected_and_removed() {
    let t = TestApp::new().await;
    let (token, me) = customer(&t, "+260971110003", "Rita Reject").await;
    let (png_bytes, _) = png(40, 40);
    let truncated = &png_bytes[..png_bytes.len() - 20];
    let html = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>".to_vec();
    let cases: Vec<(&str, Value, Vec<u8>, &str)> = vec![
        (
            "a PDF declared as PNG",
            json!({"filename": "x.png", "content_type": "image/png", "size": PDF.len(), "purpose": "document"}),
            PDF.to_vec(),
            "pdf",
        ),
        (
            "HTML declared as PDF",
            json!({"filename": "x.pdf", "content_type": "application/pdf", "size": html.len(), "purpose": "document"}),
            html.clone(),
            "not a pdf",
        ),
        (
            "a truncated PNG",
            json!({"filename": "x.png", "content_type": "image/png", "size": truncated.len(), "purpose": "attachment"}),
            truncated.to_vec(),
            "truncated",
        ),
        (
            "more bytes than declared",
            json!({"filename": "x.png", "content_type": "image/png", "size": png_bytes.len() - 100, "purpose": "document"}),
            png_bytes.clone(),
            "bytes",
        ),
    ];
    for (case, request, bytes, says) in cases {
        let created = slot(&t, &token, request).await;
        assert_eq!(created.status, 201, "{case}");
        let media_id = created.json()["media_id"].as_str().expect("id").to_string();
        // The local S3 endpoint does not check signatures; real S3 would refuse a body whose
        // length differs from the signed one, and then nothing at all would be stored.
        let _ = upload(&created.json(), &bytes).await;
        let done = t.call("POST", &format!("/v1/media/{media_id}/complete"), Some(&token), None).await;
        assert_eq!(done.status, 422, "{case}: {}", String::from_utf8_lossy(&done.body));
        assert_eq!(done.header("content-type"), Some("application/problem+json"));
        let detail = done.json()["detail"].as_str().unwrap_or_default().to_ascii_lowercase();
        assert!(detail.contains(says), "{case}: the reason says why: {detail}");
        let meta = t.call("GET", &format!("/v1/media/{media_id}"), Some(&token), None).await.json();
        assert_eq!(meta["status"], "rejected", "{case}");
        assert!(!object_exists(&t, &format!("media/{me}/{media_id}")).await, "{case}: the object is gone");
        let again = t.call("POST", &format!("/v1/media/{media_id}/complete"), Some(&token), None).await;
        assert_eq!(
            (again.status, again.json()["detail"].clone()),
            (422, done.json()["detail"].clone()),
            "{case}: idempotent"
        );
        let get = t.call("GET", &format!("/v1/media/{media_id}/download"), Some(&token), None).await;
        assert_eq!(get.status, 409, "{case}: rejected media is never served");
    }

    let created = slot(
        &t,
        &token,
        json!({"filename": "x.pdf", "content_type": "application/pdf", "size": 10, "purpose": "document"}),
    )
    .await;
    let media_id = created.json()["media_id"].as_str().expect("id").to_string();
    let done = t.call("POST", &format!("/v1/media/{media_id}/complete"), Some(&token), None).await;
    assert_eq!(done.status, 422, "a complete without any upload");
    assert!(done.json()["detail"].as_str().unwrap_or_default().contains("no file was uploaded"));
    let profile = t.call("GET", "/v1/me", Some(&token), None).await.json();
    assert_eq!(profile["avatar_url"], Value::Null);
}

#[tokio::test]
async fn bad_upload_requests_are_422_naming_the_field_and_create_nothing() {
    let t = TestApp::new().await;
    let (token, _) = customer(&t, "+260971110004", "Bad Requests").await;
    let cases = [
        (json!({"filename": "a.html", "content_type": "text/html", "size": 10, "purpose": "document"}), "content_type"),
        (
            json!({"filename": "a.pdf", "content_type": "application/pdf", "size": 10 * 1024 * 1024 + 1, "purpose": "document"}),
            "size",
        ),
        (
            json!({"filename": "a.png", "content_type": "image/png", "size": 5 * 1024 * 1024 + 1, "purpose": "avatar"}),
            "size",
        ),
        (
            json!({"filename": "a.pdf", "content_type": "application/pdf", "size": 10, "purpose": "avatar"}),
            "content_type",
        ),
        (json!({"filename": "a.png", "content_type": "image/png", "size": 10, "purpose": "selfie"}), "purpose"),
        (json!({"filename": "a.png", "content_type": "image/png", "size": "10", "purpose": "document"}), "size"),
        (
            json!({"filename": "a.png", "content_type": "image/png", "size": 10, "purpose": "document", "acl": "public-read"}),
            "acl",
        ),
        (json!({"filename": "", "content_type": "image/png", "size": 10, "purpose": "document"}), "filename"),
    ];
    for (body, field) in cases {
        let response = slot(&t, &token, body.clone()).await;
        assert_eq!(response.status, 422, "{body}");
        assert!(response.error_fields().contains(&field.to_string()), "{body}: {:?}", response.error_fields());
    }
    let file = json!({"filename": "a.png", "content_type": "image/png", "size": 10, "purpose": "document"});
    let too_many = json!({"files": vec![file.clone(); 21]});
    let response = t.call("POST", "/v1/media/uploads/bulk", Some(&token), Some(too_many)).await;
    assert_eq!((response.status, response.error_fields()), (422, vec!["files".to_string()]));
    let one_bad = json!({"files": [file.clone(), {"filename": "b.exe", "content_type": "application/x-msdownload", "size": 10, "purpose": "document"}]});
    let response = t.call("POST", "/v1/media/uploads/bulk", Some(&token), Some(one_bad)).await;
    assert_eq!((response.status, response.error_fields()), (422, vec!["files[1].content_type".to_string()]));
    let auth = format!("Bearer {token}");
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    let malformed = t.send("POST", "/v1/media/uploads", &headers, b"{\"filename\":", "203.0.113.7").await;
    assert_eq!(malformed.status, 400);
    assert_eq!(t.count_items("media").await, 0, "nothing was created");

    let ok = t.call("POST", "/v1/media/uploads/bulk", Some(&token), Some(json!({"files": vec![file; 3]}))).await;
    assert_eq!(ok.status, 201);
    assert_eq!(ok.json()["results"].as_array().map(Vec::len), Some(3));
    assert_eq!(t.count_items("media").await, 3);
}

#[tokio::test]
async fn another_customers_media_is_404_everywhere_and_staff_reach_any_customer() {
    let t = TestApp::new().await;
    let (alice, alice_id) = customer(&t, "+260971110005", "Alice Owner").await;
    let (mallory, mallory_id) = customer(&t, "+260971110006", "Mallory Other").await;
    let request =
        json!({"filename": "id.pdf", "content_type": "application/pdf", "size": PDF.len(), "purpose": "document"});
    let (media_id, done) = upload_and_complete(&t, &alice, request.clone(), PDF).await;
    assert_eq!(done.status, 200);

    for (method, path) in [
        ("GET", format!("/v1/media/{media_id}")),
        ("GET", format!("/v1/media/{media_id}/download")),
        ("POST", format!("/v1/media/{media_id}/complete")),
        ("DELETE", format!("/v1/media/{media_id}")),
        ("GET", format!("/v1/media?customer_id={alice_id}")),
    ] {
        let response = t.call(method, &path, Some(&mallory), None).await;
        assert_eq!(response.status, 404, "{method} {path}");
    }
    let foreign = slot(&t, &mallory, json!({"filename": "x.pdf", "content_type": "application/pdf", "size": 10, "purpose": "document", "customer_id": alice_id})).await;
    assert_eq!(foreign.status, 404, "a customer cannot upload for someone else");
    let mine = t.call("GET", "/v1/media", Some(&mallory), None).await;
    assert_eq!((mine.status, mine.json()["items"].as_array().map(Vec::len)), (200, Some(0)));
    assert_eq!(t.call("GET", &format!("/v1/media/{media_id}"), None, None).await.status, 401);

    let staff = t.staff_tokens().await;
    let read = t.call("GET", &format!("/v1/media/{media_id}"), Some(&staff.staff), None).await;
    assert_eq!((read.status, read.json()["customer_id"].as_str()), (200, Some(alice_id.as_str())));
    let file = download(&t, &staff.staff, &format!("/v1/media/{media_id}/download")).await;
    assert_eq!(file.body, PDF);
    let without_customer = slot(&t, &staff.staff, request.clone()).await;
    assert_eq!((without_customer.status, without_customer.error_fields()), (422, vec!["customer_id".to_string()]));
    let mut for_mallory = request;
    for_mallory["customer_id"] = json!(mallory_id);
    for_mallory["purpose"] = json!("attachment");
    let (scan_id, done) = upload_and_complete(&t, &staff.staff, for_mallory, PDF).await;
    assert_eq!(done.status, 200);
    let list = t
        .call("GET", &format!("/v1/media?customer_id={mallory_id}&purpose=attachment"), Some(&staff.staff), None)
        .await;
    assert_eq!(list.json()["items"][0]["media_id"], scan_id);
    let theirs = t.call("GET", "/v1/media?purpose=attachment", Some(&mallory), None).await;
    assert_eq!(theirs.json()["items"][0]["media_id"], scan_id, "the customer sees what staff attached to them");
    let staff_list = t.call("GET", "/v1/media", Some(&staff.staff), None).await;
    assert_eq!((staff_list.status, staff_list.error_fields()), (422, vec!["customer_id".to_string()]));

    // The personal export lists the caller's media with working short-lived links, and no one else's.
    let export = t.call("GET", "/v1/me/export", Some(&mallory), None).await.json();
    let listed: Vec<&str> =
        export["media"].as_array().expect("media").iter().filter_map(|m| m["media_id"].as_str()).collect();
    assert_eq!(listed, vec![scan_id.as_str()]);
    let link = export["media"][0]["variants"]["original"]["download_url"].as_str().expect("a link");
    assert_eq!(http_request("GET", link, &[], Vec::new()).await.body, PDF);
    assert!(!export.to_string().contains(&media_id), "nothing of another customer's");
}

#[tokio::test]
async fn lists_are_newest_first_and_page_with_signed_cursors() {
    let t = TestApp::new().await;
    let (token, _) = customer(&t, "+260971110007", "Page Person").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let purpose = if i % 2 == 0 { "document" } else { "attachment" };
        let created = slot(
            &t,
            &token,
            json!({"filename": format!("f{i}.pdf"), "content_type": "application/pdf", "size": 10, "purpose": purpose}),
        )
        .await;
        ids.push(created.json()["media_id"].as_str().expect("id").to_string());
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let first = t.call("GET", "/v1/media?limit=2", Some(&token), None).await.json();
    let cursor = first["next_cursor"].as_str().expect("a next page").to_string();
    let second = t.call("GET", &format!("/v1/media?limit=2&cursor={cursor}"), Some(&token), None).await.json();
    let seen: Vec<&str> = first["items"]
        .as_array()
        .into_iter()
        .chain(second["items"].as_array())
        .flatten()
        .filter_map(|m| m["media_id"].as_str())
        .collect();
    let newest: Vec<&str> = ids.iter().rev().take(4).map(String::as_str).collect();
    assert_eq!(seen, newest);
    let documents = t.call("GET", "/v1/media?purpose=document", Some(&token), None).await.json();
    assert_eq!(documents["items"].as_array().map(Vec::len), Some(3));
    let tampered =
        t.call("GET", &format!("/v1/media?limit=2&cursor={}x", &cursor[..cursor.len() - 1]), Some(&token), None).await;
    assert_eq!(tampered.status, 400);
    let other_query =
        t.call("GET", &format!("/v1/media?limit=2&purpose=document&cursor={cursor}"), Some(&token), None).await;
    assert_eq!(other_query.status, 400, "a cursor belongs to its query");
    assert_eq!(t.call("GET", "/v1/media?purpose=selfie", Some(&token), None).await.status, 422);
}

#[tokio::test]
async fn delete_and_erase_leave_no_object_and_no_record() {
    let t = TestApp::new().await;
    let (token, me) = customer(&t, "+260971110008", "Del Eter").await;
    let (bytes, _) = png(300, 300);
    let avatar = json!({"filename": "a.png", "content_type": "image/png", "size": bytes.len(), "purpose": "avatar"});
    let (first, done) = upload_and_complete(&t, &token, avatar.clone(), &bytes).await;
    assert_eq!(done.status, 200);
    let (second, done) = upload_and_complete(&t, &token, avatar, &bytes).await;
    assert_eq!(done.status, 200);
    assert_eq!(
        t.call("GET", &format!("/v1/media/{first}"), Some(&token), None).await.status,
        404,
        "a new avatar replaces the old one"
    );
    assert_eq!(objects_under(&t, &format!("media/{me}/{first}")).await, 0);

    let deleted = t.call("DELETE", &format!("/v1/media/{second}"), Some(&token), None).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(objects_under(&t, &format!("media/{me}/")).await, 0);
    assert_eq!((t.count_items("media").await, t.count_items("media_entry").await), (0, 0));
    assert_eq!(t.call("GET", "/v1/me", Some(&token), None).await.json()["avatar_url"], Value::Null);

    let document =
        json!({"filename": "d.pdf", "content_type": "application/pdf", "size": PDF.len(), "purpose": "document"});
    let (_, done) = upload_and_complete(&t, &token, document.clone(), PDF).await;
    assert_eq!(done.status, 200);
    let pending = slot(&t, &token, document).await;
    let _ = upload(&pending.json(), PDF).await;
    assert!(objects_under(&t, &format!("media/{me}/")).await >= 2);
    assert_eq!(t.call("DELETE", "/v1/me", Some(&token), None).await.status, 204);
    assert_eq!(objects_under(&t, &format!("media/{me}/")).await, 0, "the erase removes every object");
    assert_eq!((t.count_items("media").await, t.count_items("media_entry").await), (0, 0));
}

#[tokio::test]
async fn five_concurrent_completes_give_one_outcome_and_one_avatar_change() {
    let t = TestApp::new().await;
    let (token, me) = customer(&t, "+260971110009", "Con Current").await;
    let (bytes, _) = png(200, 200);
    let created = slot(
        &t,
        &token,
        json!({"filename": "a.png", "content_type": "image/png", "size": bytes.len(), "purpose": "avatar"}),
    )
    .await;
    let media_id = created.json()["media_id"].as_str().expect("id").to_string();
    assert_eq!(upload(&created.json(), &bytes).await.status, 200);
    let path = format!("/v1/media/{media_id}/complete");
    let outcomes = join_all((0..5).map(|_| t.call("POST", &path, Some(&token), None))).await;
    for outcome in &outcomes {
        assert_eq!(outcome.status, 200, "{}", String::from_utf8_lossy(&outcome.body));
        assert_eq!(outcome.json(), outcomes[0].json());
    }
    let staff = t.staff_tokens().await;
    let audit = t.call("GET", &format!("/v1/customers/{me}/audit"), Some(&staff.admin), None).await.json();
    let avatar_changes = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|entry| entry["changes"].to_string().contains("avatar_url"))
        .count();
    assert_eq!(avatar_changes, 1);
}

#[tokio::test]
async fn the_processor_settles_an_upload_from_a_real_s3_event() {
    let t = TestApp::new().await;
    let (token, me) = customer(&t, "+260971110010", "Event Driven").await;
    let created = slot(
        &t,
        &token,
        json!({"filename": "d.pdf", "content_type": "application/pdf", "size": PDF.len(), "purpose": "document"}),
    )
    .await;
    let media_id = created.json()["media_id"].as_str().expect("id").to_string();
    assert_eq!(upload(&created.json(), PDF).await.status, 200);

    let sample = std::fs::read_to_string(integration_tests::repo_root().join("events/s3-object-created.json"))
        .expect("sample event");
    let bucket = &t.app().config.media_bucket;
    let text = sample
        .replace("media/CUST_0E7E5700/MED_0123456789ABCDEF", &format!("media/{me}/{media_id}"))
        .replace("media-5c9a6f30-8a41-11ef-9f3b-0a1b2c3d4e5f", bucket);
    let event: aws_lambda_events::event::s3::S3Event = serde_json::from_str(&text).expect("an S3 event");
    let outcomes = media_processor::handle_event(t.app(), event.clone()).await.expect("processed");
    assert_eq!(outcomes, vec![shared::services::media::ObjectCreated::Ready]);
    let meta = t.call("GET", &format!("/v1/media/{media_id}"), Some(&token), None).await.json();
    assert_eq!(meta["status"], "ready");
    // A redelivery changes nothing; an object nobody asked for is deleted.
    assert_eq!(
        media_processor::handle_event(t.app(), event).await.expect("again"),
        vec![shared::services::media::ObjectCreated::Ready]
    );
    let stray = format!("media/{me}/MED_00000000000000AA");
    let app = t.app();
    app.s3().put_object().bucket(bucket).key(&stray).body(PDF.to_vec().into()).send().await.expect("put");
    let orphan: aws_lambda_events::event::s3::S3Event =
        serde_json::from_str(&sample.replace("media/CUST_0E7E5700/MED_0123456789ABCDEF", &stray)).expect("event");
    assert_eq!(
        media_processor::handle_event(app, orphan).await.expect("orphan"),
        vec![shared::services::media::ObjectCreated::Orphan]
    );
    assert!(!object_exists(&t, &stray).await);
}

/// A PNG whose header declares `width` × `height` pixels at `bit_depth` bits per channel of RGBA,
/// followed by a few bytes of image data and the end chunk: what an attacker needs to claim
/// gigabytes of pixels in a few hundred bytes.
fn png_declaring(width: u32, height: u32, bit_depth: u8) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend(data);
        out.extend(&body);
        out.extend(crc32(&body).to_be_bytes());
    }
    let mut ihdr = Vec::new();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([bit_depth, 6, 0, 0, 0]);
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &[0x78, 0x9C, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01]);
    chunk(&mut png, b"IEND", &[]);
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A real, complete PNG of `width` × `height` grey pixels (zeros compress to almost nothing).
fn grey_png(width: u32, height: u32) -> Vec<u8> {
    let pixels = image::GrayImage::new(width, height);
    let mut bytes = Vec::new();
    pixels.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png).expect("encode PNG");
    bytes
}

/// API.md: an avatar decodes to at most 40 megapixels (and 10,000 px a side); a larger one is
/// 422 and `rejected` at once, from its header, whatever its file size. Before the fix, a complete
/// 41-megapixel PNG was decoded and became the avatar, and a header claiming 8,000 × 8,000
/// 16-bit pixels made the processor reserve 512 MB before finding the data short.
#[tokio::test]
async fn avatars_over_forty_megapixels_are_refused_from_their_header() {
    let t = TestApp::new().await;
    let (token, me) = customer(&t, "+260971110011", "Pixel Bomb").await;
    let cases = [
        ("a complete 6,400 × 6,400 PNG (41 megapixels)", grey_png(6_400, 6_400), "6400 × 6400"),
        ("a header claiming 8,000 × 8,000 at 16 bits", png_declaring(8_000, 8_000, 16), "8000 × 8000"),
        ("a header claiming 20,000 × 100", png_declaring(20_000, 100, 8), "20000 × 100"),
    ];
    for (case, bytes, dimensions) in cases {
        assert!(bytes.len() < 5 * 1024 * 1024, "{case}: under the avatar's size limit");
        let request =
            json!({"filename": "bomb.png", "content_type": "image/png", "size": bytes.len(), "purpose": "avatar"});
        let (media_id, done) = upload_and_complete(&t, &token, request, &bytes).await;
        assert_eq!(done.status, 422, "{case}: {}", String::from_utf8_lossy(&done.body));
        let detail = done.json()["detail"].as_str().unwrap_or_default().to_string();
        assert!(detail.contains(dimensions) && detail.contains("40 megapixels"), "{case}: {detail}");
        let meta = t.call("GET", &format!("/v1/media/{media_id}"), Some(&token), None).await.json();
        assert_eq!(meta["status"], "rejected", "{case}");
        assert_eq!(objects_under(&t, &format!("media/{me}/{media_id}")).await, 0, "{case}: nothing kept");
    }
    let within = grey_png(2_000, 1_500);
    let request = json!({"filename": "ok.png", "content_type": "image/png", "size": within.len(), "purpose": "avatar"});
    assert_eq!(upload_and_complete(&t, &token, request, &within).await.1.status, 200, "3 megapixels pass");
    let me_now = t.call("GET", "/v1/me", Some(&token), None).await.json();
    assert!(me_now["avatar_url"].is_string(), "only the image within the limit became the avatar");
}

async fn tags_of(t: &TestApp, key: &str) -> Vec<String> {
    let app = t.app();
    let out = app.s3().get_object_tagging().bucket(&app.config.media_bucket).key(key).send().await.expect("tagging");
    out.tag_set().iter().map(|tag| format!("{}={}", tag.key(), tag.value())).collect()
}

/// API.md: once a media item is `ready` its bytes are fixed. Before the fix, a second PUT to the
/// still-valid upload URL replaced a verified PDF with an executable of the same length, which
/// the download then served, and tagged it for the lifecycle rule's deletion again.
#[tokio::test]
async fn a_ready_documents_bytes_cannot_be_replaced_through_its_upload_url() {
    let t = TestApp::new().await;
    let (token, me) = customer(&t, "+260971110012", "Doc Keeper").await;
    let request =
        json!({"filename": "d.pdf", "content_type": "application/pdf", "size": PDF.len(), "purpose": "document"});
    let created = slot(&t, &token, request).await;
    let media_id = created.json()["media_id"].as_str().expect("id").to_string();
    assert_eq!(upload(&created.json(), PDF).await.status, 200);
    let path = format!("/v1/media/{media_id}/complete");
    let ready = t.call("POST", &path, Some(&token), None).await;
    assert_eq!(ready.status, 200, "{}", String::from_utf8_lossy(&ready.body));

    let mut executable = b"MZ".to_vec();
    executable.resize(PDF.len(), 0x90);
    let replaced = upload(&created.json(), &executable).await;
    assert_eq!(replaced.status, 200, "S3 still takes the PUT (the URL is valid until it expires)");
    let again = t.call("POST", &path, Some(&token), None).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json(), ready.json(), "the item is as it was settled");
    let served = download(&t, &token, &format!("/v1/media/{media_id}/download")).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.body, PDF, "the download serves the verified bytes");

    let meta = t.call("GET", &format!("/v1/media/{media_id}"), Some(&token), None).await.json();
    assert_eq!(meta["status"], "ready");
    let served_key = format!("media/{me}/{media_id}/original");
    assert!(object_exists(&t, &served_key).await);
    assert!(tags_of(&t, &served_key).await.is_empty(), "the verified copy carries no expiry tag");
    // The bucket's event for the second PUT removes it: a settled item takes no new bytes.
    let upload_key = format!("media/{me}/{media_id}");
    media_processor::handle_event(t.app(), s3_event(&t, &upload_key)).await.expect("processed");
    assert!(!object_exists(&t, &upload_key).await, "the replacement is gone");
    assert_eq!(download(&t, &token, &format!("/v1/media/{media_id}/download")).await.body, PDF);
}

/// The sample S3 event, naming `key` in this test's bucket.
fn s3_event(t: &TestApp, key: &str) -> aws_lambda_events::event::s3::S3Event {
    let sample = std::fs::read_to_string(integration_tests::repo_root().join("events/s3-object-created.json"))
        .expect("sample event");
    let text = sample
        .replace("media/CUST_0E7E5700/MED_0123456789ABCDEF", key)
        .replace("media-5c9a6f30-8a41-11ef-9f3b-0a1b2c3d4e5f", &t.app().config.media_bucket);
    serde_json::from_str(&text).expect("an S3 event")
}

/// After an erase no object of the customer remains, whatever wrote it: before the fix,
/// renditions a processor wrote for an item the erase had already removed stayed for good.
/// A ready avatar's renditions carry no expiry tag.
#[tokio::test]
async fn an_erase_leaves_no_object_under_the_customers_prefix() {
    let t = TestApp::new().await;
    let (token, me) = customer(&t, "+260971110013", "Left Overs").await;
    let (bytes, _) = png(300, 200);
    let avatar = json!({"filename": "a.png", "content_type": "image/png", "size": bytes.len(), "purpose": "avatar"});
    let (media_id, done) = upload_and_complete(&t, &token, avatar, &bytes).await;
    assert_eq!(done.status, 200);
    for rendition in ["image", "thumb"] {
        let key = format!("media/{me}/{media_id}/{rendition}");
        assert!(tags_of(&t, &key).await.is_empty(), "{rendition} of a ready avatar carries no expiry tag");
    }
    // What a processor racing the erase leaves: renditions of an item the erase already removed.
    let app = t.app();
    for key in ["MED_00000000000000B1/image", "MED_00000000000000B1/thumb", "MED_00000000000000B2"] {
        let key = format!("media/{me}/{key}");
        app.s3()
            .put_object()
            .bucket(&app.config.media_bucket)
            .key(key)
            .body(bytes.clone().into())
            .send()
            .await
            .expect("put");
    }
    assert_eq!(t.call("DELETE", "/v1/me", Some(&token), None).await.status, 204);
    assert_eq!(objects_under(&t, &format!("media/{me}/")).await, 0, "nothing of the customer is left");
}
