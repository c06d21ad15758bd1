// A second client on the gateway, with urql's defaults: its Accept header
// (which lists text/event-stream after the JSON types) and Graphcache,
// which adds __typename to every selection. It lists devices, writes a
// comment and reads it back, and writes what it saw into the page for
// e2e/urql-test.mjs.
import { Client, fetchExchange, gql } from '@urql/core';
import { cacheExchange } from '@urql/exchange-graphcache';

const url = localStorage.getItem('gatewayUrl') ?? 'http://127.0.0.1:8080/graphql';
const token = localStorage.getItem('gatewayToken') ?? '';

const client = new Client({
  url,
  exchanges: [cacheExchange({}), fetchExchange],
  fetchOptions: () => ({ headers: { authorization: `Bearer ${token}` } }),
});

const DEVICES = gql`
  query UrqlDevices($first: Int!) {
    devices(first: $first) {
      totalCount
      nodes { id name status comment }
    }
  }
`;

const COMMENT = gql`
  mutation UrqlComment($name: String!, $comment: String!) {
    addComputerComment(input: { computerName: $name, comment: $comment }) {
      device { id comment }
    }
  }
`;

async function check(): Promise<unknown> {
  const listed = await client.query(DEVICES, { first: 3 }, { requestPolicy: 'network-only' }).toPromise();
  if (listed.error) return { step: 'query', error: listed.error.message };
  const first = listed.data.devices.nodes[0];
  const comment = `Saved through urql at ${Date.now()}`;
  const written = await client.mutation(COMMENT, { name: first.name, comment }).toPromise();
  if (written.error) return { step: 'mutation', error: written.error.message };
  const reread = await client.query(DEVICES, { first: 3 }, { requestPolicy: 'network-only' }).toPromise();
  return {
    totalCount: listed.data.devices.totalCount,
    name: first.name,
    written: written.data.addComputerComment.device.comment,
    reread: reread.data?.devices.nodes[0].comment,
    comment,
  };
}

check().then(
  (result) => { document.querySelector('[data-testid="urql-result"]')!.textContent = JSON.stringify(result); },
  (error: Error) => { document.querySelector('[data-testid="urql-result"]')!.textContent = JSON.stringify({ error: error.message }); },
);
