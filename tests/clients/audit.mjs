// The graphql-http server audit (GraphQL over HTTP conformance) against GRAPHQL_URL, with an API
// key added to every request. Prints one JSON line: every audit's id, name, status and reason.
import { auditServer } from 'graphql-http';

const url = process.env.GRAPHQL_URL;
const key = process.env.API_KEY;

const results = await auditServer({
  url,
  fetchFn: (input, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${key}`);
    return fetch(input, { ...init, headers });
  },
});

console.log(
  JSON.stringify({
    audits: results.map((result) => ({
      id: result.id,
      name: result.name,
      status: result.status,
      reason: result.status === 'ok' ? null : result.reason,
    })),
  }),
);
