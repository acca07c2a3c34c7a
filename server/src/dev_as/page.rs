//! The login page: plain HTML, every value escaped.

use crate::html::escape;

/// The sign-in form for one pending authorization; it posts to `action` (absolute, because the
/// page is shown both at the authorize endpoint and at the login endpoint).
pub fn login(
    action: &str,
    client_name: &str,
    scope: &str,
    login_id: &str,
    error: Option<&str>,
) -> String {
    let error = error
        .map(|e| format!(r#"<p class="error" role="alert">{}</p>"#, escape(e)))
        .unwrap_or_default();
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in (development)</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}}
.dev{{background:#fff3cd;padding:.5rem;border-radius:4px}}.error{{color:#b00020}}
label{{display:block;margin-top:1rem}}input{{width:100%;padding:.4rem}}button{{margin-top:1rem;padding:.5rem 1rem}}</style>
</head><body>
<p class="dev"><strong>Development authorization server.</strong> Not for production.</p>
<h1>Sign in</h1>
<p><strong>{client}</strong> asks for: <code>{scope}</code></p>
{error}
<form method="post" action="{action}">
<input type="hidden" name="login_id" value="{login_id}">
<label for="username">Email</label><input id="username" name="username" autocomplete="username" required>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form></body></html>"#,
        action = escape(action),
        client = escape(client_name),
        scope = escape(scope),
        login_id = escape(login_id),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
        let page = login(
            "/dev-as/login",
            "<script>alert(1)</script>",
            "a\"b",
            "id'1",
            Some("<b>"),
        );
        assert!(page.contains(r#"action="/dev-as/login""#));
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;"));
        assert!(page.contains("a&quot;b"));
        assert!(page.contains("id&#39;1"));
        assert!(page.contains("&lt;b&gt;"));
    }
}
