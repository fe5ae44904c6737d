//! Tokens whose signature was verified, remembered by the SHA-256 of their
//! text, so that a keep-alive client pays for a signature check once per token
//! rather than once per request (it was a fifth of an admitted call's CPU).
//!
//! Only what the signature proves is remembered: the claims as signed (those
//! that need parsing, parsed). Every
//! request still checks, against its own connection and clock, everything that
//! can change — expiry and `nbf`, the revocation list, `clientId` against the
//! certificate, the client address, the certificate binding. The cache lives
//! inside its [`TokenVerifier`](crate::policy::token::jwt::TokenVerifier), so a
//! reload that changes the key set starts with an empty one: a removed key
//! never keeps a token alive. Refused tokens are never remembered, so no one
//! without a valid signature can fill it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The SHA-256 of a token's text.
pub type TokenDigest = [u8; 32];

/// Most tokens remembered at once; past it, expired ones are dropped, and if
/// that is not enough, everything (it is only a cache).
pub const MAX_VERIFIED_TOKENS: usize = 10_000;

/// Verified claims by token digest, each with the time (Unix seconds) after
/// which the token can no longer be accepted.
pub struct VerifiedTokens<T> {
    entries: Mutex<HashMap<TokenDigest, (i64, Arc<T>)>>,
    capacity: usize,
}

impl<T> VerifiedTokens<T> {
    /// An empty cache of at most `capacity` tokens.
    pub fn new(capacity: usize) -> VerifiedTokens<T> {
        VerifiedTokens {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The digest a token is remembered by.
    pub fn digest(token: &str) -> TokenDigest {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        out
    }

    /// The claims remembered for `digest`, unless they are past `usable_until` at `now`.
    pub fn get(&self, digest: &TokenDigest, now: i64) -> Option<Arc<T>> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get(digest) {
            Some((until, claims)) if *until >= now => Some(Arc::clone(claims)),
            Some(_) => {
                entries.remove(digest);
                None
            }
            None => None,
        }
    }

    /// Remembers `claims` for `digest` until `usable_until` (Unix seconds).
    pub fn insert(&self, digest: TokenDigest, usable_until: i64, claims: Arc<T>, now: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.capacity && !entries.contains_key(&digest) {
            entries.retain(|_, (until, _)| *until >= now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(digest, (usable_until, claims));
    }

    /// How many tokens are remembered (for tests).
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::VerifiedTokens;

    #[test]
    fn an_entry_is_not_served_past_its_time() {
        let cache = VerifiedTokens::new(4);
        let digest = VerifiedTokens::<u8>::digest("a.b.c");
        cache.insert(digest, 100, Arc::new(7u8), 50);
        assert_eq!(cache.get(&digest, 100).as_deref(), Some(&7));
        assert_eq!(cache.get(&digest, 101), None);
        assert!(cache.is_empty(), "an expired entry is dropped when met");
    }

    #[test]
    fn a_different_token_is_a_different_entry() {
        let cache = VerifiedTokens::new(4);
        cache.insert(VerifiedTokens::<u8>::digest("a.b.c"), 100, Arc::new(1u8), 0);
        assert_eq!(cache.get(&VerifiedTokens::<u8>::digest("a.b.d"), 0), None);
    }

    #[test]
    fn the_cache_never_grows_past_its_capacity() {
        let cache = VerifiedTokens::new(3);
        for i in 0..3 {
            cache.insert(
                VerifiedTokens::<u8>::digest(&format!("t{i}")),
                10 + i,
                Arc::new(0u8),
                0,
            );
        }
        // At 11, t0 (until 10) has expired: it makes room and the rest stay.
        cache.insert(VerifiedTokens::<u8>::digest("t3"), 100, Arc::new(0u8), 11);
        assert_eq!(cache.len(), 3);
        assert!(cache.get(&VerifiedTokens::<u8>::digest("t1"), 11).is_some());
        // Nothing expired: the cache starts over rather than grow.
        cache.insert(VerifiedTokens::<u8>::digest("t4"), 100, Arc::new(0u8), 11);
        assert_eq!(cache.len(), 1);
        for i in 0..1000 {
            cache.insert(
                VerifiedTokens::<u8>::digest(&format!("x{i}")),
                100,
                Arc::new(0u8),
                0,
            );
        }
        assert!(cache.len() <= 3);
    }
}
