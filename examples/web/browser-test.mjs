// Drives the example page in headless Chromium for TestExampleWebBrowser.
// Arguments: the page's URL, the same page under an origin that Latchkey's
// CORS_ALLOWED_ORIGINS does not list, and the access-token lifetime in
// seconds. In one browser profile (tabs share IndexedDB and Web Locks) it
// registers, logs out, logs in, opens a second tab, lets the access token
// expire, asks both tabs who the user is at the same moment, logs out in one
// tab, and tries to log in from the unlisted origin. It prints a JSON report
// (what each step showed, every GraphQL exchange, requests off loopback) for
// the Go test to judge.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [pageURL, otherURL, ttl] = process.argv.slice(2);
const email = `tabs-${Date.now()}@example.com`;
const password = 'correct horse battery staple';
const loopback = new Set(['127.0.0.1', 'localhost', '[::1]']);
const report = { email, steps: {}, exchanges: [], failed: [], offLoopback: [], consoleErrors: [], pageErrors: [] };
// phase names the step a GraphQL exchange belongs to.
let phase = 'setup';

const userDataDir = mkdtempSync(join(tmpdir(), 'latchkey-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});

context.setDefaultTimeout(15000);

const pending = [];
const watch = (page, tab) => {
  page.on('console', (msg) => msg.type() === 'error' && report.consoleErrors.push(`${tab}: ${msg.text()}`));
  page.on('pageerror', (err) => report.pageErrors.push(`${tab}: ${err}`));
  page.on('requestfailed', (req) => report.failed.push(`${tab}: ${req.method()} ${req.url()} ${req.failure()?.errorText}`));
  page.on('response', (res) => {
    const req = res.request();
    if (req.method() !== 'POST' || !req.url().endsWith('/query')) {
      return;
    }
    const during = phase;
    pending.push(
      res.json().then(
        (body) => {
          const op = JSON.parse(req.postData() || '{}').operationName;
          const errors = (body.errors || []).map((e) => ({ code: e.extensions?.code, reason: e.extensions?.reason }));
          report.exchanges.push({
            phase: during,
            tab,
            op,
            origin: req.headers().origin,
            allowOrigin: res.headers()['access-control-allow-origin'] || '',
            errors,
          });
        },
        () => {},
      ),
    );
  });
};

const state = (page) => page.locator('#status').getAttribute('data-state');
const waitState = (page, want) => page.locator(`#status[data-state="${want}"]`).waitFor({ timeout: 15000 });
const shown = async (page) => ({ state: await state(page), email: await page.locator('#email').innerText(), error: await page.locator('#error').innerText() });

try {
  await context.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if (url.protocol === 'data:' || loopback.has(url.hostname)) {
      // Hold refreshes back a second, so that both tabs' queries surely
      // go out with the expired token before either tab has a new one.
      if (JSON.parse(route.request().postData() || '{}').operationName === 'RefreshToken') {
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      return route.continue();
    }
    report.offLoopback.push(url.href);
    return route.abort();
  });

  const a = context.pages()[0] || (await context.newPage());
  watch(a, 'A');
  await a.goto(pageURL);
  await waitState(a, 'signed-out');

  const signIn = async (page, action) => {
    await page.fill('input[name=email]', email);
    await page.fill('input[name=password]', password);
    if (action === 'register') {
      await page.fill('input[name=displayName]', 'Two Tabs');
    }
    await page.click(`button[value=${action}]`);
  };

  await signIn(a, 'register');
  await waitState(a, 'signed-in');
  report.steps.registered = await shown(a);

  await a.click('#logout');
  await waitState(a, 'signed-out');
  report.steps.loggedOut = await shown(a);

  await signIn(a, 'login');
  await waitState(a, 'signed-in');
  report.steps.loggedIn = await shown(a);

  const b = await context.newPage();
  watch(b, 'B');
  await b.goto(pageURL);
  await waitState(b, 'signed-in');
  report.steps.secondTab = await shown(b);

  // Let the access token expire, then have both tabs ask at once.
  await a.waitForTimeout(Number(ttl) * 1000 + 1500);
  phase = 'expired';
  await Promise.all([a.click('#reload'), b.click('#reload')]);
  // Each tab marks its status busy while it asks, refresh included.
  const answered = (page) => page.locator('#status:not([aria-busy])').waitFor({ timeout: 15000 });
  await Promise.all([answered(a), answered(b)]);
  await Promise.all(pending);
  report.steps.afterExpiry = { a: await shown(a), b: await shown(b) };
  phase = 'logout';

  await a.click('#logout');
  await waitState(a, 'signed-out');
  await waitState(b, 'signed-out');
  report.steps.loggedOutBoth = { a: await shown(a), b: await shown(b) };

  // The same page from an origin CORS_ALLOWED_ORIGINS does not list.
  phase = 'other-origin';
  const c = await context.newPage();
  watch(c, 'C');
  await c.goto(otherURL);
  await waitState(c, 'signed-out');
  await signIn(c, 'login');
  await c.locator('#error').filter({ hasText: /./ }).waitFor();
  report.steps.otherOrigin = await shown(c);
} catch (err) {
  report.error = String(err);
} finally {
  await Promise.all(pending);
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
console.log(JSON.stringify(report));
