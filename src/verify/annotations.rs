//! Required annotations, the one rule for every signature format: each required `key=value`
//! must be present with exactly that string value, then each required key must be present.
//! As in cosign, a JSON `42`, `true` or `null` never satisfies `-a k=42`, `k=true` or `k=null`.

use std::collections::BTreeMap;

/// What a signature must carry beyond its trust material: annotations (cosign's payload
/// `optional` section, a bundle statement subject's annotations, notation's user metadata) as
/// exact values and as keys that must be present.
#[derive(Clone, Copy)]
pub(crate) struct Required<'a> {
    /// `key=value` pairs that must be present with exactly this string value.
    pub values: &'a BTreeMap<String, String>,
    /// Keys that must be present, with any value.
    pub keys: &'a [String],
}

impl Required<'_> {
    /// Check the signature's annotations (`found(key)` looks one up); the first one missing or
    /// different, in words.
    pub(crate) fn check(
        &self,
        found: impl Fn(&str) -> Option<serde_json::Value>,
    ) -> Result<(), AnnotationMismatch> {
        for (k, v) in self.values {
            matches(k, v, found(k).as_ref())?;
        }
        for k in self.keys {
            if found(k).is_none() {
                return Err(AnnotationMismatch::MissingKey { key: k.clone() });
            }
        }
        Ok(())
    }
}

/// Why a signature's annotations do not satisfy what is required.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum AnnotationMismatch {
    /// A required `key=value` is absent.
    #[error("annotation {key}={value} is missing")]
    Missing {
        /// The annotation key.
        key: String,
        /// The value required.
        value: String,
    },
    /// A required key is absent.
    #[error("annotation {key} is missing")]
    MissingKey {
        /// The annotation key.
        key: String,
    },
    /// The annotation is a different string.
    #[error("annotation {key} is {found:?}, not {value:?}")]
    Different {
        /// The annotation key.
        key: String,
        /// The value signed.
        found: String,
        /// The value required.
        value: String,
    },
    /// The annotation is a JSON value that is not a string.
    #[error("annotation {key} is the JSON value {found}, not the string {value:?} (annotations compare as strings, as in cosign)")]
    NotAString {
        /// The annotation key.
        key: String,
        /// The JSON value signed.
        found: serde_json::Value,
        /// The value required.
        value: String,
    },
}

/// Whether a signature's annotation `k` (a JSON value, if present) satisfies the required
/// value `v`: only a string equal to `v` does.
fn matches(k: &str, v: &str, found: Option<&serde_json::Value>) -> Result<(), AnnotationMismatch> {
    match found {
        Some(serde_json::Value::String(s)) if s == v => Ok(()),
        None => Err(AnnotationMismatch::Missing {
            key: k.to_string(),
            value: v.to_string(),
        }),
        Some(serde_json::Value::String(s)) => Err(AnnotationMismatch::Different {
            key: k.to_string(),
            found: s.clone(),
            value: v.to_string(),
        }),
        Some(other) => Err(AnnotationMismatch::NotAString {
            key: k.to_string(),
            found: other.clone(),
            value: v.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_an_equal_string_satisfies_a_required_value() {
        let values = BTreeMap::from([("k".to_string(), "42".to_string())]);
        let keys = vec!["present".to_string()];
        let need = Required {
            values: &values,
            keys: &keys,
        };
        let with =
            |m: serde_json::Value| move |k: &str| m.as_object().and_then(|o| o.get(k)).cloned();
        assert!(need.check(with(json!({"k": "42", "present": 1}))).is_ok());
        let e = |m| need.check(with(m)).unwrap_err().to_string();
        assert_eq!(e(json!({"present": 1})), "annotation k=42 is missing");
        assert_eq!(e(json!({"k": "43"})), "annotation k is \"43\", not \"42\"");
        assert_eq!(
            e(json!({"k": 42})),
            "annotation k is the JSON value 42, not the string \"42\" (annotations compare as strings, as in cosign)"
        );
        assert_eq!(e(json!({"k": "42"})), "annotation present is missing");
    }
}
