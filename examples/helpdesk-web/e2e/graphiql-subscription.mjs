// The gateway's own GraphiQL page in a real browser runs a subscription:
// with the demo's viewer token typed in its bar, `deviceChanges` is sent
// over Server-Sent Events and a change of the demo's churning fleet shows
// in the result pane.
//
//   node e2e/graphiql-subscription.mjs
//
// GATEWAY_BIN and CHROMIUM as for browser-test.mjs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

import { deadline, startDemo } from './demo.mjs';

const browserPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SUBSCRIPTION = 'subscription { deviceChanges { kind device { name } } }';

async function run() {
  const dir = mkdtempSync(join(tmpdir(), 'graphiql-subscription-'));
  const { demo, banner } = startDemo(dir);
  const browser = await chromium.launch({ executablePath: browserPath, args: ['--no-sandbox'] });
  try {
    const { graphiql, viewer: token } = await banner;
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

deadline(run(), 120_000, 'the whole GraphiQL test').then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
