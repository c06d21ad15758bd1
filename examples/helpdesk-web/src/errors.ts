// Every gateway error carries `extensions.code`; the page branches on it
// rather than on messages. Refusals (401, 429…) come as GraphQL errors in
// the response body too, so Apollo reports them as graphQLErrors.
import { ApolloError } from '@apollo/client';

export function explain(error: ApolloError): string {
  const first = error.graphQLErrors[0];
  const code = first?.extensions?.code;
  switch (code) {
    case 'FORBIDDEN':
      return `Not allowed: your team needs the scope "${String(first?.extensions?.requiredScope ?? '')}".`;
    case 'UNAUTHENTICATED':
      return 'Your sign-in is missing or expired.';
    case 'NOT_FOUND':
      return `Not found: ${String((first?.extensions?.names as string[] | undefined)?.join(', ') ?? '')}`;
    case 'BAD_USER_INPUT':
      return first?.message ?? 'Invalid input.';
    case 'RATE_LIMITED':
      return 'Too many requests; try again in a moment.';
    case 'UPSTREAM_UNAVAILABLE':
    case 'UPSTREAM_TIMEOUT':
      return 'RemotePC is not answering; try again later.';
    default:
      return error.networkError ? 'The gateway cannot be reached.' : (first?.message ?? error.message);
  }
}
