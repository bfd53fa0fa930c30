//! The shared kernel heap: the myst binary's global allocator.
//!
//! Every Rust allocation (kernel objects, file data, pipes, the process table) comes from one
//! `MAP_SHARED` anonymous arena made before `main`. A host `fork` keeps it shared, at the same
//! address, so every application process sees the same kernel objects; the allocator's own
//! state (talc, behind a spin lock) lives inside the arena too, so all processes allocate
//! from one consistent heap. Application memory stays private to each process.

use std::alloc::{GlobalAlloc, Layout};
use std::ptr::null_mut;
use std::sync::atomic::{AtomicPtr, Ordering};

type Inner = talc::Talck<spin::Mutex<()>, talc::ErrOnOom>;

static HEAP: AtomicPtr<Inner> = AtomicPtr::new(null_mut());

/// Size of the address range reserved for the kernel heap (only touched pages use memory).
pub const ARENA_SIZE: usize = 64 << 30;

/// The global allocator over the shared arena.
#[derive(Debug, Clone, Copy)]
pub struct SharedHeap;

fn heap() -> Option<&'static Inner> {
    let p = HEAP.load(Ordering::Acquire);
    if !p.is_null() {
        // SAFETY: a non-null HEAP was initialised below and is never freed.
        return Some(unsafe { &*p });
    }
    // SAFETY: a fresh shared anonymous mapping; checked.
    let base = unsafe {
        libc::mmap(
            null_mut(),
            ARENA_SIZE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return None;
    }
    let inner = base as *mut Inner;
    let hdr = std::mem::size_of::<Inner>().next_multiple_of(64);
    // SAFETY: `inner` points at the start of our new, writable, suitably aligned mapping;
    // the arena after the header is claimed exactly once, here.
    unsafe {
        inner.write(talc::Talc::new(talc::ErrOnOom).lock());
        let span = talc::Span::from_base_size((base as *mut u8).add(hdr), ARENA_SIZE - hdr);
        if (*inner).lock().claim(span).is_err() {
            return None;
        }
    }
    match HEAP.compare_exchange(null_mut(), inner, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => Some(
            // SAFETY: we just published it.
            unsafe { &*inner },
        ),
        Err(other) => {
            // SAFETY: another thread won the race; ours was never used.
            unsafe { libc::munmap(base, ARENA_SIZE) };
            // SAFETY: the winner's heap is initialised and never freed.
            Some(unsafe { &*other })
        }
    }
}

// SAFETY: delegates to talc, which upholds the GlobalAlloc contract; a missing heap makes
// allocation fail (null), never undefined behaviour.
unsafe impl GlobalAlloc for SharedHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match heap() {
            // SAFETY: forwarded contract.
            Some(h) => unsafe { h.alloc(layout) },
            None => null_mut(),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(h) = heap() {
            // SAFETY: forwarded contract: ptr came from this heap.
            unsafe { h.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        match heap() {
            // SAFETY: forwarded contract.
            Some(h) => unsafe { h.realloc(ptr, layout, new_size) },
            None => null_mut(),
        }
    }
}
