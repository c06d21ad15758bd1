// The gateway held to graphql-js 16 on a generated corpus: a seeded
// generator writes documents (valid ones, and ones broken in the ways the
// specification's Validation section lists) with variables; graphql-js
// parses, validates against schema.graphql and coerces the variables; the
// gateway (the demo, admin token) must answer exactly the ones graphql-js
// accepts (HTTP 200) and refuse the others as request errors (HTTP 400
// without `data`, code BAD_USER_INPUT), and answer each accepted one the
// same way twice. CONFORMANCE_SEED replays a run; the seed is printed.
//
//   npm ci && GATEWAY_BIN=../../target/debug/remotepc-gateway node conformance.mjs
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { buildSchema, getVariableValues, parse, validate } from 'graphql';

import { check, deadline } from '../e2e-helpers.mjs';

const root = resolve(import.meta.dirname, '../..');
const gatewayBin = process.env.GATEWAY_BIN ?? join(root, 'target/debug/remotepc-gateway');
const schema = buildSchema(readFileSync(join(root, 'schema.graphql'), 'utf8'));
const CASES = Number(process.env.CONFORMANCE_CASES ?? 400);
const seed = Number(process.env.CONFORMANCE_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** mulberry32: small, seeded, good enough to draw documents. */
function random(seedValue) {
  let state = seedValue >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const draw = random(seed);
const pick = (items) => items[Math.floor(draw() * items.length)];
const chance = (percent) => draw() * 100 < percent;

/** Mostly a valid piece, now and then one broken in a way the specification names. */
const piece = (valid, broken) => (chance(6) ? pick(broken) : pick(valid));

// `$b: Boolean!`, `$n: Int`, `$s: String` may be declared (or not).
const directive = () => piece(['', '', '', ' @skip(if: false)', ' @include(if: true)', ' @skip(if: $b)'], [' @nope', ' @skip', ' @include(if: "yes")', ' @skip(if: $undeclared)']);
const first = () => piece(['1', '3', '0', '-5', '$n'], ['"x"', 'null', '$b']);
const filter = () => piece(['', '', ', filter: { status: ONLINE }', ', filter: { nameContains: $s }'], [', filter: { status: "ONLINE" }', ', filter: { os: "a", os: "b" }', ', filter: { nope: 1 }']);
const deviceField = () => piece(['name', 'status', 'os', 'comment', 'lastSessionAt'], ['nope', 'name(x: 1)', 'name { a }']);

function deviceSelection() {
  const fields = Array.from({ length: 1 + Math.floor(draw() * 3) }, () => deviceField() + directive());
  return `{ ${fields.join(' ')} }`;
}

function rootField(index) {
  const alias = chance(30) ? `f${index}: ` : '';
  const valid = [
    () => `${alias}__typename${directive()}`,
    () => `${alias}viewer${directive()} { kind${directive()} account }`,
    () => `${alias}devices(first: ${first()}${filter()})${directive()} { totalCount nodes ${deviceSelection()} }`,
    () => `${alias}users(first: ${first()}) { totalCount edges { node { username } } }`,
    () => `${alias}device(name: ${piece(['"WIN-000001"', '$s'], ['5'])}) ${deviceSelection()}`,
    () => `...F`,
    () => `... on Query { t${index}: __typename }`,
  ];
  const broken = [
    () => `${alias}__typename(x: 1)`,
    () => `x: devices(first: 1) { totalCount } x: users(first: 1) { totalCount }`,
    () => `...Missing`,
    () => `${alias}devices { totalCount`,
  ];
  return piece(valid, broken)();
}

const TYPES = { b: 'Boolean!', n: 'Int', s: 'String' };

function document() {
  const fields = Array.from({ length: 1 + Math.floor(draw() * 3) }, (_, index) => rootField(index));
  let body = `{ ${fields.join(' ')} }`;
  if (body.includes('...F') || chance(5)) body += ' fragment F on Query { fq: __typename }';
  // Declared as used, now and then one too many, too few or too strict.
  const used = Object.keys(TYPES).filter((name) => body.includes(`$${name}`));
  let declared = used.map((name) => `$${name}: ${TYPES[name]}`);
  if (chance(5)) declared.push('$unused: Int');
  if (declared.length && chance(5)) declared = declared.slice(1);
  if (chance(5)) declared = declared.map((definition) => definition.replace(/String$/, 'String!'));
  const header = declared.length ? `query Q(${declared.join(', ')})` : pick(['', 'query', 'query Q']);
  const variables = {};
  if (chance(90)) variables.b = piece([true, false], ['yes', null]);
  if (chance(60)) variables.n = piece([2, 0, null], ['two', 1.5]);
  if (chance(60)) variables.s = piece(['WIN', null], [7]);
  return { query: `${header} ${body}`, variables };
}

/** What graphql-js says: `null` when valid, else why not. */
function graphqlJsVerdict({ query, variables }) {
  let ast;
  try {
    ast = parse(query);
  } catch (error) {
    return `parse: ${error.message}`;
  }
  const errors = validate(schema, ast);
  if (errors.length) return `validate: ${errors[0].message}`;
  const operation = ast.definitions.find((definition) => definition.kind === 'OperationDefinition');
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables);
  if (coerced.errors) return `variables: ${coerced.errors[0].message}`;
  return null;
}

function startGateway(dir) {
  const gateway = spawn(gatewayBin, ['--demo', '--listen', '127.0.0.1:0', '--demo-dir', dir], {
    env: { ...process.env, RUST_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const banner = new Promise((resolveBanner, reject) => {
    gateway.on('exit', (code) => reject(new Error(`the gateway exited early (${code})`)));
    let url;
    createInterface({ input: gateway.stdout }).on('line', (line) => {
      const text = line.trim();
      if (text.startsWith('GraphQL:')) url = text.split(/\s+/)[1];
      if (text.startsWith('admin')) resolveBanner({ url, token: text.split(/\s+/).pop() });
    });
  });
  return { gateway, banner: deadline(banner, 60_000, "the gateway's banner") };
}

async function ask(url, token, body) {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

const dir = mkdtempSync(join(tmpdir(), 'conformance-'));
const { gateway, banner } = startGateway(dir);
let failures = 0;
try {
  const { url, token } = await banner;
  console.log(`conformance: seed ${seed}, ${CASES} documents`);
  let valid = 0;
  for (let index = 0; index < CASES; index += 1) {
    const request = document();
    const verdict = graphqlJsVerdict(request);
    const first = await ask(url, token, request);
    const context = `seed ${seed}, case ${index}: ${JSON.stringify(request)}\n  graphql-js: ${verdict ?? 'valid'}\n  gateway: ${first.status} ${JSON.stringify(first.body)}`;
    try {
      if (verdict === null) {
        valid += 1;
        check(first.status === 200, `a valid request was refused\n${context}`);
        check('data' in first.body, `a valid request has a data entry\n${context}`);
        const again = await ask(url, token, request);
        const essence = (answer) => JSON.stringify([answer.body.data, answer.body.errors]);
        check(essence(again) === essence(first), `answered differently the second time\n${context}\n  again: ${essence(again)}`);
      } else {
        check(first.status === 400, `an invalid request was not refused as a request error\n${context}`);
        check(!('data' in first.body), `a request error has no data entry\n${context}`);
        check(first.body.errors?.every((error) => error.extensions?.code === 'BAD_USER_INPUT'), `coded BAD_USER_INPUT\n${context}`);
      }
    } catch (error) {
      failures += 1;
      console.error(error.message);
      if (failures >= 5) break;
    }
  }
  console.log(`conformance: ${valid} valid and ${CASES - valid} invalid documents compared with graphql-js`);
  console.log(`${CASES - failures} passed, ${failures} failed`);
} finally {
  gateway.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failures ? 1 : 0);
