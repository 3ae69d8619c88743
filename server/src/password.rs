//! Password hashing with Argon2id (the `argon2` crate's recommended parameters), stored as
//! PHC strings so parameters can be raised later without breaking old hashes.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// The shortest password accepted when one is set.
pub const MIN_LENGTH: usize = 10;
/// The longest password accepted (hashing cost is bounded).
pub const MAX_LENGTH: usize = 256;

/// Hashes a password.
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
}

/// Checks a password against a stored hash; false for a malformed hash.
pub fn verify(password: &str, stored: &str) -> bool {
    if password.len() > MAX_LENGTH {
        return false;
    }
    PasswordHash::new(stored).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// How many hashes or verifications run at once. Each Argon2id run takes 19 MiB; a class signing
/// in together would otherwise run one per blocking thread, and the allocator keeps what each
/// thread used (30 sign-ins took the server from 131 to 588 MiB in the soak, BENCHMARKS.md).
fn permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| tokio::sync::Semaphore::new(concurrency()))
}

/// How many hashes or verifications run at once on this server.
pub fn concurrency() -> usize {
    static MOST: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *MOST.get_or_init(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}

/// One of the few permits to hash or verify a password. Sign-in holds it across checking its
/// limits, verifying and counting a failure, so guesses queued behind each other see each
/// other's failures.
pub struct Permit {
    _held: tokio::sync::SemaphorePermit<'static>,
}

/// Waits for a permit; `None` only if the semaphore was closed (it never is).
pub async fn permit() -> Option<Permit> {
    permits().acquire().await.ok().map(|held| Permit { _held: held })
}

impl Permit {
    /// Runs `work` (a hash or a verification) on a blocking thread under this permit; `None`
    /// if the task failed.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        tokio::task::spawn_blocking(work).await.ok()
    }
}

/// Runs `work` (a hash or a verification) on a blocking thread once one of the few permits is
/// free; `None` if the task failed.
pub async fn run_bounded<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    permit().await?.run(work).await
}

/// Makes glibc serve every allocation of 4 MiB or more with its own mapping, returned to the system
/// when freed. Each password check allocates 19 MiB (Argon2id); with glibc's moving threshold the
/// second one onwards came from per-thread arenas that keep it, so a class signing in at once left
/// the server about 400 MiB larger for good (measured: 21 sign-ins, +410 MiB before, see
/// BENCHMARKS.md "Soak"). Every server binary calls it first thing.
pub fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter, under glibc's own lock.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}

/// A hash that no password matches, verified against when an account does not exist so that
/// timing does not reveal which emails have accounts.
pub fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("no password matches this decoy hash"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let h = hash("correct horse battery");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterY", &h));
        assert!(!verify("x", "not a hash"));
        assert!(!verify(&"x".repeat(MAX_LENGTH + 1), &h));
    }
}
