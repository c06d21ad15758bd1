// What both browser tests need: the demo gateway started in a fresh
// folder (GATEWAY_BIN, default ../../target/debug/remotepc-gateway, which
// `cargo test` builds), its banner read, and waits with deadlines.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

const gatewayBin =
  process.env.GATEWAY_BIN ?? resolve(import.meta.dirname, '../../../target/debug/remotepc-gateway');

/** Rejects after `ms` with what was awaited. */
export function deadline(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The demo gateway in a fresh folder; resolves with its URLs and tokens. */
export function startDemo(dir) {
  const demo = spawn(gatewayBin, ['--demo', '--listen', '127.0.0.1:0', '--demo-dir', dir], {
    env: { ...process.env, RUST_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const banner = new Promise((resolveBanner, reject) => {
    const found = {};
    demo.on('exit', (code) => reject(new Error(`the demo exited early (${code})`)));
    createInterface({ input: demo.stdout }).on('line', (line) => {
      const text = line.trim();
      if (text.startsWith('GraphQL:')) found.url = text.split(/\s+/)[1];
      if (text.startsWith('GraphiQL:')) found.graphiql = text.split(/\s+/)[1];
      if (text.includes('viewer (read)')) found.viewer = text.split(' ').pop();
      if (text.includes('admin  (all scopes)')) found.admin = text.split(' ').pop();
      if (text.startsWith('CORS:')) resolveBanner(found);
    });
  });
  return { demo, banner: deadline(banner, 60_000, "the demo's banner") };
}
