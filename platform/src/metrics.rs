//! Metrics in CloudWatch's embedded metric format (EMF): one JSON line per data point on the
//! function's output, which CloudWatch Logs turns into a metric without an API call. The
//! namespace is `CustomerPlatform`; the dimensions are `service` (`POWERTOOLS_SERVICE_NAME`,
//! default `customer-platform`) and `function` (the function's short name: `auth`, `search`),
//! as AWS Lambda Powertools names them, and nothing else, so no personal data can reach a
//! dimension. The alarms and the dashboard in template.yaml read these names: change both
//! together.
//!
//! Written here rather than through the `metrics` facade and a CloudWatch EMF recorder crate:
//! a metric is one line of JSON, checked against the specification by the tests below, and the
//! function needs no global recorder, no flush at the end of an invocation and no dependency
//! that every binary would link and initialise at its cold start.
//! Specification: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use serde_json::json;

pub const NAMESPACE: &str = "CustomerPlatform";
/// The `service` dimension when `POWERTOOLS_SERVICE_NAME` is not set.
pub const DEFAULT_SERVICE: &str = "customer-platform";

/// The service every log line and metric names.
pub fn service() -> &'static str {
    static SERVICE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SERVICE.get_or_init(|| {
        std::env::var("POWERTOOLS_SERVICE_NAME")
            .ok()
            .filter(|name| !name.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_SERVICE.to_string())
    })
}

/// What is counted or timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Signup,
    Login,
    OtpSent,
    /// The SMS provider refused or failed a send.
    OtpFailed,
    /// A code request refused by a limit (per phone, per IP or the global budget).
    OtpRateLimited,
    StaffLockout,
    /// A wrong or replayed second-factor code at a staff login.
    StaffMfaFailed,
    /// A staff password set with an emailed reset code.
    StaffPasswordReset,
    /// The time a search took, in milliseconds.
    SearchLatency,
    ExportRequested,
    MediaRejected,
    /// The first invocation of an instance (its init ran before it).
    ColdStart,
}

impl Metric {
    pub fn name(&self) -> &'static str {
        match self {
            Metric::Signup => "Signup",
            Metric::Login => "Login",
            Metric::OtpSent => "OtpSent",
            Metric::OtpFailed => "OtpFailed",
            Metric::OtpRateLimited => "OtpRateLimited",
            Metric::StaffLockout => "StaffLockout",
            Metric::StaffMfaFailed => "StaffMfaFailed",
            Metric::StaffPasswordReset => "StaffPasswordReset",
            Metric::SearchLatency => "SearchLatency",
            Metric::ExportRequested => "ExportRequested",
            Metric::MediaRejected => "MediaRejected",
            Metric::ColdStart => "ColdStart",
        }
    }

    fn unit(&self) -> &'static str {
        match self {
            Metric::SearchLatency => "Milliseconds",
            _ => "Count",
        }
    }
}

/// One EMF document: `value` of `metric` for `function` of `service` at `timestamp_ms`.
pub fn emf_line(service: &str, function: &str, metric: Metric, value: f64, timestamp_ms: i64) -> String {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["service", "function"]],
                "Metrics": [{"Name": metric.name(), "Unit": metric.unit()}],
            }],
        },
        "service": service,
        "function": function,
        metric.name(): value,
    })
    .to_string()
}

/// One EMF document counting `metric` for `function` of `service` and, as a second dimension
/// set, for the sign-in `channel` (`sms`, `email`, `oidc:<provider>`): a handful of values fixed
/// by the deployment, never personal data. Alarms on `service` and `function` alone keep working.
pub fn emf_channel_line(service: &str, function: &str, metric: Metric, channel: &str, timestamp_ms: i64) -> String {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["service", "function"], ["service", "function", "channel"]],
                "Metrics": [{"Name": metric.name(), "Unit": metric.unit()}],
            }],
        },
        "service": service,
        "function": function,
        "channel": channel,
        metric.name(): 1.0,
    })
    .to_string()
}

/// Counts one sign-in (`Signup`, `Login`) by its channel.
pub fn count_by_channel(function: &str, metric: Metric, channel: &str) {
    crate::logging::write_line(&emf_channel_line(service(), function, metric, channel, now_ms()));
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

/// Records `value` of `metric` for `function` (`auth`, `search`, …).
pub fn record(function: &str, metric: Metric, value: f64) {
    crate::logging::write_line(&emf_line(service(), function, metric, value, now_ms()));
}

/// Counts one occurrence of `metric`.
pub fn count(function: &str, metric: Metric) {
    record(function, metric, 1.0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The rules of the EMF specification that a document must follow.
    fn check_emf(line: &str) -> Result<(), String> {
        let doc: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let root = doc.as_object().ok_or("not an object")?;
        let aws = root.get("_aws").and_then(Value::as_object).ok_or("no _aws object")?;
        aws.get("Timestamp").and_then(Value::as_i64).ok_or("_aws.Timestamp is not an integer of milliseconds")?;
        let directives = aws.get("CloudWatchMetrics").and_then(Value::as_array).ok_or("no CloudWatchMetrics array")?;
        for directive in directives {
            let namespace = directive["Namespace"].as_str().ok_or("no Namespace")?;
            if namespace.is_empty() || namespace.len() > 1024 {
                return Err("bad Namespace".into());
            }
            let dimension_sets = directive["Dimensions"].as_array().ok_or("no Dimensions")?;
            for set in dimension_sets {
                let names = set.as_array().ok_or("a dimension set is not an array")?;
                if names.len() > 30 {
                    return Err("more than 30 dimensions".into());
                }
                for name in names {
                    let name = name.as_str().ok_or("a dimension name is not a string")?;
                    root.get(name).and_then(Value::as_str).ok_or(format!("dimension {name} has no string value"))?;
                }
            }
            let metrics = directive["Metrics"].as_array().ok_or("no Metrics")?;
            if metrics.len() > 100 {
                return Err("more than 100 metrics".into());
            }
            for metric in metrics {
                let name = metric["Name"].as_str().ok_or("a metric has no Name")?;
                root.get(name).and_then(Value::as_f64).ok_or(format!("metric {name} has no number value"))?;
                let unit = metric["Unit"].as_str().unwrap_or("None");
                if !["Count", "Milliseconds", "None"].contains(&unit) {
                    return Err(format!("unexpected unit {unit}"));
                }
            }
        }
        Ok(())
    }

    #[test]
    fn every_metric_is_a_valid_emf_document_with_only_service_and_function_as_dimensions() {
        for metric in [
            Metric::Signup,
            Metric::Login,
            Metric::OtpSent,
            Metric::OtpFailed,
            Metric::OtpRateLimited,
            Metric::StaffLockout,
            Metric::StaffMfaFailed,
            Metric::StaffPasswordReset,
            Metric::SearchLatency,
            Metric::ExportRequested,
            Metric::MediaRejected,
            Metric::ColdStart,
        ] {
            let line = emf_line(DEFAULT_SERVICE, "auth", metric, 12.5, 1_767_225_600_000);
            assert_eq!(check_emf(&line), Ok(()), "{line}");
            let doc: Value = serde_json::from_str(&line).expect("json");
            assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["service", "function"]]));
            assert_eq!(doc.as_object().map(|o| o.len()), Some(4), "_aws, service, function and the value only");
        }
    }

    #[test]
    fn sign_ins_count_by_channel_too() {
        let line = emf_channel_line(DEFAULT_SERVICE, "auth", Metric::Signup, "oidc:google", 1_767_225_600_000);
        assert_eq!(check_emf(&line), Ok(()), "{line}");
        let doc: Value = serde_json::from_str(&line).expect("json");
        let dimensions = json!([["service", "function"], ["service", "function", "channel"]]);
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"], dimensions);
        assert_eq!(doc["channel"], "oidc:google");
    }

    #[test]
    fn the_checker_rejects_what_cloudwatch_would_reject() {
        assert!(check_emf(r#"{"_aws":{"Timestamp":"now","CloudWatchMetrics":[]}}"#).is_err());
        let missing_value = r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["function"]],"Metrics":[{"Name":"X"}]}]},"function":"auth"}"#;
        assert!(check_emf(missing_value).is_err());
    }

    #[test]
    fn the_sms_alarm_reads_this_metric() {
        // template.yaml's OtpSentPerHourAlarm: namespace CustomerPlatform, metric OtpSent,
        // dimensions service = customer-platform and function = auth.
        let template = include_str!("../../template.yaml");
        let alarm = template.split("  OtpSentPerHourAlarm:").nth(1).expect("the alarm is in template.yaml");
        assert!(alarm.contains(&format!("Namespace: {NAMESPACE}")));
        assert!(alarm.contains(&format!("MetricName: {}", Metric::OtpSent.name())));
        assert!(alarm.contains(&format!("- Name: service\n          Value: {DEFAULT_SERVICE}")));
        assert!(alarm.contains("- Name: function\n          Value: auth"));
    }
}
