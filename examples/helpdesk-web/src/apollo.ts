// One Apollo Client for the page: the gateway's URL and a team token (from
// the build's environment, or saved by a sign-in step in localStorage),
// Relay-style paging for `devices`, and ids from the schema's Node
// interface, which Apollo's cache uses as is (`__typename` + `id`).
import { ApolloClient, HttpLink, InMemoryCache } from '@apollo/client';
import { relayStylePagination } from '@apollo/client/utilities';

export const gatewayUrl =
  localStorage.getItem('gatewayUrl') ??
  import.meta.env.VITE_GATEWAY_URL ??
  'http://127.0.0.1:8080/graphql';

const token = localStorage.getItem('gatewayToken') ?? import.meta.env.VITE_GATEWAY_TOKEN ?? '';

export const client = new ApolloClient({
  link: new HttpLink({
    uri: gatewayUrl,
    headers: { authorization: `Bearer ${token}` },
  }),
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
