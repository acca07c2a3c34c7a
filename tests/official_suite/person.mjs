// The person at the browser for the official suite's `authorization` command, which prints an
// authorization URL and waits for the answer at its own loopback callback: the URL is followed
// through the authorization server's pages by tests/third_party/browser.mjs (the consent page
// approved, a sign-in form filled with MCP_USERNAME / MCP_PASSWORD; no back door), and the
// answer it arrives with is opened, as a browser would, delivering it to the suite.
//
// usage: node person.mjs AUTHORIZATION_URL REDIRECT_URI
// Prints one JSON line: the forms answered, where the answer went, and the error it carried if
// any.

import { arriveAt } from '../third_party/browser.mjs';

const [authorizationUrl, redirectUri] = process.argv.slice(2);
if (!authorizationUrl || !redirectUri) {
  console.error('usage: node person.mjs AUTHORIZATION_URL REDIRECT_URI');
  process.exit(2);
}
const { arrived: answer, forms } = await arriveAt(authorizationUrl, redirectUri);
// The suite prints the URL as it starts its listener: a fast authorization server can answer
// before the listener is up, as a person's browser would retry.
let delivered;
for (let attempt = 0; ; attempt++) {
  try {
    delivered = await fetch(answer);
    break;
  } catch (e) {
    if (attempt >= 50) throw e;
    await new Promise((r) => setTimeout(r, 100));
  }
}
console.log(JSON.stringify({
  forms,
  delivered_to: `${answer.origin}${answer.pathname}`,
  status: delivered.status,
  error: answer.searchParams.get('error'),
}));
