// One Apollo Client for the page: the gateway's URL and a team token (from
// the build's environment, or saved by a sign-in step in localStorage),
// Relay-style paging for `devices`, and ids from the schema's Node
// interface, which Apollo's cache uses as is (`__typename` + `id`).
// Subscriptions go over graphql-transport-ws (the npm graphql-ws client).
import { ApolloClient, HttpLink, InMemoryCache, split } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition, relayStylePagination } from '@apollo/client/utilities';
import { createClient } from 'graphql-ws';

export const gatewayUrl =
  localStorage.getItem('gatewayUrl') ??
  import.meta.env.VITE_GATEWAY_URL ??
  'http://127.0.0.1:8080/graphql';

const token = localStorage.getItem('gatewayToken') ?? import.meta.env.VITE_GATEWAY_TOKEN ?? '';

// The page resubscribes from the last change it applied (live.tsx), so the
// socket client does not retry with a subscription's first variables.
export const socket = createClient({
  url: gatewayUrl.replace(/^http/, 'ws'),
  connectionParams: { authorization: `Bearer ${token}` },
  retryAttempts: 0,
});

const http = new HttpLink({
  uri: gatewayUrl,
  headers: { authorization: `Bearer ${token}` },
});

const isSubscription = ({ query }: { query: Parameters<typeof getMainDefinition>[0] }) => {
  const definition = getMainDefinition(query);
  return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
};

export const client = new ApolloClient({
  link: split(isSubscription, new GraphQLWsLink(socket), http),
  cache: new InMemoryCache({
    typePolicies: {
      // The root type is `Query`, as Apollo expects; one list per filter
      // and order, pages merged by cursor.
      Query: { fields: { devices: relayStylePagination(['filter', 'orderBy']) } },
    },
  }),
  // Apollo's clientAwareness headers: the gateway allows them by default.
  name: 'helpdesk-web',
  version: '0.1.0',
});
