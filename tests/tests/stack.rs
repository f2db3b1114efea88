//! The local stack matches `template.yaml`: same table, same routes, and health answers.

use integration_tests::{TestApp, template};
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
            f.routes().iter().map(move |r| (f.logical_id().to_string(), r.method.to_string(), r.path.to_string()))
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
    let broken = shared::App::new(config, &integration_tests::sdk_config().await);
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
