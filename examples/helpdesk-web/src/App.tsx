// A helpdesk's computer list: a status filter, "load more" (cursor
// paging), a panel for the chosen computer, and changes shown as they
// happen (live.tsx), also after the browser was offline.
import { useState } from 'react';
import { useApolloClient, useQuery } from '@apollo/client';

import { graphql } from './gql';
import type { DeviceStatus } from './gql/graphql';
import { DevicePanel } from './DevicePanel';
import { explain } from './errors';
import { useLiveDevices } from './live';

const PAGE = 20;

const DevicesQuery = graphql(`
  query Devices($filter: DeviceFilter, $first: Int!, $after: String) {
    devices(first: $first, after: $after, filter: $filter, orderBy: { field: NAME, direction: ASC }) {
      totalCount
      changeCursor
      edges {
        cursor
        node {
          id
          name
          status
          os
          lastSessionAt
          comment
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export function App() {
  const [status, setStatus] = useState<DeviceStatus | ''>('');
  const [selected, setSelected] = useState<string | null>(null);
  const filter = status ? { status } : {};
  const { data, loading, error, fetchMore } = useQuery(DevicesQuery, {
    variables: { filter, first: PAGE },
    notifyOnNetworkStatusChange: true,
  });
  const devices = data?.devices;
  const live = useLiveDevices(useApolloClient(), devices?.changeCursor);
  return (
    <main style={{ fontFamily: 'system-ui', display: 'flex', gap: '2rem', padding: '1rem' }}>
      <section style={{ flex: 1 }}>
        <h1>Computers</h1>
        <label>
          Status{' '}
          <select
            data-testid="status-filter"
            value={status}
            onChange={(event) => setStatus(event.target.value as DeviceStatus | '')}
          >
            <option value="">All</option>
            <option value="ONLINE">Online</option>
            <option value="OFFLINE">Offline</option>
            <option value="UNKNOWN">Unknown</option>
          </select>
        </label>
        <p data-testid="live">{live}</p>
        {error && <p role="alert">{explain(error)}</p>}
        {devices && (
          <p data-testid="count">
            {devices.edges.length} of {devices.totalCount}
          </p>
        )}
        <table>
          <tbody>
            {devices?.edges.map(({ node }) => (
              <tr
                key={node.id}
                data-testid="device-row"
                data-status={node.status}
                onClick={() => setSelected(node.id)}
                style={{ cursor: 'pointer', fontWeight: node.id === selected ? 'bold' : undefined }}
              >
                <td>{node.name}</td>
                <td>{node.status}</td>
                <td>{node.os ?? '—'}</td>
                <td>{node.lastSessionAt ? new Date(node.lastSessionAt).toLocaleString() : 'never'}</td>
                <td data-testid="device-comment">{node.comment ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {devices?.pageInfo.hasNextPage && (
          <button
            data-testid="load-more"
            disabled={loading}
            onClick={() =>
              fetchMore({ variables: { after: devices.pageInfo.endCursor } })
            }
          >
            Load more
          </button>
        )}
      </section>
      {selected && <DevicePanel id={selected} />}
    </main>
  );
}
