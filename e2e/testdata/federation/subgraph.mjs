// A second subgraph beside Latchkey: it extends Latchkey's User, by its
// id, with avatarUrl, and offers spotlight(id:) so that a gateway has to
// fetch the rest of a user from Latchkey's _entities. It prints
// {"msg": "listening", "addr": URL} on its first line of output once it listens.
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';

const typeDefs = parse(`
  extend schema
    @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])

  # No descriptions on User and its id: Latchkey's describe them, and
  # composition hints at differing ones.
  type User @key(fields: "id") {
    id: ID!
    "The user's picture."
    avatarUrl: String!
  }

  type Query {
    "Any user, by id: its other fields come from Latchkey."
    spotlight("The user's id." id: ID!): User
  }
`);

const resolvers = {
  Query: {
    spotlight: (_, { id }) => ({ id }),
  },
  User: {
    __resolveReference: ({ id }) => ({ id }),
    avatarUrl: ({ id }) => `https://avatars.example.com/${encodeURIComponent(id)}.png`,
  },
};

const server = new ApolloServer({ schema: buildSubgraphSchema({ typeDefs, resolvers }) });
const { url } = await startStandaloneServer(server, { listen: { host: '127.0.0.1', port: 0 } });
console.log(JSON.stringify({ msg: 'listening', addr: url }));
