// The persisted-documents manifest of this page's operations, as GraphQL
// Codegen's client preset writes it (sha256 ids), for the gateway's
// `trusted_documents`. The gateway's tests use the copy in
// tests/fixtures/trusted/: `npm run persisted` rewrites it.
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: '../../schema.graphql',
  documents: ['src/**/*.tsx'],
  generates: {
    './dist-persisted/': {
      preset: 'client',
      presetConfig: { persistedDocuments: { hashAlgorithm: 'sha256' } },
      config: { scalars: { DateTime: 'string', JSON: 'unknown' } },
    },
  },
};

export default config;
