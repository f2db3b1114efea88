//! Metrics in CloudWatch's embedded metric format (EMF): one JSON line per data point on the
//! function's output, which CloudWatch Logs turns into a metric without an API call. The
//! namespace is `CustomerPlatform`; the only dimension is `Function` (the function's short
//! name), so no personal data can reach a dimension. The alarms in template.yaml read these
//! names: change both together.
//! Specification: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use serde_json::json;

pub const NAMESPACE: &str = "CustomerPlatform";

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
    /// The time a search took, in milliseconds.
    SearchLatency,
    ExportRequested,
    MediaRejected,
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
            Metric::SearchLatency => "SearchLatency",
            Metric::ExportRequested => "ExportRequested",
            Metric::MediaRejected => "MediaRejected",
        }
    }

    fn unit(&self) -> &'static str {
        match self {
            Metric::SearchLatency => "Milliseconds",
            _ => "Count",
        }
    }
}

/// One EMF document: `value` of `metric` for `function` at `timestamp_ms`.
pub fn emf_line(function: &str, metric: Metric, value: f64, timestamp_ms: i64) -> String {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Function"]],
                "Metrics": [{"Name": metric.name(), "Unit": metric.unit()}],
            }],
        },
        "Function": function,
        metric.name(): value,
    })
    .to_string()
}

/// One EMF document counting `metric` for `function` and, as a second dimension set, for the
/// sign-in `channel` (`sms`, `email`, `oidc:<provider>`): a handful of values fixed by the
/// deployment, never personal data. Alarms on `Function` alone keep working.
pub fn emf_channel_line(function: &str, metric: Metric, channel: &str, timestamp_ms: i64) -> String {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Function"], ["Function", "Channel"]],
                "Metrics": [{"Name": metric.name(), "Unit": metric.unit()}],
            }],
        },
        "Function": function,
        "Channel": channel,
        metric.name(): 1.0,
    })
    .to_string()
}

/// Counts one sign-in (`Signup`, `Login`) by its channel.
pub fn count_by_channel(function: &str, metric: Metric, channel: &str) {
    crate::logging::write_line(&emf_channel_line(function, metric, channel, now_ms()));
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

/// Records `value` of `metric` for `function` (`auth`, `search`, …).
pub fn record(function: &str, metric: Metric, value: f64) {
    crate::logging::write_line(&emf_line(function, metric, value, now_ms()));
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
    fn every_metric_is_a_valid_emf_document_with_only_the_function_as_dimension() {
        for metric in [
            Metric::Signup,
            Metric::Login,
            Metric::OtpSent,
            Metric::OtpFailed,
            Metric::OtpRateLimited,
            Metric::StaffLockout,
            Metric::SearchLatency,
            Metric::ExportRequested,
            Metric::MediaRejected,
        ] {
            let line = emf_line("auth", metric, 12.5, 1_767_225_600_000);
            assert_eq!(check_emf(&line), Ok(()), "{line}");
            let doc: Value = serde_json::from_str(&line).expect("json");
            assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["Function"]]));
            assert_eq!(doc.as_object().map(|o| o.len()), Some(3), "_aws, Function and the value only");
        }
    }

    #[test]
    fn sign_ins_count_by_channel_too() {
        let line = emf_channel_line("auth", Metric::Signup, "oidc:google", 1_767_225_600_000);
        assert_eq!(check_emf(&line), Ok(()), "{line}");
        let doc: Value = serde_json::from_str(&line).expect("json");
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["Function"], ["Function", "Channel"]]));
        assert_eq!(doc["Channel"], "oidc:google");
    }

    #[test]
    fn the_checker_rejects_what_cloudwatch_would_reject() {
        assert!(check_emf(r#"{"_aws":{"Timestamp":"now","CloudWatchMetrics":[]}}"#).is_err());
        let missing_value = r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["Function"]],"Metrics":[{"Name":"X"}]}]},"Function":"auth"}"#;
        assert!(check_emf(missing_value).is_err());
    }

    #[test]
    fn the_sms_alarm_reads_this_metric() {
        // template.yaml's OtpSentPerHourAlarm: namespace CustomerPlatform, metric OtpSent,
        // dimension Function = auth.
        let template = include_str!("../../template.yaml");
        let alarm = template.split("  OtpSentPerHourAlarm:").nth(1).expect("the alarm is in template.yaml");
        assert!(alarm.contains(&format!("Namespace: {NAMESPACE}")));
        assert!(alarm.contains(&format!("MetricName: {}", Metric::OtpSent.name())));
        assert!(alarm.contains("- Name: Function\n          Value: auth"));
    }
}
