//! One error type for the crate. Every variant that comes from a file names the file,
//! so a user with a thousand scans knows which one is bad.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The message already carries the OS error, so it is not also chained as a
    /// `source` (a CLI printing the chain would say it twice).
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// The file exists but its content is not what its format promises.
    #[error("{path}: {msg}")]
    Format { path: PathBuf, msg: String },
    /// The file's extension and content match no reader.
    #[error("{path}: unsupported format ({msg})")]
    Unsupported { path: PathBuf, msg: String },
    /// A folder does not have the layout that was asked for.
    #[error("{path}: {msg}")]
    Layout { path: PathBuf, msg: String },
    /// The file holds (or its header claims) more points than the caller allows: a
    /// variant of its own so a service can answer "too large" rather than "malformed".
    #[error("{path}: {what} claims {claimed} points, more than the limit of {limit}")]
    TooManyPoints {
        path: PathBuf,
        what: String,
        claimed: usize,
        limit: usize,
    },
    /// Arguments that make no sense (empty cloud, k = 0, ...), not tied to a file.
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            cause: source,
        }
    }

    pub fn format(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            msg: msg.into(),
        }
    }

    pub fn layout(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::Layout {
            path: path.into(),
            msg: msg.into(),
        }
    }
}
