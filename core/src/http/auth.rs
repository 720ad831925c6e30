//! Who may call what: the admin bearer token (compared in constant time) and signed,
//! expiring feedback tokens bound to one response id.
//!
//! A feedback token is `v1.<payload>.<mac>`: `payload` is base64url of `<expiry unix
//! seconds>.<response id>`, `mac` base64url of HMAC-SHA256 over a domain prefix and the
//! payload, with the server's secret. It lets a browser post feedback on the one response its
//! page showed, until it expires, and nothing else; the secret never leaves the server.

use super::error::ApiError;
use crate::model::Timestamp;
use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// What the MAC covers besides the payload, so a MAC made for something else with the same
/// secret is never a valid token.
const DOMAIN: &[u8] = b"tuneloop feedback token v1\0";

/// Signs and checks feedback tokens.
#[derive(Clone)]
pub struct FeedbackSigner {
    key: Vec<u8>,
    ttl_secs: i64,
}

impl std::fmt::Debug for FeedbackSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedbackSigner")
            .field("ttl_secs", &self.ttl_secs)
            .finish_non_exhaustive()
    }
}

/// Why a feedback token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Not a token of ours, or signed with another secret.
    Invalid,
    /// Signed by us, but past its expiry.
    Expired,
}

impl FeedbackSigner {
    /// A signer with `key` (any length; at least 32 random bytes) whose tokens live `ttl`.
    pub fn new(key: Vec<u8>, ttl: std::time::Duration) -> Self {
        FeedbackSigner {
            key,
            ttl_secs: i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
        }
    }

    fn mac(&self, payload: &[u8]) -> HmacSha256 {
        // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(DOMAIN);
        mac.update(payload);
        mac
    }

    /// A token for `response_id`, valid until `now` + the signer's lifetime, and its expiry.
    pub fn issue(&self, response_id: &str, now: Timestamp) -> (String, Timestamp) {
        let expiry = now.timestamp().saturating_add(self.ttl_secs);
        let payload = format!("{expiry}.{response_id}");
        let tag = self.mac(payload.as_bytes()).finalize().into_bytes();
        let token = format!("v1.{}.{}", B64.encode(payload), B64.encode(tag));
        let expires_at = chrono::DateTime::from_timestamp(expiry, 0).unwrap_or(now);
        (token, expires_at)
    }

    /// The response id a token was issued for, if it is ours and has not expired at `now`.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<String, TokenError> {
        let mut parts = token.split('.');
        let (Some("v1"), Some(payload), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Invalid);
        };
        let payload = B64.decode(payload).map_err(|_| TokenError::Invalid)?;
        let tag = B64.decode(tag).map_err(|_| TokenError::Invalid)?;
        // Constant time: the MAC check must not tell how many bytes of a guess were right.
        self.mac(&payload)
            .verify_slice(&tag)
            .map_err(|_| TokenError::Invalid)?;
        let payload = String::from_utf8(payload).map_err(|_| TokenError::Invalid)?;
        let (expiry, response_id) = payload.split_once('.').ok_or(TokenError::Invalid)?;
        let expiry: i64 = expiry.parse().map_err(|_| TokenError::Invalid)?;
        if now.timestamp() >= expiry {
            return Err(TokenError::Expired);
        }
        Ok(response_id.to_string())
    }
}

/// The bearer token of a request, if it has one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// What a request may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Everything (the admin token, or admin endpoints left open on purpose).
    Admin,
    /// Post feedback on this response only (a feedback token).
    Response(String),
}

/// The server's credentials.
#[derive(Clone)]
pub struct Gate {
    admin_token: Option<String>,
    open: bool,
    /// The signer, or why there is none (the operating system gave no random secret).
    signer: Result<FeedbackSigner, String>,
}

// Written out so the admin token never reaches a log through `{:?}`.
impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("admin_token", &self.admin_token.as_ref().map(|_| "***"))
            .field("open", &self.open)
            .field("signer", &self.signer)
            .finish()
    }
}

impl Gate {
    /// A gate with an admin token (or none), whether admin endpoints are open without one,
    /// and the feedback-token signer.
    pub fn new(admin_token: Option<String>, open: bool, signer: FeedbackSigner) -> Self {
        Gate {
            admin_token: admin_token.filter(|t| !t.is_empty()),
            open,
            signer: Ok(signer),
        }
    }

    /// A gate that issues and accepts no feedback tokens (only the admin token), `reason`
    /// saying why; recording a response then answers 503 with that reason.
    pub fn without_signer(admin_token: Option<String>, open: bool, reason: String) -> Self {
        Gate {
            admin_token: admin_token.filter(|t| !t.is_empty()),
            open,
            signer: Err(reason),
        }
    }

    /// The signer of feedback tokens (503 `unavailable` when the gate has none).
    pub fn signer(&self) -> Result<&FeedbackSigner, ApiError> {
        self.signer.as_ref().map_err(|reason| {
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!("feedback tokens cannot be issued: {reason}"),
            )
        })
    }

    fn is_admin_token(&self, token: &str) -> bool {
        match &self.admin_token {
            // `ct_eq` on slices of different lengths is false without comparing; the length
            // of the token is not the secret.
            Some(admin) => bool::from(admin.as_bytes().ct_eq(token.as_bytes())),
            None => false,
        }
    }

    /// Admin endpoints: the admin token (or the server left them open).
    pub fn admin(&self, headers: &HeaderMap) -> Result<Access, ApiError> {
        if self.open {
            return Ok(Access::Admin);
        }
        if self.admin_token.is_none() {
            return Err(ApiError::forbidden(
                "admin endpoints are disabled: the server has no admin token (TUNELOOP_ADMIN_TOKEN)",
            ));
        }
        match bearer(headers) {
            None => Err(ApiError::unauthorized(
                "this endpoint needs Authorization: Bearer <admin token>",
            )),
            Some(t) if self.is_admin_token(t) => Ok(Access::Admin),
            Some(_) => Err(ApiError::unauthorized("wrong admin token")),
        }
    }

    /// The feedback POST: the admin token, or a feedback token (bound to one response).
    pub fn feedback(&self, headers: &HeaderMap, now: Timestamp) -> Result<Access, ApiError> {
        if self.open {
            return Ok(Access::Admin);
        }
        let Some(token) = bearer(headers) else {
            return Err(ApiError::unauthorized(
                "posting feedback needs Authorization: Bearer <feedback token or admin token>",
            ));
        };
        if self.is_admin_token(token) {
            return Ok(Access::Admin);
        }
        let verified = match &self.signer {
            Ok(signer) => signer.verify(token, now),
            Err(_) => Err(TokenError::Invalid),
        };
        match verified {
            Ok(response_id) => Ok(Access::Response(response_id)),
            Err(TokenError::Expired) => Err(ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "token_expired",
                "the feedback token has expired; record the response again for a new one",
            )),
            Err(TokenError::Invalid) => Err(ApiError::unauthorized(
                "not a valid feedback token or admin token",
            )),
        }
    }
}

/// The `response_id` a feedback body names, read without interpreting anything else (the
/// facade's parser checks the body in full). `None` when the body does not say, or is not a
/// JSON object: the parser's answer explains.
pub fn response_id_of(body: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Target {
        response_id: Option<String>,
    }
    // A derived struct also reads from a JSON array: only an object names a response.
    if !body.trim_start().starts_with('{') {
        return None;
    }
    serde_json::from_str::<Target>(body).ok()?.response_id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse_timestamp;
    use std::time::Duration;

    fn at(t: &str) -> Timestamp {
        parse_timestamp(t).unwrap()
    }

    #[test]
    fn tokens_are_bound_to_their_response_secret_and_lifetime() {
        let signer = FeedbackSigner::new(b"k".repeat(32), Duration::from_secs(3600));
        let now = at("2026-12-01T10:00:00Z");
        let (token, expires) = signer.issue("r.1", now);
        assert_eq!(expires, at("2026-12-01T11:00:00Z"));
        assert_eq!(signer.verify(&token, now).as_deref(), Ok("r.1"));
        assert_eq!(
            signer.verify(&token, at("2026-12-01T11:00:00Z")),
            Err(TokenError::Expired)
        );
        let other = FeedbackSigner::new(b"x".repeat(32), Duration::from_secs(3600));
        assert_eq!(other.verify(&token, now), Err(TokenError::Invalid));
        // A payload changed to another response no longer matches its MAC.
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!("v1.{}.{}", B64.encode("9999999999.r2"), parts[2]);
        assert_eq!(signer.verify(&forged, now), Err(TokenError::Invalid));
        assert_eq!(signer.verify("garbage", now), Err(TokenError::Invalid));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let signer = FeedbackSigner::new(b"signing-secret".to_vec(), Duration::from_secs(1));
        let gate = Gate::new(Some("admin-secret".into()), false, signer);
        let shown = format!("{gate:?}");
        assert!(
            !shown.contains("admin-secret") && !shown.contains("signing"),
            "{shown}"
        );
    }

    #[test]
    fn bearer_and_probe() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Bearer  abc ".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        assert_eq!(
            response_id_of(r#"{"response_id":"r1","x":[1]}"#).as_deref(),
            Some("r1")
        );
        assert_eq!(response_id_of(r#"["r1"]"#), None);
    }
}
