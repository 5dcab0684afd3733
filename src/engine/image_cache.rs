//! The cache of encoded images: least recently used first out, keyed by the sha256 of
//! the image file.
//!
//! It grows with what it holds instead of reserving its whole table when the model
//! loads: `image_cache_entries` is a ceiling a host may set high, not a promise to fill
//! it, so a model that never sees an image pays nothing for it.

use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;

/// An LRU map of at most `capacity` entries, safe to share between threads.
pub(crate) struct ImageCache<V> {
    // Unbounded in the `lru` crate's eyes (which reserves nothing); the capacity is
    // enforced here on insertion.
    entries: Mutex<LruCache<[u8; 32], V>>,
    capacity: NonZeroUsize,
}

impl<V: Clone> ImageCache<V> {
    /// A cache of at most `capacity` entries; `None` for 0 (no caching).
    pub(crate) fn new(capacity: usize) -> Option<Self> {
        NonZeroUsize::new(capacity).map(|capacity| ImageCache { entries: Mutex::new(LruCache::unbounded()), capacity })
    }

    /// The entry for `key`, now the most recently used.
    pub(crate) fn get(&self, key: &[u8; 32]) -> Option<V> {
        self.lock().get(key).cloned()
    }

    /// Stores `value` under `key` as the most recently used entry, evicting the least
    /// recently used one when the cache is full.
    pub(crate) fn put(&self, key: [u8; 32], value: V) {
        let evicted = {
            let mut entries = self.lock();
            let evicted =
                if !entries.contains(&key) && entries.len() >= self.capacity.get() { entries.pop_lru() } else { None };
            entries.put(key, value);
            evicted
        };
        // Freed after the lock is released: an encoded image may be large.
        drop(evicted);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<[u8; 32], V>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::ImageCache;

    fn key(n: u8) -> [u8; 32] {
        [n; 32]
    }

    #[test]
    fn zero_capacity_means_no_cache() {
        assert!(ImageCache::<u32>::new(0).is_none());
    }

    #[test]
    fn the_least_recently_used_entry_is_evicted_at_capacity() {
        let cache = ImageCache::new(2).unwrap();
        cache.put(key(1), 10);
        cache.put(key(2), 20);
        // Using 1 makes 2 the least recent.
        assert_eq!(cache.get(&key(1)), Some(10));
        cache.put(key(3), 30);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&key(2)), None);
        assert_eq!((cache.get(&key(1)), cache.get(&key(3))), (Some(10), Some(30)));
        // Replacing an entry that is present evicts nothing.
        cache.put(key(3), 31);
        assert_eq!((cache.len(), cache.get(&key(1)), cache.get(&key(3))), (2, Some(10), Some(31)));
    }

    #[test]
    fn a_huge_capacity_reserves_nothing_up_front() {
        // With a reserving table this would allocate gigabytes and abort.
        let cache = ImageCache::<u32>::new(usize::MAX >> 8).unwrap();
        cache.put(key(7), 7);
        assert_eq!(cache.get(&key(7)), Some(7));
    }
}
