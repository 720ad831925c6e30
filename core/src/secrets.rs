//! Keeping credentials out of everything tuneloop shows, logs or stores.
//!
//! Database and MCP URLs may carry a password (`postgres://app:s3cret@db/feedback`), and the
//! errors of the libraries underneath (sqlx, reqwest) may quote them. Every front shows a URL
//! through [`redact_url`], and every message that may quote one (errors, job events, logs)
//! goes through [`scrub`] before it is printed or stored. Tokens (`TUNELOOP_MCP_TOKEN`, the
//! admin token) are never formatted at all; [`scrub`] also removes `Bearer` values as a last
//! line of defence.

use regex::Regex;
use std::borrow::Cow;
use std::sync::LazyLock;

/// What replaces a hidden value.
pub const MASK: &str = "***";

/// Query parameters whose values are secrets (`?password=...`, `sslpassword`, `token`, ...),
/// matched on the lower-cased key containing one of these.
const SECRET_KEYS: [&str; 6] = ["pass", "pwd", "token", "secret", "apikey", "api_key"];

/// A URL with its password and secret query values replaced by `***`, for display:
/// `postgres://user:pw@host/db?sslmode=require&password=x` →
/// `postgres://user:***@host/db?sslmode=require&password=***`. A URL without credentials
/// comes back unchanged; text that is not a URL is scrubbed like any other text.
///
/// ```
/// use tuneloop::secrets::redact_url;
/// assert_eq!(redact_url("postgres://app:s3cret@db:5432/feedback"), "postgres://app:***@db:5432/feedback");
/// assert_eq!(redact_url("sqlite://tuneloop.db"), "sqlite://tuneloop.db");
/// ```
pub fn redact_url(url: &str) -> String {
    scrub(url).into_owned()
}

/// `text` with every credential it quotes hidden: the password of any `scheme://user:pw@`
/// URL, secret query values (`password=`, `token=`, ...), `Bearer` token values and
/// `password=` key/value pairs of libpq-style connection strings. Borrowed when there is
/// nothing to hide, which is the common case.
///
/// ```
/// use tuneloop::secrets::scrub;
/// assert_eq!(
///     scrub("error sending request for url (http://u:pw@mcp.local/mcp): timed out"),
///     "error sending request for url (http://u:***@mcp.local/mcp): timed out"
/// );
/// assert_eq!(scrub("Authorization: Bearer abc.def"), "Authorization: Bearer ***");
/// ```
pub fn scrub(text: &str) -> Cow<'_, str> {
    // A cheap pre-check: nearly every message has none of these.
    let lower_has = |needle: &str| {
        text.as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
    };
    let maybe_url = text.contains("://") && text.contains('@');
    let maybe_kv = text.contains('=') && SECRET_KEYS.iter().any(|k| lower_has(k));
    let maybe_bearer = lower_has("bearer");
    if !(maybe_url || maybe_kv || maybe_bearer) {
        return Cow::Borrowed(text);
    }
    let mut out = Cow::Borrowed(text);
    if maybe_url {
        if let Cow::Owned(s) = USERINFO.replace_all(&out, "${scheme}${user}:***@") {
            out = Cow::Owned(s);
        }
    }
    if maybe_kv {
        if let Cow::Owned(s) = SECRET_PARAM.replace_all(&out, "${key}${sep}***") {
            out = Cow::Owned(s);
        }
    }
    if maybe_bearer {
        if let Cow::Owned(s) = BEARER.replace_all(&out, "${scheme}***") {
            out = Cow::Owned(s);
        }
    }
    out
}

/// `scheme://user:password@` (the password may be empty; the user may be empty).
static USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^\s/@:?#]*):[^\s/?#]*@")
        .expect("static pattern")
});

/// `password=value` in a query string or a libpq-style `key=value` list, for every key in
/// [`SECRET_KEYS`]; the value ends at `&`, whitespace, a quote or a closing bracket.
static SECRET_PARAM: LazyLock<Regex> = LazyLock::new(|| {
    let keys = SECRET_KEYS.join("|");
    Regex::new(&format!(
        r#"(?i)(?P<key>\b[a-z_]*(?:{keys})[a-z_]*)(?P<sep>\s*=\s*)[^&\s'")\]]+"#
    ))
    .expect("static pattern")
});

/// `Bearer <token>`, in any case.
static BEARER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?P<scheme>\bbearer\s+)[A-Za-z0-9\-._~+/]+=*").expect("static pattern")
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_everything_but_the_password() {
        let cases = [
            (
                "postgres://app:s3cret@db.example:5432/feedback?sslmode=require",
                "postgres://app:***@db.example:5432/feedback?sslmode=require",
            ),
            ("postgresql://:pw@h/db", "postgresql://:***@h/db"),
            ("postgres://app@h/db", "postgres://app@h/db"),
            (
                "postgres://h/db?user=app&password=pw&sslmode=disable",
                "postgres://h/db?user=app&password=***&sslmode=disable",
            ),
            (
                "http://u:p%40ss@host:8765/mcp",
                "http://u:***@host:8765/mcp",
            ),
            ("postgres://u:p@ss@h/db", "postgres://u:***@h/db"),
            ("sqlite://tuneloop.db", "sqlite://tuneloop.db"),
            ("sqlite://dir@x/tuneloop.db", "sqlite://dir@x/tuneloop.db"),
            ("memory://", "memory://"),
        ];
        for (input, want) in cases {
            assert_eq!(redact_url(input), want, "{input}");
        }
    }

    #[test]
    fn messages_lose_every_quoted_secret() {
        let text = "cannot open postgres://a:hunter2@h/db: error with configuration: \
                    host=h password=hunter2 token=abc; Bearer sk-live-123";
        let s = scrub(text);
        assert!(!s.contains("hunter2"), "{s}");
        assert!(!s.contains("abc"), "{s}");
        assert!(!s.contains("sk-live-123"), "{s}");
        assert!(s.contains("postgres://a:***@h/db"), "{s}");
    }

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(
            scrub("storage error: database is locked"),
            Cow::Borrowed(_)
        ));
        // Words that merely contain a key are left alone when no value follows.
        assert_eq!(scrub("the password was wrong"), "the password was wrong");
    }
}
