// The page: a sign-in form, and once signed in, who the user is. Every tab
// follows the shared tokens: signing in or out in one tab shows in all.
import { gql, type CombinedError } from '@urql/core';
import { client } from './client';
import { onOtherTab, reload, save, tokens, type Tokens } from './tokens';
import './style.css';

interface User {
  id: string;
  email: string;
  displayName: string | null;
  roles: string[];
}

const ME = gql<{ me: User | null }>`
  query Me {
    me {
      id
      email
      displayName
      roles
    }
  }
`;

const payload = `accessToken refreshToken expiresAt user { id email displayName roles }`;

const LOGIN = gql<{ login: Tokens & { user: User } }, { email: string; password: string }>`
  mutation Login($email: String!, $password: String!) {
    login(input: { email: $email, password: $password }) { ${payload} }
  }
`;

const REGISTER = gql<{ register: Tokens & { user: User } }, { email: string; password: string; displayName: string | null }>`
  mutation Register($email: String!, $password: String!, $displayName: String) {
    register(input: { email: $email, password: $password, displayName: $displayName }) { ${payload} }
  }
`;

const LOGOUT = gql<{ logout: boolean }, { refreshToken: string }>`
  mutation Logout($refreshToken: String) {
    logout(refreshToken: $refreshToken)
  }
`;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = $<HTMLFormElement>('signed-out');
const signedIn = $<HTMLElement>('signed-in');
const status = $<HTMLElement>('status');
const errorBox = $<HTMLElement>('error');

function showSignedOut(): void {
  status.textContent = 'Signed out.';
  status.dataset.state = 'signed-out';
  form.hidden = false;
  signedIn.hidden = true;
}

function showUser(u: User): void {
  status.textContent = `Signed in as ${u.email}.`;
  status.dataset.state = 'signed-in';
  $('email').textContent = u.email;
  $('name').textContent = u.displayName ?? '—';
  $('roles').textContent = u.roles.join(', ');
  $('expires').textContent = tokens()?.expiresAt ?? '';
  form.hidden = true;
  signedIn.hidden = false;
}

function showError(e: CombinedError | Error | undefined): void {
  if (!e) {
    errorBox.textContent = '';
    return;
  }
  const gqlErr = 'graphQLErrors' in e ? e.graphQLErrors[0] : undefined;
  const code = gqlErr?.extensions?.code;
  errorBox.textContent = gqlErr ? `${gqlErr.message}${code ? ` (${code})` : ''}` : `Network error: ${e.message}`;
}

// refresh asks Latchkey who the stored token belongs to and shows it. An
// expired token is refreshed on the way by the client.
async function refresh(): Promise<void> {
  if (!tokens()) {
    showSignedOut();
    return;
  }
  status.setAttribute('aria-busy', 'true');
  const r = await client.query(ME, {}, { requestPolicy: 'network-only' }).toPromise();
  status.removeAttribute('aria-busy');
  if (r.data?.me) {
    showError(undefined);
    showUser(r.data.me);
    return;
  }
  if (r.error?.graphQLErrors.some((e) => e.extensions?.code === 'UNAUTHENTICATED')) {
    // Revoked, or the refresh failed: this session is over.
    await save(null);
  }
  showError(r.error);
  if (!tokens()) {
    showSignedOut();
  }
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const data = new FormData(form);
  const email = String(data.get('email'));
  const password = String(data.get('password'));
  const register = (ev.submitter as HTMLButtonElement | null)?.value === 'register';
  const r = register
    ? await client.mutation(REGISTER, { email, password, displayName: String(data.get('displayName')) || null }).toPromise()
    : await client.mutation(LOGIN, { email, password }).toPromise();
  const p = register ? r.data && 'register' in r.data && r.data.register : r.data && 'login' in r.data && r.data.login;
  if (!p) {
    showError(r.error);
    return;
  }
  await save(p);
  form.reset();
  showError(undefined);
  showUser(p.user);
});

$('reload').addEventListener('click', () => void refresh());

$('logout').addEventListener('click', async () => {
  const t = tokens();
  await save(null);
  showSignedOut();
  if (t) {
    // Ends the session on the server, so its refresh token is dead too.
    const r = await client.mutation(LOGOUT, { refreshToken: t.refreshToken }).toPromise();
    showError(r.error);
  }
});

// Another tab signed in or out: follow it. (A refresh there changes
// nothing here: this tab reads the new tokens when it next asks.)
onOtherTab(() => {
  if (!tokens()) {
    showSignedOut();
  } else if (status.dataset.state !== 'signed-in') {
    void refresh();
  }
});
void reload().then(refresh);
