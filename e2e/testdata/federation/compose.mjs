// Composes a supergraph with @apollo/composition, as rover and GraphOS do,
// from the subgraphs given as NAME=URL arguments. It prints one JSON
// object: the composition errors, the hints (each with the subgraphs it
// points at) and the supergraph SDL.
import { compose } from './supergraph.mjs';

const subgraphs = process.argv.slice(2).map((arg) => {
  const [name, url] = arg.split(/=(.*)/s);
  return { name, url };
});
const result = await compose(subgraphs);
console.log(JSON.stringify({
  errors: (result.errors ?? []).map((e) => e.message),
  hints: (result.hints ?? []).map((h) => ({
    code: h.definition.code,
    message: h.message,
    subgraphs: [...new Set((h.nodes ?? []).map((n) => n.subgraph).filter(Boolean))],
  })),
  supergraphSdl: result.supergraphSdl ?? '',
}));
