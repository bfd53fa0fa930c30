//! Clocks and sleeping. Time always comes through the kernel (no host vDSO).

use super::Ctx;
use crate::error::KResult;
use crate::kerr;
use myst_abi::consts::*;
use myst_abi::structs::{Enc, Timespec};

fn clock_ok(id: u64) -> KResult<u32> {
    let id = id as u32;
    match id {
        CLOCK_REALTIME
        | CLOCK_MONOTONIC
        | CLOCK_PROCESS_CPUTIME_ID
        | CLOCK_THREAD_CPUTIME_ID
        | CLOCK_MONOTONIC_RAW
        | CLOCK_REALTIME_COARSE
        | CLOCK_MONOTONIC_COARSE
        | CLOCK_BOOTTIME
        | CLOCK_TAI => Ok(id),
        _ => kerr!(EINVAL),
    }
}

pub fn clock_gettime(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let id = clock_ok(a[0])?;
    let t = crate::tcall().clock_gettime(id)?;
    if !t.is_valid() {
        kerr!(EIO, "host returned an invalid time");
    }
    c.user().write(a[1], &t.to_bytes())?;
    Ok(0)
}

pub fn clock_getres(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let id = clock_ok(a[0])?;
    if a[1] != 0 {
        let res = if id == CLOCK_REALTIME_COARSE || id == CLOCK_MONOTONIC_COARSE { 4_000_000 } else { 1 };
        c.user().write(a[1], &Timespec { sec: 0, nsec: res }.to_bytes())?;
    }
    Ok(0)
}

pub fn gettimeofday(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let t = crate::tcall().clock_gettime(CLOCK_REALTIME)?;
    if a[0] != 0 {
        c.user().write(a[0], &Enc::<16>::new().i64(t.sec).i64(t.nsec / 1000).finish())?;
    }
    if a[1] != 0 {
        c.user().write(a[1], &[0u8; 8])?;
    }
    Ok(0)
}

pub fn time(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let t = crate::tcall().clock_gettime(CLOCK_REALTIME)?;
    if a[0] != 0 {
        c.user().write_u64(a[0], t.sec as u64)?;
    }
    Ok(t.sec as u64)
}

fn read_ts(c: &Ctx<'_>, p: u64) -> KResult<Timespec> {
    let t = Timespec::from_bytes(&c.user().read_arr::<16>(p)?);
    if !t.is_valid() {
        kerr!(EINVAL);
    }
    Ok(t)
}

fn sleep_ns(ns: u128) -> KResult<()> {
    let ns = ns.min(u64::MAX as u128) as u64;
    Ok(crate::tcall().sleep(ns)?)
}

pub fn nanosleep(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let t = read_ts(c, a[0])?;
    sleep_ns(t.as_nanos())?;
    Ok(0)
}

pub fn clock_nanosleep(c: &mut Ctx<'_>, a: [u64; 6]) -> KResult<u64> {
    let id = clock_ok(a[0])?;
    if id == CLOCK_THREAD_CPUTIME_ID {
        kerr!(EINVAL);
    }
    let t = read_ts(c, a[2])?;
    if a[1] as u32 & TIMER_ABSTIME != 0 {
        let clock = if id == CLOCK_PROCESS_CPUTIME_ID { CLOCK_MONOTONIC } else { id };
        let now = crate::tcall().clock_gettime(clock)?;
        let (t, n) = (t.as_nanos(), now.as_nanos());
        if t > n {
            sleep_ns(t - n)?;
        }
    } else {
        sleep_ns(t.as_nanos())?;
    }
    Ok(0)
}
