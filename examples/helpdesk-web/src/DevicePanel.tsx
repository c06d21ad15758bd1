// One computer, fetched by its global id (`node`), and its comment form.
// Saving updates the list and the panel by itself: the payload returns the
// Device, which Apollo's cache finds by id. The optimistic response shows
// the comment at once; a refusal (FORBIDDEN, NOT_FOUND…) rolls it back and
// is shown by its code.
import { useState } from 'react';
import { useMutation, useQuery } from '@apollo/client';

import { graphql } from './gql';
import { explain } from './errors';

const DeviceQuery = graphql(`
  query DevicePanel($id: ID!) {
    node(id: $id) {
      id
      ... on Device {
        name
        status
        os
        osVersion
        ip
        comment
        lastSessionAt
      }
    }
  }
`);

const AddComment = graphql(`
  mutation AddComment($name: String!, $comment: String!) {
    addComputerComment(input: { computerName: $name, comment: $comment }) {
      device {
        id
        comment
      }
    }
  }
`);

export function DevicePanel({ id }: { id: string }) {
  const { data, error } = useQuery(DeviceQuery, { variables: { id } });
  const [draft, setDraft] = useState('');
  const [save, saving] = useMutation(AddComment);
  const device = data?.node?.__typename === 'Device' ? data.node : null;
  if (error) return <aside role="alert">{explain(error)}</aside>;
  if (!device) return <aside>Loading…</aside>;
  const submit = () =>
    save({
      variables: { name: device.name, comment: draft },
      optimisticResponse: {
        addComputerComment: {
          __typename: 'AddComputerCommentPayload',
          device: { __typename: 'Device', id: device.id, comment: draft },
        },
      },
      // Sent again after a timeout, the same key gets the first answer.
      context: { headers: { 'idempotency-key': crypto.randomUUID() } },
    }).catch(() => undefined);
  return (
    <aside data-testid="device-panel" style={{ minWidth: '20rem' }}>
      <h2>{device.name}</h2>
      <dl>
        <dt>Status</dt>
        <dd>{device.status}</dd>
        <dt>System</dt>
        <dd>
          {device.os ?? '—'} {device.osVersion ?? ''}
        </dd>
        <dt>Address</dt>
        <dd>{device.ip ?? '—'}</dd>
        <dt>Last session</dt>
        <dd>{device.lastSessionAt ? new Date(device.lastSessionAt).toLocaleString() : 'never'}</dd>
        <dt>Comment</dt>
        <dd data-testid="comment">{device.comment ?? '—'}</dd>
      </dl>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          void submit();
        }}
      >
        <input
          data-testid="comment-input"
          value={draft}
          minLength={6}
          maxLength={250}
          onChange={(event) => setDraft(event.target.value)}
          placeholder="6 to 250 characters"
        />
        <button data-testid="save-comment" type="submit" disabled={saving.loading}>
          Save
        </button>
      </form>
      {saving.error && (
        <p role="alert" data-testid="save-error">
          {explain(saving.error)}
        </p>
      )}
    </aside>
  );
}
