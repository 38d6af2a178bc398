// GraphiQL in headless Chromium, offline: open GET /graphql, wait for the editor, put a query and
// the API key in, run it, read the answer from the result pane. Prints a JSON report (last line).
// Env: SERVER_URL, API_KEY, QUERY, ARTIFACTS (folder for graphiql.png).
import { chromium } from "playwright-core";
import path from "node:path";

const server = process.env.SERVER_URL;
const key = process.env.API_KEY;
const query = process.env.QUERY;
const screenshot = path.join(process.env.ARTIFACTS, "graphiql.png");

const report = {
  answer: null,
  headersHint: null,
  websocketOpened: false,
  schemaLoaded: false,
  docsShown: false,
  settingsShown: false,
  requests: [],
  outsideRequests: [],
  failedRequests: [],
  cspViolations: [],
  // Console errors before the key is typed: GraphiQL's introspection, refused (401) without it.
  consoleErrorsWithoutKey: [],
  consoleErrors: [],
  responses: [],
  pageErrors: [],
  screenshot: null,
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    // Only the live server resolves: a page that needs a CDN cannot load it.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
  ],
});

function outside(url) {
  const { protocol, hostname } = new URL(url);
  return ["http:", "https:", "ws:", "wss:"].includes(protocol) && hostname !== "127.0.0.1";
}

let keyTyped = false;
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  // Runs before the page's scripts, outside its CSP: it only listens.
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (event) => {
      window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  page.on("request", (request) => {
    report.requests.push(`${request.method()} ${request.url()}`);
    if (outside(request.url())) report.outsideRequests.push(request.url());
  });
  page.on("websocket", (socket) => {
    if (outside(socket.url())) report.outsideRequests.push(socket.url());
  });
  page.on("requestfailed", (request) => {
    report.failedRequests.push(`${request.url()} ${request.failure()?.errorText}`);
  });
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    (keyTyped ? report.consoleErrors : report.consoleErrorsWithoutKey).push(message.text());
  });
  page.on("response", async (response) => {
    const request = response.request();
    let operation = "";
    if (request.method() === "POST") {
      const body = request.postDataJSON() || {};
      operation = /__schema/.test(body.query || "") ? " introspection" : " query";
    }
    report.responses.push(`${request.method()} ${new URL(response.url()).pathname}${operation} ${response.status()}`);
  });
  page.on("pageerror", (error) => report.pageErrors.push(String(error)));

  await page.goto(`${server}/graphql`, { waitUntil: "load" });
  const queryEditor = page.locator(".graphiql-query-editor .CodeMirror");
  await queryEditor.waitFor({ state: "visible", timeout: 30000 });

  // The Headers pane is open from the start, with the hint of what to put there.
  const headersEditor = page.locator(".graphiql-editor-tool .CodeMirror:visible");
  await headersEditor.waitFor({ state: "visible", timeout: 10000 });
  report.headersHint = await headersEditor.evaluate((element) => element.CodeMirror.getValue());

  // insertText types like an input method: CodeMirror does not auto-close the braces.
  await queryEditor.click();
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  await page.keyboard.insertText(query);
  await headersEditor.click();
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  keyTyped = true;
  await page.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${key}` }, null, 2));

  await page.locator(".graphiql-execute-button").click();
  const resultPane = page.locator(".result-window .CodeMirror");
  await page.waitForFunction(
    () => {
      const element = document.querySelector(".result-window .CodeMirror");
      return element && /"(data|errors)"/.test(element.CodeMirror.getValue());
    },
    null,
    { timeout: 30000 },
  );
  report.answer = await resultPane.evaluate((element) => element.CodeMirror.getValue());

  // Subscriptions use a websocket to the same URL: the page's CSP must let it connect.
  report.websocketOpened = await page.evaluate(
    (url) =>
      new Promise((resolve) => {
        let socket;
        try {
          socket = new WebSocket(url, "graphql-transport-ws");
        } catch {
          resolve(false);
          return;
        }
        socket.onopen = () => {
          socket.close();
          resolve(true);
        };
        socket.onerror = () => resolve(false);
      }),
    `${server.replace(/^http/, "ws")}/graphql`,
  );

  // With the key, the schema loads: documentation (and autocompletion) work.
  const introspection = page.waitForResponse(
    (response) => /__schema/.test(response.request().postData() || "") && response.status() === 200,
  );
  await page.locator('[aria-label="Re-fetch GraphQL schema"]').click();
  await introspection;
  report.schemaLoaded = true;
  await page.locator('[aria-label="Show Documentation Explorer"]').click();
  await page.locator(".graphiql-doc-explorer").getByText("Root Types").waitFor({ timeout: 10000 });
  report.docsShown = true;

  // A dialog (Radix) under the CSP, then closed.
  await page.locator('[aria-label="Open settings dialog"]').click();
  await page.locator(".graphiql-dialog").waitFor({ state: "visible", timeout: 10000 });
  report.settingsShown = true;
  await page.keyboard.press("Escape");
  await page.locator(".graphiql-dialog").waitFor({ state: "hidden", timeout: 10000 });

  await page.screenshot({ path: screenshot });
  report.screenshot = screenshot;
  report.cspViolations = await page.evaluate(() => window.__cspViolations);
} finally {
  await browser.close();
}

console.log(JSON.stringify(report));
