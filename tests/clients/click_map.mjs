// A click-map page in headless Chromium: open it with an API key, read the badges as the
// rendered page shows them, keep a full-page screenshot. Prints a JSON report (last line).
// Env: PAGE_URL, API_KEY, ARTIFACTS (folder), SCREENSHOT (file name), CHROMIUM.
import { chromium } from "playwright-core";
import path from "node:path";

const screenshot = path.join(process.env.ARTIFACTS, process.env.SCREENSHOT || "click-map.png");
const report = {
  status: null,
  csp: null,
  title: null,
  badges: [],
  linkMarks: [],
  unmatched: [],
  scripts: null,
  requests: [],
  outsideRequests: [],
  failedRequests: [],
  pageErrors: [],
  screenshot: null,
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    // Only the live server resolves: a page that loads anything remote would show it here.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
  ],
});

function outside(url) {
  const { protocol, hostname } = new URL(url);
  return ["http:", "https:", "ws:", "wss:"].includes(protocol) && hostname !== "127.0.0.1";
}

try {
  const context = await browser.newContext({
    viewport: { width: 760, height: 900 },
    deviceScaleFactor: Number(process.env.SCALE || 1),
    extraHTTPHeaders: { Authorization: `Bearer ${process.env.API_KEY}` },
  });
  const page = await context.newPage();
  page.on("request", (request) => {
    report.requests.push(`${request.method()} ${request.url()}`);
    if (outside(request.url())) report.outsideRequests.push(request.url());
  });
  page.on("requestfailed", (request) => {
    report.failedRequests.push(`${request.url()} ${request.failure()?.errorText}`);
  });
  page.on("pageerror", (error) => report.pageErrors.push(String(error)));

  const response = await page.goto(process.env.PAGE_URL, { waitUntil: "load" });
  report.status = response.status();
  report.csp = response.headers()["content-security-policy"] || null;
  report.title = await page.title();
  // Only badges the rendered page shows (a box of its own, not hidden by the message's styles).
  const badges = page.locator(".cg-click-badge");
  for (let i = 0; i < (await badges.count()); i++) {
    const badge = badges.nth(i);
    if (await badge.isVisible()) report.badges.push(await badge.innerText());
  }
  report.linkMarks = await page
    .locator("a[data-link-position]")
    .evaluateAll((links) =>
      links.map((a) => `${a.getAttribute("data-link-position")} ${a.getAttribute("data-clicks")}`),
    );
  report.unmatched = await page.locator(".cg-unmatched-clicks a").allInnerTexts();
  report.scripts = await page.locator("script").count();
  await page.screenshot({ path: screenshot, fullPage: true });
  report.screenshot = screenshot;
} finally {
  await browser.close();
}

console.log(JSON.stringify(report));
