// A real GraphQL client (graphql-request) runs a query and a mutation
// against a running gateway, as a frontend would.
//
//   cargo run --release -- --demo            # note the admin token
//   cd scripts && npm install --no-save graphql-request@7 graphql@16.11.0
//   URL=http://127.0.0.1:8080/graphql TOKEN=<admin token> node real-client.mjs
import { GraphQLClient, gql } from 'graphql-request';

const client = new GraphQLClient(process.env.URL ?? 'http://127.0.0.1:8080/graphql', {
  headers: { authorization: `Bearer ${process.env.TOKEN}` },
});

const { devices } = await client.request(gql`
  query Offline($first: Int!) {
    devices(first: $first, filter: { status: OFFLINE }, orderBy: { field: LAST_SESSION, direction: DESC }) {
      totalCount
      edges { node { name status lastSessionAt } }
    }
  }
`, { first: 3 });
console.log(`query: ${devices.totalCount} offline devices; newest: ${devices.edges.map((edge) => edge.node.name).join(', ')}`);

const name = devices.edges[0].node.name;
const { addComputerComment } = await client.request(gql`
  mutation Comment($name: String!, $comment: String!) {
    addComputerComment(input: { computerName: $name, comment: $comment }) { computerName comment }
  }
`, { name, comment: 'Checked by the real-client script' });
console.log(`mutation: ${addComputerComment.computerName} → "${addComputerComment.comment}"`);

const { device } = await client.request(gql`query ($name: String!) { device(name: $name) { comment } }`, { name });
if (device.comment !== 'Checked by the real-client script') throw new Error('the write is not visible to the next query');
console.log('read-your-writes: the next query shows the comment');
