// Composition of Latchkey with other subgraphs, shared by compose.mjs and
// gateway.mjs.
import { composeServices } from '@apollo/composition';
import { parse, print, visit } from 'graphql';

// fetchSubgraphs reads each subgraph's SDL from its _service { sdl }, as
// rover and Apollo Gateway's IntrospectAndCompose do.
export async function fetchSubgraphs(subgraphs) {
  const out = [];
  for (const { name, url } of subgraphs) {
    const resp = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ _service { sdl } }' }),
    });
    const body = await resp.json();
    if (!body.data?._service?.sdl) {
      throw new Error(`${name}: no _service.sdl in ${JSON.stringify(body)}`);
    }
    out.push({ name, url, typeDefs: parse(body.data._service.sdl) });
  }
  return out;
}

// compose composes the subgraphs with @apollo/composition.
export async function compose(subgraphs) {
  return composeServices(await fetchSubgraphs(subgraphs));
}

// The router-enforced authorization features: Apollo Router enforces them;
// Apollo Gateway refuses a supergraph that links them
// (UNSUPPORTED_LINKED_FEATURE), since it cannot.
const security = ['authenticated', 'requiresScopes'];

// withoutAuthorizationDirectives removes @authenticated and @requiresScopes,
// their definitions and their @link from a supergraph, so that Apollo
// Gateway accepts it. Latchkey enforces the same rules itself, with @auth,
// @hasRole and @selfOrRole, for every request that reaches it.
export function withoutAuthorizationDirectives(supergraphSdl) {
  const isSecurityLink = (node) =>
    node.name.value === 'link' &&
    node.arguments.some((a) => a.name.value === 'url' && security.some((s) => a.value.value?.includes(`/${s}/`)));
  return print(visit(parse(supergraphSdl), {
    Directive: (node) => (security.includes(node.name.value) || isSecurityLink(node) ? null : undefined),
    DirectiveDefinition: (node) => (security.includes(node.name.value) ? null : undefined),
    ScalarTypeDefinition: (node) => (security.some((s) => node.name.value.startsWith(`${s}__`)) ? null : undefined),
  }));
}
