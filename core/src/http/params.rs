//! Query strings and JSON bodies read into the facade's option types, with every error a
//! 400 naming the parameter or field.

use super::error::ApiError;
use crate::model::{parse_timestamp, Timestamp};
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

/// A query string's parameters, taken one by one; what is left over is an error.
#[derive(Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses `query` (without the `?`). A repeated parameter is an error when taken.
    pub fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = match query {
            None | Some("") => Vec::new(),
            Some(q) => serde_urlencoded::from_str(q).map_err(|e| {
                ApiError::invalid("query", format!("not a valid query string: {e}"))
            })?,
        };
        Ok(Params { pairs })
    }

    /// A text parameter.
    pub fn text(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        let mut found: Vec<String> = Vec::new();
        self.pairs.retain(|(k, v)| {
            if k == name {
                found.push(v.clone());
                false
            } else {
                true
            }
        });
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.pop()),
            _ => Err(ApiError::invalid(name, "given more than once")),
        }
    }

    /// A time: RFC 3339 or `YYYY-MM-DD` (UTC).
    pub fn time(&mut self, name: &str) -> Result<Option<Timestamp>, ApiError> {
        self.text(name)?
            .map(|t| parse_timestamp(&t).map_err(|e| ApiError::invalid(name, e)))
            .transpose()
    }

    /// A value of a type read from its text (numbers, booleans), with `expected` in the
    /// message.
    pub fn parsed<T: std::str::FromStr>(
        &mut self,
        name: &str,
        expected: &str,
    ) -> Result<Option<T>, ApiError> {
        self.text(name)?
            .map(|t| {
                t.trim().parse::<T>().map_err(|_| {
                    ApiError::invalid(name, format!("`{}` is not {expected}", cut(&t)))
                })
            })
            .transpose()
    }

    /// A value of a serde enum (`day`, `week`, ...).
    pub fn choice<T: DeserializeOwned>(
        &mut self,
        name: &str,
        allowed: &str,
    ) -> Result<Option<T>, ApiError> {
        self.text(name)?
            .map(|t| {
                serde_json::from_value(serde_json::Value::String(t.clone())).map_err(|_| {
                    ApiError::invalid(name, format!("`{}` is not one of {allowed}", cut(&t)))
                })
            })
            .transpose()
    }

    /// Refuses parameters nobody took.
    pub fn finish(self) -> Result<(), ApiError> {
        match self.pairs.first() {
            None => Ok(()),
            Some((k, _)) => Err(ApiError::invalid(k.clone(), "unknown query parameter")),
        }
    }
}

fn cut(text: &str) -> String {
    text.chars().take(60).collect()
}

/// Checks that a body is JSON text: the content type (when a body is sent) and UTF-8.
pub fn json_text<'a>(headers: &HeaderMap, body: &'a [u8]) -> Result<&'a str, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    match content_type.as_deref() {
        Some("application/json") => {}
        None if body.is_empty() => {}
        _ => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON, sent with Content-Type: application/json",
            ))
        }
    }
    std::str::from_utf8(body).map_err(|e| {
        ApiError::invalid(
            "body",
            format!("not valid UTF-8 (byte {})", e.valid_up_to()),
        )
    })
}

/// A JSON body read into an options type; an empty body is its default. Errors name the
/// field (`target.model_id`).
pub fn json_body<T: DeserializeOwned + Default>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, ApiError> {
    let text = json_text(headers, body)?;
    if text.trim().is_empty() {
        return Ok(T::default());
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." || path.is_empty() {
            "body".to_string()
        } else {
            path
        };
        let reason = e.inner().to_string();
        let reason = match reason.rfind(" at line ") {
            Some(i) => reason[..i].to_string(),
            None => reason,
        };
        ApiError::invalid(field, reason)
    })?;
    de.end()
        .map_err(|_| ApiError::invalid("body", "more text after the end of the JSON value"))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_taken_once_and_leftovers_refused() {
        let mut p = Params::parse(Some("model_id=m1&limit=5&x=1")).unwrap();
        assert_eq!(p.text("model_id").unwrap().as_deref(), Some("m1"));
        assert_eq!(p.parsed::<usize>("limit", "a number").unwrap(), Some(5));
        let e = p.finish().unwrap_err();
        assert_eq!(e.body.error.field.as_deref(), Some("x"));
        let mut p = Params::parse(Some("limit=a&since=2026-13-01")).unwrap();
        assert_eq!(
            p.parsed::<usize>("limit", "a number")
                .unwrap_err()
                .body
                .error
                .field
                .as_deref(),
            Some("limit")
        );
        assert!(p.time("since").is_err());
        let mut p = Params::parse(Some("a=1&a=2")).unwrap();
        assert!(p.text("a").is_err());
    }
}
