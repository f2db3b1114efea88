//! The local stack matches `template.yaml`: same table, same routes, and health answers.

use std::collections::BTreeSet;

use integration_tests::{TestApp, files_under, repo_root, template};
use local_stack::functions::Function;

/// (index name, key schema as (attribute, key type), projection type)
type IndexShape = (String, Vec<(String, String)>, String);

#[tokio::test]
async fn local_table_equals_the_template_definition() {
    let t = TestApp::new().await;
    let described =
        t.app().store.client().describe_table().table_name(t.app().store.table()).send().await.expect("describe");
    let table = described.table().expect("table");
    let expected = template().table;

    let mut attributes: Vec<(String, String)> = table
        .attribute_definitions()
        .iter()
        .map(|a| (a.attribute_name().to_string(), a.attribute_type().as_str().to_string()))
        .collect();
    let mut wanted: Vec<(String, String)> =
        expected.attribute_definitions.iter().map(|a| (a.attribute_name.clone(), a.attribute_type.clone())).collect();
    attributes.sort();
    wanted.sort();
    assert_eq!(attributes, wanted);

    let keys: Vec<(String, String)> = table
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name().to_string(), k.key_type().as_str().to_string()))
        .collect();
    let wanted: Vec<(String, String)> =
        expected.key_schema.iter().map(|k| (k.attribute_name.clone(), k.key_type.clone())).collect();
    assert_eq!(keys, wanted);

    let mut indexes: Vec<IndexShape> = table
        .global_secondary_indexes()
        .iter()
        .map(|g| {
            let keys = g
                .key_schema()
                .iter()
                .map(|k| (k.attribute_name().to_string(), k.key_type().as_str().to_string()))
                .collect();
            let projection =
                g.projection().and_then(|p| p.projection_type()).map(|p| p.as_str().to_string()).unwrap_or_default();
            (g.index_name().unwrap_or_default().to_string(), keys, projection)
        })
        .collect();
    let mut wanted: Vec<IndexShape> = expected
        .global_secondary_indexes
        .iter()
        .map(|g| {
            (
                g.index_name.clone(),
                g.key_schema.iter().map(|k| (k.attribute_name.clone(), k.key_type.clone())).collect(),
                g.projection.projection_type.clone(),
            )
        })
        .collect();
    indexes.sort();
    wanted.sort();
    assert_eq!(indexes, wanted);

    let ttl =
        t.app().store.client().describe_time_to_live().table_name(t.app().store.table()).send().await.expect("ttl");
    let ttl_attribute = ttl.time_to_live_description().and_then(|d| d.attribute_name()).map(str::to_string);
    assert_eq!(ttl_attribute, expected.time_to_live_specification.map(|s| s.attribute_name));
}

#[test]
fn template_routes_and_function_route_tables_agree() {
    let template = template();
    let mut from_template: Vec<(String, String, String)> =
        template.routes.iter().map(|r| (r.function.clone(), r.method.clone(), r.path.clone())).collect();
    let mut from_code: Vec<(String, String, String)> = Function::ALL
        .iter()
        .flat_map(|f| {
            f.routes().into_iter().map(move |r| (f.logical_id().to_string(), r.method.to_string(), r.path.to_string()))
        })
        .collect();
    from_template.sort();
    from_code.sort();
    assert_eq!(from_template, from_code, "template.yaml events and the functions' ROUTES must list the same routes");
}

#[tokio::test]
async fn health_reports_dynamodb_and_s3() {
    let t = TestApp::new().await;
    let response = t.call("GET", "/v1/health", None, None).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json(), serde_json::json!({"status": "ok", "dynamodb": "ok", "s3": "ok"}));
}

#[tokio::test]
async fn health_is_503_when_a_dependency_is_down() {
    let t = TestApp::new().await;
    let mut config = t.app().config.clone();
    config.s3_endpoint = Some("http://127.0.0.1:9".into());
    let broken = shared::App::load(config, &integration_tests::sdk_config().await).await.expect("app");
    let api = local_stack::server::LocalApi::new(broken, &template().routes).expect("api");
    let input = local_stack::event::HttpInput {
        method: "GET",
        path_and_query: "/v1/health",
        headers: vec![],
        body: b"",
        source_ip: "203.0.113.9",
        route_key: "",
    };
    let (status, _, body) = api.call(input).await;
    let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(status.as_u16(), 503);
    assert_eq!(body["s3"], "unavailable");
    assert_eq!(body["dynamodb"], "ok");
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let t = TestApp::new().await;
    assert_eq!(t.call("GET", "/v1/nothing-here", None, None).await.status, 404);
}

/// Every operation in `openapi.yaml`, as `METHOD /path`.
fn openapi_operations() -> BTreeSet<String> {
    let text = std::fs::read_to_string(repo_root().join("openapi.yaml")).expect("openapi.yaml");
    let doc: serde_norway::Value = serde_norway::from_str(&text).expect("openapi.yaml parses");
    let paths = doc.get("paths").and_then(serde_norway::Value::as_mapping).expect("openapi.yaml has paths");
    let mut operations = BTreeSet::new();
    for (path, item) in paths {
        let path = path.as_str().expect("path keys are strings");
        for method in item.as_mapping().expect("path item").keys().filter_map(serde_norway::Value::as_str) {
            if ["get", "put", "post", "delete", "patch", "head", "options"].contains(&method) {
                operations.insert(format!("{} {path}", method.to_ascii_uppercase()));
            }
        }
    }
    operations
}

fn code_operations() -> BTreeSet<String> {
    Function::ALL.iter().flat_map(|f| f.routes().into_iter().map(|r| r.key())).collect()
}

#[test]
fn openapi_documents_exactly_the_routes_of_the_route_tables() {
    let documented = openapi_operations();
    let built = code_operations();
    let undocumented: Vec<_> = built.difference(&documented).collect();
    let not_built: Vec<_> = documented.difference(&built).collect();
    assert!(undocumented.is_empty(), "routes missing from openapi.yaml: {undocumented:?}");
    assert!(not_built.is_empty(), "openapi.yaml documents routes that no function serves: {not_built:?}");
}

#[test]
fn the_api_reference_names_every_documented_operation() {
    let reference = std::fs::read_to_string(repo_root().join("docs/api.md")).expect("docs/api.md");
    let missing: Vec<_> =
        openapi_operations().into_iter().filter(|op| !reference.contains(&format!("`{op}`"))).collect();
    assert!(missing.is_empty(), "docs/api.md does not describe: {missing:?}");
}

#[test]
fn every_route_table_forms_a_router() {
    for function in Function::ALL {
        if let Err(err) = shared::http::Router::new(function.routes()) {
            panic!("{}: {err}", function.name());
        }
    }
}

#[tokio::test]
async fn a_wrong_method_on_a_known_path_is_405_naming_the_allowed_ones() {
    let t = TestApp::new().await;
    for (method, path, allowed) in [
        ("DELETE", "/v1/auth/otp", "POST"),
        ("POST", "/v1/me", "GET, PATCH, DELETE"),
        ("POST", "/v1/customers/CUST_00000000", "GET, PUT, PATCH, DELETE"),
        ("PATCH", "/v1/cart", "GET, DELETE"),
    ] {
        let response = t.call(method, path, None, None).await;
        assert_eq!(response.status, 405, "{method} {path}");
        assert_eq!(response.header("allow"), Some(allowed), "{method} {path}");
        assert_eq!(response.header("content-type"), Some("application/problem+json"), "{method} {path}");
    }
}

/// The packages `root` depends on, directly or not, as `Cargo.lock` records them.
fn locked_dependencies(root: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(repo_root().join("Cargo.lock")).expect("Cargo.lock");
    let mut deps: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
    for block in text.split("[[package]]") {
        let Some(name) = block.lines().find_map(|l| l.strip_prefix("name = \"")).map(|n| n.trim_end_matches('"'))
        else {
            continue;
        };
        let listed: Vec<String> = block
            .split("dependencies = [")
            .nth(1)
            .and_then(|rest| rest.split(']').next())
            .map(|list| {
                list.lines()
                    .filter_map(|l| l.trim().trim_end_matches(',').strip_prefix('"').map(|d| d.trim_end_matches('"')))
                    .map(|d| d.split(' ').next().unwrap_or(d).to_string())
                    .collect()
            })
            .unwrap_or_default();
        deps.entry(name.to_string()).or_default().extend(listed);
    }
    let mut seen = BTreeSet::new();
    let mut todo = vec![root.to_string()];
    while let Some(next) = todo.pop() {
        for dep in deps.get(&next).into_iter().flatten() {
            if seen.insert(dep.clone()) {
                todo.push(dep.clone());
            }
        }
    }
    seen
}

#[test]
fn the_domain_crate_depends_on_no_aws_http_or_lambda_crate() {
    let deps = locked_dependencies("domain");
    assert!(deps.contains("serde"), "the walk found the domain's dependencies: {deps:?}");
    let forbidden: Vec<_> = deps
        .iter()
        .filter(|d| d.starts_with("aws") || d.starts_with("lambda") || ["http", "hyper", "tokio"].contains(&d.as_str()))
        .collect();
    assert!(forbidden.is_empty(), "the domain must stay pure, but depends on {forbidden:?}");
}

#[test]
fn the_layers_below_the_edge_link_no_lambda_crate_and_no_layer_above_them() {
    // Cargo already refuses an import of a crate above (it would be a cycle); this keeps the
    // Lambda and routing crates, which only the edge needs, out of the lower layers.
    for (layer, above) in [
        ("auth-core", &["store", "platform", "services", "edge", "shared"][..]),
        ("store", &["auth-core", "platform", "services", "edge", "shared"][..]),
        ("platform", &["store", "services", "edge", "shared"][..]),
    ] {
        let deps = locked_dependencies(layer);
        assert!(deps.contains("domain"), "the walk found {layer}'s dependencies: {deps:?}");
        let forbidden: Vec<_> =
            deps.iter().filter(|d| d.starts_with("lambda") || *d == "matchit" || above.contains(&d.as_str())).collect();
        assert!(forbidden.is_empty(), "{layer} must not depend on {forbidden:?}");
    }
}

#[test]
fn the_handlers_reach_the_store_only_through_the_services() {
    // A route's handler parses, calls a use case of `services` and renders: the tables are the
    // services' business (and the types handlers need are the domain's or the services').
    let functions = repo_root().join("functions");
    let sources: Vec<_> = files_under(&functions)
        .into_iter()
        .filter(|path| path.components().any(|c| c.as_os_str() == "src"))
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .collect();
    assert!(sources.len() > 20, "the walk found the functions' sources: {sources:?}");
    let offenders: Vec<String> = sources
        .iter()
        .flat_map(|path| {
            let text = std::fs::read_to_string(path).expect("source");
            let shown = path.strip_prefix(&functions).unwrap_or(path).display().to_string();
            text.lines()
                .enumerate()
                .filter(|(_, line)| ["store::", "app.store", "shared::store"].iter().any(|s| line.contains(s)))
                .map(|(number, line)| format!("functions/{shown}:{}: {}", number + 1, line.trim()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(offenders.is_empty(), "handlers reaching the store:\n  {}", offenders.join("\n  "));
}

#[tokio::test]
async fn the_api_explorer_and_the_document_are_served() {
    let t = TestApp::new().await;
    let document = t.call("GET", "/openapi.yaml", None, None).await;
    assert_eq!(document.status, 200);
    assert_eq!(document.header("content-type"), Some("application/yaml; charset=utf-8"));
    let parsed: serde_norway::Value = serde_norway::from_slice(&document.body).expect("the document parses");
    assert!(parsed["paths"]["/v1/customers/search"].is_mapping());
    let page = t.call("GET", "/docs", None, None).await;
    assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains("SwaggerUIBundle") && html.contains("/openapi.yaml"));
    assert!(!html.contains("http://") && !html.contains("https://"), "nothing from a CDN");
    let bundle = t.call("GET", "/docs/swagger-ui-bundle.js", None, None).await;
    assert_eq!(bundle.status, 200);
    assert!(bundle.body.len() > 100_000, "the Swagger UI bundle itself");
    assert_eq!(t.call("GET", "/docs/../Cargo.toml", None, None).await.status, 404, "only the explorer's files");
}

#[tokio::test]
async fn the_local_table_has_the_templates_change_stream() {
    // What the local stack provisions (`create_table` with the template's definition).
    let t = TestApp::with_table_stream().await;
    let described =
        t.app().store.client().describe_table().table_name(t.app().store.table()).send().await.expect("describe");
    let stream = described.table().and_then(|t| t.stream_specification()).expect("a stream");
    let wanted = template().table.stream_specification.expect("the template declares a stream");
    assert!(stream.stream_enabled());
    assert_eq!(stream.stream_view_type().map(|v| v.as_str()), Some(wanted.stream_view_type.as_str()));
}

/// The resources of `template.yaml`, as YAML (intrinsics such as `!Ref` stay tagged values).
fn template_resources() -> serde_norway::Mapping {
    let text = std::fs::read_to_string(repo_root().join("template.yaml")).expect("template.yaml");
    let doc: serde_norway::Value = serde_norway::from_str(&text).expect("template.yaml parses");
    doc.get("Resources").and_then(serde_norway::Value::as_mapping).cloned().expect("template.yaml has Resources")
}

/// The logical ids of the resources of type `kind`, with their `Condition` if any.
fn resources_of(resources: &serde_norway::Mapping, kind: &str) -> Vec<(String, Option<String>)> {
    resources
        .iter()
        .filter(|(_, r)| r.get("Type").and_then(serde_norway::Value::as_str) == Some(kind))
        .map(|(id, r)| {
            let condition = r.get("Condition").and_then(serde_norway::Value::as_str).map(str::to_string);
            (id.as_str().unwrap_or_default().to_string(), condition)
        })
        .collect()
}

/// `!Ref X` or `!GetAtt X.Attr` as `("Ref", "X")` / `("GetAtt", "X.Attr")`.
fn intrinsic(value: &serde_norway::Value) -> Option<(String, String)> {
    match value {
        serde_norway::Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string().trim_start_matches('!').to_string();
            tagged.value.as_str().map(|target| (tag, target.to_string()))
        }
        _ => None,
    }
}

/// One alarm on a single metric: (namespace, metric, first dimension's name and value).
struct SingleMetricAlarm {
    id: String,
    condition: Option<String>,
    namespace: String,
    metric: String,
    dimension: Option<(String, serde_norway::Value)>,
}

fn single_metric_alarms(resources: &serde_norway::Mapping) -> Vec<SingleMetricAlarm> {
    let text = |r: &serde_norway::Value, key: &str| r["Properties"][key].as_str().unwrap_or_default().to_string();
    resources_of(resources, "AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(id, condition)| {
            let alarm = &resources[id.as_str()];
            let dimension = alarm["Properties"]["Dimensions"]
                .as_sequence()
                .and_then(|d| d.first())
                .map(|d| (d["Name"].as_str().unwrap_or_default().to_string(), d["Value"].clone()));
            SingleMetricAlarm {
                namespace: text(alarm, "Namespace"),
                metric: text(alarm, "MetricName"),
                dimension,
                id,
                condition,
            }
        })
        .collect()
}

#[test]
fn every_function_has_errors_and_throttles_alarms_under_its_own_condition() {
    let resources = template_resources();
    let alarms = single_metric_alarms(&resources);
    let functions = resources_of(&resources, "AWS::Serverless::Function");
    assert!(functions.len() >= 8, "the walk found the functions: {functions:?}");
    let mut missing = Vec::new();
    for (function, condition) in &functions {
        for metric in ["Errors", "Throttles"] {
            let found = alarms.iter().find(|a| {
                a.namespace == "AWS/Lambda"
                    && a.metric == metric
                    && a.dimension.as_ref().is_some_and(|(name, value)| {
                        name == "FunctionName" && intrinsic(value) == Some(("Ref".into(), function.clone()))
                    })
            });
            match found {
                None => missing.push(format!("{function}: no {metric} alarm")),
                Some(alarm) if alarm.condition != *condition => missing
                    .push(format!("{}: Condition {:?}, its function has {condition:?}", alarm.id, alarm.condition)),
                Some(_) => {}
            }
        }
    }
    assert!(missing.is_empty(), "template.yaml: {missing:?}");
}

#[test]
fn every_queue_has_a_depth_alarm() {
    // Every queue of the template is a dead-letter queue: a visible message is a failure.
    let resources = template_resources();
    let alarms = single_metric_alarms(&resources);
    let queues = resources_of(&resources, "AWS::SQS::Queue");
    assert!(!queues.is_empty(), "the walk found the queues");
    let missing: Vec<_> = queues
        .iter()
        .filter(|(queue, _)| {
            !alarms.iter().any(|a| {
                a.namespace == "AWS/SQS"
                    && a.metric == "ApproximateNumberOfMessagesVisible"
                    && a.dimension.as_ref().is_some_and(|(name, value)| {
                        name == "QueueName" && intrinsic(value) == Some(("GetAtt".into(), format!("{queue}.QueueName")))
                    })
            })
        })
        .collect();
    assert!(missing.is_empty(), "queues without a depth alarm: {missing:?}");
}

#[test]
fn every_alarm_is_named_after_the_stack_and_notifies_the_alarm_topic() {
    let resources = template_resources();
    let mut wrong = Vec::new();
    for (id, _) in resources_of(&resources, "AWS::CloudWatch::Alarm") {
        let properties = &resources[id.as_str()]["Properties"];
        let name = intrinsic(&properties["AlarmName"]).filter(|(tag, _)| tag == "Sub").map(|(_, text)| text);
        if !name.is_some_and(|n| n.starts_with("${AWS::StackName}-")) {
            wrong.push(format!("{id}: AlarmName must be !Sub '${{AWS::StackName}}-...'"));
        }
        for actions in ["AlarmActions", "OKActions"] {
            let text = serde_norway::to_string(&properties[actions]).unwrap_or_default();
            if !(text.contains("HasAlarmTopic") && text.contains("AlarmTopicArn")) {
                wrong.push(format!("{id}: {actions} must be !If [HasAlarmTopic, [!Ref AlarmTopicArn], ...]"));
            }
        }
        if properties["TreatMissingData"].as_str() != Some("notBreaching") {
            wrong.push(format!("{id}: TreatMissingData must be notBreaching"));
        }
    }
    assert!(wrong.is_empty(), "template.yaml: {wrong:?}");
}

#[test]
fn the_sms_spend_alarm_reads_the_metric_the_auth_function_emits() {
    let resources = template_resources();
    let alarm = single_metric_alarms(&resources)
        .into_iter()
        .find(|a| a.metric == "OtpSent")
        .expect("an alarm on the OtpSent metric");
    assert_eq!(alarm.namespace, "CustomerPlatform");
    let dimensions: Vec<(String, String)> = resources[alarm.id.as_str()]["Properties"]["Dimensions"]
        .as_sequence()
        .expect("dimensions")
        .iter()
        .map(|d| (d["Name"].as_str().unwrap_or_default().into(), d["Value"].as_str().unwrap_or_default().into()))
        .collect();
    let emitted = [("service", shared::metrics::DEFAULT_SERVICE), ("function", "auth")];
    let emitted: Vec<(String, String)> = emitted.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert_eq!(dimensions, emitted, "exactly the dimensions the metric is emitted with");
}

/// The whole of `template.yaml` as YAML.
fn template_document() -> serde_norway::Value {
    let text = std::fs::read_to_string(repo_root().join("template.yaml")).expect("template.yaml");
    serde_norway::from_str(&text).expect("template.yaml parses")
}

/// Whether a function serves routes of the HTTP API.
fn serves_routes(function: &serde_norway::Value) -> bool {
    function["Properties"]["Events"]
        .as_mapping()
        .is_some_and(|events| events.values().any(|e| e["Type"].as_str() == Some("HttpApi")))
}

/// Safe deploys: every function shifts traffic through its `live` alias as DeploymentType says,
/// and the shift rolls back on the API's 5xx and p99 alarms, on any function's errors, and on
/// each API function's own p99 latency alarm, which every API function has. A function added
/// later without its alarms fails here.
#[test]
fn deploys_shift_through_an_alias_and_roll_back_on_the_error_and_latency_alarms() {
    let document = template_document();
    let globals = &document["Globals"]["Function"];
    assert_eq!(globals["AutoPublishAlias"].as_str(), Some("live"));
    let preference = &globals["DeploymentPreference"];
    assert_eq!(intrinsic(&preference["Type"]), Some(("Ref".into(), "DeploymentType".into())));
    let rollback: BTreeSet<String> = preference["Alarms"]
        .as_sequence()
        .expect("rollback alarms")
        .iter()
        .filter_map(intrinsic)
        .map(|(_, id)| id)
        .collect();
    let resources = template_resources();
    for alarm in ["ApiServerErrorRateAlarm", "ApiLatencyP99Alarm"] {
        assert!(rollback.contains(alarm), "{alarm} rolls a deploy back");
    }
    let mut missing = Vec::new();
    for (function, condition) in resources_of(&resources, "AWS::Serverless::Function") {
        let name = function.trim_end_matches("Function");
        if condition.is_none() && !rollback.contains(&format!("{name}ErrorsAlarm")) {
            missing.push(format!("{name}ErrorsAlarm is no rollback alarm"));
        }
        if !serves_routes(&resources[function.as_str()]) || condition.is_some() {
            continue;
        }
        let latency = format!("{name}LatencyP99Alarm");
        let alarm = &resources[latency.as_str()];
        let metric = &alarm["Properties"]["Metrics"][0]["MetricStat"];
        let on_duration = metric["Metric"]["MetricName"].as_str() == Some("Duration")
            && metric["Stat"].as_str() == Some("p99")
            && intrinsic(&metric["Metric"]["Dimensions"][0]["Value"]) == Some(("Ref".into(), function.clone()));
        if !on_duration {
            missing.push(format!("{function}: no p99 Duration alarm {latency}"));
        } else if !rollback.contains(&latency) {
            missing.push(format!("{latency} is no rollback alarm"));
        }
    }
    assert!(missing.is_empty(), "template.yaml: {missing:?}");
    let archive = &resources["ChangeEventArchive"];
    assert_eq!(archive["Type"].as_str(), Some("AWS::Events::Archive"));
    assert_eq!(intrinsic(&archive["Properties"]["SourceArn"]), Some(("GetAtt".into(), "ChangeEventBus.Arn".into())));
    assert_eq!(resources["OperationsDashboard"]["Type"].as_str(), Some("AWS::CloudWatch::Dashboard"));
}
