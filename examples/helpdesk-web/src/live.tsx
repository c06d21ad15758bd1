// Keeps the shown list live: subscribes to device changes from the list's
// `changeCursor`, lets Apollo's cache apply each change (the event carries
// the device with its id), and remembers the last change's cursor. When
// the browser goes offline the socket is closed; when it is back, or the
// socket dropped, it subscribes again after that cursor, so the changes
// made meanwhile arrive, once. `CURSOR_EXPIRED` means the log no longer
// covers the cursor: the list is read again.
import { useEffect, useRef, useState } from 'react';
import type { ApolloClient } from '@apollo/client';

import { graphql } from './gql';
import { socket } from './apollo';

const DeviceChanges = graphql(`
  subscription DeviceChanges($after: String) {
    deviceChanges(after: $after) {
      cursor
      kind
      device {
        id
        name
        status
        os
        lastSessionAt
        comment
      }
    }
  }
`);

export type LiveState = 'connecting' | 'live' | 'offline';

const RETRY_MS = 1_000;

export function useLiveDevices(
  client: ApolloClient<object>,
  changeCursor: string | undefined,
): LiveState {
  const [state, setState] = useState<LiveState>('connecting');
  const last = useRef<string | undefined>(undefined);
  last.current ??= changeCursor;
  const started = last.current !== undefined;
  useEffect(() => {
    if (!started) return;
    let subscription: { unsubscribe(): void } | undefined;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const again = () => {
      subscription = undefined;
      if (!stopped && navigator.onLine) retry = setTimeout(subscribe, RETRY_MS);
    };
    const subscribe = () => {
      clearTimeout(retry);
      subscription?.unsubscribe();
      setState('connecting');
      subscription = client
        .subscribe({ query: DeviceChanges, variables: { after: last.current } })
        .subscribe({
          next: ({ data }) => {
            const change = data?.deviceChanges;
            if (!change) return;
            last.current = change.cursor;
            if (change.kind === 'REMOVED') {
              client.cache.evict({ id: client.cache.identify(change.device) });
            }
          },
          error: (error) => {
            const expired = JSON.stringify(error).includes('CURSOR_EXPIRED');
            if (expired) {
              void client.refetchQueries({ include: ['Devices'] });
              last.current = undefined;
              return;
            }
            again();
          },
          complete: again,
        });
    };
    const offAir = () => {
      clearTimeout(retry);
      subscription?.unsubscribe();
      subscription = undefined;
      socket.terminate();
      setState('offline');
    };
    const unlisten = [
      socket.on('connected', () => setState('live')),
      socket.on('closed', () => setState(navigator.onLine ? 'connecting' : 'offline')),
    ];
    window.addEventListener('offline', offAir);
    window.addEventListener('online', subscribe);
    subscribe();
    return () => {
      stopped = true;
      clearTimeout(retry);
      subscription?.unsubscribe();
      unlisten.forEach((off) => off());
      window.removeEventListener('offline', offAir);
      window.removeEventListener('online', subscribe);
    };
  }, [client, started]);
  return state;
}
