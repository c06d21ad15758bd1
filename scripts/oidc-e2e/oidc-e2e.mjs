// The gateway against a real OpenID provider from the npm registry
// (oauth2-mock-server): discovery, JWKS, and a token from its token
// endpoint are accepted; a token from a second provider instance, with
// other keys, claiming the first one's issuer, is refused.
//
//   npm ci && GATEWAY_BIN=../../target/debug/remotepc-gateway node oidc-e2e.mjs
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { OAuth2Server } from 'oauth2-mock-server';

import { check, deadline } from '../e2e-helpers.mjs';

const gatewayBin = process.env.GATEWAY_BIN ?? resolve(import.meta.dirname, '../../target/debug/remotepc-gateway');
const AUDIENCE = 'helpdesk-web';

/** A provider on a random loopback port whose tokens claim `issuer()`. */
async function provider(issuer) {
  const server = new OAuth2Server();
  await server.issuer.keys.generate('RS256');
  await server.start(0, '127.0.0.1');
  server.service.on('beforeTokenSigning', (token) => {
    token.payload.iss = issuer() ?? server.issuer.url;
    token.payload.aud = AUDIENCE;
    token.payload.sub = 'mock-person-7';
    token.payload.name = 'Morgan Mock';
    token.payload.groups = ['helpdesk'];
  });
  return server;
}

async function tokenFrom(server) {
  const response = await fetch(`${server.issuer.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: AUDIENCE, client_secret: 'x' }),
  });
  const body = await response.json();
  check(typeof body.access_token === 'string', `a token from ${server.issuer.url}: ${JSON.stringify(body)}`);
  return body.access_token;
}

function startGateway(dir, config) {
  const gateway = spawn(gatewayBin, ['--demo', '--listen', '127.0.0.1:0', '--demo-dir', dir, '--config', config], {
    env: { ...process.env, RUST_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = new Promise((resolveUrl, reject) => {
    gateway.on('exit', (code) => reject(new Error(`the gateway exited early (${code})`)));
    createInterface({ input: gateway.stdout }).on('line', (line) => {
      const text = line.trim();
      if (text.startsWith('GraphQL:')) resolveUrl(text.split(/\s+/)[1]);
    });
  });
  return { gateway, url: deadline(url, 60_000, "the gateway's banner") };
}

async function viewer(url, token) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: '{ viewer { kind subject name via } }' }),
  });
  return { status: response.status, body: await response.json() };
}

async function run() {
  const first = await provider(() => undefined);
  const second = await provider(() => first.issuer.url);
  const dir = mkdtempSync(join(tmpdir(), 'oidc-e2e-'));
  const config = join(dir, 'oidc.toml');
  writeFileSync(config, [
    '[auth.oidc.mock]',
    `issuer = "${first.issuer.url}"`,
    `audiences = ["${AUDIENCE}"]`,
    'roles_claim = "groups"',
    '[auth.oidc.mock.roles.helpdesk]',
    'scopes = ["read"]',
    '',
  ].join('\n'));
  const { gateway, url } = startGateway(dir, config);
  try {
    const endpoint = await url;
    const accepted = await viewer(endpoint, await tokenFrom(first));
    check(accepted.status === 200, `the provider's token is accepted: ${JSON.stringify(accepted.body)}`);
    const me = accepted.body.data?.viewer;
    check(me?.kind === 'PERSON' && me.subject === 'mock-person-7' && me.via === 'mock/helpdesk',
      `viewer names the person: ${JSON.stringify(accepted.body)}`);
    const forged = await viewer(endpoint, await tokenFrom(second));
    const code = forged.body.errors?.[0]?.extensions?.code;
    check(forged.status === 401 && code === 'UNAUTHENTICATED',
      `another provider's keys are refused: ${forged.status} ${JSON.stringify(forged.body)}`);
    console.log('oidc-e2e: a token from oauth2-mock-server accepted, one signed by other keys refused');
  } finally {
    gateway.kill('SIGTERM');
    await first.stop();
    await second.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await deadline(run(), 120_000, 'the OIDC end-to-end check').then(
  () => process.exit(0),
  (error) => {
    console.error(`oidc-e2e failed: ${error.message}`);
    process.exit(1);
  },
);
