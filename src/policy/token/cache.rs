//! Tokens whose signature was verified, remembered by their exact text, so
//! that a keep-alive client pays for a signature check once per token rather
//! than once per request (it was a fifth of an admitted call's CPU).
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
//!
//! Why the lookup is exact without a digest of the whole token: an entry is
//! found by the token's signature segment (the text after its last `.`,
//! hashed by the map's keyed SipHash) and then served only if the token text
//! it was verified for is byte for byte the presented one. A token that
//! borrows a remembered signature with another header or payload finds the
//! entry and fails the comparison: it is verified like any new token (and
//! refused, its signature not matching its content). Hashing ~86 characters
//! and comparing the text costs a fraction of a SHA-256 over all of it
//! (bench/README.md). The price is memory: an entry keeps the token's text,
//! so tokens longer than [`MAX_REMEMBERED_TOKEN_BYTES`] are verified on every
//! request instead of being remembered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Most tokens remembered at once; past it, expired ones are dropped, and if
/// that is not enough, everything (it is only a cache).
pub const MAX_VERIFIED_TOKENS: usize = 10_000;

/// Longest token text remembered: with [`MAX_VERIFIED_TOKENS`], the cache's
/// token text is bounded by 40 MiB (a scoped token is well under 2 KiB).
pub const MAX_REMEMBERED_TOKEN_BYTES: usize = 4096;

/// The part of a token an entry is found by: its signature segment.
fn signature_segment(token: &str) -> &str {
    token
        .rsplit_once('.')
        .map_or(token, |(_, signature)| signature)
}

/// One remembered token: its whole text, when it stops being usable (Unix
/// seconds), and its claims.
struct Entry<T> {
    token: Box<str>,
    usable_until: i64,
    claims: Arc<T>,
}

/// Verified claims by token, each with the time (Unix seconds) after which
/// the token can no longer be accepted.
pub struct VerifiedTokens<T> {
    entries: Mutex<HashMap<Box<str>, Entry<T>>>,
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

    /// The claims remembered for exactly `token`, unless they are past
    /// `usable_until` at `now`.
    pub fn get(&self, token: &str, now: i64) -> Option<Arc<T>> {
        let key = signature_segment(token);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get(key) {
            Some(entry) if *entry.token != *token => None,
            Some(entry) if entry.usable_until >= now => Some(Arc::clone(&entry.claims)),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Remembers `claims` for `token` until `usable_until` (Unix seconds);
    /// a token longer than [`MAX_REMEMBERED_TOKEN_BYTES`] is not remembered.
    pub fn insert(&self, token: &str, usable_until: i64, claims: Arc<T>, now: i64) {
        if token.len() > MAX_REMEMBERED_TOKEN_BYTES {
            return;
        }
        let key = signature_segment(token);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.capacity && !entries.contains_key(key) {
            entries.retain(|_, entry| entry.usable_until >= now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        let entry = Entry {
            token: token.into(),
            usable_until,
            claims,
        };
        entries.insert(key.into(), entry);
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

    use super::{MAX_REMEMBERED_TOKEN_BYTES, VerifiedTokens};

    #[test]
    fn an_entry_is_not_served_past_its_time() {
        let cache = VerifiedTokens::new(4);
        cache.insert("a.b.c", 100, Arc::new(7u8), 50);
        assert_eq!(cache.get("a.b.c", 100).as_deref(), Some(&7));
        assert_eq!(cache.get("a.b.c", 101), None);
        assert!(cache.is_empty(), "an expired entry is dropped when met");
    }

    #[test]
    fn a_different_token_is_a_different_entry() {
        let cache = VerifiedTokens::new(4);
        cache.insert("a.b.c", 100, Arc::new(1u8), 0);
        assert_eq!(cache.get("a.b.d", 0), None);
    }

    /// The safety of keying by the signature: a token that carries a
    /// remembered signature over another header or payload is not served
    /// the remembered claims, and the remembered token still is.
    #[test]
    fn a_borrowed_signature_does_not_find_the_claims() {
        let cache = VerifiedTokens::new(4);
        cache.insert("header.payload.signature", 100, Arc::new(1u8), 0);
        for forged in [
            "header.other-payload.signature",
            "other-header.payload.signature",
            "header.payload.signature.",
            "xheader.payload.signature",
            "signature",
            ".signature",
        ] {
            assert_eq!(cache.get(forged, 0), None, "{forged}");
        }
        assert_eq!(
            cache.get("header.payload.signature", 0).as_deref(),
            Some(&1)
        );
    }

    #[test]
    fn a_long_token_is_not_remembered() {
        let cache = VerifiedTokens::new(4);
        let long = format!("h.{}.s", "p".repeat(MAX_REMEMBERED_TOKEN_BYTES));
        cache.insert(&long, 100, Arc::new(1u8), 0);
        assert!(cache.is_empty());
        assert_eq!(cache.get(&long, 0), None);
    }

    #[test]
    fn the_cache_never_grows_past_its_capacity() {
        let cache = VerifiedTokens::new(3);
        for i in 0..3 {
            cache.insert(&format!("h.p.t{i}"), 10 + i, Arc::new(0u8), 0);
        }
        // At 11, t0 (until 10) has expired: it makes room and the rest stay.
        cache.insert("h.p.t3", 100, Arc::new(0u8), 11);
        assert_eq!(cache.len(), 3);
        assert!(cache.get("h.p.t1", 11).is_some());
        // Nothing expired: the cache starts over rather than grow.
        cache.insert("h.p.t4", 100, Arc::new(0u8), 11);
        assert_eq!(cache.len(), 1);
        for i in 0..1000 {
            cache.insert(&format!("h.p.x{i}"), 100, Arc::new(0u8), 0);
        }
        assert!(cache.len() <= 3);
    }
}
