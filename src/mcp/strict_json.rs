//! JSON the gateway and rmcp are sure to read alike.
//!
//! The gateway reads a request body for its own checks (the method, what it
//! names, whether it creates a session) and rmcp reads it again to act on it.
//! Two parsers of one text agree on everything serde_json accepts except a key
//! written twice in one object: a derived struct refuses it ("duplicate
//! field"), a map or `Value` keeps the last one, and rmcp's untagged message
//! types buffer and pick as they go. An `initialize` whose `params` held
//! `name` twice was read by the gateway as "not a message" (no session slot
//! reserved) and by rmcp as an `initialize` (a session made past every cap).
//! So a body with a duplicated key anywhere is refused before either reads it.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use rmcp::model::JsonObject;
use serde::Deserializer;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Checks that `body` is one JSON value in which no object names a key twice
/// (keys compared after unescaping: `"na\u006de"` is `"name"`). The error says
/// which key (a `Data` error) or why the text is not JSON (`Syntax`, `Eof`).
pub fn check_no_duplicate_keys(body: &[u8]) -> Result<(), serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    deserializer
        .deserialize_any(UniqueKeys)
        .and_then(|()| deserializer.end())
}

/// Any JSON value, read as [`Value`] reads it, refusing an object that names a
/// key twice at any depth (where `Value` keeps the last) and the one key
/// `Value` treats as a command rather than a name (serde_json's raw-value
/// marker, which makes `Value` parse the string under it as JSON). Read
/// this way, a free-form part of a body ([`crate::mcp::plain_request`]) is
/// what the duplicate check and rmcp would both have read.
#[derive(Debug, PartialEq)]
pub struct UniqueValue(pub Value);

/// A JSON object read like [`UniqueValue`].
#[derive(Debug, PartialEq)]
pub struct UniqueObject(pub JsonObject);

/// The key serde_json's `Value` reads as "the raw JSON text follows".
const RAW_VALUE_KEY: &str = "$serde_json::private::RawValue";

impl<'de> serde::Deserialize<'de> for UniqueValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<UniqueValue, D::Error> {
        deserializer.deserialize_any(ValueVisitor).map(UniqueValue)
    }
}

impl<'de> serde::Deserialize<'de> for UniqueObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<UniqueObject, D::Error> {
        match deserializer.deserialize_map(ValueVisitor)? {
            Value::Object(object) => Ok(UniqueObject(object)),
            _ => Err(de::Error::custom("expected a JSON object")),
        }
    }
}

/// Builds a [`Value`] as serde_json's own visitor does, refusing repeats.
struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(UniqueValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = JsonObject::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == RAW_VALUE_KEY {
                return Err(de::Error::custom("a raw-value marker as a key"));
            }
            let UniqueValue(value) = map.next_value()?;
            if let Some(_earlier) = object.insert(key, value) {
                return Err(de::Error::custom("duplicate key"));
            }
        }
        Ok(Value::Object(object))
    }
}

/// Walks any JSON value, refusing an object that repeats a key.
struct UniqueKeys;

impl<'de> DeserializeSeed<'de> for UniqueKeys {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueKeys {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(UniqueKeys)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Keys borrowed from the body where they hold no escape: this runs on
        // every request, and most keys cost no allocation. The first keys of
        // an object are compared with each other in place (a message's
        // objects hold a handful); a larger object's go into a set.
        let mut first: [Cow<'de, str>; SMALL_OBJECT] = Default::default();
        let mut count = 0;
        let mut more: HashSet<Cow<'de, str>> = HashSet::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if first[..count.min(SMALL_OBJECT)].contains(&key) || more.contains(&key) {
                // Client text: cut here; the security log escapes it.
                let key: String = key.chars().take(64).collect();
                return Err(de::Error::custom(format!("duplicate key `{key}`")));
            }
            map.next_value_seed(UniqueKeys)?;
            match first.get_mut(count) {
                Some(slot) => *slot = key,
                None => {
                    more.insert(key);
                }
            }
            count += 1;
        }
        Ok(())
    }
}

/// How many keys of an object are checked without a set.
const SMALL_OBJECT: usize = 16;

/// An object key as written: borrowed from the body, or unescaped into a
/// string of its own when it holds an escape (`"na\u006de"` is `name`).
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key<'de>, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(key)))
    }

    fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(key.to_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::check_no_duplicate_keys;

    #[test]
    fn a_key_written_twice_anywhere_is_refused_and_named() {
        for body in [
            r#"{"a":1,"a":2}"#,
            r#"{"params":{"name":"x","name":"y"}}"#,
            r#"{"params":{"arguments":{"list":[{"k":1,"k":1}]}}}"#,
            r#"{"params":{"name":"x","na\u006de":"y"}}"#,
        ] {
            let error = check_no_duplicate_keys(body.as_bytes()).unwrap_err();
            assert!(error.is_data(), "{body}: {error}");
            assert!(
                error.to_string().starts_with("duplicate key"),
                "{body}: {error}"
            );
        }
    }

    /// Large objects: a repeat among the first keys, among the later ones
    /// and across the two is refused alike; distinct keys pass.
    #[test]
    fn a_large_object_is_checked_whole() {
        let object = |keys: &[usize]| {
            let fields: Vec<String> = keys.iter().map(|k| format!("\"k{k}\":{k}")).collect();
            format!("{{{}}}", fields.join(","))
        };
        let distinct: Vec<usize> = (0..40).collect();
        assert!(check_no_duplicate_keys(object(&distinct).as_bytes()).is_ok());
        for (first, again) in [
            (0, 1),
            (3, 15),
            (5, 16),
            (15, 16),
            (16, 17),
            (20, 39),
            (0, 39),
        ] {
            let mut keys = distinct.clone();
            keys[again] = keys[first];
            let error = check_no_duplicate_keys(object(&keys).as_bytes()).unwrap_err();
            assert!(
                error.to_string().starts_with("duplicate key"),
                "{first} {again}"
            );
        }
    }

    #[test]
    fn ordinary_json_passes_and_broken_json_is_named() {
        let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"a":[1,2,{"b":null}],"c":"d"}}}"#;
        assert!(check_no_duplicate_keys(call.as_bytes()).is_ok());
        assert!(check_no_duplicate_keys(b"[1,\"a\",{}]").is_ok());
        assert!(check_no_duplicate_keys(b"{\"a\":1").unwrap_err().is_eof());
        assert!(check_no_duplicate_keys(b"{} {}").unwrap_err().is_syntax());
    }
}
