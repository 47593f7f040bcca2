//! The error every scenario check returns: which key, and what is wrong with its value.

/// A problem with a scenario, naming the key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ScenarioError {
    /// Dotted key path, e.g. `machine.cpus`; or `TOML` for syntax errors.
    pub key: String,
    pub message: String,
}

impl ScenarioError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ScenarioError { key: key.into(), message: message.into() }
    }
}
