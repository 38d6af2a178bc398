// Apollo Client's own automatic persisted queries against GRAPHQL_URL: PersistedQueryLink with
// GET for hashed queries, the API key on every request. Runs QUERY (with VARIABLES) twice and
// prints one JSON line: both answers' data and every HTTP exchange (method, whether the
// document was sent, status).
import { createHash } from 'node:crypto';
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';

const exchanges = [];
const fetchFn = async (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${process.env.API_KEY}`);
  const response = await fetch(input, { ...init, headers });
  const url = new URL(String(input));
  const sentDocument = url.searchParams.has('query') || String(init.body ?? '').includes('"query"');
  exchanges.push({ method: init.method ?? 'GET', sentDocument, status: response.status });
  return response;
};

const sha256 = (document) => createHash('sha256').update(document).digest('hex');
const client = new ApolloClient({
  cache: new InMemoryCache(),
  link: new PersistedQueryLink({ sha256, useGETForHashedQueries: true }).concat(
    new HttpLink({ uri: process.env.GRAPHQL_URL, fetch: fetchFn }),
  ),
});

const query = gql(process.env.QUERY);
const variables = JSON.parse(process.env.VARIABLES);
const answers = [];
for (let round = 0; round < 2; round += 1) {
  const { data } = await client.query({ query, variables, fetchPolicy: 'network-only' });
  answers.push(data);
}
console.log(JSON.stringify({ answers, exchanges }));
