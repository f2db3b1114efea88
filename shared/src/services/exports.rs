//! Customer exports: recording one, and the job that writes its file.
//!
//! The job claims the export (`running`, attempt n), streams the matches page by page through
//! the search planner (`AllMatches`: the entry point read once, then page after page), renders each customer as a CSV row or a JSON line and uploads the bytes
//! as S3 multipart parts of at least 5 MiB, so memory holds one page and one part whatever the
//! row count. After every page it records `rows` and a heartbeat; it ends `ready` or `failed`
//! with a reason, and aborts the multipart upload on any failure. A job that dies without ending
//! stops heartbeating, and a reader then marks the export `failed` (`read_export`).
//!
//! Where the job runs is the caller's choice (`ExportRunner`): the export-job function fed by
//! the table's stream in AWS, a background task locally. Both call `ExportJob::run`.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use thiserror::Error;

use crate::App;
use crate::clock::Clock;
use crate::domain::ValidationErrors;
use crate::domain::export::{
    EncodeError, ExportFormat, ExportId, ExportRecord, ExportRequest, RowRenderer, STALE_REASON, resolve_columns,
};
use crate::domain::search::SearchRequest;
use crate::services::search::{AllMatches, SearchError};
use crate::store::exports::ExportOutcome;
use crate::store::{DisplayErrorContext, Store, StoreError};
use crate::time::Timestamp;

/// S3's smallest part but the last is 5 MiB; a part is sent once the buffer holds this much.
pub const PART_BYTES: usize = 5 * 1024 * 1024;
/// Customers per page the job reads (one `BatchGetItem` round and one heartbeat each): a page
/// stays a few MB.
pub const PAGE_ROWS: usize = 1_000;
/// At most this many candidates are sorted in memory; a broader export walks the index kept in
/// its order instead, so the job's memory does not grow with the counting cap.
pub const SORT_BUDGET: usize = 2_000;

#[derive(Debug, Error)]
pub enum ExportError {
    #[error("the stored filter is no longer a valid search: {0}")]
    Filter(String),
    #[error("{0}")]
    Search(String),
    #[error("the customers could not be read")]
    Store(#[from] StoreError),
    #[error("the file could not be written to storage")]
    Storage(String),
    #[error("a row could not be encoded")]
    Encode(#[from] EncodeError),
    /// The export was taken for dead (no heartbeat) while this job still ran.
    #[error("the job lost its claim on the export")]
    Lost,
}

impl From<SearchError> for ExportError {
    fn from(err: SearchError) -> Self {
        match err {
            SearchError::TooBroadToSort(_) => ExportError::Search(err.to_string()),
            SearchError::Store(err) => ExportError::Store(err),
        }
    }
}

fn storage<E: std::error::Error + 'static, R: std::fmt::Debug>(err: aws_sdk_s3::error::SdkError<E, R>) -> ExportError {
    ExportError::Storage(DisplayErrorContext(err).to_string())
}

/// Records a new export (`pending`) for `requested_by`; the job is started by the caller's
/// runner (see `start`).
pub async fn create_export(
    store: &Store,
    request: &ExportRequest,
    requested_by: &str,
    now: (Timestamp, i64),
) -> Result<ExportRecord, StoreError> {
    let record = ExportRecord::new(ExportId::generate(), request, requested_by, now);
    store.create_export(&record).await?;
    Ok(record)
}

/// Starts the job in a background task of this process (`EXPORT_RUNNER=inline`).
pub fn spawn_inline(job: ExportJob, id: ExportId) {
    tokio::spawn(async move {
        if let Err(err) = job.run(&id).await {
            tracing::error!(export_id = %id, error = %err, "export job could not record its outcome");
        }
    });
}

/// The export as a reader sees it: a job that stopped heartbeating is reported, and recorded,
/// `failed`.
pub async fn read_export(
    store: &Store,
    id: &ExportId,
    now: Timestamp,
    stale_after: Duration,
) -> Result<Option<ExportRecord>, StoreError> {
    match store.get_export(id).await? {
        Some(record) => Ok(Some(settle(store, record, now, stale_after).await?)),
        None => Ok(None),
    }
}

/// `record` as it stands: `failed` (and so recorded) when its job is silent for too long.
pub async fn settle(
    store: &Store,
    record: ExportRecord,
    now: Timestamp,
    stale_after: Duration,
) -> Result<ExportRecord, StoreError> {
    if !record.is_stale(now, stale_after.as_secs() as i64) {
        return Ok(record);
    }
    Ok(store.fail_stale_export(&record, STALE_REASON, now).await?.unwrap_or(record))
}

/// A presigned GET of a ready export's file, valid for `ttl`, and when it expires.
pub async fn download_link(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    record: &ExportRecord,
    now: Timestamp,
    ttl: Duration,
) -> Result<(String, Timestamp), ExportError> {
    let config = PresigningConfig::expires_in(ttl).map_err(|e| ExportError::Storage(e.to_string()))?;
    let filename = format!("attachment; filename=\"customers-{}.{}\"", record.export_id, record.format.extension());
    let presigned = s3
        .get_object()
        .bucket(bucket)
        .key(record.object_key())
        .response_content_disposition(filename)
        .presigned(config)
        .await
        .map_err(storage)?;
    Ok((presigned.uri().to_string(), now.plus_seconds(ttl.as_secs() as i64)))
}

/// What a job did.
#[derive(Debug, PartialEq, Eq)]
pub enum JobOutcome {
    /// Another job holds the export, or it already ended: nothing to do.
    NotClaimed,
    Ready {
        rows: u64,
    },
    Failed {
        reason: String,
    },
    /// Taken for dead while running; the export stays `failed`.
    Lost,
}

/// Everything the job needs, owned, so it can run in a task of its own.
#[derive(Clone)]
pub struct ExportJob {
    store: Store,
    s3: aws_sdk_s3::Client,
    bucket: String,
    count_cap: usize,
    phone_region: phonenumber::country::Id,
    stale_after: Duration,
}

impl ExportJob {
    pub fn of(app: &App) -> Self {
        Self {
            store: app.store.clone(),
            s3: app.s3().clone(),
            bucket: app.config.media_bucket.clone(),
            count_cap: app.config.search_count_cap,
            phone_region: app.config.phone_default_region,
            stale_after: app.config.exports.stale_after,
        }
    }

    /// Claims the export and writes its file. `Err` only when the outcome could not be
    /// recorded (the export then turns `failed` when read, once its heartbeat is stale).
    pub async fn run(&self, id: &ExportId) -> Result<JobOutcome, StoreError> {
        let clock = Clock::default();
        let now = clock.now();
        let stale_before = now.plus_seconds(-(self.stale_after.as_secs() as i64));
        let Some(record) = self.store.claim_export(id, now, stale_before).await? else {
            return Ok(JobOutcome::NotClaimed);
        };
        let mut rows = 0u64;
        let result = self.write_file(&record, &clock, &mut rows).await;
        let outcome = match &result {
            Ok(()) => ExportOutcome::Ready,
            Err(ExportError::Lost) => return Ok(JobOutcome::Lost),
            Err(err) => {
                tracing::error!(export_id = %id, error = ?err, "export job failed");
                ExportOutcome::Failed(&err_text(err))
            }
        };
        let reason = match &outcome {
            ExportOutcome::Ready => None,
            ExportOutcome::Failed(reason) => Some(reason.to_string()),
        };
        if !self.store.finish_export(id, record.attempt, rows, outcome, clock.now()).await? {
            return Ok(JobOutcome::Lost);
        }
        Ok(match reason {
            None => JobOutcome::Ready { rows },
            Some(reason) => JobOutcome::Failed { reason },
        })
    }

    async fn write_file(&self, record: &ExportRecord, clock: &Clock, rows: &mut u64) -> Result<(), ExportError> {
        let search_request = record.search_request(self.phone_region).map_err(|e| ExportError::Filter(describe(&e)))?;
        let request = SearchRequest { limit: PAGE_ROWS, ..record.bounded_search(&search_request) };
        let custom_keys: Vec<String> =
            self.store.list_fields().await?.into_iter().filter(|f| !f.retired).map(|f| f.key).collect();
        let columns = resolve_columns(record.columns.as_deref(), &custom_keys);
        let mut renderer = RowRenderer::new(record.format, columns, record.columns.is_some());
        let mut upload = Upload::new(&self.s3, &self.bucket, record.object_key(), record.format);
        let written = self.write_rows(record, &request, &mut renderer, &mut upload, clock, rows).await;
        match written {
            Ok(()) => upload.finish().await,
            Err(err) => {
                upload.abort().await;
                Err(err)
            }
        }
    }

    async fn write_rows(
        &self,
        record: &ExportRecord,
        request: &SearchRequest,
        renderer: &mut RowRenderer,
        upload: &mut Upload<'_>,
        clock: &Clock,
        rows: &mut u64,
    ) -> Result<(), ExportError> {
        upload.write(renderer.preamble(record.bom)?).await?;
        let mut matches = AllMatches::new(&self.store, request, self.count_cap, SORT_BUDGET);
        while let Some(customers) = matches.next_page(clock.now()).await? {
            for customer in &customers {
                upload.write(renderer.row(customer)?).await?;
                *rows += 1;
            }
            if !self.store.export_heartbeat(&record.export_id, record.attempt, *rows, clock.now()).await? {
                return Err(ExportError::Lost);
            }
        }
        Ok(())
    }
}

/// The reason an admin reads: what failed, without internals (those go to the log).
fn err_text(err: &ExportError) -> String {
    err.to_string()
}

fn describe(errors: &ValidationErrors) -> String {
    errors.fields().iter().map(|f| format!("{} {}", f.field, f.message)).collect::<Vec<_>>().join("; ")
}

/// The file on its way to S3: bytes gather in a buffer, and every `PART_BYTES` become a part of
/// a multipart upload started with the first part. A file smaller than one part is one PUT.
struct Upload<'a> {
    s3: &'a aws_sdk_s3::Client,
    bucket: &'a str,
    key: String,
    format: ExportFormat,
    buffer: Vec<u8>,
    upload_id: Option<String>,
    parts: Vec<CompletedPart>,
}

impl<'a> Upload<'a> {
    fn new(s3: &'a aws_sdk_s3::Client, bucket: &'a str, key: String, format: ExportFormat) -> Self {
        Self {
            s3,
            bucket,
            key,
            format,
            buffer: Vec::with_capacity(PART_BYTES + 64 * 1024),
            upload_id: None,
            parts: Vec::new(),
        }
    }

    async fn write(&mut self, bytes: Vec<u8>) -> Result<(), ExportError> {
        self.buffer.extend_from_slice(&bytes);
        if self.buffer.len() >= PART_BYTES {
            self.send_part().await?;
        }
        Ok(())
    }

    async fn upload_id(&mut self) -> Result<String, ExportError> {
        if let Some(id) = &self.upload_id {
            return Ok(id.clone());
        }
        let out = self
            .s3
            .create_multipart_upload()
            .bucket(self.bucket)
            .key(&self.key)
            .content_type(self.format.content_type())
            .send()
            .await
            .map_err(storage)?;
        let id = out.upload_id.ok_or_else(|| ExportError::Storage("no upload id in the answer".into()))?;
        self.upload_id = Some(id.clone());
        Ok(id)
    }

    async fn send_part(&mut self) -> Result<(), ExportError> {
        let upload_id = self.upload_id().await?;
        let number = self.parts.len() as i32 + 1;
        let body = std::mem::replace(&mut self.buffer, Vec::with_capacity(PART_BYTES + 64 * 1024));
        let out = self
            .s3
            .upload_part()
            .bucket(self.bucket)
            .key(&self.key)
            .upload_id(upload_id)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(storage)?;
        self.parts.push(CompletedPart::builder().part_number(number).set_e_tag(out.e_tag).build());
        Ok(())
    }

    async fn finish(mut self) -> Result<(), ExportError> {
        if self.upload_id.is_none() {
            let body = std::mem::take(&mut self.buffer);
            self.s3
                .put_object()
                .bucket(self.bucket)
                .key(&self.key)
                .content_type(self.format.content_type())
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(storage)?;
            return Ok(());
        }
        let result = self.complete().await;
        if result.is_err() {
            self.abort().await;
        }
        result
    }

    async fn complete(&mut self) -> Result<(), ExportError> {
        if !self.buffer.is_empty() {
            self.send_part().await?;
        }
        let upload_id = self.upload_id().await?;
        let parts = CompletedMultipartUpload::builder().set_parts(Some(std::mem::take(&mut self.parts))).build();
        self.s3
            .complete_multipart_upload()
            .bucket(self.bucket)
            .key(&self.key)
            .upload_id(upload_id)
            .multipart_upload(parts)
            .send()
            .await
            .map_err(storage)?;
        Ok(())
    }

    /// Best effort: the bucket's lifecycle rule aborts what this leaves behind after a day.
    async fn abort(&mut self) {
        let Some(upload_id) = self.upload_id.take() else { return };
        let aborted =
            self.s3.abort_multipart_upload().bucket(self.bucket).key(&self.key).upload_id(upload_id).send().await;
        if let Err(err) = aborted {
            tracing::warn!(error = %DisplayErrorContext(err), "could not abort an export's multipart upload");
        }
    }
}
