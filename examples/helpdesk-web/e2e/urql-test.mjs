// urql with its defaults in Chromium against the demo gateway: its Accept
// header lists text/event-stream after the JSON types, and Graphcache adds
// __typename everywhere. Queries and the mutation must be answered as
// JSON (not refused as "send mutations with POST"), and the comment saved.
//
//   npm run build && npm run e2e:urql
import { createReadStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import { chromium } from 'playwright-core';

import { deadline, startDemo } from './demo.mjs';

const here = resolve(import.meta.dirname, '..');
const browserPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

function serveDist() {
  const root = join(here, 'dist');
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
  const server = createServer((request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url, 'http://x').pathname));
    let file = join(root, path);
    if (!file.startsWith(root) || !existsSync(file) || path === '/') file = join(root, 'urql.html');
    response.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(response);
  });
  return new Promise((resolveServer) => server.listen(0, '127.0.0.1', () => resolveServer(server)));
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function run() {
  const dir = mkdtempSync(join(tmpdir(), 'helpdesk-urql-'));
  const { demo, banner } = startDemo(dir);
  const server = await serveDist();
  const origin = `http://127.0.0.1:${server.address().port}/urql.html`;
  let browser;
  try {
    const { url, admin } = await banner;
    browser = await chromium.launch({
      executablePath: browserPath,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const context = await browser.newContext();
    await context.addInitScript(([gatewayUrl, gatewayToken]) => {
      localStorage.setItem('gatewayUrl', gatewayUrl);
      localStorage.setItem('gatewayToken', gatewayToken);
    }, [url, admin]);
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    const accepts = [];
    const bodies = [];
    page.on('request', (request) => {
      if (request.url() === url && request.method() === 'POST') {
        accepts.push(request.headers().accept ?? '');
        bodies.push(request.postData() ?? '');
      }
    });
    await page.goto(origin);
    await page.waitForFunction(() => document.querySelector('[data-testid="urql-result"]')?.textContent !== 'running');
    const result = JSON.parse(await page.getByTestId('urql-result').textContent());
    check(!result.error, `urql got an error: ${JSON.stringify(result)}`);
    check(result.totalCount === 1000, `the devices are listed: ${JSON.stringify(result)}`);
    check(bodies.length >= 3 && bodies.every((body) => body.includes('__typename')), `Graphcache added __typename: ${bodies}`);
    check(result.written === result.comment, `the mutation answered the comment: ${JSON.stringify(result)}`);
    check(result.reread === result.comment, `the comment reads back: ${JSON.stringify(result)}`);
    check(accepts.some((accept) => accept.includes('text/event-stream')), `urql's default Accept was sent: ${accepts}`);
    console.log('urql with Graphcache in Chromium: query, mutation and read-back answered as JSON');
  } finally {
    await browser?.close();
    server.close();
    demo.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

await deadline(run(), 180_000, 'the urql browser test').then(
  () => process.exit(0),
  (error) => {
    console.error(`urql browser test failed: ${error.message}`);
    process.exit(1);
  },
);
