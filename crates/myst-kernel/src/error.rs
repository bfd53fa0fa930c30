//! Kernel errors: an `Errno` plus an optional static message for logs.

use myst_abi::Errno;

/// A kernel error. Cheap to copy; the message only helps logging.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    /// The errno the application sees.
    pub errno: Errno,
    /// Why, for `--strace` and logs.
    pub msg: Option<&'static str>,
}

impl Error {
    /// An error with a message.
    pub const fn with_msg(errno: Errno, msg: &'static str) -> Self {
        Self { errno, msg: Some(msg) }
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.msg {
            Some(m) => write!(f, "{m} ({})", self.errno),
            None => write!(f, "{}", self.errno),
        }
    }
}

impl From<Errno> for Error {
    fn from(errno: Errno) -> Self {
        Self { errno, msg: None }
    }
}

/// Kernel result.
pub type KResult<T> = Result<T, Error>;

/// Returns early with an errno (and optional message).
#[macro_export]
macro_rules! kerr {
    ($e:ident) => {
        return Err($crate::error::Error::from(myst_abi::Errno::$e))
    };
    ($e:ident, $m:expr) => {
        return Err($crate::error::Error::with_msg(myst_abi::Errno::$e, $m))
    };
}
