// Latchkey's playground: GraphiQL with an example document and a fetcher
// that remembers the tokens of login, register and refreshToken, so later
// requests carry the access token without copy-paste.
import { StrictMode, useSyncExternalStore } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { setNonce } from 'get-nonce';
import 'graphiql/style.css';
import './playground.css';
import { exampleDocument, exampleVariables } from './example.js';
import { createSession } from './session.js';

// GraphiQL's dialogs add <style> elements (react-style-singleton); the
// page's Content-Security-Policy admits them by this request's nonce.
setNonce(document.querySelector('meta[property="csp-nonce"]')?.nonce);

const session = createSession(new URL('query', document.baseURI).href);

function TokenStatus() {
  const state = useSyncExternalStore(session.subscribe, session.snapshot);
  if (!state.accessToken) {
    return (
      <p className="latchkey-token" data-testid="token-status">
        No Bearer token yet: run <code>Register</code> or <code>Login</code>, and later requests
        send its <code>accessToken</code> as <code>Authorization: Bearer</code>.
      </p>
    );
  }
  return (
    <p className="latchkey-token" data-testid="token-status">
      Requests send <code>Authorization: Bearer</code> with the access token of{' '}
      <strong>{state.email}</strong> (from <code>{state.source}</code>) unless the headers pane
      sets its own.{' '}
      <button type="button" className="graphiql-un-styled latchkey-forget" onClick={session.forget}>
        Forget it
      </button>
    </p>
  );
}

// GraphiQL 4 ignores the variables of defaultTabs in the first tab, so the
// example variables go in as the initial value unless some are stored.
const initialVariables = localStorage.getItem('graphiql:variables') ?? exampleVariables;

function Playground() {
  return (
    <GraphiQL
      fetcher={session.fetcher}
      defaultTabs={[{ query: exampleDocument, variables: exampleVariables }]}
      variables={initialVariables}
      defaultEditorToolsVisibility="variables"
    >
      <GraphiQL.Logo>Latchkey</GraphiQL.Logo>
      <GraphiQL.Footer>
        <TokenStatus />
      </GraphiQL.Footer>
    </GraphiQL>
  );
}

createRoot(document.getElementById('graphiql')).render(
  <StrictMode>
    <Playground />
  </StrictMode>,
);
