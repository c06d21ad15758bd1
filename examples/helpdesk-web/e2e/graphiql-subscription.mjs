// The gateway's own GraphiQL page in a real browser runs a subscription:
// with the demo's viewer token typed in its bar, `deviceChanges` is sent
// over Server-Sent Events and a change of the demo's churning fleet shows
// in the result pane.
//
//   node e2e/graphiql-subscription.mjs
//
// GATEWAY_BIN and CHROMIUM as for browser-test.mjs.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const here = resolve(import.meta.dirname, '..');
const gatewayBin = process.env.GATEWAY_BIN ?? resolve(here, '../../target/debug/remotepc-gateway');
const browserPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SUBSCRIPTION = 'subscription { deviceChanges { kind device { name } } }';

function deadline(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function run() {
  const dir = mkdtempSync(join(tmpdir(), 'graphiql-subscription-'));
  const demo = spawn(gatewayBin, ['--demo', '--listen', '127.0.0.1:0', '--demo-dir', dir], {
    env: { ...process.env, RUST_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const banner = new Promise((resolveBanner, reject) => {
    const found = {};
    demo.on('exit', (code) => reject(new Error(`the demo exited early (${code})`)));
    createInterface({ input: demo.stdout }).on('line', (line) => {
      const text = line.trim();
      if (text.startsWith('GraphiQL:')) found.graphiql = text.split(/\s+/)[1];
      if (text.includes('viewer (read)')) found.token = text.split(' ').pop();
      if (text.startsWith('CORS:')) resolveBanner(found);
    });
  });
  const browser = await chromium.launch({ executablePath: browserPath, args: ['--no-sandbox'] });
  try {
    const { graphiql, token } = await deadline(banner, 60_000, "the demo's banner");
    const page = await browser.newPage();
    // The token bar keeps its token in sessionStorage and GraphiQL its
    // query in localStorage: set both as a person would have.
    await page.addInitScript(
      ({ token: saved, query }) => {
        sessionStorage.setItem('remotepc-gateway-token', saved);
        localStorage.setItem('graphiql:query', query);
      },
      { token, query: SUBSCRIPTION },
    );
    await page.goto(graphiql);
    await page.waitForSelector('.graphiql-execute-button', { timeout: 20_000 });
    await page.click('.graphiql-execute-button');
    // The demo churns every 5 s and polls as often while anyone listens.
    await page.waitForFunction(
      () => /"deviceChanges"[\s\S]*"kind"/.test(document.querySelector('.result-window')?.textContent ?? ''),
      null,
      { timeout: 30_000 },
    );
    console.log("GraphiQL ran deviceChanges and showed a live change");
  } finally {
    await browser.close();
    demo.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

run().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
