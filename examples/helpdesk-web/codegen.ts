// GraphQL Codegen's client preset: typed documents from the gateway's schema.
// CI reads the committed schema file; against a running gateway use
//   schema: { 'http://127.0.0.1:8080/schema.graphql': { headers: { authorization: `Bearer ${process.env.GATEWAY_TOKEN}` } } }
// (or the /graphql endpoint, which codegen introspects).
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: '../../schema.graphql',
  documents: ['src/**/*.tsx'],
  ignoreNoDocuments: true,
  generates: {
    './src/gql/': {
      preset: 'client',
      config: {
        // DateTime is RFC 3339 with an offset: a string `new Date()` reads.
        scalars: { DateTime: 'string', JSON: 'unknown' },
        enumsAsTypes: true,
      },
    },
  },
};

export default config;
