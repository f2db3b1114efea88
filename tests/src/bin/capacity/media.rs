//! The media function's rows (and the processor's): upload slots, completion of a document and
//! of avatars, reading, downloading and deleting, for one signed-in customer. The bytes go to
//! the local S3 endpoint by real HTTP PUTs to the presigned URLs, as an app sends them; S3
//! calls cost no DynamoDB capacity and are named in the notes only.

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::{TestApp, put_to_slot};
use serde_json::{Value, json};
use shared::domain::media::MediaId;
use shared::store::keys;

use super::{Row, fail, measure, text, value_size};

const PHONE: &str = "+260971234599";
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// Size in bytes of one item, read through the client (the meter does not see it).
async fn item_bytes(t: &TestApp, pk: String, sk: String) -> Option<usize> {
    let store = &t.app().store;
    let out = store
        .client()
        .get_item()
        .table_name(store.table())
        .key(keys::PK, AttributeValue::S(pk))
        .key(keys::SK, AttributeValue::S(sk))
        .consistent_read(true)
        .send()
        .await
        .ok()?;
    Some(out.item?.iter().map(|(name, value)| name.len() + value_size(value)).sum())
}

/// Sizes of a media item and of its entry in the customer's partition.
async fn media_bytes(t: &TestApp, media_id: &str) -> (usize, usize) {
    let id = MediaId::parse(media_id).unwrap_or_else(|| fail(&format!("bad media id {media_id}")));
    let media = t.app().store.get_media(&id).await.ok().flatten().unwrap_or_else(|| fail("media item not found"));
    let item = item_bytes(t, keys::media_pk(&id), keys::MEDIA_SK.to_string()).await.unwrap_or(0);
    let entry = item_bytes(t, keys::customer_pk(&media.customer_id), keys::media_entry_sk(media.created_ms, &id))
        .await
        .unwrap_or(0);
    (item, entry)
}

/// A transaction action's write cost: 2 WCU per started KB.
fn tx_cost(bytes: usize) -> f64 {
    2.0 * bytes.div_ceil(1024).max(1) as f64
}

/// What an endpoint that merges equal per-action costs leaves out of one transaction.
fn equal_cost_excess(sizes: &[usize]) -> f64 {
    let costs: Vec<f64> = sizes.iter().map(|b| tx_cost(*b)).collect();
    let mut distinct = costs.clone();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    costs.iter().sum::<f64>() - distinct.iter().sum::<f64>()
}

fn slot_request(filename: &str, content_type: &str, size: usize, purpose: &str) -> Value {
    json!({"filename": filename, "content_type": content_type, "size": size, "purpose": purpose})
}

/// A slot (not measured) with its bytes uploaded; returns the media id.
async fn uploaded(t: &TestApp, token: &str, request: Value, bytes: &[u8]) -> String {
    let created = t.call("POST", "/v1/media/uploads", Some(token), Some(request)).await;
    if created.status != 201 {
        fail(&format!("upload slot answered {}: {}", created.status, String::from_utf8_lossy(&created.body)));
    }
    put_bytes(&created.json(), bytes).await;
    text(&created, "media_id")
}

async fn put_bytes(slot: &Value, bytes: &[u8]) {
    let put = put_to_slot(slot, bytes).await;
    if put.status != 200 {
        fail(&format!("PUT to the presigned URL answered {}: {}", put.status, String::from_utf8_lossy(&put.body)));
    }
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let pixels = image::ImageBuffer::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let mut bytes = Vec::new();
    pixels
        .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
        .unwrap_or_else(|e| fail(&format!("encoding a PNG: {e}")));
    bytes
}

pub(super) async fn media_rows(t: &TestApp, rows: &mut Vec<Row>) {
    let login = t.sign_in(PHONE, "Media Customer").await;
    let token = login["access_token"].as_str().unwrap_or_else(|| fail("no access token")).to_string();
    let customer = login["customer"]["customer_id"].as_str().unwrap_or_else(|| fail("no customer id")).to_string();
    let customer_bytes = item_bytes(t, format!("CUSTOMER#{customer}"), keys::PROFILE_SK.to_string()).await.unwrap_or(0);
    let document = slot_rows(t, &token, customer_bytes, rows).await;
    complete_document_row(t, &token, &document, rows).await;
    let avatar = avatar_rows(t, &token, rows).await;
    read_rows(t, &token, &document, rows).await;
    delete_rows(t, &token, &document, &avatar, rows).await;
}

/// `POST /v1/media/uploads` (a PDF document, then uploaded) and `/uploads/bulk` (5 files).
async fn slot_rows(t: &TestApp, token: &str, customer_bytes: usize, rows: &mut Vec<Row>) -> String {
    let request = slot_request("contract.pdf", "application/pdf", PDF.len(), "document");
    let (created, used) = measure(t, "POST", "/v1/media/uploads", Some(token), Some(request), 201).await;
    let document = text(&created, "media_id");
    let (item, entry) = media_bytes(t, &document).await;
    put_bytes(&created.json(), PDF).await;
    rows.push(Row {
        route: "POST /v1/media/uploads",
        case: "one PDF document, customer token",
        used,
        writes: true,
        tx_equal_wcu: equal_cost_excess(&[customer_bytes, item, entry]),
        note: format!(
            "GetItem customer (consistent: exists and active); **transaction** of 3 actions, \
             2 × ceil(size / 1 KB) each: ConditionCheck customer (≈ {customer_bytes} bytes) + Put \
             media item `MEDIA#<id>` (pending, ≈ {item} bytes, `attribute_not_exists`) + Put \
             entry `CUSTOMER#…/MEDIA#<ms>#<id>` (≈ {entry} bytes); the presigned PUT is signed \
             locally (no call)"
        ),
        ..Row::default()
    });

    let files: Vec<Value> =
        (0..5).map(|n| slot_request(&format!("receipt-{n}.pdf"), "application/pdf", PDF.len(), "attachment")).collect();
    let (created, used) =
        measure(t, "POST", "/v1/media/uploads/bulk", Some(token), Some(json!({ "files": files })), 201).await;
    let mut excess = 0.0;
    for result in created.json()["results"].as_array().into_iter().flatten() {
        let (item, entry) = media_bytes(t, result["media_id"].as_str().unwrap_or_default()).await;
        excess += equal_cost_excess(&[customer_bytes, item, entry]);
    }
    rows.push(Row {
        route: "POST /v1/media/uploads/bulk",
        case: "5 PDF attachments",
        used,
        writes: true,
        tx_equal_wcu: excess,
        note: "per file, one after another: GetItem customer (the owner check runs once per \
               file) and the 3-action transaction above; 5 presigned PUTs signed locally"
            .into(),
        ..Row::default()
    });
    document
}

async fn complete_document_row(t: &TestApp, token: &str, document: &str, rows: &mut Vec<Row>) {
    let path = format!("/v1/media/{document}/complete");
    let (_, used) = measure(t, "POST", &path, Some(token), None, 200).await;
    let (item, entry) = media_bytes(t, document).await;
    rows.push(Row {
        route: "POST /v1/media/{media_id}/complete",
        case: "PDF document (verified: ready)",
        used,
        writes: true,
        tx_equal_wcu: equal_cost_excess(&[item, entry]),
        note: format!(
            "GetItem media (the visibility check) + GetItem media (`complete` reads it again); \
             UpdateItem claim `pending → processing` (conditional); S3 HeadObject, 2 ranged GETs \
             (first 8 KiB, last 1 KiB), DeleteObjectTagging; **transaction**: Update media item \
             `ready` + variants (≈ {item} bytes after) + Update entry (drop its TTL, ≈ {entry} \
             bytes); GetItem media (the settled outcome)"
        ),
        ..Row::default()
    });
}

/// The first avatar completed through the API (renderer in-process, as in the local stack),
/// a second one settled by the processor's handler (the AWS path), and `complete` of that one
/// afterwards (what the app's call costs once the processor was first).
async fn avatar_rows(t: &TestApp, token: &str, rows: &mut Vec<Row>) -> String {
    let bytes = png(600, 400);
    let request = slot_request("me.png", "image/png", bytes.len(), "avatar");
    let first = uploaded(t, token, request.clone(), &bytes).await;
    let path = format!("/v1/media/{first}/complete");
    let (_, used) = measure(t, "POST", &path, Some(token), None, 200).await;
    let (item, entry) = media_bytes(t, &first).await;
    rows.push(Row {
        route: "POST /v1/media/{media_id}/complete",
        case: "PNG avatar (600×400), the customer's first; renderer in-process (local stack)",
        used,
        writes: true,
        tx_equal_wcu: equal_cost_excess(&[item, entry]),
        note: format!(
            "as for a document up to the claim; S3 GET of the whole upload, re-encode + \
             thumbnail, 2 PutObjects; `avatar_url` set through the customer write path: GetItem \
             customer (consistent) + **transaction** Put customer at its `version` + Put audit \
             entry (GSI4 rewrite); **transaction** media item `ready` (≈ {item} bytes with 2 \
             variants) + entry; S3 DeleteObject of the upload; GetItem media. In AWS the \
             processor does this work (next row) and the API's `complete` reads the item every \
             100 ms until it is settled (1 RCU a poll, at most 8 s)"
        ),
        ..Row::default()
    });

    let second = uploaded(t, token, request, &bytes).await;
    let (old_item, old_entry) = media_bytes(t, &first).await;
    let used = processor_event(t, &customer_of(t, &second).await, &second).await;
    let (item, entry) = media_bytes(t, &second).await;
    rows.push(Row {
        route: "media-processor (S3 event)",
        case: "`s3:ObjectCreated` of a PNG avatar replacing the first",
        used,
        writes: true,
        tx_equal_wcu: equal_cost_excess(&[item, entry]) + equal_cost_excess(&[old_item, old_entry]),
        note: "GetItem media (does the item exist?) + the avatar completion above (GetItem media, \
               claim, customer update with audit entry, media transaction, GetItem media); then \
               the previous avatar: GetItem media, S3 deletes of its 2 renditions, \
               **transaction** Delete its item + Delete its entry"
            .into(),
        ..Row::default()
    });

    let path = format!("/v1/media/{second}/complete");
    let (_, used) = measure(t, "POST", &path, Some(token), None, 200).await;
    rows.push(Row {
        route: "POST /v1/media/{media_id}/complete",
        case: "avatar already settled by the processor",
        used,
        note: "GetItem media (visibility) + GetItem media (`ready`: answered as settled)".into(),
        ..Row::default()
    });
    second
}

async fn customer_of(t: &TestApp, media_id: &str) -> String {
    let id = MediaId::parse(media_id).unwrap_or_else(|| fail("bad media id"));
    match t.app().store.get_media(&id).await {
        Ok(Some(media)) => media.customer_id.to_string(),
        _ => fail("media item not found"),
    }
}

/// Feeds the sample `s3:ObjectCreated` event, pointed at this upload, through the processor's
/// handler; returns the capacity it consumed.
async fn processor_event(t: &TestApp, customer: &str, media_id: &str) -> shared::store::Capacity {
    let sample = std::fs::read_to_string(integration_tests::repo_root().join("events/s3-object-created.json"))
        .unwrap_or_else(|e| fail(&format!("events/s3-object-created.json: {e}")));
    let text = sample
        .replace("media/CUST_0E7E5700/MED_0123456789ABCDEF", &format!("media/{customer}/{media_id}"))
        .replace("media-5c9a6f30-8a41-11ef-9f3b-0a1b2c3d4e5f", &t.app().config.media_bucket);
    let event = serde_json::from_str(&text).unwrap_or_else(|e| fail(&format!("the S3 event: {e}")));
    let before = t.app().store.meter().snapshot();
    let outcomes = media_processor::handle_event(t.app(), event)
        .await
        .unwrap_or_else(|e| fail(&format!("the processor failed: {e}")));
    if outcomes != [shared::services::media::ObjectCreated::Ready] {
        fail(&format!("the processor answered {outcomes:?}"));
    }
    t.app().store.meter().snapshot() - before
}

/// List, metadata and download of the customer's media (7 items: the document, 5 pending
/// attachments, the avatar).
async fn read_rows(t: &TestApp, token: &str, document: &str, rows: &mut Vec<Row>) {
    let (listed, used) = measure(t, "GET", "/v1/media", Some(token), None, 200).await;
    let count = listed.json()["items"].as_array().map_or(0, Vec::len);
    rows.push(Row {
        route: "GET /v1/media",
        case: "own media, one page",
        used,
        note: format!(
            "Query own partition, `MEDIA#` prefix, newest first (consistent; {count} small \
             entries); BatchGetItem of the {count} media items (consistent; each item its own \
             4 KB read unit, so 1 RCU per item listed)"
        ),
        ..Row::default()
    });
    let path = format!("/v1/media/{document}");
    let (_, used) = measure(t, "GET", &path, Some(token), None, 200).await;
    rows.push(Row {
        route: "GET /v1/media/{media_id}",
        case: "metadata",
        used,
        note: "GetItem media (consistent); the owner is checked on the item".into(),
        ..Row::default()
    });
    let path = format!("/v1/media/{document}/download");
    let (_, used) = measure(t, "GET", &path, Some(token), None, 302).await;
    rows.push(Row {
        route: "GET /v1/media/{media_id}/download",
        case: "302 to a presigned GET",
        used,
        note: "GetItem media (consistent); the GET is presigned locally (no call); S3 serves \
               the bytes"
            .into(),
        ..Row::default()
    });
}

async fn delete_rows(t: &TestApp, token: &str, document: &str, avatar: &str, rows: &mut Vec<Row>) {
    let (item, entry) = media_bytes(t, document).await;
    let (_, used) = measure(t, "DELETE", &format!("/v1/media/{document}"), Some(token), None, 204).await;
    rows.push(Row {
        route: "DELETE /v1/media/{media_id}",
        case: "a document",
        used,
        writes: true,
        tx_equal_wcu: equal_cost_excess(&[item, entry]),
        note: format!(
            "GetItem media (consistent); S3 DeleteObject of the upload key and of each variant; \
             **transaction** Delete media item (≈ {item} bytes) + Delete entry"
        ),
        ..Row::default()
    });
    let (item, entry) = media_bytes(t, avatar).await;
    let (_, used) = measure(t, "DELETE", &format!("/v1/media/{avatar}"), Some(token), None, 204).await;
    rows.push(Row {
        route: "DELETE /v1/media/{media_id}",
        case: "the current avatar",
        used,
        writes: true,
        tx_equal_wcu: equal_cost_excess(&[item, entry]),
        note: "GetItem media; `avatar_url` cleared through the customer write path (GetItem \
               customer + **transaction** customer + audit entry, GSI4 rewrite); S3 deletes of \
               the upload key and 2 renditions; **transaction** Delete item + Delete entry"
            .into(),
        ..Row::default()
    });
}
