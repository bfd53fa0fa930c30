//! Calls that need no subsystem.

use super::Ctx;
use crate::error::KResult;
use crate::kerr;

/// ENOSYS without the "unsupported" report (for calls libcs probe and handle, like rseq).
pub fn enosys_quiet(_c: &mut Ctx<'_>, _a: [u64; 6]) -> KResult<u64> {
    kerr!(ENOSYS)
}
