// A stock Apollo Gateway composing Latchkey (LATCHKEY_URL) and the subgraph
// of subgraph.mjs (PROFILES_URL) with IntrospectAndCompose, as shipped. It
// forwards the client's Authorization header and address to every
// subgraph, as a gateway in front of Latchkey must: Latchkey throttles per
// client address, and believes X-Forwarded-For from the gateway when the
// gateway is in its TRUSTED_PROXIES. It prints
// {"msg": "listening", "addr": URL} once it listens.
import { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';

const gateway = new ApolloGateway({
  supergraphSdl: new IntrospectAndCompose({
    subgraphs: [
      { name: 'latchkey', url: process.env.LATCHKEY_URL },
      { name: 'profiles', url: process.env.PROFILES_URL },
    ],
  }),
  buildService({ url }) {
    return new RemoteGraphQLDataSource({
      url,
      willSendRequest({ request, context }) {
        if (context.authorization) {
          request.http.headers.set('authorization', context.authorization);
        }
        if (context.clientAddress) {
          request.http.headers.set('x-forwarded-for', context.clientAddress);
        }
      },
    });
  },
});

// No stack traces in client errors: the test reads them as a client does.
const server = new ApolloServer({ gateway, includeStacktraceInErrorResponses: false });
const { url } = await startStandaloneServer(server, {
  listen: { host: '127.0.0.1', port: 0 },
  context: async ({ req }) => ({
    authorization: req.headers.authorization,
    clientAddress: req.socket.remoteAddress,
  }),
});
console.log(JSON.stringify({ msg: 'listening', addr: url }));
