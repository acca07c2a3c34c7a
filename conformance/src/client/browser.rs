//! A browser stand-in for signing in without a person: it follows redirects, keeps cookies, and
//! submits the forms a sign-in shows (a login form with the given credentials, a consent page's
//! approve button), until the authorization server answers at the redirect URI.

use std::{sync::Arc, time::Duration};

use scraper::{ElementRef, Html, Selector};
use url::Url;

use super::{authorization::AuthorizationResponse, callback::CallbackListener};
use crate::probe::{Answer, Exchange, Probe};

/// Most hops a sign-in may take before the tester gives up.
const MAX_HOPS: usize = 16;
/// Button labels and values that approve (consent pages) or sign in.
const APPROVING: &[&str] = &[
    "approve",
    "allow",
    "accept",
    "authorize",
    "authorise",
    "consent",
    "confirm",
    "continue",
    "yes",
    "sign in",
    "signin",
    "log in",
    "login",
    "submit",
];

/// The user the browser signs in as.
#[derive(Clone)]
pub struct Credentials {
    /// The user name (often an email).
    pub username: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, [redacted])", self.username)
    }
}

/// Where a navigation ended.
#[derive(Debug, Clone)]
pub enum Landing {
    /// The AS answered at the redirect URI (a code, or an error).
    Callback(AuthorizationResponse),
    /// The AS refused with an error status (no redirect to the client).
    Refused,
    /// A sign-in form asked for credentials the browser was not given.
    NeedsCredentials,
    /// The AS showed something the browser cannot act on (a page without a usable form, a
    /// script-driven sign-in, a network error); the reason says what.
    Stuck(String),
}

/// A navigation: where it ended, and every hop as evidence.
#[derive(Debug, Clone)]
pub struct Navigation {
    /// Where it ended.
    pub landing: Landing,
    /// Each request and its answer.
    pub hops: Vec<Exchange>,
    /// Whether a page with a form was passed (a consent or sign-in page): the AS accepted the
    /// request far enough to ask the user.
    pub saw_form: bool,
}

impl Navigation {
    /// The response at the redirect URI, if the navigation got there.
    pub fn response(&self) -> Option<&AuthorizationResponse> {
        match &self.landing {
            Landing::Callback(r) => Some(r),
            _ => None,
        }
    }

    /// Whether the AS turned the request down: an error status, or an error sent to the client.
    pub fn refused(&self) -> bool {
        match &self.landing {
            Landing::Refused => true,
            Landing::Callback(r) => r.error().is_some(),
            _ => false,
        }
    }

    /// Whether the AS issued a code.
    pub fn issued_code(&self) -> bool {
        self.response().and_then(|r| r.code()).is_some()
    }

    /// In a sentence, for reasons.
    pub fn describe(&self) -> String {
        match &self.landing {
            Landing::Callback(r) => match (r.code(), r.error()) {
                (Some(_), _) => "the AS issued an authorization code".into(),
                (None, Some(e)) => format!("the AS answered the client with error={e}"),
                _ => "the AS answered the client with neither code nor error".into(),
            },
            Landing::Refused => format!(
                "the AS refused with HTTP {}",
                self.hops
                    .last()
                    .and_then(|h| h.status)
                    .map_or_else(|| "?".into(), |s| s.to_string())
            ),
            Landing::NeedsCredentials => {
                "the AS showed a sign-in form (no credentials were given: --login form)".into()
            }
            Landing::Stuck(why) => format!("the sign-in could not be completed: {why}"),
        }
    }
}

/// Shows a sign-in page to a person (opens their browser, prints the URL).
pub type Opener = Arc<dyn Fn(&Url) + Send + Sync>;

/// A person signing in in their own browser, whose answers come back to a loopback listener.
#[derive(Clone)]
pub struct Person {
    /// Where the answers come back; its redirect URI is the one to use.
    pub callback: Arc<CallbackListener>,
    /// Shows them the page.
    pub open: Opener,
    /// How long to wait for each answer.
    pub patience: Duration,
}

impl std::fmt::Debug for Person {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Person(answers at {}, patience {:?})",
            self.callback.redirect_uri(),
            self.patience
        )
    }
}

/// Follows an authorization request through sign-in and consent.
pub struct Browser {
    probe: Probe,
    credentials: Option<Credentials>,
    person: Option<Person>,
}

impl Browser {
    /// A browser with its own cookie jar; `target` only decides how URLs are shown.
    pub fn new(target: &Url, credentials: Option<Credentials>) -> Self {
        Self::over(Probe::with_cookies(target), credentials)
    }

    /// A browser with its own cookie jar, in the run of `probe`: URLs are shown as `probe`
    /// shows them, and the credentials it sees, the password included, join the run's.
    pub fn in_run(probe: &Probe, credentials: Option<Credentials>) -> Self {
        Self::over(probe.browser(), credentials)
    }

    fn over(probe: Probe, credentials: Option<Credentials>) -> Self {
        if let Some(c) = &credentials {
            probe.secrets().add(&c.password);
        }
        Self {
            probe,
            credentials,
            person: None,
        }
    }

    /// A browser in the run of `probe` that hands every page needing a user to `person`.
    pub fn with_person(probe: &Probe, person: Person) -> Self {
        Self {
            person: Some(person),
            ..Self::in_run(probe, None)
        }
    }

    /// Opens `start` and acts as a user would, until the AS answers at `redirect_uri`.
    pub async fn authorize(&self, start: &Url, redirect_uri: &Url) -> Navigation {
        let mut hops = Vec::new();
        let mut saw_form = false;
        let mut answer = self.probe.navigate(start).await;
        let end = |landing, hops, saw_form| Navigation {
            landing,
            hops,
            saw_form,
        };
        if let Some(person) = &self.person {
            return by_person(person, start, redirect_uri, answer).await;
        }
        for _ in 0..MAX_HOPS {
            hops.push(answer.exchange.clone());
            if let Some(landing) = settled(&answer, redirect_uri) {
                return end(landing, hops, saw_form);
            }
            let status = answer.exchange.status.unwrap_or_default();
            if let Some(location) = redirect(&answer) {
                answer = self.probe.navigate(&location).await;
                continue;
            }
            let html = answer
                .exchange
                .content_type
                .as_deref()
                .is_some_and(|c| c.starts_with("text/html"));
            if !html {
                return end(
                    Landing::Stuck(format!("HTTP {status} without a redirect or a page")),
                    hops,
                    saw_form,
                );
            }
            let page_url = answer.url.clone();
            let Some(form) = pick_form(&String::from_utf8_lossy(&answer.body), &page_url) else {
                return end(
                    Landing::Stuck(
                        "a page without a form the tester can submit (a script-driven sign-in?)"
                            .into(),
                    ),
                    hops,
                    saw_form,
                );
            };
            saw_form = true;
            let fields = match self.filled_in(&form) {
                Ok(fields) => fields,
                Err(landing) => return end(landing, hops, saw_form),
            };
            answer = if form.post {
                self.probe.post_form(&form.action, &fields, None).await
            } else {
                let mut url = form.action.clone();
                url.query_pairs_mut().clear().extend_pairs(&fields);
                self.probe.navigate(&url).await
            };
        }
        end(
            Landing::Stuck(format!("more than {MAX_HOPS} hops")),
            hops,
            saw_form,
        )
    }
}

impl Browser {
    /// The form's fields as a user submits them: a sign-in form gets the credentials.
    fn filled_in(&self, form: &Form) -> Result<Vec<(String, String)>, Landing> {
        let mut fields = form.fields.clone();
        if let Some(password_field) = &form.password {
            let Some(creds) = &self.credentials else {
                return Err(Landing::NeedsCredentials);
            };
            let Some(user_field) = &form.username else {
                return Err(Landing::Stuck(
                    "a password form without a user name field".into(),
                ));
            };
            fields.push((user_field.clone(), creds.username.clone()));
            fields.push((password_field.clone(), creds.password.clone()));
        }
        Ok(fields)
    }
}

/// An authorization request handed to the person: what the AS decides before anyone signs in
/// (an error sent back, a refusal) is seen here; anything else is a page for them, whose answer
/// comes back to the listener.
async fn by_person(person: &Person, start: &Url, redirect_uri: &Url, answer: Answer) -> Navigation {
    let hops = vec![answer.exchange.clone()];
    if let Some(landing) = settled(&answer, redirect_uri) {
        return Navigation {
            landing,
            hops,
            saw_form: false,
        };
    }
    let state = start
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    (person.open)(start);
    let landing = match person.callback.wait(&state, person.patience).await {
        Some(url) => match AuthorizationResponse::from_location(&url, redirect_uri) {
            Some(response) => Landing::Callback(response),
            None => Landing::Stuck("the answer came back to another address".into()),
        },
        None => Landing::Stuck(format!(
            "no answer came back through the browser within {} s",
            person.patience.as_secs()
        )),
    };
    Navigation {
        landing,
        hops,
        saw_form: true,
    }
}

/// Where a response redirects to, if it is a redirect.
fn redirect(answer: &Answer) -> Option<Url> {
    let status = answer.exchange.status.unwrap_or_default();
    answer
        .location
        .clone()
        .filter(|_| (300..400).contains(&status))
}

/// What a response settles by itself: a request that failed, the AS's answer at the redirect
/// URI, or a refusal. `None`: the navigation goes on (a redirect elsewhere, a page).
fn settled(answer: &Answer, redirect_uri: &Url) -> Option<Landing> {
    if let Some(reason) = &answer.exchange.error {
        return Some(Landing::Stuck(reason.clone()));
    }
    if let Some(location) = redirect(answer) {
        return AuthorizationResponse::from_location(&location, redirect_uri)
            .map(Landing::Callback);
    }
    (answer.exchange.status.unwrap_or_default() >= 400).then_some(Landing::Refused)
}

/// A form ready to submit.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Form {
    action: Url,
    post: bool,
    /// Hidden fields and the chosen button.
    fields: Vec<(String, String)>,
    /// The user name field's name, if the form asks for one.
    username: Option<String>,
    /// The password field's name, if the form asks for one.
    password: Option<String>,
}

fn selector(s: &str) -> Selector {
    Selector::parse(s).expect("a static selector")
}

/// The form a user would submit: a sign-in form (with a password field) first, else a form
/// with an approving button.
fn pick_form(html: &str, page: &Url) -> Option<Form> {
    let doc = Html::parse_document(html);
    let forms: Vec<ElementRef<'_>> = doc.select(&selector("form")).collect();
    let read = |f: &ElementRef<'_>| read_form(f, page);
    forms
        .iter()
        .filter_map(read)
        .find(|f| f.password.is_some())
        .or_else(|| {
            forms
                .iter()
                .filter_map(read)
                .find(|f| f.fields.iter().any(|_| true))
        })
}

fn read_form(form: &ElementRef<'_>, page: &Url) -> Option<Form> {
    let el = form.value();
    let action = match el.attr("action") {
        Some(a) if !a.is_empty() => page.join(a).ok()?,
        _ => page.clone(),
    };
    let post = el
        .attr("method")
        .is_some_and(|m| m.eq_ignore_ascii_case("post"));
    let mut fields = Vec::new();
    let mut username = None;
    let mut password = None;
    let mut buttons: Vec<(String, String, String)> = Vec::new();
    for input in form.select(&selector("input, button")) {
        let i = input.value();
        let name = i.attr("name").unwrap_or_default().to_owned();
        let kind = i
            .attr("type")
            .unwrap_or(if i.name() == "button" {
                "submit"
            } else {
                "text"
            })
            .to_ascii_lowercase();
        let value = i.attr("value").unwrap_or_default().to_owned();
        match kind.as_str() {
            "hidden" if !name.is_empty() => fields.push((name, value)),
            "password" if password.is_none() && !name.is_empty() => password = Some(name),
            "text" | "email" if username.is_none() && !name.is_empty() => username = Some(name),
            "submit" => {
                let label = input.text().collect::<String>().trim().to_ascii_lowercase();
                buttons.push((name, value, label));
            }
            _ => {}
        }
    }
    let approving = |(_, v, l): &&(String, String, String)| {
        let v = v.to_ascii_lowercase();
        APPROVING
            .iter()
            .any(|a| v == *a || l == a || l.starts_with(a))
    };
    let button = buttons.iter().find(approving);
    if password.is_none() && button.is_none() {
        return None;
    }
    if let Some((name, value, _)) = button.filter(|(n, _, _)| !n.is_empty()) {
        fields.push((name.clone(), value.clone()));
    }
    // A form whose only purpose is to approve must carry something to submit.
    if password.is_none() && fields.is_empty() && button.is_none() {
        return None;
    }
    Some(Form {
        action,
        post,
        fields,
        username,
        password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Url {
        Url::parse("https://as.example.com/oauth/authorize?x=1").unwrap()
    }

    #[test]
    fn a_sign_in_form_is_read_with_its_hidden_fields() {
        let html = r#"<html><head><title>Sign in</title></head><body>
            <form method="post" action="login"><input type="hidden" name="login_id" value="L1">
            <input id="u" name="username" autocomplete="username"><input name="password" type="password">
            <button type="submit">Sign in</button></form></body></html>"#;
        let form = pick_form(html, &page()).unwrap();
        assert_eq!(form.action.as_str(), "https://as.example.com/oauth/login");
        assert!(form.post);
        assert_eq!(form.fields, [("login_id".to_owned(), "L1".to_owned())]);
        assert_eq!(form.username.as_deref(), Some("username"));
        assert_eq!(form.password.as_deref(), Some("password"));
        assert_eq!(crate::probe::title(html.as_bytes()), "Sign in");
    }

    #[test]
    fn a_consent_page_is_approved_not_denied() {
        let html = r#"<form method="post" action="/consent"><input type="hidden" name="csrf" value="c">
            <button type="submit" name="decision" value="deny">Deny</button>
            <button type="submit" name="decision" value="approve">Approve</button></form>"#;
        let form = pick_form(html, &page()).unwrap();
        assert_eq!(form.action.as_str(), "https://as.example.com/consent");
        assert_eq!(
            form.fields,
            [
                ("csrf".to_owned(), "c".to_owned()),
                ("decision".to_owned(), "approve".to_owned())
            ]
        );
        assert!(form.password.is_none());
    }

    #[test]
    fn the_password_joins_the_runs_credentials() {
        let probe = Probe::new(&page());
        let credentials = Credentials {
            username: "person@example.com".into(),
            password: "correct horse battery".into(),
        };
        let _browser = Browser::in_run(&probe, Some(credentials));
        assert!(probe.secrets().contains("correct horse battery"));
        assert!(!probe.secrets().contains("person@example.com"));
    }

    #[test]
    fn a_page_with_nothing_to_submit_has_no_form() {
        assert!(pick_form("<p>Loading…</p><script>go()</script>", &page()).is_none());
        assert!(pick_form(r#"<form><input name="q"></form>"#, &page()).is_none());
    }
}
