//! Kernel locks.
//!
//! `Mutex` is a spin lock that yields the host CPU while contended. All kernel state that a
//! future multi-process design shares lives behind these locks, so that replacing them with
//! cross-process futex locks (DESIGN.md §3) changes this one file.

pub use spin::Once;

/// A mutual-exclusion lock around kernel state.
#[derive(Debug, Default)]
pub struct Mutex<T>(spin::Mutex<T>);

/// Guard of a locked [`Mutex`].
pub type MutexGuard<'a, T> = spin::MutexGuard<'a, T>;

impl<T> Mutex<T> {
    /// A new unlocked mutex.
    pub const fn new(v: T) -> Self {
        Self(spin::Mutex::new(v))
    }
    /// Locks, yielding the host CPU while someone else holds it.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        loop {
            if let Some(g) = self.0.try_lock() {
                return g;
            }
            if let Some(t) = crate::tcall_opt() {
                t.yield_now();
            } else {
                core::hint::spin_loop();
            }
        }
    }
}
