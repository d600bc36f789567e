//! The lock around one machine's state, for hosts that share an [`crate::mm::Mm`]
//! between threads (the Python binding does).
//!
//! Calls from Python take it for a few nanoseconds each, almost never
//! against another thread (only a batch call or a server worker running
//! with the GIL released can hold it meanwhile). So taking it is one
//! compare-and-swap and releasing it one plain store; a thread that finds
//! it held spins briefly, then yields its time slice, then sleeps in short
//! naps until it is free.

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

/// A mutual-exclusion lock tuned for short, rarely contended sections.
pub struct StateLock<T> {
    held: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached through a `StateGuard`, and at most one
// guard exists at a time (the `held` flag, set by a successful
// compare-exchange with Acquire and cleared with Release on drop).
unsafe impl<T: Send> Sync for StateLock<T> {}

impl<T> StateLock<T> {
    pub fn new(value: T) -> Self {
        StateLock { held: AtomicBool::new(false), value: UnsafeCell::new(value) }
    }

    /// Take the lock, waiting while another thread holds it.
    #[inline]
    pub fn lock(&self) -> StateGuard<'_, T> {
        if self.held.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            self.wait();
        }
        StateGuard { lock: self, _marker: PhantomData }
    }

    #[cold]
    fn wait(&self) {
        let mut tries: u32 = 0;
        loop {
            if !self.held.load(Ordering::Relaxed)
                && self.held.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok()
            {
                return;
            }
            tries = tries.saturating_add(1);
            if tries < 64 {
                std::hint::spin_loop();
            } else if tries < 4096 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(std::time::Duration::from_micros(50));
            }
        }
    }
}

/// Access to the locked value; the lock is released when this is dropped
/// (also while a panic unwinds, which leaves the state as the failed call
/// left it: the core's calls change nothing before they can fail).
pub struct StateGuard<'a, T> {
    lock: &'a StateLock<T>,
    /// A guard gives `&mut T`: it may cross or be shared between threads
    /// only as a `&mut T` may (as `MutexGuard`, not as `&StateLock<T>`).
    _marker: PhantomData<&'a mut T>,
}

impl<T> Deref for StateGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard is the only one (see `StateLock`).
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for StateGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes the access unique.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for StateGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.held.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn threads_never_overlap_inside_the_lock() {
        let lock = Arc::new(StateLock::new((0u64, false)));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    for _ in 0..20_000 {
                        let mut g = lock.lock();
                        assert!(!g.1, "two guards at once");
                        g.1 = true;
                        g.0 += 1;
                        g.1 = false;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(lock.lock().0, 80_000);
    }

    #[test]
    fn a_panic_inside_releases_the_lock() {
        let lock = StateLock::new(1);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _g = lock.lock();
            panic!("inside");
        }));
        assert!(r.is_err());
        assert_eq!(*lock.lock(), 1);
    }
}
