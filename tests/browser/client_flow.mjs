// Clicks through the example client's page in headless Chromium: Log in, the façade's consent
// page, the development AS's sign-in form, back to the page, Fetch MCP Data, the tool result.
// Usage: node client_flow.mjs APP_URL USERNAME PASSWORD SCREENSHOT_PATH
import { launch } from "./chromium.mjs";

const [app, username, password, screenshot] = process.argv.slice(2);
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  page.setDefaultTimeout(15000);
  await page.goto(app);
  await page.click("#login");
  // The façade asks for consent: every MCP client signs in through its one upstream client.
  await page.getByRole("button", { name: "Approve" }).click();
  await page.fill("#username", username);
  await page.fill("#password", password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${app}`);
  await page.click("#fetch");
  await page.waitForSelector("#result");
  const result = await page.textContent("#result");
  if (!result.includes("dev-user-0001")) {
    throw new Error(`the tool result does not name the user: ${result}`);
  }
  const failed = await page.locator("#timeline li.failed").count();
  if (failed > 0) {
    throw new Error(`${failed} step(s) failed on the page`);
  }
  await page.screenshot({ path: screenshot, fullPage: false });
  console.log(`ok: ${result}`);
} finally {
  await browser.close();
}
