#!/usr/bin/env node
// A person at a browser, for the tester's --interactive mode: opens the sign-in URL in headless
// Chromium, approves the consent page and fills the sign-in form with MCP_SIGN_IN_USERNAME and
// MCP_SIGN_IN_PASSWORD, until the authorization server sends the browser to a loopback
// /callback. Used as $BROWSER (or as the opener of a test): sign_in.mjs URL
import { launch } from "./chromium.mjs";

const url = process.argv[2];
const atCallback = (u) => /^http:\/\/127\.0\.0\.1:\d+\/callback/.test(u);
const browser = await launch();
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(15000);
  await page.goto(url);
  // Each page is acted on as a person would; a page with nothing to do (an error) ends it.
  for (let step = 0; step < 6 && !atCallback(page.url()); step++) {
    const before = page.url();
    if ((await page.locator("input[type=password]").count()) > 0) {
      await page.fill("#username", process.env.MCP_SIGN_IN_USERNAME || "");
      await page.fill("#password", process.env.MCP_SIGN_IN_PASSWORD || "");
      await page.getByRole("button", { name: "Sign in" }).click();
    } else if ((await page.getByRole("button", { name: "Approve" }).count()) > 0) {
      await page.getByRole("button", { name: "Approve" }).click();
    } else {
      break;
    }
    await page.waitForURL((u) => u.toString() !== before);
  }
  await page.waitForLoadState();
  console.log(atCallback(page.url()) ? "answered" : `stopped at ${page.url()}`);
} finally {
  await browser.close();
}
