// The GraphQL client: urql with an auth exchange that sends the access token
// and, when Latchkey answers UNAUTHENTICATED with reason "expired", spends
// the refresh token once for all tabs and retries.
import { Client, fetchExchange, gql, type CombinedError, type Operation } from '@urql/core';
import { authExchange } from '@urql/exchange-auth';
import { reload, save, tokens, type Tokens } from './tokens';

/** endpoint is Latchkey's GraphQL URL, set at build time. */
export const endpoint: string = import.meta.env.VITE_LATCHKEY_URL ?? 'http://localhost:8080/query';

const REFRESH = gql<{ refreshToken: Tokens }, { refreshToken: string }>`
  mutation RefreshToken($refreshToken: String!) {
    refreshToken(input: { refreshToken: $refreshToken }) {
      accessToken
      refreshToken
      expiresAt
    }
  }
`;

/** expired tells whether Latchkey refused the access token for its age. */
export function expired(error: CombinedError): boolean {
  return error.graphQLErrors.some((e) => e.extensions?.code === 'UNAUTHENTICATED' && e.extensions?.reason === 'expired');
}

// The access token that Latchkey last refused as expired, in this tab.
let refused = '';

function bearerOf(op: Operation): string {
  const opts = typeof op.context.fetchOptions === 'function' ? op.context.fetchOptions() : op.context.fetchOptions;
  const h = new Headers(opts?.headers);
  return h.get('Authorization')?.replace(/^Bearer /, '') ?? '';
}

// withRefreshLock runs fn while no other tab of this origin runs it: Web Locks
// where the browser has them (all current ones do), else directly, where
// Latchkey's REFRESH_REUSE_INTERVAL still covers two tabs refreshing at once.
async function withRefreshLock(fn: () => Promise<void>): Promise<void> {
  if (navigator.locks) {
    await navigator.locks.request('latchkey-refresh', fn);
  } else {
    await fn();
  }
}

/** client is the app's one GraphQL client. */
export const client = new Client({
  url: endpoint,
  preferGetMethod: false,
  exchanges: [
    authExchange(async (utils) => ({
      addAuthToOperation(op) {
        const t = tokens();
        return t ? utils.appendHeaders(op, { Authorization: `Bearer ${t.accessToken}` }) : op;
      },
      didAuthError(error, op) {
        if (!expired(error)) {
          return false;
        }
        refused = bearerOf(op);
        return true;
      },
      async refreshAuth() {
        await withRefreshLock(async () => {
          const t = await reload();
          // Signed out meanwhile, or another tab has refreshed already: the
          // stored access token is not the one refused. Spending the refresh
          // token again would be a reuse.
          if (!t || t.accessToken !== refused) {
            return;
          }
          const r = await utils.mutate(REFRESH, { refreshToken: t.refreshToken });
          if (r.data?.refreshToken) {
            await save(r.data.refreshToken);
          } else if (r.error?.graphQLErrors.length) {
            // INVALID_REFRESH_TOKEN or REFRESH_TOKEN_REUSED: the session is over.
            await save(null);
          }
        });
      },
    })),
    fetchExchange,
  ],
});
