//! Reads what the local stack needs from `template.yaml`: the table definition and the routes
//! of every function.

use std::path::Path;

use serde::Deserialize;
use serde_norway::Value;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TemplateError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("template.yaml is not valid YAML: {0}")]
    Yaml(#[from] serde_norway::Error),
    #[error("template.yaml has no {0}")]
    Missing(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeDefinition {
    pub attribute_name: String,
    pub attribute_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyElement {
    pub attribute_name: String,
    pub key_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Projection {
    pub projection_type: String,
    #[serde(default)]
    pub non_key_attributes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GlobalSecondaryIndex {
    pub index_name: String,
    pub key_schema: Vec<KeyElement>,
    pub projection: Projection,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TimeToLive {
    pub attribute_name: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamSpecification {
    pub stream_view_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableDefinition {
    pub attribute_definitions: Vec<AttributeDefinition>,
    pub key_schema: Vec<KeyElement>,
    #[serde(default)]
    pub global_secondary_indexes: Vec<GlobalSecondaryIndex>,
    pub time_to_live_specification: Option<TimeToLive>,
    /// The change stream the stream publisher reads (and the local stack polls).
    pub stream_specification: Option<StreamSpecification>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TemplateRoute {
    pub function: String,
    pub method: String,
    pub path: String,
}

#[derive(Debug, Clone)]
pub struct Template {
    pub table: TableDefinition,
    pub routes: Vec<TemplateRoute>,
    /// The HTTP API's access-log line (`AccessLogSettings.Format`, with `$context.*` variables),
    /// which the local stack writes for each request as API Gateway does.
    pub access_log_format: Option<String>,
}

impl Template {
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| TemplateError::Read { path: path.display().to_string(), source })?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let root: Value = serde_norway::from_str(text)?;
        let resources = root.get("Resources").ok_or_else(|| TemplateError::Missing("Resources".into()))?;
        let table_properties = resources
            .get("Table")
            .and_then(|t| t.get("Properties"))
            .ok_or_else(|| TemplateError::Missing("Resources.Table.Properties".into()))?;
        let table: TableDefinition = serde_norway::from_value(table_properties.clone())?;
        let access_log_format = resources
            .get("HttpApi")
            .and_then(|api| api.get("Properties"))
            .and_then(|p| p.get("AccessLogSettings"))
            .and_then(|settings| settings.get("Format"))
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(Self { table, routes: routes(resources), access_log_format })
    }
}

fn routes(resources: &Value) -> Vec<TemplateRoute> {
    let mut routes = Vec::new();
    let Some(resources) = resources.as_mapping() else {
        return routes;
    };
    for (name, resource) in resources {
        if resource.get("Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
            continue;
        }
        let function = name.as_str().unwrap_or_default().to_string();
        let events = resource.get("Properties").and_then(|p| p.get("Events")).and_then(Value::as_mapping);
        for event in events.into_iter().flat_map(|e| e.values()) {
            if event.get("Type").and_then(Value::as_str) != Some("HttpApi") {
                continue;
            }
            let properties = event.get("Properties");
            let field = |key: &str| properties.and_then(|p| p.get(key)).and_then(Value::as_str).map(str::to_string);
            if let (Some(method), Some(path)) = (field("Method"), field("Path")) {
                routes.push(TemplateRoute { function: function.clone(), method: method.to_ascii_uppercase(), path });
            }
        }
    }
    routes.sort();
    routes
}
