//! A value a request assigns to a scenario key (`--set openers.tasks=64`), typed once as TOML
//! reads it, so that resolving, labelling and replaying all agree on what it is.

use std::fmt;

/// A scenario value: what `KEY=VALUE`'s right-hand side means in TOML, or the text itself as a
/// string when it is not a TOML value (`storm`, `1.5ms`).
#[derive(Clone, Debug, PartialEq)]
pub struct Value(pub toml::Value);

impl Value {
    /// Reads `text` as a TOML value (`64`, `true`, `0.5`, `"storm"`), else as the string itself.
    pub fn parse(text: &str) -> Value {
        match format!("v = {text}").parse::<toml::Table>() {
            Ok(mut table) => Value(table.remove("v").expect("the key just written")),
            Err(_) => Value(toml::Value::String(text.to_string())),
        }
    }

    /// A string value.
    pub fn text(text: &str) -> Value {
        Value(toml::Value::String(text.to_string()))
    }

    /// The value in TOML syntax (`"storm"`, `64`), as manifests record it.
    pub fn toml_literal(&self) -> String {
        self.0.to_string()
    }

    /// The value as a user types it: strings without quotes unless the bare text would read as
    /// another type (`"64"` stays quoted), everything else in TOML syntax.
    pub fn bare(&self) -> String {
        match &self.0 {
            toml::Value::String(s) if Value::parse(s) == *self => s.clone(),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for Value {
    /// [`Value::bare`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.bare())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_as_toml_and_fall_back_to_text() {
        assert_eq!(Value::parse("64").0, toml::Value::Integer(64));
        assert_eq!(Value::parse("true").0, toml::Value::Boolean(true));
        assert_eq!(Value::parse("storm").0, toml::Value::String("storm".into()));
        assert_eq!(Value::parse("\"storm\"").0, toml::Value::String("storm".into()));
        assert_eq!(Value::parse("1.5ms").0, toml::Value::String("1.5ms".into()));
    }

    #[test]
    fn bare_text_reads_back_as_the_same_value() {
        for text in ["64", "true", "storm", "\"64\"", "0.25", "1.5ms", "\"true\"", "a b"] {
            let v = Value::parse(text);
            assert_eq!(Value::parse(&v.bare()), v, "{text}");
            assert_eq!(Value::parse(&v.toml_literal()), v, "{text}");
        }
        assert_eq!(Value::text("64").bare(), "\"64\"");
        assert_eq!(Value::text("storm").toml_literal(), "\"storm\"");
    }
}
