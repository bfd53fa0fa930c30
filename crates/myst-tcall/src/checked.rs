//! Hostile-result checks: helpers the kernel uses around TCALL answers.

use crate::TResult;
use myst_abi::Errno;

/// Accepts a byte count from the host only if it does not exceed what was asked for.
pub fn len_within(r: TResult<usize>, asked: usize) -> TResult<usize> {
    match r {
        Ok(n) if n <= asked => Ok(n),
        Ok(_) => Err(Errno::EIO),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_claiming_more_bytes_than_asked_gets_eio() {
        assert_eq!(len_within(Ok(10), 4), Err(Errno::EIO));
        assert_eq!(len_within(Ok(4), 4), Ok(4));
        assert_eq!(len_within(Err(Errno::EBADF), 4), Err(Errno::EBADF));
    }
}
