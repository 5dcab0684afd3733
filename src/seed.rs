//! Seeds: every random stream of a run (a sequence's sampler, a prompt's choices, a
//! tensor's initial values) is derived from the run's seed and a stable name, so what a
//! stream draws does not depend on batching, sharding or the order of work.

/// The seed of one named random stream of a run: stable across runs, batches and shards.
pub fn stream_seed(seed: u64, stream: &str) -> u64 {
    seed ^ fnv1a(stream.as_bytes())
}

/// A stable 64-bit hash (FNV-1a) of a name, for mixing names into seeds.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Mixes several numbers into one seed (splitmix64 steps).
pub fn mix_seed(parts: &[u64]) -> u64 {
    let mut h = 0x9e3779b97f4a7c15u64;
    for &p in parts {
        h ^= p.wrapping_add(0x9e3779b97f4a7c15).wrapping_add(h << 6).wrapping_add(h >> 2);
        let mut z = h;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        h = z ^ (z >> 31);
    }
    h
}
