//! The login page: a maud template, every value escaped.

use axum::http::StatusCode;
use maud::html;

use crate::html::Page;

const STYLE: &str = ".dev{background:#fff3cd;padding:.5rem;border-radius:4px}\
                     label{display:block;margin-top:1rem}input{width:100%;padding:.4rem}\
                     button{margin-top:1rem;padding:.5rem 1rem}";

/// What the sign-in form shows and where it goes.
pub struct Login<'a> {
    /// Where the form posts (absolute: the page is shown at the authorize and login endpoints).
    pub action: &'a str,
    /// The client asking, as it named itself.
    pub client_name: &'a str,
    /// The scope it asks for.
    pub scope: &'a str,
    /// The pending sign-in the form answers.
    pub login_id: &'a str,
}

/// The sign-in form; with `error`, shown again (401) after a failed attempt.
pub fn login(login: &Login<'_>, error: Option<&str>) -> Page {
    let body = html! {
        p class="dev" { strong { "Development authorization server." } " Not for production." }
        h1 { "Sign in" }
        p { strong { (login.client_name) } " asks for: " code { (login.scope) } }
        @if let Some(error) = error {
            p class="error" role="alert" { (error) }
        }
        form method="post" action=(login.action) {
            input type="hidden" name="login_id" value=(login.login_id);
            label for="username" { "Email" }
            input id="username" name="username" autocomplete="username" required;
            label for="password" { "Password" }
            input id="password" name="password" type="password"
                autocomplete="current-password" required;
            button type="submit" { "Sign in" }
        }
    };
    // A good sign-in redirects to the client, and in local mode the client is the façade, whose
    // callback redirects on to an MCP client this page cannot know; Chromium checks every hop
    // against form-action, so any list here would break that flow.
    let page = Page::new("Sign in (development)", STYLE, body).forms_may_reach_anywhere();
    match error {
        Some(_) => page.with_status(StatusCode::UNAUTHORIZED),
        None => page,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
        let login = Login {
            action: "/dev-as/login",
            client_name: "<script>alert(1)</script>",
            scope: "a\"b",
            login_id: "id\"1",
        };
        let page = super::login(&login, Some("<b>")).render();
        assert!(page.contains(r#"action="/dev-as/login""#));
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;"));
        assert!(page.contains("a&quot;b"));
        assert!(page.contains(r#"value="id&quot;1""#));
        assert!(page.contains("&lt;b&gt;"));
    }
}
