//! A Zed debugger extension for pyattach: it attaches Zed's debugger to a
//! Python process that is already running, by PID.
//!
//! Zed runs a custom debug adapter only through an extension. This one
//! tells Zed to run `pyattach dap` and talk DAP on its stdin/stdout, and
//! that every pyattach session is an attach.

use zed_extension_api::{
    self as zed, serde_json, DebugAdapterBinary, DebugConfig, DebugRequest, DebugScenario,
    DebugTaskDefinition, StartDebuggingRequestArguments, StartDebuggingRequestArgumentsRequest,
    Worktree,
};

/// The adapter's name, as registered in extension.toml.
const ADAPTER: &str = "pyattach";

struct Pyattach;

impl zed::Extension for Pyattach {
    fn new() -> Self {
        Pyattach
    }

    /// Runs the binary set in Zed's settings ("dap": {"pyattach":
    /// {"binary": ...}}), else `pyattach` found on the worktree's PATH.
    fn get_dap_binary(
        &mut self,
        adapter_name: String,
        config: DebugTaskDefinition,
        user_provided_debug_adapter_path: Option<String>,
        worktree: &Worktree,
    ) -> Result<DebugAdapterBinary, String> {
        let command = match user_provided_debug_adapter_path {
            Some(path) => path,
            None => worktree.which(ADAPTER).ok_or_else(|| {
                "pyattach is not on PATH: install it, or set \"dap\": {\"pyattach\": {\"binary\": \"/path/to/pyattach\"}} in Zed's settings".to_string()
            })?,
        };
        let configuration: serde_json::Value = serde_json::from_str(&config.config)
            .map_err(|e| format!("the pyattach configuration is not JSON: {e}"))?;
        let request = self.dap_request_kind(adapter_name, configuration)?;
        Ok(DebugAdapterBinary {
            command: Some(command),
            arguments: vec!["dap".to_string()],
            envs: vec![],
            cwd: None,
            connection: None,
            request_args: StartDebuggingRequestArguments {
                configuration: config.config,
                request,
            },
        })
    }

    /// pyattach only attaches: a configuration without "request" is an
    /// attach, and one that asks for a launch is refused.
    fn dap_request_kind(
        &mut self,
        _adapter_name: String,
        config: serde_json::Value,
    ) -> Result<StartDebuggingRequestArgumentsRequest, String> {
        match config.get("request").and_then(serde_json::Value::as_str) {
            None | Some("attach") => Ok(StartDebuggingRequestArgumentsRequest::Attach),
            Some(other) => Err(format!(
                "pyattach attaches to a running process; \"request\" must be \"attach\", not {other:?}"
            )),
        }
    }

    /// Turns the process picked in Zed's "Attach" tab into pyattach's
    /// attach arguments.
    fn dap_config_to_scenario(&mut self, config: DebugConfig) -> Result<DebugScenario, String> {
        let DebugRequest::Attach(attach) = config.request else {
            return Err("pyattach attaches to a running process; it cannot launch one".to_string());
        };
        let pid = attach
            .process_id
            .ok_or_else(|| "pick the Python process to attach to".to_string())?;
        let configuration = serde_json::json!({
            "request": "attach",
            "processId": pid,
            "justMyCode": false,
        });
        Ok(DebugScenario {
            label: config.label,
            adapter: config.adapter,
            build: None,
            config: configuration.to_string(),
            tcp_connection: None,
        })
    }
}

zed::register_extension!(Pyattach);
