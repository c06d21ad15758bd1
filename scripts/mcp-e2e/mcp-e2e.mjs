// The gateway's /mcp driven by the official MCP TypeScript SDK client
// (@modelcontextprotocol/sdk, Streamable HTTP) against the demo, and its
// approval page driven in Debian's Chromium as the signed-in person:
// tools listed as two callers, a search, fleet_summary against the demo's
// numbers, a removal that runs only once the person, signed in at the
// demo's identity provider from the page, approves it in the browser (then
// it is in RemotePC and the audit log), and a declined and an expired
// approval that change nothing.
//
//   npm ci && GATEWAY_BIN=../../target/debug/remotepc-gateway CHROMIUM=/usr/bin/chromium node mcp-e2e.mjs
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { chromium } from 'playwright-core';

import { check, deadline } from '../e2e-helpers.mjs';

const gatewayBin = process.env.GATEWAY_BIN ?? resolve(import.meta.dirname, '../../target/debug/remotepc-gateway');
const browserPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const TTL_SECONDS = 15;

function startDemo(dir) {
  const config = join(dir, 'mcp.toml');
  // A still fleet, so that counts can be compared; short approvals.
  writeFileSync(config, ['[demo]', 'churn_changes = 0', '[mcp]', `approval_ttl = "${TTL_SECONDS}s"`].join('\n'));
  const demo = spawn(gatewayBin, ['--demo', '--listen', '127.0.0.1:0', '--demo-dir', dir, '--config', config], {
    env: { ...process.env, RUST_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const banner = new Promise((resolveBanner, reject) => {
    const found = {};
    let personNext = false;
    demo.on('exit', (code) => reject(new Error(`the demo exited early (${code})`)));
    createInterface({ input: demo.stdout }).on('line', (line) => {
      const text = line.trim();
      if (text.startsWith('GraphQL:')) found.url = text.split(/\s+/)[1];
      if (text.startsWith('MCP:')) found.mcp = text.split(/\s+/)[1];
      if (text.startsWith('simulator:')) found.devices = Number(/(\d+) devices/.exec(text)?.[1]);
      if (text.includes('viewer (read)')) found.viewer = text.split(' ').pop();
      if (personNext && text.startsWith('token ')) found.person = text.split(' ').pop();
      personNext = text.startsWith('person:');
      if (text.startsWith('CORS:')) resolveBanner(found);
    });
  });
  return { demo, banner: deadline(banner, 60_000, "the demo's banner") };
}

async function connect(mcpUrl, token) {
  const client = new Client({ name: 'mcp-e2e', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  await deadline(client.connect(transport), 20_000, 'the MCP handshake');
  return client;
}

async function graphql(url, token, query, variables = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  check(!body.errors, `${query}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

async function call(client, name, args) {
  const result = await deadline(client.callTool({ name, arguments: args }), 20_000, `the ${name} tool`);
  check(result.structuredContent, `${name} answers structured content: ${JSON.stringify(result)}`);
  return result;
}

/** Opens the approval page at `url` signed in as `token`. */
async function openApproval(browser, url, token) {
  const page = await browser.newPage();
  await page.addInitScript((value) => sessionStorage.setItem('remotepc-gateway-token', value), token);
  await page.goto(url);
  return page;
}

async function decideInBrowser(browser, url, token, button, expected) {
  const page = await openApproval(browser, url, token);
  await decideOn(page, button, expected);
}

/** Approves or declines on `page`, once it shows the request. */
async function decideOn(page, button, expected) {
  await page.locator('#devices tbody tr').first().waitFor({ timeout: 20_000 });
  await page.locator(button).click();
  await page.getByText(expected).waitFor({ timeout: 20_000 });
  await page.close();
}

async function untilExpired(client, args) {
  const started = Date.now();
  for (;;) {
    const result = await call(client, 'remove_computers', args);
    if (result.structuredContent.status === 'expired') return;
    check(Date.now() - started < (TTL_SECONDS + 20) * 1000, `the approval expires within its ${TTL_SECONDS} s: ${JSON.stringify(result.structuredContent)}`);
    await new Promise((done) => setTimeout(done, 500));
  }
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-e2e-'));
  const { demo, banner } = startDemo(dir);
  let browser;
  try {
    const found = await banner;
    check(found.url && found.mcp && found.viewer && found.person, `the banner names /mcp and the tokens: ${JSON.stringify(Object.keys(found))}`);
    const viewer = await connect(found.mcp, found.viewer);
    const person = await connect(found.mcp, found.person);

    const viewerTools = (await viewer.listTools()).tools.map((tool) => tool.name).sort();
    const personTools = (await person.listTools()).tools.map((tool) => tool.name).sort();
    check(JSON.stringify(viewerTools) === JSON.stringify(['device_history', 'fleet_summary', 'get_device', 'get_user', 'search_devices', 'search_users']), `the viewer team sees the read tools: ${viewerTools}`);
    for (const tool of ['remove_computers', 'delete_users', 'unassign_computers', 'move_computers_to_group']) {
      check(personTools.includes(tool), `the person sees ${tool}: ${personTools}`);
    }

    const counts = await graphql(found.url, found.viewer, '{ all: devices { totalCount } offline: devices(filter: { status: OFFLINE }) { totalCount } }');
    check(counts.all.totalCount === found.devices, `the demo's ${found.devices} devices are all listed: ${counts.all.totalCount}`);
    const summary = (await call(viewer, 'fleet_summary', {})).structuredContent.fleetSummary;
    check(summary.total === found.devices, `fleet_summary counts the simulator's ${found.devices} devices: ${summary.total}`);
    const offlineCount = summary.byStatus.find((entry) => entry.status === 'OFFLINE').count;
    check(offlineCount === counts.offline.totalCount, `fleet_summary's OFFLINE (${offlineCount}) is what the list says (${counts.offline.totalCount})`);
    check(summary.byLastSeen.reduce((sum, bucket) => sum + bucket.count, 0) === summary.total, 'every device is in one last-seen bucket');

    const search = (await call(viewer, 'search_devices', { filter: { status: 'OFFLINE' }, first: 3 })).structuredContent;
    check(search.totalCount === counts.offline.totalCount && search.items.length === 3, `search_devices: ${JSON.stringify(search)}`);
    const [toRemove, toDecline, toExpire] = search.items.map((item) => item.name);

    const expiring = { computerNames: [toExpire] };
    const asked = (await call(person, 'remove_computers', expiring)).structuredContent;
    check(asked.status === 'approval_required', `a removal asks for approval: ${JSON.stringify(asked)}`);
    expiring.approvalId = asked.approvalId;

    browser = await chromium.launch({
      executablePath: browserPath,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const removal = { computerNames: [toRemove] };
    const approval = (await call(person, 'remove_computers', removal)).structuredContent;
    const exists = async (name) => (await graphql(found.url, found.viewer, 'query($n: String!) { device(name: $n) { name } }', { n: name }).catch(() => ({ device: 'unknown' }))).device !== null;
    check(await exists(toRemove), 'nothing is removed before the person approves');
    // Signed in as the person through the demo's identity provider
    // (authorization code with PKCE), in a fresh context: no token given.
    const context = await browser.newContext();
    const signingIn = await context.newPage();
    await signingIn.goto(approval.approvalUrl);
    await signingIn.locator('#sign-in-button').click();
    await signingIn.waitForURL(approval.approvalUrl, { timeout: 20_000 });
    await decideOn(signingIn, '#approve', 'Approved: the change ran.');
    await context.close();
    const outcome = (await call(person, 'remove_computers', { ...removal, approvalId: approval.approvalId })).structuredContent;
    check(outcome.status === 'approved' && outcome.result.data.removeComputers.removedCount === 1, `the outcome: ${JSON.stringify(outcome)}`);
    check(!(await exists(toRemove)), `${toRemove} is gone from RemotePC`);
    const audit = await graphql(found.url, found.person, '{ auditLog(first: 5) { nodes { operation outcome actor { subject via approval } } } }');
    const record = audit.auditLog.nodes.find((node) => node.actor.approval === approval.approvalId);
    check(record && record.operation === 'removeComputers' && record.outcome === 'OK' && record.actor.via === 'mcp', `the audit log has the approved removal: ${JSON.stringify(audit)}`);

    const declining = { computerNames: [toDecline] };
    const declined = (await call(person, 'remove_computers', declining)).structuredContent;
    await decideInBrowser(browser, declined.approvalUrl, found.person, '#decline', 'Declined: nothing changed.');
    check((await call(person, 'remove_computers', { ...declining, approvalId: declined.approvalId })).structuredContent.status === 'declined', 'the tool reports the decline');
    check(await exists(toDecline), `${toDecline} is still there after the decline`);

    await untilExpired(person, expiring);
    const late = await openApproval(browser, asked.approvalUrl, found.person);
    await late.getByText('This request is expired.').waitFor({ timeout: 20_000 });
    check(await late.locator('#approve').isDisabled(), 'an expired request cannot be approved');
    check(await exists(toExpire), `${toExpire} is still there after its approval expired`);
    console.log(`mcp-e2e: tools listed as a team and a person, fleet_summary = ${summary.total} devices (${offlineCount} offline), a removal approved in Chromium by the person signed in at the demo's provider (PKCE) ran once (audited via mcp), a declined and an expired one changed nothing`);
    await viewer.close();
    await person.close();
  } finally {
    await browser?.close();
    demo.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
