//! Customer exports: what an export asks for (a search plus a file format and columns), the
//! export's record and status, and how a customer becomes a CSV row or a JSON line. Pure: the
//! job that reads the matches and uploads the file lives in `shared::services::exports`.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ValidationErrors;
use crate::customer::{Audience, Customer};
use crate::ids::prefixed_hex_id;
use crate::search::{Position, SEARCH_FIELDS, SearchRequest, parse_search_request};
use crate::time::Timestamp;

prefixed_hex_id!(
    /// `EXP_` followed by 8 upper-case hex characters.
    ExportId,
    "EXP_"
);

/// The fields of an export body besides the search's.
const EXPORT_FIELDS: &[&str] = &["format", "columns", "bom"];
/// A search body's fields that an export does not take: it exports every match.
const PAGING_FIELDS: &[&str] = &["limit", "cursor"];
/// Custom field columns are named `cf.<key>`.
pub const CUSTOM_PREFIX: &str = "cf.";
/// At most this many columns (the standard ones plus a generous number of custom fields).
pub const MAX_COLUMNS: usize = 100;

/// The customer resource's fields that can be columns, in the default column order.
pub const STANDARD_COLUMNS: &[&str] = super::customer::with_address_fields!(
    ["customer_id", "username", "first_name", "last_name", "full_name", "phone", "email"],
    [
        "full_address",
        "date_of_birth",
        "gender",
        "company_name",
        "tax_id",
        "status",
        "is_active",
        "is_verified",
        "email_verified",
        "phone_verified",
        "marketing_emails",
        "marketing_sms",
        "notes",
        "tags",
        "total_transactions",
        "active_loans",
        "bookings",
        "created_at",
        "updated_at",
        "last_login_at",
        "avatar_url",
        "version"
    ]
);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    #[default]
    Csv,
    Jsonl,
}

impl ExportFormat {
    pub fn as_str(&self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Jsonl => "jsonl",
        }
    }

    /// The file's extension, which is also the format's name.
    pub fn extension(&self) -> &'static str {
        self.as_str()
    }

    pub fn content_type(&self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Jsonl => "application/x-ndjson",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportStatus {
    Pending,
    Running,
    Ready,
    Failed,
}

impl ExportStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            ExportStatus::Pending => "pending",
            ExportStatus::Running => "running",
            ExportStatus::Ready => "ready",
            ExportStatus::Failed => "failed",
        }
    }
}

/// One column of an export: a field of the customer resource, or one custom field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    Field(&'static str),
    Custom(String),
}

impl Column {
    /// `first_name`, `cf.loyalty_tier`.
    pub fn name(&self) -> Cow<'_, str> {
        match self {
            Column::Field(name) => Cow::Borrowed(name),
            Column::Custom(key) => Cow::Owned(format!("{CUSTOM_PREFIX}{key}")),
        }
    }

    /// The column named `name`, when it is one of the standard ones or a custom field in
    /// `custom_keys`.
    pub fn parse(name: &str, custom_keys: &[String]) -> Option<Self> {
        match name.strip_prefix(CUSTOM_PREFIX) {
            Some(key) => custom_keys.iter().any(|k| k == key).then(|| Column::Custom(key.to_string())),
            None => STANDARD_COLUMNS.iter().find(|c| **c == name).map(|c| Column::Field(c)),
        }
    }

    /// The column's value in a customer's staff JSON (`Customer::to_json(Audience::Staff)`).
    pub fn value<'a>(&self, customer: &'a Value) -> &'a Value {
        match self {
            Column::Field(name) => &customer[*name],
            Column::Custom(key) => &customer["custom_fields"][key.as_str()],
        }
    }
}

/// The default columns: every standard field, then every custom field defined.
pub fn default_columns(custom_keys: &[String]) -> Vec<Column> {
    STANDARD_COLUMNS
        .iter()
        .map(|c| Column::Field(c))
        .chain(custom_keys.iter().map(|k| Column::Custom(k.clone())))
        .collect()
}

/// What `POST /v1/exports/customers` asks for, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRequest {
    pub search: SearchRequest,
    /// The search part of the body as given, for the record (the audit's "which filter").
    pub filter: Map<String, Value>,
    pub format: ExportFormat,
    /// `None`: the default columns, decided when the job starts.
    pub columns: Option<Vec<String>>,
    /// A UTF-8 byte order mark before a CSV's header, for spreadsheet programs that need it.
    pub bom: bool,
}

/// Reads an export body: a search body without `limit`/`cursor`, plus `format`, `columns` and
/// `bom`. `custom_keys` are the custom fields that may be columns. Every bad field is named.
pub fn parse_export_request(
    object: &Map<String, Value>,
    phone_region: phonenumber::country::Id,
    custom_keys: &[String],
) -> Result<ExportRequest, ValidationErrors> {
    let accepted: Vec<&str> =
        SEARCH_FIELDS.iter().filter(|f| !PAGING_FIELDS.contains(f)).chain(EXPORT_FIELDS).copied().collect();
    let mut errors = ValidationErrors::new();
    let search = parse_search_request(object, phone_region, &accepted);
    let format = parse_format(&mut errors, object.get("format"));
    let columns = parse_columns(&mut errors, object.get("columns"), custom_keys);
    let bom = match object.get("bom") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.add("bom", "must be true or false");
            false
        }
    };
    if bom && format != ExportFormat::Csv {
        errors.add("bom", "only a CSV export takes a byte order mark");
    }
    let search = errors.combined_with(search)?;
    let filter =
        object.iter().filter(|(k, _)| !EXPORT_FIELDS.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone()));
    Ok(ExportRequest { search, filter: filter.collect(), format, columns, bom })
}

fn parse_format(errors: &mut ValidationErrors, value: Option<&Value>) -> ExportFormat {
    match value {
        None | Some(Value::Null) => ExportFormat::Csv,
        Some(Value::String(s)) if s == "csv" => ExportFormat::Csv,
        Some(Value::String(s)) if s == "jsonl" => ExportFormat::Jsonl,
        Some(_) => {
            errors.add("format", "must be csv or jsonl");
            ExportFormat::Csv
        }
    }
}

fn parse_columns(errors: &mut ValidationErrors, value: Option<&Value>, custom_keys: &[String]) -> Option<Vec<String>> {
    let list = match value {
        None | Some(Value::Null) => return None,
        Some(Value::Array(list)) => list,
        Some(_) => {
            errors.add("columns", "must be a list of column names");
            return None;
        }
    };
    if list.is_empty() || list.len() > MAX_COLUMNS {
        errors.add("columns", format!("must name between 1 and {MAX_COLUMNS} columns"));
        return None;
    }
    let mut names = Vec::new();
    for (i, item) in list.iter().enumerate() {
        match item.as_str() {
            Some(name) if Column::parse(name, custom_keys).is_none() => {
                errors.add(format!("columns[{i}]"), format!("{name:?} is not a known column"))
            }
            Some(name) if names.iter().any(|n| n == name) => {
                errors.add(format!("columns[{i}]"), format!("{name:?} is listed twice"))
            }
            Some(name) => names.push(name.to_string()),
            None => errors.add(format!("columns[{i}]"), "must be a string"),
        }
    }
    Some(names)
}

/// The columns of a job: those asked for, or the defaults. A custom field retired after the
/// export was asked for is still a column (its values stay readable).
pub fn resolve_columns(asked: Option<&[String]>, custom_keys: &[String]) -> Vec<Column> {
    match asked {
        None => default_columns(custom_keys),
        Some(names) => names
            .iter()
            .filter_map(|name| match name.strip_prefix(CUSTOM_PREFIX) {
                Some(key) => Some(Column::Custom(key.to_string())),
                None => Column::parse(name, custom_keys),
            })
            .collect(),
    }
}

/// A CSV cell that a spreadsheet could take for a formula gets a leading `'`: text starting
/// with `=`, `+`, `-`, `@`, a tab or a carriage return (OWASP's list). Plain numbers (`-12.5`)
/// and E.164 phones (`+260971234567`) are left alone: a spreadsheet reads them as numbers,
/// never as formulas.
pub fn neutralise(text: &str) -> Cow<'_, str> {
    let risky = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && !is_plain_number(text) && !is_e164(text) { Cow::Owned(format!("'{text}")) } else { Cow::Borrowed(text) }
}

/// `-12`, `+3.5`: an optional sign, digits, optionally a fraction.
fn is_plain_number(text: &str) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && digits(fraction)
}

/// `+` then 7 to 15 digits, the first not 0.
fn is_e164(text: &str) -> bool {
    text.strip_prefix('+').is_some_and(|digits| {
        (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
    })
}

/// A value as CSV cell text: empty for null, tags (any list) joined with `;`, objects as JSON,
/// text neutralised.
pub fn cell(value: &Value) -> Cow<'_, str> {
    match value {
        Value::Null => Cow::Borrowed(""),
        Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        Value::Number(n) => Cow::Owned(n.to_string()),
        Value::String(s) => neutralise(s),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(plain_text).collect();
            Cow::Owned(neutralise(&parts.join(";")).into_owned())
        }
        Value::Object(_) => Cow::Owned(neutralise(&value.to_string()).into_owned()),
    }
}

fn plain_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// One export row, as CSV cells or a JSON line.
pub struct RowRenderer {
    columns: Vec<Column>,
    format: ExportFormat,
    /// Whether the columns were chosen (a JSON line then carries only those).
    projected: bool,
    csv: csv::WriterBuilder,
}

/// Writing a CSV record into memory fails only on a bug; said so, not unwrapped.
#[derive(Debug)]
pub struct EncodeError(String);

impl std::error::Error for EncodeError {}

impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "could not encode an export row: {}", self.0)
    }
}

impl RowRenderer {
    pub fn new(format: ExportFormat, columns: Vec<Column>, projected: bool) -> Self {
        // RFC 4180: CRLF line ends, quotes only where a cell needs them.
        let mut csv = csv::WriterBuilder::new();
        csv.terminator(csv::Terminator::CRLF).buffer_capacity(1024);
        Self { columns, format, projected, csv }
    }

    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// What the file starts with: the optional BOM and the CSV header; nothing for JSON lines.
    pub fn preamble(&mut self, bom: bool) -> Result<Vec<u8>, EncodeError> {
        if self.format == ExportFormat::Jsonl {
            return Ok(Vec::new());
        }
        let names: Vec<String> = self.columns.iter().map(|c| c.name().into_owned()).collect();
        let mut out = if bom { "\u{feff}".as_bytes().to_vec() } else { Vec::new() };
        out.extend(self.record(names.iter().map(String::as_str))?);
        Ok(out)
    }

    /// One customer's row, line end included.
    pub fn row(&mut self, customer: &Customer) -> Result<Vec<u8>, EncodeError> {
        let json = customer.to_json(Audience::Staff);
        match self.format {
            ExportFormat::Csv => {
                let cells: Vec<Cow<'_, str>> = self.columns.iter().map(|c| cell(c.value(&json))).collect();
                self.record(cells.iter().map(|c| c.as_ref()))
            }
            ExportFormat::Jsonl => {
                let line = if self.projected {
                    let object: Map<String, Value> =
                        self.columns.iter().map(|c| (c.name().into_owned(), c.value(&json).clone())).collect();
                    Value::Object(object)
                } else {
                    json
                };
                let mut out = serde_json::to_vec(&line).map_err(|e| EncodeError(e.to_string()))?;
                out.push(b'\n');
                Ok(out)
            }
        }
    }

    fn record<'a>(&self, cells: impl Iterator<Item = &'a str>) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        let mut writer = self.csv.from_writer(&mut out);
        writer.write_record(cells).map_err(|e| EncodeError(e.to_string()))?;
        writer.flush().map_err(|e| EncodeError(e.to_string()))?;
        drop(writer);
        Ok(out)
    }
}

/// An export: what was asked, by whom, and how far the job got. The record stays in the table
/// after the file expires: it is the audit of the export (who, which filter, how many rows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportRecord {
    pub export_id: ExportId,
    pub status: ExportStatus,
    pub requested_by: String,
    /// The search body as given (JSON text: any shape, stored as one attribute).
    pub filter: String,
    pub format: ExportFormat,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    #[serde(default)]
    pub bom: bool,
    pub rows: u64,
    pub created_at: Timestamp,
    /// The creation time in unix milliseconds: orders the exports of one second in the list.
    #[serde(default)]
    pub created_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    /// Written by the job after every page; a job whose heartbeat is older than the configured
    /// staleness is taken for dead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How many times a job claimed the export; each claim has its own number, so a job that
    /// lost its claim (taken for dead) can no longer write, and its own file (`object_key`).
    #[serde(default)]
    pub attempt: u32,
    /// The job stopped itself at `checkpoint` before its time ran out and waits for its next
    /// slice (still `running` to a reader): judged by how long it waits, not by a heartbeat.
    #[serde(default)]
    pub paused: bool,
    /// Where a paused job carries on; written when it pauses, removed when it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<ExportCheckpoint>,
    /// Slices (invocations) the current attempt has run.
    #[serde(default)]
    pub slices: u32,
    /// The object a ready export's link serves (absent on exports written before attempts had
    /// their own file: `legacy_object_key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_key: Option<String>,
}

/// How far a job got when it paused: the next slice continues from here, in the same file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportCheckpoint {
    /// The position of the last match written (the matches after it are still to write).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Position>,
    pub rows: u64,
    /// The columns as resolved when the job started, so every row of the file has the same.
    pub columns: Vec<String>,
    /// The multipart upload begun, and its parts sent so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    #[serde(default)]
    pub parts: Vec<UploadedPart>,
    /// Whether the bytes written since the last part wait in the tail object (`tail_key`).
    #[serde(default)]
    pub tail: bool,
}

/// A part of the export's multipart upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadedPart {
    pub number: i32,
    pub etag: String,
}

/// What a job whose heartbeat stopped is marked with.
pub const STALE_REASON: &str = "the export job stopped responding (no heartbeat); start a new export";
/// What an export that waited too long for its job (first or next slice) is marked with.
pub const NEVER_RAN_REASON: &str = "the export job did not run in time (queued too long); start a new export";

/// When an export is taken for dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    /// A running job not heard of for longer than this (seconds) died.
    pub stale_after: i64,
    /// An export waiting for its job (pending, or paused between slices) for longer than this
    /// (seconds) will not be run: nothing is left to start it (the stream's retention).
    pub wait_limit: i64,
}

impl ExportRecord {
    /// `now` is the creation time, also in milliseconds (`Clock::now_with_ms`).
    pub fn new(id: ExportId, request: &ExportRequest, requested_by: &str, (now, now_ms): (Timestamp, i64)) -> Self {
        Self {
            export_id: id,
            status: ExportStatus::Pending,
            requested_by: requested_by.to_string(),
            filter: Value::Object(request.filter.clone()).to_string(),
            format: request.format,
            columns: request.columns.clone(),
            bom: request.bom,
            rows: 0,
            created_at: now,
            created_ms: now_ms,
            started_at: None,
            heartbeat_at: None,
            completed_at: None,
            error: None,
            attempt: 0,
            paused: false,
            checkpoint: None,
            slices: 0,
            file_key: None,
        }
    }

    /// The file of the current attempt: `exports/<export_id>/<attempt>.<csv|jsonl>`. Each
    /// attempt writes its own, so a stalled job of an older attempt can never overwrite the
    /// file of the attempt that replaced it.
    pub fn object_key(&self) -> String {
        format!("exports/{}/{}.{}", self.export_id, self.attempt, self.format.extension())
    }

    /// Where a paused job keeps the bytes written since its last part (less than a part).
    pub fn tail_key(&self) -> String {
        format!("exports/{}/{}.tail", self.export_id, self.attempt)
    }

    /// The file a ready export's link serves.
    pub fn download_key(&self) -> String {
        self.file_key.clone().unwrap_or_else(|| format!("exports/{}.{}", self.export_id, self.format.extension()))
    }

    /// Why the export is taken for dead at `now`, if it is: a running job silent for longer
    /// than `stale_after` (its heartbeat), or an export that has waited for its job longer
    /// than `wait_limit` (pending since its creation, or paused since its last slice). Waiting
    /// in a queue is not dying.
    pub fn dead_reason(&self, now: Timestamp, liveness: Liveness) -> Option<&'static str> {
        let since = |at: Timestamp| now.unix() - at.unix();
        let last_sign = self.heartbeat_at.unwrap_or(self.created_at);
        match self.status {
            ExportStatus::Pending => (since(self.created_at) > liveness.wait_limit).then_some(NEVER_RAN_REASON),
            ExportStatus::Running if self.paused => {
                (since(last_sign) > liveness.wait_limit).then_some(NEVER_RAN_REASON)
            }
            ExportStatus::Running => (since(last_sign) > liveness.stale_after).then_some(STALE_REASON),
            ExportStatus::Ready | ExportStatus::Failed => None,
        }
    }

    /// The search the job runs: the export's filter, bound to the customers created before the
    /// export (the second it was created included), so the set is the one of that moment.
    pub fn bounded_search(&self, search: &SearchRequest) -> SearchRequest {
        let bound = self.created_at.unix() + 1;
        let mut bounded = search.clone();
        bounded.created_before = Some(search.created_before.map_or(bound, |b| b.min(bound)));
        bounded
    }

    /// The API's view; `download` is the presigned link and its expiry, when ready.
    pub fn to_json(&self, download: Option<(&str, Timestamp)>) -> Value {
        let filter: Value = serde_json::from_str(&self.filter).unwrap_or(Value::Null);
        let mut json = serde_json::json!({
            "export_id": self.export_id,
            "status": self.status,
            "rows": self.rows,
            "filter": filter,
            "format": self.format,
            "columns": self.columns,
            "bom": self.bom,
            "requested_by": self.requested_by,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "error": self.error,
        });
        if let (Some((url, expires_at)), Some(object)) = (download, json.as_object_mut()) {
            object.insert("download_url".into(), Value::String(url.to_string()));
            object.insert("expires_at".into(), serde_json::json!(expires_at));
        }
        json
    }

    /// The filter as the search request the job runs.
    pub fn search_request(&self, phone_region: phonenumber::country::Id) -> Result<SearchRequest, ValidationErrors> {
        let filter: Map<String, Value> = serde_json::from_str(&self.filter)
            .map_err(|_| ValidationErrors::single("filter", "the stored filter is not a JSON object"))?;
        let accepted: Vec<&str> = SEARCH_FIELDS.iter().filter(|f| !PAGING_FIELDS.contains(f)).copied().collect();
        parse_search_request(&filter, phone_region, &accepted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn parse(value: Value) -> Result<ExportRequest, ValidationErrors> {
        parse_export_request(&object(value), phonenumber::country::Id::ZM, &["tier".to_string()])
    }

    fn fields(result: Result<ExportRequest, ValidationErrors>) -> Vec<String> {
        result.err().map(|e| e.fields().iter().map(|f| f.field.clone()).collect()).unwrap_or_default()
    }

    #[test]
    fn formulas_are_neutralised_and_numbers_and_phones_are_not() {
        assert_eq!(neutralise("=HYPERLINK(\"http://x\",\"y\")"), "'=HYPERLINK(\"http://x\",\"y\")");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("-2+3"), "'-2+3");
        assert_eq!(neutralise("+cmd"), "'+cmd");
        assert_eq!(neutralise("\tx"), "'\tx");
        assert_eq!(neutralise("\rx"), "'\rx");
        assert_eq!(neutralise("+260971234567"), "+260971234567");
        assert_eq!(neutralise("-12.5"), "-12.5");
        assert_eq!(neutralise("42"), "42");
        assert_eq!(neutralise("Ann"), "Ann");
    }

    #[test]
    fn cells_render_lists_nulls_and_objects() {
        assert_eq!(cell(&json!(["vip", "new"])), "vip;new");
        assert_eq!(cell(&json!(["=x"])), "'=x");
        assert_eq!(cell(&Value::Null), "");
        assert_eq!(cell(&json!(true)), "true");
        assert_eq!(cell(&json!(-3)), "-3");
        assert_eq!(cell(&json!({"a": 1})), "{\"a\":1}");
    }

    #[test]
    fn an_export_body_is_a_search_without_paging() {
        let request = parse(json!({"query": "ann", "format": "jsonl", "columns": ["first_name", "cf.tier"]}));
        let request = request.expect("valid");
        assert_eq!(request.format, ExportFormat::Jsonl);
        assert_eq!(request.search.words, vec!["ann".to_string()]);
        assert_eq!(request.filter, object(json!({"query": "ann"})));
        assert_eq!(fields(parse(json!({"cursor": "x", "limit": 5}))), vec!["cursor", "limit"]);
        assert_eq!(fields(parse(json!({"colour": "red"}))), vec!["colour"]);
        assert_eq!(fields(parse(json!({"format": "xlsx"}))), vec!["format"]);
        assert_eq!(
            fields(parse(json!({"columns": ["first_name", "shoe", "cf.nope"]}))),
            vec!["columns[1]", "columns[2]"]
        );
        assert_eq!(fields(parse(json!({"format": "jsonl", "bom": true}))), vec!["bom"]);
    }

    #[test]
    fn csv_rows_quote_as_rfc_4180_says() {
        let columns = vec![Column::Field("first_name"), Column::Field("tags"), Column::Custom("tier".into())];
        let mut renderer = RowRenderer::new(ExportFormat::Csv, columns, true);
        let header = renderer.preamble(true).expect("header");
        assert_eq!(header, "\u{feff}first_name,tags,cf.tier\r\n".as_bytes());
        let mut customer = crate::Customer::new(
            crate::CustomerId::generate(),
            crate::Username::base("a", "b"),
            ("Ann, \"Jr\"".into(), "B".into()),
            Timestamp::from_unix(0),
        );
        customer.tags = vec!["a".into(), "b".into()];
        customer.custom_fields.insert("tier".into(), json!("gold"));
        let row = renderer.row(&customer).expect("row");
        assert_eq!(String::from_utf8_lossy(&row), "\"Ann, \"\"Jr\"\"\",a;b,gold\r\n");
    }

    #[test]
    fn a_running_job_dies_by_its_heartbeat_and_a_waiting_export_only_after_the_wait_limit() {
        let request = parse(json!({})).expect("valid");
        let liveness = Liveness { stale_after: 120, wait_limit: 86_400 };
        let mut record =
            ExportRecord::new(ExportId::generate(), &request, "STAFF_1", (Timestamp::from_unix(1_000), 1_000_000));
        assert_eq!(record.dead_reason(Timestamp::from_unix(1_121), liveness), None, "queued, not dead");
        assert_eq!(record.dead_reason(Timestamp::from_unix(87_401), liveness), Some(NEVER_RAN_REASON));
        record.status = ExportStatus::Running;
        record.heartbeat_at = Some(Timestamp::from_unix(1_100));
        assert_eq!(record.dead_reason(Timestamp::from_unix(1_220), liveness), None);
        assert_eq!(record.dead_reason(Timestamp::from_unix(1_221), liveness), Some(STALE_REASON));
        record.paused = true;
        assert_eq!(record.dead_reason(Timestamp::from_unix(1_221), liveness), None, "between slices");
        record.status = ExportStatus::Ready;
        assert_eq!(record.dead_reason(Timestamp::from_unix(999_999), liveness), None);
    }

    #[test]
    fn every_attempt_writes_its_own_file() {
        let request = parse(json!({"format": "jsonl"})).expect("valid");
        let mut record =
            ExportRecord::new(ExportId::generate(), &request, "STAFF_1", (Timestamp::from_unix(1_000), 1_000_000));
        record.attempt = 1;
        let first = record.object_key();
        record.attempt = 2;
        assert_ne!(record.object_key(), first);
        assert!(record.object_key().starts_with("exports/") && record.object_key().ends_with("/2.jsonl"));
        assert_eq!(record.download_key(), format!("exports/{}.jsonl", record.export_id), "an export of before");
        record.file_key = Some(record.object_key());
        assert_eq!(record.download_key(), record.object_key());
    }

    #[test]
    fn a_checkpoint_survives_its_round_trip() {
        let checkpoint = ExportCheckpoint {
            after: Some(Position { value: crate::search::SortValue::Missing, id: "CUS_1".into() }),
            rows: 10,
            columns: vec!["customer_id".into()],
            upload_id: Some("u".into()),
            parts: vec![UploadedPart { number: 1, etag: "\"e\"".into() }],
            tail: true,
        };
        let text = serde_json::to_string(&checkpoint).expect("json");
        assert_eq!(serde_json::from_str::<ExportCheckpoint>(&text).expect("back"), checkpoint);
    }

    #[test]
    fn the_job_searches_only_customers_created_before_the_export() {
        let request = parse(json!({"created_before": "2030-01-01T00:00:00Z"})).expect("valid");
        let record =
            ExportRecord::new(ExportId::generate(), &request, "STAFF_1", (Timestamp::from_unix(1_000), 1_000_000));
        assert_eq!(record.bounded_search(&request.search).created_before, Some(1_001));
        assert_eq!(record.search_request(phonenumber::country::Id::ZM).expect("stored filter"), request.search);
    }
}
