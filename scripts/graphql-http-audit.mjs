// Runs the `graphql-http` package's server audit (the GraphQL-over-HTTP
// specification's MUST/SHOULD/MAY items) against a running gateway.
//
//   cargo run --release -- --demo            # note the admin token it prints
//   cd scripts && npm install --no-save graphql-http@1.23.1 graphql@16.11.0
//   URL=http://127.0.0.1:8080/graphql TOKEN=<admin token> node graphql-http-audit.mjs
//
// Exits 1 when a MUST item fails.
import { auditServer } from 'graphql-http';

const url = process.env.URL ?? 'http://127.0.0.1:8080/graphql';
const token = process.env.TOKEN;
if (!token) {
  console.error('set TOKEN to a team token (the demo prints one)');
  process.exit(2);
}
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};
const results = await auditServer({ url, fetchFn });
let mustFailures = 0;
for (const result of results) {
  const level = result.name.split(' ')[0];
  if (result.status !== 'ok' && level === 'MUST') mustFailures += 1;
  const reason = result.status === 'ok' ? '' : ` — ${result.reason}`;
  console.log(`${result.status.padEnd(7)} ${result.name}${reason}`);
}
const count = (status) => results.filter((result) => result.status === status).length;
console.log(`\n${count('ok')} ok, ${count('notice')} notice, ${count('warn')} warn, ${count('error')} error; MUST failures: ${mustFailures}`);
process.exit(mustFailures > 0 ? 1 : 0);
