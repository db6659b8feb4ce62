// An Apollo Gateway composing Latchkey (LATCHKEY_URL) and the subgraph of
// subgraph.mjs (PROFILES_URL). It forwards the client's Authorization
// header to every subgraph, as a gateway in front of Latchkey must. It
// prints {"msg": "listening", "addr": URL} once it listens.
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';

import { compose, withoutAuthorizationDirectives } from './supergraph.mjs';

const subgraphs = [
  { name: 'latchkey', url: process.env.LATCHKEY_URL },
  { name: 'profiles', url: process.env.PROFILES_URL },
];

const gateway = new ApolloGateway({
  // IntrospectAndCompose, but without the router-only authorization
  // directives, which Apollo Gateway refuses.
  async supergraphSdl() {
    const result = await compose(subgraphs);
    if (result.errors?.length) {
      throw new Error(`composition failed: ${result.errors.map((e) => e.message).join('; ')}`);
    }
    return { supergraphSdl: withoutAuthorizationDirectives(result.supergraphSdl) };
  },
  buildService({ url }) {
    return new RemoteGraphQLDataSource({
      url,
      willSendRequest({ request, context }) {
        if (context.authorization) {
          request.http.headers.set('authorization', context.authorization);
        }
      },
    });
  },
});

// No stack traces in client errors: the test reads them as a client does.
const server = new ApolloServer({ gateway, includeStacktraceInErrorResponses: false });
const { url } = await startStandaloneServer(server, {
  listen: { host: '127.0.0.1', port: 0 },
  context: async ({ req }) => ({ authorization: req.headers.authorization }),
});
console.log(JSON.stringify({ msg: 'listening', addr: url }));
