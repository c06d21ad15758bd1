// The gateway's subscriptions driven by the clients frontends use: the npm
// `graphql-ws` client (graphql-transport-ws over WebSocket) and the npm
// `graphql-sse` client (distinct connections mode), against the demo
// (whose fleet churns by itself). Checks that both receive live changes,
// that a bad token never subscribes, that 1,000 idle subscribers keep
// the gateway's memory bounded (the figure is printed), and that SIGTERM
// completes every open subscription.
//
//   npm ci && GATEWAY_BIN=../../target/debug/remotepc-gateway node live-e2e.mjs
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createClient as createWsClient } from 'graphql-ws';
import { createClient as createSseClient } from 'graphql-sse';
import WebSocket from 'ws';

import { check, deadline } from '../e2e-helpers.mjs';

const gatewayBin = process.env.GATEWAY_BIN ?? resolve(import.meta.dirname, '../../target/debug/remotepc-gateway');
const CHANGES = 'subscription { deviceChanges { kind at device { name status } } }';
const SUBSCRIBERS = 1000;
const PER_CONNECTION = 20;
/** Most the gateway's resident memory may grow for 1,000 idle subscribers. */
const MEMORY_BOUND_MIB = 64;

function startGateway(dir) {
  const config = join(dir, 'live.toml');
  writeFileSync(
    config,
    [
      '[cache]',
      'min_refresh_interval = "500ms"',
      '[live]',
      'poll_interval = "1s"',
      `max_subscriptions_per_team = ${SUBSCRIBERS * 2}`,
      '[demo]',
      'churn_interval = "1s"',
      'churn_changes = 5',
    ].join('\n'),
  );
  const gateway = spawn(gatewayBin, ['--demo', '--listen', '127.0.0.1:0', '--demo-dir', dir, '--config', config], {
    env: { ...process.env, RUST_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const banner = new Promise((resolveBanner, reject) => {
    gateway.on('exit', (code) => reject(new Error(`the gateway exited early (${code})`)));
    let url;
    createInterface({ input: gateway.stdout }).on('line', (line) => {
      const text = line.trim();
      if (text.startsWith('GraphQL:')) url = text.split(/\s+/)[1];
      if (text.includes('viewer (read)')) resolveBanner({ url, token: text.split(/\s+/).pop() });
    });
  });
  return { gateway, banner: deadline(banner, 60_000, "the gateway's banner") };
}

/** Resident memory of `pid`, in MiB (Linux). */
function residentMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kib / 1024;
}

/** Subscribes `client` to device changes; resolves with the first one. */
function firstChange(subscribe) {
  return new Promise((resolveChange, reject) => {
    const dispose = subscribe(
      { query: CHANGES },
      {
        next: (result) => {
          if (result.errors) reject(new Error(JSON.stringify(result.errors)));
          else resolveChange({ change: result.data.deviceChanges, dispose });
        },
        error: (error) => reject(error instanceof Error ? error : new Error(JSON.stringify(error))),
        complete: () => {},
      },
    );
  });
}

function wsClient(url, token, extra = {}) {
  return createWsClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: true,
    ...extra,
  });
}

async function liveChangesReachBothClients(url, token) {
  const ws = wsClient(url, token);
  const viaWs = await deadline(firstChange((payload, sink) => ws.subscribe(payload, sink)), 30_000, 'a change over graphql-ws');
  check(typeof viaWs.change.device.name === 'string', `a device change over graphql-ws: ${JSON.stringify(viaWs.change)}`);
  viaWs.dispose();
  await ws.dispose();

  const sse = createSseClient({ url, headers: { authorization: `Bearer ${token}` }, retryAttempts: 0 });
  const viaSse = await deadline(firstChange((payload, sink) => sse.subscribe(payload, sink)), 30_000, 'a change over graphql-sse');
  check(typeof viaSse.change.kind === 'string', `a device change over graphql-sse: ${JSON.stringify(viaSse.change)}`);
  viaSse.dispose();
  sse.dispose();
  console.log(`graphql-ws and graphql-sse received live changes (${viaWs.change.kind}, ${viaSse.change.kind})`);
}

async function badTokenNeverSubscribes(url) {
  const closed = new Promise((resolveClose) => {
    const client = wsClient(url, 'not-a-token', { on: { closed: (event) => resolveClose(event) } });
    client.subscribe({ query: CHANGES }, { next: () => {}, error: () => {}, complete: () => {} });
  });
  const event = await deadline(closed, 10_000, 'the refusal of a bad token');
  check(event.code === 4403, `a bad token is closed with 4403, got ${event.code} ${event.reason}`);
  console.log('a bad token was refused with 4403');
}

/**
 * Opens `SUBSCRIBERS` subscriptions, `PER_CONNECTION` a connection; resolves
 * once each connection has delivered an event (so every one listens), with
 * a promise of each subscription's completion.
 */
async function manySubscribers(url, token) {
  const completions = [];
  const listening = [];
  for (let connection = 0; connection < SUBSCRIBERS / PER_CONNECTION; connection += 1) {
    const client = wsClient(url, token, { lazy: false, onNonLazyError: () => {} });
    let heard;
    listening.push(new Promise((resolveHeard) => { heard = resolveHeard; }));
    for (let index = 0; index < PER_CONNECTION; index += 1) {
      completions.push(
        new Promise((resolveDone, reject) => {
          client.subscribe({ query: CHANGES }, { next: () => heard(), error: reject, complete: resolveDone });
        }),
      );
    }
  }
  await deadline(Promise.all(listening), 60_000, 'an event on every connection');
  return { completions };
}

async function run() {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-live-e2e-'));
  const { gateway, banner } = startGateway(dir);
  try {
    const { url, token } = await banner;
    await liveChangesReachBothClients(url, token);
    await badTokenNeverSubscribes(url);

    const before = residentMiB(gateway.pid);
    const { completions } = await manySubscribers(url, token);
    const during = residentMiB(gateway.pid);
    const grown = during - before;
    console.log(
      `${SUBSCRIBERS} idle subscribers (${SUBSCRIBERS / PER_CONNECTION} connections): gateway RSS ${before.toFixed(1)} -> ${during.toFixed(1)} MiB (+${grown.toFixed(1)})`,
    );
    check(grown < MEMORY_BOUND_MIB, `memory grew ${grown.toFixed(1)} MiB for ${SUBSCRIBERS} subscribers`);

    const sse = createSseClient({ url, headers: { authorization: `Bearer ${token}` }, retryAttempts: 0 });
    let sseConnected;
    const sseOpen = new Promise((resolveOpen) => (sseConnected = resolveOpen));
    const sseDone = new Promise((resolveDone, reject) => {
      sse.subscribe(
        { query: CHANGES },
        { next: () => {}, error: reject, complete: resolveDone },
        { connected: () => sseConnected() },
      );
    });
    // SIGTERM only once the stream is open: on a loaded machine a fixed
    // pause could end the gateway before the event stream is accepted.
    await deadline(Promise.race([sseOpen, sseDone]), 20_000, 'the graphql-sse subscription to open');
    gateway.kill('SIGTERM');
    await deadline(Promise.all([...completions, sseDone]), 20_000, 'every subscription to complete at SIGTERM');
    console.log(`SIGTERM completed all ${completions.length + 1} open subscriptions`);
  } finally {
    gateway.kill('SIGKILL');
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
