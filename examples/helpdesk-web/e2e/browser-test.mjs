// The example page in a real browser against the demo gateway, asserting
// what a person sees: rows after "load more", the status filter, a comment
// visible after saving (and stored by RemotePC's simulator, not only in
// Apollo's cache), a save refused for a team without the scope, and the
// list following changes live, also those made while the browser was
// offline (it resumes after the last change it applied).
//
//   npm run build && npm run e2e
//
// GATEWAY_BIN: the gateway binary (default: ../../target/debug/remotepc-gateway,
// which `cargo test` builds). CHROMIUM: the browser (default /usr/bin/chromium).
import { createReadStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import { chromium } from 'playwright-core';

import { deadline, startDemo } from './demo.mjs';

const here = resolve(import.meta.dirname, '..');
const browserPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const WAIT_MS = 20_000;

/** Serves `dist/` on a random port of 127.0.0.1 (index.html for any path). */
function serveDist() {
  const root = join(here, 'dist');
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };
  const server = createServer((request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url, 'http://x').pathname));
    let file = join(root, path);
    if (!file.startsWith(root) || !existsSync(file) || path === '/') file = join(root, 'index.html');
    response.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(response);
  });
  return new Promise((resolveServer) =>
    server.listen(0, '127.0.0.1', () => resolveServer(server)),
  );
}

/** A page of the app signed in as `token`. */
async function openApp(browser, origin, url, token) {
  const context = await browser.newContext();
  await context.addInitScript(
    ([gatewayUrl, gatewayToken]) => {
      localStorage.setItem('gatewayUrl', gatewayUrl);
      localStorage.setItem('gatewayToken', gatewayToken);
    },
    [url, token],
  );
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  await page.goto(origin);
  return page;
}

/** Polls `probe` until it gives a value, for at most WAIT_MS. */
async function eventually(what, probe) {
  const until = Date.now() + WAIT_MS;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > until) throw new Error(`waited ${WAIT_MS} ms for ${what}`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

async function rows(page, count) {
  await page.getByTestId('device-row').nth(count - 1).waitFor();
  return page.getByTestId('device-row').count();
}

/** Sets `name`'s comment through the gateway, as another person would. */
async function setComment(url, token, name, comment) {
  const answer = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query: 'mutation($n: String!, $c: String!) { addComputerComment(input: { computerName: $n, comment: $c }) { comment } }',
      variables: { n: name, c: comment },
    }),
  }).then((response) => response.json());
  check(answer.data?.addComputerComment?.comment === comment, `the comment was set: ${JSON.stringify(answer)}`);
}

/** Waits until the row of `name` shows `comment`. */
async function rowShows(page, name, comment) {
  const row = page.getByTestId('device-row').filter({ hasText: name });
  await row.getByTestId('device-comment').filter({ hasText: comment }).waitFor();
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function run() {
  const dir = mkdtempSync(join(tmpdir(), 'helpdesk-e2e-'));
  const { demo, banner } = startDemo(dir);
  const server = await serveDist();
  const origin = `http://127.0.0.1:${server.address().port}/`;
  let browser;
  try {
    const { url, viewer, admin } = await banner;
    check(url && viewer && admin, 'the banner names the URL and both tokens');
    browser = await chromium.launch({
      executablePath: browserPath,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });

    const page = await openApp(browser, origin, url, admin);
    check((await rows(page, 20)) === 20, 'the first page shows 20 computers');
    await page.getByTestId('load-more').click();
    check((await rows(page, 40)) === 40, '"load more" adds the next 20');
    const count = await page.getByTestId('count').textContent();
    check(count?.startsWith('40 of 1000'), `the count says 40 of 1000: ${count}`);

    await page.getByTestId('status-filter').selectOption('OFFLINE');
    await page.locator('[data-testid="device-row"][data-status="OFFLINE"]').first().waitFor();
    await page.waitForFunction(() =>
      [...document.querySelectorAll('[data-testid="device-row"]')].every(
        (row) => row.getAttribute('data-status') === 'OFFLINE',
      ),
    );

    await page.getByTestId('device-row').first().click();
    await page.getByTestId('device-panel').waitFor();
    const comment = `Checked by the helpdesk e2e at ${Date.now()}`;
    await page.getByTestId('comment-input').fill(comment);
    await page.getByTestId('save-comment').click();
    await page.getByTestId('comment').filter({ hasText: comment }).waitFor();
    // The optimistic update shows the comment at once; the save itself is
    // done when the button is enabled again, with no error shown.
    await page.waitForFunction(() => !document.querySelector('[data-testid="save-comment"]')?.disabled);
    check((await page.getByTestId('save-error').count()) === 0, 'the save succeeded');
    await page.getByTestId('comment').filter({ hasText: comment }).waitFor();
    const name = await page.getByTestId('device-panel').locator('h2').textContent();
    const stored = await eventually('the gateway to hold the comment', async () => {
      const answer = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
        body: JSON.stringify({ query: 'query($n: String!) { device(name: $n) { comment } }', variables: { n: name } }),
      }).then((response) => response.json());
      return answer.data?.device?.comment === comment ? answer : undefined;
    });
    check(stored.data.device.comment === comment, 'the gateway has the comment');

    const reader = await openApp(browser, origin, url, viewer);
    await rows(reader, 1);
    await reader.getByTestId('device-row').first().click();
    await reader.getByTestId('device-panel').waitFor();
    const before = await reader.getByTestId('comment').textContent();
    await reader.getByTestId('comment-input').fill('Not my call to make');
    await reader.getByTestId('save-comment').click();
    const refused = await reader.getByTestId('save-error').textContent();
    check(refused?.includes('Not allowed') && refused.includes('computers:write'), `a forbidden save says so: ${refused}`);
    await reader.waitForFunction(
      (expected) => document.querySelector('[data-testid="comment"]')?.textContent === expected,
      before,
    );

    const watcher = await openApp(browser, origin, url, viewer);
    await rows(watcher, 20);
    await watcher.getByTestId('live').filter({ hasText: 'live' }).waitFor();
    const watched = await watcher.getByTestId('device-row').nth(3).locator('td').first().textContent();
    const seenLive = `Seen live at ${Date.now()}`;
    await setComment(url, admin, watched, seenLive);
    await rowShows(watcher, watched, seenLive);
    await watcher.context().setOffline(true);
    await watcher.getByTestId('live').filter({ hasText: 'offline' }).waitFor();
    const whileAway = `Changed while offline at ${Date.now()}`;
    await setComment(url, admin, watched, whileAway);
    await watcher.context().setOffline(false);
    await rowShows(watcher, watched, whileAway);
    await watcher.getByTestId('live').filter({ hasText: 'live' }).waitFor();

    console.log('helpdesk-web in Chromium: load more, filter, saved comment, forbidden save, live list and its catch-up after offline all seen');
  } finally {
    await browser?.close();
    server.close();
    demo.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

await deadline(run(), 180_000, 'the whole browser test').then(
  () => process.exit(0),
  (error) => {
    console.error(`browser test failed: ${error.message}`);
    process.exit(1);
  },
);
