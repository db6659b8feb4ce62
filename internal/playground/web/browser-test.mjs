// Drives the playground in headless Chromium for TestPlaygroundBrowser:
// loads the page at argv[2], runs Login and then Me through GraphiQL's
// editor with Ctrl-Enter, takes a screenshot to argv[3], opens the
// documentation explorer and the settings dialog, and prints a JSON
// report of what happened (responses, requests, CSP violations, console
// errors) for the Go test to judge. Requests to any host but loopback are
// recorded and aborted.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [base, screenshot] = process.argv.slice(2);
const loopback = new Set(['127.0.0.1', 'localhost', '[::1]']);
const report = { requests: [], offLoopback: [], cspViolations: [], consoleErrors: [] };

const userDataDir = mkdtempSync(join(tmpdir(), 'latchkey-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
  viewport: { width: 1400, height: 1000 },
});
context.setDefaultTimeout(15000);
try {
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    report.requests.push(`${route.request().method()} ${url.href}`);
    if (url.protocol === 'data:' || loopback.has(url.hostname)) {
      return route.continue();
    }
    report.offLoopback.push(url.href);
    return route.abort();
  });
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  const page = context.pages()[0] || (await context.newPage());
  page.on('console', (msg) => {
    if (msg.type() === 'error') {
      report.consoleErrors.push(msg.text());
      if (msg.text().startsWith('CSP violation') || msg.text().includes('Content Security Policy')) {
        report.cspViolations.push(msg.text());
      }
    }
  });
  page.on('pageerror', (err) => report.consoleErrors.push(String(err)));

  await page.goto(base + '/');
  const editor = page.locator('.graphiql-query-editor .CodeMirror');
  await editor.waitFor();

  const run = async (lineText, wantInResponse) => {
    // Click near the line's start: its middle may be scrolled out of view.
    await page
      .locator('.graphiql-query-editor .CodeMirror-line', { hasText: lineText })
      .first()
      .click({ position: { x: 40, y: 5 } });
    await page.keyboard.press('Control+Enter');
    const response = page.locator('.result-window .CodeMirror');
    await response.filter({ hasText: wantInResponse }).waitFor({ timeout: 15000 });
    // CodeMirror renders indentation as no-break spaces.
    return (await response.innerText()).replace(/\u200b/g, '').replace(/\u00a0/g, ' ');
  };
  try {
    report.login = await run('login(input', '"accessToken"');
    report.me = await run('me { id email', '"me"');
    report.tokenStatus = await page.getByTestId('token-status').innerText();
    await page.screenshot({ path: screenshot });
    // Open what GraphiQL renders only on demand (documentation explorer,
    // a tooltip, the settings dialog), so that whatever styles they add
    // meet the policy too.
    await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
    await page.locator('.graphiql-doc-explorer').waitFor();
    await page.getByRole('button', { name: 'Open settings dialog' }).hover();
    await page.getByRole('tooltip').first().waitFor();
    await page.getByRole('button', { name: 'Open settings dialog' }).click();
    await page.getByRole('dialog').waitFor();
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
  } catch (err) {
    report.error = String(err);
    await page.screenshot({ path: screenshot });
  }
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
console.log(JSON.stringify(report));
