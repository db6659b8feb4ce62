// The playground's memory of the caller's tokens and its GraphiQL fetcher.
// Tokens live in this page only (never in storage): a reload forgets them.
import { parse } from 'graphql';

// createSession returns a fetcher that posts to endpoint, adds the
// remembered access token to requests whose headers do not set
// Authorization, and remembers the tokens that login, register and
// refreshToken return; subscribe and snapshot let React show the state.
export function createSession(endpoint) {
  let state = { accessToken: '', refreshToken: '', email: '', source: '' };
  const listeners = new Set();
  const set = (next) => {
    state = next;
    listeners.forEach((l) => l());
  };

  const remember = (data) => {
    for (const field of ['login', 'register', 'refreshToken']) {
      const payload = data?.[field];
      if (payload?.accessToken) {
        set({
          accessToken: payload.accessToken,
          refreshToken: payload.refreshToken || state.refreshToken,
          email: payload.user?.email || emailOf(payload.accessToken) || state.email,
          source: field,
        });
      }
    }
    if (data?.logout === true || data?.logoutAll === true) {
      forget();
    }
  };

  const forget = () => set({ accessToken: '', refreshToken: '', email: '', source: '' });

  const fetcher = async (params, opts) => {
    const headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
    for (const [k, v] of Object.entries(opts?.headers || {})) {
      headers[k] = String(v);
    }
    const hasAuth = Object.keys(headers).some((k) => k.toLowerCase() === 'authorization');
    if (!hasAuth && state.accessToken) {
      headers.Authorization = `Bearer ${state.accessToken}`;
    }
    const body = { ...params };
    if (state.refreshToken && body.variables?.refreshToken == null && declares(body, 'refreshToken')) {
      body.variables = { ...body.variables, refreshToken: state.refreshToken };
    }
    const res = await fetch(endpoint, { method: 'POST', headers, body: JSON.stringify(body) });
    const result = await res.json();
    remember(result?.data);
    return result;
  };

  return {
    fetcher,
    forget,
    subscribe(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    snapshot: () => state,
  };
}

// declares tells whether the operation to run declares the variable name.
function declares({ query, operationName }, name) {
  let doc;
  try {
    doc = parse(query);
  } catch {
    return false;
  }
  const ops = doc.definitions.filter((d) => d.kind === 'OperationDefinition');
  const op = operationName ? ops.find((d) => d.name?.value === operationName) : ops.length === 1 ? ops[0] : undefined;
  return Boolean(op?.variableDefinitions?.some((v) => v.variable.name.value === name));
}

// emailOf reads the email claim of an access token, for display only.
function emailOf(jwt) {
  try {
    const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part)).email || '';
  } catch {
    return '';
  }
}
