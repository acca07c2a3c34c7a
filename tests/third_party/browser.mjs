// The person at the browser, for SDK clients under test: follows an authorization URL the way a
// browser does (cookies kept per host, redirects followed one by one), answers each HTML form it
// is shown (a consent page: its approve button; a sign-in form: MCP_USERNAME / MCP_PASSWORD),
// and stops at the client's redirect URI (signIn: returning the code it carries; arriveAt: the
// whole URL, for a caller that delivers it).
//
// It knows nothing of the server it talks to beyond HTML forms: it is the test's stand-in for a
// person, not a back door.

const MAX_STEPS = 20;

function attribute(tag, name) {
  const m = tag.match(new RegExp(`${name}\\s*=\\s*"([^"]*)"`, 'i'));
  return m ? decodeEntities(m[1]) : null;
}

function decodeEntities(s) {
  return s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

// The first POST form of a page, as the fields a person would submit.
function answer(html) {
  const form = html.match(/<form[^>]*method="post"[^>]*>([\s\S]*?)<\/form>/i);
  if (!form) return null;
  const action = attribute(form[0].match(/<form[^>]*>/i)[0], 'action') ?? '';
  const fields = new URLSearchParams();
  let wantsPassword = false;
  for (const input of form[1].match(/<input[^>]*>/gi) ?? []) {
    const name = attribute(input, 'name');
    const type = (attribute(input, 'type') ?? 'text').toLowerCase();
    if (!name) continue;
    if (type === 'password') {
      wantsPassword = true;
      fields.set(name, process.env.MCP_PASSWORD ?? '');
    } else if (type === 'hidden') {
      fields.set(name, attribute(input, 'value') ?? '');
    } else {
      fields.set(name, process.env.MCP_USERNAME ?? '');
    }
  }
  // A consent page: press the button that approves.
  for (const button of form[1].match(/<button[^>]*>/gi) ?? []) {
    const name = attribute(button, 'name');
    const value = attribute(button, 'value');
    if (name && value && /approve|allow|accept/i.test(value)) fields.set(name, value);
  }
  return { action, fields, wantsPassword };
}

// What a page says, without its markup (for an error that explains where the flow stopped).
function pageText(html) {
  const body = html.replace(/<(script|style)[^]*?<\/\1>/gi, ' ').replace(/<[^>]*>/g, ' ');
  return body.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&').replace(/\s+/g, ' ').trim().slice(0, 300);
}

export async function signIn(authorizationUrl, redirectUri) {
  const { arrived } = await arriveAt(authorizationUrl, redirectUri);
  const error = arrived.searchParams.get('error');
  if (error) throw new Error(`the authorization server refused: ${error} ${arrived.searchParams.get('error_description') ?? ''}`);
  return arrived.searchParams.get('code');
}

// Follows the authorization URL until the authorization server sends the browser to the
// redirect URI; returns that URL (with the code, or the error) without opening it, and the forms
// answered on the way (where each was posted, whether it asked for a password).
export async function arriveAt(authorizationUrl, redirectUri) {
  const jar = new Map(); // host -> Map(name -> value)
  const forms = [];
  let url = new URL(authorizationUrl);
  let request = { method: 'GET' };
  for (let step = 0; step < MAX_STEPS; step++) {
    const cookies = jar.get(url.host) ?? new Map();
    const headers = { ...(request.headers ?? {}) };
    if (cookies.size) headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const response = await fetch(url, { ...request, headers, redirect: 'manual' });
    for (const set of response.headers.getSetCookie()) {
      const [pair, ...attributes] = set.split(';');
      const [name, ...value] = pair.split('=');
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a));
      if (expired) cookies.delete(name.trim());
      else cookies.set(name.trim(), value.join('='));
    }
    jar.set(url.host, cookies);
    if (response.status >= 300 && response.status < 400) {
      const next = new URL(response.headers.get('location'), url);
      if (next.href.startsWith(redirectUri)) return { arrived: next, forms };
      url = next;
      request = { method: 'GET' };
      continue;
    }
    const html = await response.text();
    const form = response.ok ? answer(html) : null;
    if (!form) throw new Error(`stuck at ${url.pathname}: HTTP ${response.status}: ${pageText(html)}`);
    url = new URL(form.action, url);
    forms.push({ action: url.pathname, password: form.wantsPassword });
    request = {
      method: 'POST',
      body: form.fields.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    };
  }
  throw new Error(`no answer at the redirect URI after ${MAX_STEPS} steps`);
}
