// Answers the façade's consent page in headless Chromium and reports where the browser landed:
// the CSP's form-action applies to every redirect after the form, so an answer whose redirects
// the page did not allow stays on the consent page. Prints the final URL, and any console
// message (Chromium explains a blocked form there).
// Usage: node consent_answer.mjs AUTHORIZE_URL BUTTON EXPECTED_URL_PREFIX
import { launch } from "./chromium.mjs";

const [url, button, expected] = process.argv.slice(2);
const browser = await launch();
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(15000);
  page.on("console", (m) => console.log(`console: ${m.text()}`));
  await page.goto(url);
  await page.getByRole("button", { name: button }).click();
  try {
    await page.waitForURL((u) => u.toString().startsWith(expected), { timeout: 10000 });
  } catch {
    // Reported below: the test judges the final URL.
  }
  console.log(`landed: ${page.url()}`);
} finally {
  await browser.close();
}
