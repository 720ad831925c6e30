//! The tool contract's names and required arguments, and a check of a server's tool list.

use super::ToolInfo;
use serde::Serialize;

/// A tool the fine-tuning contract needs, with the arguments it must accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RequiredTool {
    /// The tool's name.
    pub name: &'static str,
    /// Arguments its input schema must declare.
    pub arguments: &'static [&'static str],
    /// Whether the contract can do without it (events are optional).
    pub optional: bool,
}

/// Tool names of the contract.
pub(crate) mod names {
    pub const UPLOAD_FILE: &str = "fine_tuning_upload_file";
    pub const CREATE_JOB: &str = "fine_tuning_create_job";
    pub const GET_JOB: &str = "fine_tuning_get_job";
    pub const CANCEL_JOB: &str = "fine_tuning_cancel_job";
    pub const LIST_JOBS: &str = "fine_tuning_list_jobs";
    pub const LIST_EVENTS: &str = "fine_tuning_list_events";
}

/// The fine-tuning tools a server must offer (see `docs/mcp.md`).
pub const REQUIRED_TOOLS: &[RequiredTool] = &[
    RequiredTool {
        name: names::UPLOAD_FILE,
        arguments: &["filename", "purpose", "content", "sha256"],
        optional: false,
    },
    RequiredTool {
        name: names::CREATE_JOB,
        arguments: &["base_model", "training_file", "method", "idempotency_key"],
        optional: false,
    },
    RequiredTool {
        name: names::GET_JOB,
        arguments: &["job_id"],
        optional: false,
    },
    RequiredTool {
        name: names::CANCEL_JOB,
        arguments: &["job_id"],
        optional: false,
    },
    RequiredTool {
        name: names::LIST_JOBS,
        arguments: &["after", "limit"],
        optional: false,
    },
    RequiredTool {
        name: names::LIST_EVENTS,
        arguments: &["job_id", "after", "limit"],
        optional: true,
    },
];

/// How a server's tool list measures up against one [`RequiredTool`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ToolCheck {
    /// The tool's name.
    pub name: String,
    /// Whether the contract can do without it.
    pub optional: bool,
    /// Whether the server offers it.
    pub present: bool,
    /// Required arguments its input schema does not declare (empty when absent or fine).
    pub missing_arguments: Vec<String>,
}

impl ToolCheck {
    /// Present with every required argument.
    pub fn ok(&self) -> bool {
        self.present && self.missing_arguments.is_empty()
    }

    /// Fine, or an optional tool that is absent.
    pub fn acceptable(&self) -> bool {
        self.ok() || (self.optional && !self.present)
    }
}

/// Checks `tools` against [`REQUIRED_TOOLS`], in that order.
pub fn check_tools(tools: &[ToolInfo]) -> Vec<ToolCheck> {
    REQUIRED_TOOLS
        .iter()
        .map(|required| {
            let found = tools.iter().find(|t| t.name == required.name);
            let missing_arguments = match found {
                None => Vec::new(),
                Some(tool) => {
                    let properties = tool.input_schema.get("properties");
                    required
                        .arguments
                        .iter()
                        .filter(|a| properties.and_then(|p| p.get(**a)).is_none())
                        .map(|a| a.to_string())
                        .collect()
                }
            };
            ToolCheck {
                name: required.name.to_string(),
                optional: required.optional,
                present: found.is_some(),
                missing_arguments,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tool(name: &str, props: &[&str]) -> ToolInfo {
        let properties: serde_json::Map<String, serde_json::Value> = props
            .iter()
            .map(|p| (p.to_string(), json!({"type": "string"})))
            .collect();
        ToolInfo {
            name: name.into(),
            description: None,
            input_schema: json!({"type": "object", "properties": properties}),
            output_schema: None,
        }
    }

    #[test]
    fn reports_missing_tools_and_arguments() {
        let tools = vec![
            tool("echo", &["message"]),
            tool("fine_tuning_get_job", &["job_id"]),
            tool("fine_tuning_create_job", &["base_model", "training_file"]),
        ];
        let checks = check_tools(&tools);
        assert_eq!(checks.len(), REQUIRED_TOOLS.len());
        let by_name = |n: &str| checks.iter().find(|c| c.name == n).unwrap();
        assert!(by_name("fine_tuning_get_job").ok());
        let create = by_name("fine_tuning_create_job");
        assert!(create.present && !create.ok());
        assert_eq!(create.missing_arguments, ["method", "idempotency_key"]);
        let upload = by_name("fine_tuning_upload_file");
        assert!(!upload.present && !upload.acceptable());
        let events = by_name("fine_tuning_list_events");
        assert!(!events.present && events.acceptable());
    }
}
