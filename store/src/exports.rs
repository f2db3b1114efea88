//! Customer exports: one item per export in its own partition, listed newest first per
//! requester through GSI4. Every change after the creation is a conditional update on the
//! status and the job's `attempt`, so a job that lost its claim (taken for dead) can never
//! write over the outcome that replaced it.

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::keys::{self, entity};
use super::{Item, Page, PageToken, Store, StoreError, n, s};
use crate::domain::export::{ExportCheckpoint, ExportId, ExportRecord, ExportStatus};
use crate::time::Timestamp;

fn export_item(record: &ExportRecord) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(record)?;
    item.insert(keys::PK.into(), s(keys::export_pk(&record.export_id)));
    item.insert(keys::SK.into(), s(keys::EXPORT_SK));
    item.insert(keys::ENTITY.into(), s(entity::EXPORT));
    item.insert(keys::GSI4_PK.into(), s(keys::exports_list_pk(&record.requested_by)));
    // Milliseconds, zero-padded: exports of one second keep their order (newest first).
    item.insert(keys::GSI4_SK.into(), s(format!("{:014}#{}", record.created_ms, record.export_id)));
    Ok(item)
}

/// How a job ends.
pub enum ExportOutcome<'a> {
    /// The file is written, at `file_key`.
    Ready {
        file_key: &'a str,
    },
    Failed(&'a str),
}

/// `update` applies only while the export is as `seen`: same status and attempt, and the same
/// heartbeat (none, or the one read).
fn while_as_seen(update: UpdateItemFluentBuilder, seen: &ExportRecord) -> UpdateItemFluentBuilder {
    let heartbeat = seen.heartbeat_at.map(|t| t.to_rfc3339()).unwrap_or_default();
    update
        .condition_expression(
            "#status = :seen AND attempt = :attempt AND (attribute_not_exists(heartbeat_at) OR heartbeat_at = :heartbeat)",
        )
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":seen", s(seen.status.as_str()))
        .expression_attribute_values(":attempt", n(seen.attempt))
        .expression_attribute_values(":heartbeat", s(heartbeat))
}

/// `update` applies only while the job of `attempt` still holds the export (`running`).
fn while_held_by(update: UpdateItemFluentBuilder, attempt: u32) -> UpdateItemFluentBuilder {
    update
        .condition_expression("#status = :running AND attempt = :attempt")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":running", s(ExportStatus::Running.as_str()))
        .expression_attribute_values(":attempt", n(attempt))
}

impl Store {
    /// An UpdateItem of export `id`'s item; the caller adds the rest and sends it with `call_if`.
    fn update_export(&self, id: &ExportId) -> UpdateItemFluentBuilder {
        self.client().update_item().key(keys::PK, s(keys::export_pk(id))).key(keys::SK, s(keys::EXPORT_SK))
    }

    /// Writes a new export (`pending`). In AWS its INSERT on the table's stream starts the job.
    pub async fn create_export(&self, record: &ExportRecord) -> Result<(), StoreError> {
        let result = self
            .call_if(
                self.client()
                    .put_item()
                    .set_item(Some(export_item(record)?))
                    .condition_expression("attribute_not_exists(PK)"),
            )
            .await;
        result?.map(|_| ()).ok_or(StoreError::VersionConflict)
    }

    pub async fn get_export(&self, id: &ExportId) -> Result<Option<ExportRecord>, StoreError> {
        self.get_typed(keys::export_pk(id), keys::EXPORT_SK).await
    }

    /// The exports `requested_by` asked for, newest first.
    pub async fn list_exports(
        &self,
        requested_by: &str,
        limit: i32,
        start: Option<PageToken>,
    ) -> Result<Page<ExportRecord>, StoreError> {
        let query = self
            .client()
            .query()
            .index_name("GSI4")
            .key_condition_expression("GSI4PK = :list")
            .expression_attribute_values(":list", s(keys::exports_list_pk(requested_by)))
            .scan_index_forward(false);
        self.query_page(query, limit, start, &[keys::PK, keys::SK, keys::GSI4_PK, keys::GSI4_SK]).await?.typed()
    }

    /// Claims the export `seen` (as just read) for a new attempt: `running` with the next
    /// attempt number, from the start (no checkpoint). Taken only while the export is still as
    /// seen (status, attempt and heartbeat), so of two claimants one wins; `None` otherwise.
    /// For a pending export, and for a running one whose job died (its heartbeat stale).
    pub async fn claim_export(&self, seen: &ExportRecord, now: Timestamp) -> Result<Option<ExportRecord>, StoreError> {
        let result = while_as_seen(self.update_export(&seen.export_id), seen)
            .expression_attribute_names("#paused", "paused")
            .expression_attribute_names("#slices", "slices")
            .update_expression(
                "SET #status = :running, attempt = attempt + :one, started_at = :now, heartbeat_at = :now, \
                 #rows = :zero, #paused = :false, #slices = :one REMOVE #checkpoint",
            )
            .expression_attribute_names("#rows", "rows")
            .expression_attribute_names("#checkpoint", "checkpoint")
            .expression_attribute_values(":running", s(ExportStatus::Running.as_str()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .return_values(ReturnValue::AllNew);
        self.claimed(result).await
    }

    /// Takes up a paused export for its next slice, in the same attempt (its checkpoint, its
    /// file); `None` when another slice took it up first or it ended.
    pub async fn resume_export(&self, seen: &ExportRecord, now: Timestamp) -> Result<Option<ExportRecord>, StoreError> {
        let result = while_held_by(self.update_export(&seen.export_id), seen.attempt)
            .expression_attribute_names("#paused", "paused")
            .expression_attribute_names("#slices", "slices")
            .condition_expression("#status = :running AND attempt = :attempt AND #paused = :true")
            .update_expression("SET #paused = :false, heartbeat_at = :now, #slices = #slices + :one")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .return_values(ReturnValue::AllNew);
        self.claimed(result).await
    }

    async fn claimed(&self, request: UpdateItemFluentBuilder) -> Result<Option<ExportRecord>, StoreError> {
        match self.call_if(request).await? {
            Some(out) => Ok(out.attributes.map(serde_dynamo::from_item).transpose()?),
            None => Ok(None),
        }
    }

    /// The job stops itself before its time runs out: `checkpoint` and `rows` recorded, and
    /// the export `paused` until the next slice takes it up (`resume_export`). `false` when
    /// the job no longer held the export.
    pub async fn pause_export(
        &self,
        id: &ExportId,
        attempt: u32,
        checkpoint: &ExportCheckpoint,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let result = while_held_by(self.update_export(id), attempt)
            .expression_attribute_names("#paused", "paused")
            .update_expression("SET #paused = :true, #checkpoint = :checkpoint, #rows = :rows, heartbeat_at = :now")
            .expression_attribute_names("#checkpoint", "checkpoint")
            .expression_attribute_names("#rows", "rows")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":checkpoint", serde_dynamo::to_attribute_value(checkpoint)?)
            .expression_attribute_values(":rows", n(checkpoint.rows))
            .expression_attribute_values(":now", s(now.to_rfc3339()));
        Ok(self.call_if(result).await?.is_some())
    }

    /// The job's progress: `rows` so far and a fresh heartbeat. `false` when the job no longer
    /// holds the export (it was taken for dead meanwhile): the job must stop.
    pub async fn export_heartbeat(
        &self,
        id: &ExportId,
        attempt: u32,
        rows: u64,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let result = while_held_by(self.update_export(id), attempt)
            .update_expression("SET #rows = :rows, heartbeat_at = :now")
            .expression_attribute_names("#rows", "rows")
            .expression_attribute_values(":rows", n(rows))
            .expression_attribute_values(":now", s(now.to_rfc3339()));
        Ok(self.call_if(result).await?.is_some())
    }

    /// Ends the job's claim: `ready` with the row count, or `failed` with the reason. `false`
    /// when the job no longer held the export.
    pub async fn finish_export(
        &self,
        id: &ExportId,
        attempt: u32,
        rows: u64,
        outcome: ExportOutcome<'_>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let (status, detail) = match outcome {
            ExportOutcome::Ready { file_key } => (ExportStatus::Ready, ("file_key", file_key)),
            ExportOutcome::Failed(reason) => (ExportStatus::Failed, ("error", reason)),
        };
        let request = while_held_by(self.update_export(id), attempt)
            .expression_attribute_names("#paused", "paused")
            .update_expression(
                "SET #status = :status, #rows = :rows, completed_at = :now, heartbeat_at = :now, #detail = :detail, \
                 #paused = :false REMOVE #checkpoint",
            )
            .expression_attribute_names("#rows", "rows")
            .expression_attribute_names("#detail", detail.0)
            .expression_attribute_names("#checkpoint", "checkpoint")
            .expression_attribute_values(":rows", n(rows))
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":detail", s(detail.1))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":now", s(now.to_rfc3339()));
        Ok(self.call_if(request).await?.is_some())
    }

    /// Marks an export whose job stopped heartbeating `failed`, if it is still as `seen` (same
    /// status, attempt and heartbeat). Returns the export as it is now.
    pub async fn fail_stale_export(
        &self,
        seen: &ExportRecord,
        reason: &str,
        now: Timestamp,
    ) -> Result<Option<ExportRecord>, StoreError> {
        let result = while_as_seen(self.update_export(&seen.export_id), seen)
            .expression_attribute_names("#paused", "paused")
            .update_expression("SET #status = :failed, completed_at = :now, #error = :error, #paused = :false")
            .expression_attribute_names("#error", "error")
            .expression_attribute_values(":failed", s(ExportStatus::Failed.as_str()))
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .expression_attribute_values(":error", s(reason))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .return_values(ReturnValue::AllNew);
        match self.call_if(result).await? {
            Some(out) => Ok(out.attributes.map(serde_dynamo::from_item).transpose()?),
            None => self.get_export(&seen.export_id).await,
        }
    }
}
