//! Customer exports: recording one, and the job that writes its file.
//!
//! The job claims the export (`running`, attempt n), streams the matches page by page through
//! the search planner (`AllMatches`: the entry point read once, then page after page), renders
//! each customer as a CSV row or a JSON line and uploads the bytes as S3 multipart parts of at
//! least 5 MiB, so memory holds one page and one part whatever the row count. After every page
//! it records `rows` and a heartbeat; it ends `ready` or `failed` with a reason, and aborts the
//! multipart upload on any failure.
//!
//! A job runs in slices: once a slice has written for `EXPORT_SLICE_SECONDS` it stops itself
//! after the page in hand, well before the function's timeout, and records a checkpoint (the
//! position of the last match written, the columns, the multipart upload and its parts; the
//! bytes since the last part go to a small tail object) with the export `paused`. The next
//! slice (the stream record redelivered in AWS, the next turn of the loop locally) takes the
//! export up in the same attempt and carries on until every match is written.
//!
//! Each attempt writes its own file (`exports/<id>/<attempt>.<ext>`): a job taken for dead
//! that wakes up later writes only into its own attempt's file, never over the newer one, and
//! can no longer record anything (every write is conditional on its attempt). A pending
//! export waits for its job without being declared dead; only a job that started running is
//! judged by its heartbeat.
//!
//! Where the job runs is the caller's choice (`ExportRunner`): the export-job function fed by
//! the table's stream in AWS, a background task locally. Both call `ExportJob::run`.

use std::time::{Duration, Instant};

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use platform::clock::Clock;
use platform::config::ExportSettings;
use store::exports::ExportOutcome;
use store::{DisplayErrorContext, Store, StoreError};
use thiserror::Error;

use crate::App;
use crate::domain::ValidationErrors;
use crate::domain::export::{
    EncodeError, ExportCheckpoint, ExportFormat, ExportId, ExportRecord, ExportRequest, ExportStatus, RowRenderer,
    UploadedPart, resolve_columns,
};
use crate::domain::search::SearchRequest;
use crate::search::{AllMatches, SearchError};
use crate::time::Timestamp;

/// S3's smallest part but the last is 5 MiB; a part is sent once the buffer holds this much.
pub const PART_BYTES: usize = 5 * 1024 * 1024;
/// Customers per page the job reads at most (one `BatchGetItem` round and one heartbeat each):
/// a page stays a few MB. `EXPORT_PAGE_ROWS` may set fewer.
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
pub async fn create_export(app: &App, request: &ExportRequest, requested_by: &str) -> Result<ExportRecord, StoreError> {
    let record = ExportRecord::new(ExportId::generate(), request, requested_by, app.clock.now_with_ms());
    app.store.create_export(&record).await?;
    Ok(record)
}

/// A page of the exports `requested_by` asked for, newest first, each as a reader sees it
/// (see [`settle`]).
pub async fn list_exports(
    app: &App,
    requested_by: &str,
    limit: i32,
    start: Option<store::PageToken>,
) -> Result<store::Page<ExportRecord>, StoreError> {
    let mut page = app.store.list_exports(requested_by, limit, start).await?;
    let mut settled = Vec::with_capacity(page.items.len());
    for record in std::mem::take(&mut page.items) {
        // Settled from the record the list read: no extra read per item.
        settled.push(settle(app, record).await?);
    }
    Ok(store::Page { items: settled, next: page.next })
}

/// Starts the job in a background task of this process (`EXPORT_RUNNER=inline`), slice after
/// slice until it ends, as the stream's redeliveries do in AWS.
pub fn spawn_inline(job: ExportJob, id: ExportId) {
    tokio::spawn(async move {
        if let Err(err) = job.run_to_end(&id).await {
            tracing::error!(export_id = %id, error = %err, "export job could not record its outcome");
        }
    });
}

/// The export as a reader sees it: a job that stopped heartbeating, or an export that waited
/// for its job too long, is reported, and recorded, `failed`.
pub async fn read_export(app: &App, id: &ExportId) -> Result<Option<ExportRecord>, StoreError> {
    match app.store.get_export(id).await? {
        Some(record) => Ok(Some(settle(app, record).await?)),
        None => Ok(None),
    }
}

/// `record` as it stands now: `failed` (and so recorded) when it is taken for dead.
async fn settle(app: &App, record: ExportRecord) -> Result<ExportRecord, StoreError> {
    let now = app.clock.now();
    match record.dead_reason(now, app.config.exports.liveness()) {
        None => Ok(record),
        Some(reason) => Ok(app.store.fail_stale_export(&record, reason, now).await?.unwrap_or(record)),
    }
}

/// A presigned GET of a ready export's file, signed now and valid for the configured
/// `EXPORT_LINK_SECONDS`, and when it expires.
pub async fn download_link(app: &App, record: &ExportRecord) -> Result<(String, Timestamp), ExportError> {
    let (now, ttl) = (app.clock.now(), app.config.exports.link_ttl);
    let config = PresigningConfig::expires_in(ttl).map_err(|e| ExportError::Storage(e.to_string()))?;
    let filename = format!("attachment; filename=\"customers-{}.{}\"", record.export_id, record.format.extension());
    let presigned = app
        .s3()
        .get_object()
        .bucket(&app.config.media_bucket)
        .key(record.download_key())
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
    /// The slice's time is up: the job recorded a checkpoint and waits for its next slice.
    Paused {
        rows: u64,
    },
    /// Taken for dead while running; the export stays `failed`.
    Lost,
}

/// How a slice of the job ended, short of a failure.
enum Written {
    Finished,
    Paused(ExportCheckpoint),
}

/// Everything the job needs, owned, so it can run in a task of its own.
#[derive(Clone)]
pub struct ExportJob {
    store: Store,
    s3: aws_sdk_s3::Client,
    bucket: String,
    count_cap: usize,
    phone_region: phonenumber::country::Id,
    settings: ExportSettings,
}

impl ExportJob {
    pub fn of(app: &App) -> Self {
        Self {
            store: app.store.clone(),
            s3: app.s3().clone(),
            bucket: app.config.media_bucket.clone(),
            count_cap: app.config.search_count_cap,
            phone_region: app.config.phone_default_region,
            settings: app.config.exports,
        }
    }

    /// Runs slice after slice until the job ends (the local runner, the benchmark).
    pub async fn run_to_end(&self, id: &ExportId) -> Result<JobOutcome, StoreError> {
        loop {
            match self.run(id).await? {
                JobOutcome::Paused { .. } => tokio::task::yield_now().await,
                outcome => return Ok(outcome),
            }
        }
    }

    /// One slice: claims the export (a pending one, a paused one's next slice, or one whose
    /// job died) and writes its file until it is done or the slice's time is up. `Err` only
    /// when the outcome could not be recorded (the export then turns `failed` when read, once
    /// its heartbeat is stale).
    pub async fn run(&self, id: &ExportId) -> Result<JobOutcome, StoreError> {
        let started = Instant::now();
        let clock = Clock::default();
        let Some(record) = self.claim(id, &clock).await? else {
            return Ok(JobOutcome::NotClaimed);
        };
        let mut rows = record.checkpoint.as_ref().map_or(0, |c| c.rows);
        let reason = match self.write_file(&record, &clock, started, &mut rows).await {
            Ok(Written::Finished) => None,
            Ok(Written::Paused(checkpoint)) => {
                if !self.store.pause_export(id, record.attempt, &checkpoint, clock.now()).await? {
                    return Ok(JobOutcome::Lost);
                }
                return Ok(JobOutcome::Paused { rows });
            }
            Err(ExportError::Lost) => return Ok(JobOutcome::Lost),
            Err(err) => {
                tracing::error!(export_id = %id, error = ?err, "export job failed");
                Some(err_text(&err))
            }
        };
        let file_key = record.object_key();
        let outcome = match &reason {
            None => ExportOutcome::Ready { file_key: &file_key },
            Some(reason) => ExportOutcome::Failed(reason),
        };
        if !self.store.finish_export(id, record.attempt, rows, outcome, clock.now()).await? {
            return Ok(JobOutcome::Lost);
        }
        Ok(match reason {
            None => JobOutcome::Ready { rows },
            Some(reason) => JobOutcome::Failed { reason },
        })
    }

    /// The export this slice works on, claimed: a pending export (a new attempt), a paused
    /// one (its next slice, same attempt), or a running one whose job died (a new attempt,
    /// from the start: the dead job's file is its own). A job that looks alive (a redelivery
    /// after a crash, seconds ago) is waited for until its heartbeat is stale, at most once.
    async fn claim(&self, id: &ExportId, clock: &Clock) -> Result<Option<ExportRecord>, StoreError> {
        let liveness = self.settings.liveness();
        for waited in [false, true] {
            let Some(seen) = self.store.get_export(id).await? else { return Ok(None) };
            let now = clock.now();
            match seen.status {
                ExportStatus::Pending => return self.store.claim_export(&seen, now).await,
                ExportStatus::Running if seen.paused => return self.store.resume_export(&seen, now).await,
                ExportStatus::Running => {
                    let heartbeat = seen.heartbeat_at.unwrap_or(seen.created_at);
                    let silent = now.unix() - heartbeat.unix();
                    if silent > liveness.stale_after {
                        return self.store.claim_export(&seen, now).await;
                    }
                    if waited {
                        return Ok(None);
                    }
                    let wait = (liveness.stale_after - silent + 1).max(1) as u64;
                    tracing::info!(export_id = %id, seconds = wait, "the export's job looks alive; waiting for its heartbeat");
                    tokio::time::sleep(Duration::from_secs(wait)).await;
                }
                ExportStatus::Ready | ExportStatus::Failed => return Ok(None),
            }
        }
        Ok(None)
    }

    async fn write_file(
        &self,
        record: &ExportRecord,
        clock: &Clock,
        started: Instant,
        rows: &mut u64,
    ) -> Result<Written, ExportError> {
        let search_request = record.search_request(self.phone_region).map_err(|e| ExportError::Filter(describe(&e)))?;
        let request = SearchRequest { limit: self.settings.page_rows, ..record.bounded_search(&search_request) };
        let (columns, mut upload) = match &record.checkpoint {
            Some(checkpoint) => (
                resolve_columns(Some(&checkpoint.columns), &[]),
                Upload::resume(&self.s3, &self.bucket, record, checkpoint).await?,
            ),
            None => {
                let custom_keys: Vec<String> =
                    self.store.list_fields().await?.into_iter().filter(|f| !f.retired).map(|f| f.key).collect();
                (resolve_columns(record.columns.as_deref(), &custom_keys), Upload::new(&self.s3, &self.bucket, record))
            }
        };
        let mut renderer = RowRenderer::new(record.format, columns, record.columns.is_some());
        let slice_ends = started + self.settings.slice;
        let written = self.write_rows(record, &request, &mut renderer, &mut upload, clock, slice_ends, rows).await;
        match written {
            Ok(Written::Finished) => {
                upload.finish().await?;
                Ok(Written::Finished)
            }
            Ok(Written::Paused(checkpoint)) => Ok(Written::Paused(checkpoint)),
            Err(err) => {
                upload.abort().await;
                Err(err)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn write_rows(
        &self,
        record: &ExportRecord,
        request: &SearchRequest,
        renderer: &mut RowRenderer,
        upload: &mut Upload<'_>,
        clock: &Clock,
        slice_ends: Instant,
        rows: &mut u64,
    ) -> Result<Written, ExportError> {
        let after = record.checkpoint.as_ref().and_then(|c| c.after.clone());
        if record.checkpoint.is_none() {
            upload.write(renderer.preamble(record.bom)?).await?;
        }
        let mut matches = AllMatches::after(&self.store, request, self.count_cap, SORT_BUDGET, after);
        while let Some(customers) = matches.next_page(clock.now()).await? {
            for customer in &customers {
                upload.write(renderer.row(customer)?).await?;
                *rows += 1;
            }
            if !matches.is_done() && Instant::now() >= slice_ends {
                let columns = renderer.columns().iter().map(|c| c.name().into_owned()).collect();
                return Ok(Written::Paused(upload.checkpoint(matches.resume_point(), *rows, columns).await?));
            }
            if !self.store.export_heartbeat(&record.export_id, record.attempt, *rows, clock.now()).await? {
                return Err(ExportError::Lost);
            }
        }
        Ok(Written::Finished)
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
/// a multipart upload started with the first part. A file smaller than one part is one PUT. A
/// paused job keeps the buffer in the tail object, and its checkpoint the upload and its parts.
struct Upload<'a> {
    s3: &'a aws_sdk_s3::Client,
    bucket: &'a str,
    key: String,
    tail_key: String,
    format: ExportFormat,
    buffer: Vec<u8>,
    upload_id: Option<String>,
    parts: Vec<CompletedPart>,
    /// Whether a tail object was written (by this slice or an earlier one).
    tail_written: bool,
}

impl<'a> Upload<'a> {
    fn new(s3: &'a aws_sdk_s3::Client, bucket: &'a str, record: &ExportRecord) -> Self {
        Self {
            s3,
            bucket,
            key: record.object_key(),
            tail_key: record.tail_key(),
            format: record.format,
            buffer: Vec::with_capacity(PART_BYTES + 64 * 1024),
            upload_id: None,
            parts: Vec::new(),
            tail_written: false,
        }
    }

    /// The upload as a paused slice left it: its multipart upload and parts, and the bytes
    /// since the last part read back from the tail object.
    async fn resume(
        s3: &'a aws_sdk_s3::Client,
        bucket: &'a str,
        record: &ExportRecord,
        checkpoint: &ExportCheckpoint,
    ) -> Result<Self, ExportError> {
        let mut upload = Self::new(s3, bucket, record);
        upload.upload_id = checkpoint.upload_id.clone();
        upload.parts = checkpoint
            .parts
            .iter()
            .map(|part| CompletedPart::builder().part_number(part.number).e_tag(&part.etag).build())
            .collect();
        if checkpoint.tail {
            let out = s3.get_object().bucket(bucket).key(&upload.tail_key).send().await.map_err(storage)?;
            let bytes = out.body.collect().await.map_err(|e| ExportError::Storage(e.to_string()))?;
            upload.buffer.extend_from_slice(&bytes.into_bytes());
            upload.tail_written = true;
        }
        Ok(upload)
    }

    /// Where the next slice carries on: the buffer goes to the tail object (less than a part),
    /// and the checkpoint names the upload, its parts and the position reached.
    async fn checkpoint(
        &mut self,
        after: Option<crate::domain::search::Position>,
        rows: u64,
        columns: Vec<String>,
    ) -> Result<ExportCheckpoint, ExportError> {
        let tail = !self.buffer.is_empty();
        if tail {
            let body = std::mem::take(&mut self.buffer);
            self.s3
                .put_object()
                .bucket(self.bucket)
                .key(&self.tail_key)
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(storage)?;
            self.tail_written = true;
        }
        let parts = self
            .parts
            .iter()
            .map(|part| UploadedPart {
                number: part.part_number.unwrap_or_default(),
                etag: part.e_tag.clone().unwrap_or_default(),
            })
            .collect();
        Ok(ExportCheckpoint { after, rows, columns, upload_id: self.upload_id.clone(), parts, tail })
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
        let result = match self.upload_id {
            None => self.put_whole().await,
            Some(_) => self.complete().await,
        };
        match &result {
            Ok(()) => self.drop_tail().await,
            Err(_) => self.abort().await,
        }
        result
    }

    async fn put_whole(&mut self) -> Result<(), ExportError> {
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
        Ok(())
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
        self.drop_tail().await;
        let Some(upload_id) = self.upload_id.take() else { return };
        let aborted =
            self.s3.abort_multipart_upload().bucket(self.bucket).key(&self.key).upload_id(upload_id).send().await;
        if let Err(err) = aborted {
            tracing::warn!(error = %DisplayErrorContext(err), "could not abort an export's multipart upload");
        }
    }

    /// Best effort: the tail object, once its bytes are in the file (or the job failed); the
    /// exports' expiry rule removes what this leaves.
    async fn drop_tail(&self) {
        if !self.tail_written {
            return;
        }
        let deleted = self.s3.delete_object().bucket(self.bucket).key(&self.tail_key).send().await;
        if let Err(err) = deleted {
            tracing::warn!(error = %DisplayErrorContext(err), "could not delete an export's tail object");
        }
    }
}
