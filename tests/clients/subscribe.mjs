// A graphql-ws client, as browser dashboards use it, against GRAPHQL_WS_URL: campaignStats of
// CAMPAIGN_ID with API_KEY in connectionParams. After the first message it prints {"ready": true}
// (the test then posts events); once `opened` reaches WANT_OPENED it tries a connection with
// BAD_KEY, and prints the report: every message with its arrival time, and that close's code.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const url = process.env.GRAPHQL_WS_URL;
const campaignId = process.env.CAMPAIGN_ID;
const wantOpened = Number(process.env.WANT_OPENED);
const timeoutMs = 30_000;
const query = `subscription($id: ID!) {
  campaignStats(campaignId: $id) { recipients sent opened openRate }
}`;

function connect(key, on = {}) {
  return createClient({
    url,
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${key}` },
    retryAttempts: 0,
    on,
  });
}

function withTimeout(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const messages = [];
const client = connect(process.env.API_KEY);
await withTimeout(
  new Promise((resolve, reject) => {
    client.subscribe(
      { query, variables: { id: campaignId } },
      {
        next: (message) => {
          messages.push({ at: performance.now() / 1000, ...message });
          if (messages.length === 1) console.log(JSON.stringify({ ready: true }));
          if (message.errors || message.data.campaignStats.opened >= wantOpened) resolve();
        },
        error: (error) => reject(error instanceof Error ? error : new Error(String(error.code))),
        complete: resolve,
      },
    );
  }),
  `opened to reach ${wantOpened}; messages: ${JSON.stringify(messages)}`,
);
await client.dispose();

// A wrong key: connection_init is refused and the socket closed with 4403.
const closed = await withTimeout(
  new Promise((resolve) => {
    const bad = connect(process.env.BAD_KEY, {
      closed: (event) => resolve({ code: event.code, reason: event.reason }),
    });
    bad.subscribe({ query, variables: { id: campaignId } }, {
      next: () => {},
      error: () => {},
      complete: () => {},
    });
  }),
  'the bad key to be refused',
);

console.log(JSON.stringify({ messages, badKeyClose: closed }));
