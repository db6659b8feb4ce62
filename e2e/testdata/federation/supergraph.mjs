// Composition of Latchkey with other subgraphs, for compose.mjs.
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';

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
