// GraphiQL's bootstrap (strawberry's inline script, moved to a same-origin file for the CSP):
// queries over HTTP POST and subscriptions over graphql-ws (graphql-transport-ws) on the same URL.
"use strict";

const EXAMPLE_QUERY = `# Welcome to GraphiQL for campaign-graph
#
# Every operation needs an API key: put it in the Headers pane below as
#
#     {"Authorization": "Bearer <key>"}
#
# (subscriptions send the same header in graphql-ws's connection_init), then
# re-fetch the schema (the ⟳ button at the bottom left, or Shift-Ctrl-R) for the
# documentation and autocompletion.
#
# An example query:
#
#     { viewer { organization { name } } }
#
# Keyboard shortcuts:
#
#       Run Query:  Ctrl-Enter (or press the play button above)
#
#   Auto Complete:  Ctrl-Space (or just start typing)
#
`;

// Shown in the Headers pane until a person edits it (GraphiQL then keeps theirs in localStorage).
const HEADERS_TEMPLATE = '{\n  "Authorization": "Bearer <key>"\n}';

// URL parameters, for sharing queries.
const parameters = {};

for (const entry of window.location.search.slice(1).split("&")) {
  const eq = entry.indexOf("=");
  if (eq >= 0) {
    parameters[decodeURIComponent(entry.slice(0, eq))] = decodeURIComponent(entry.slice(eq + 1));
  }
}

function updateURL(data) {
  Object.assign(parameters, data);
  const newSearch =
    "?" +
    Object.keys(parameters)
      .filter((key) => Boolean(parameters[key]))
      .map((key) => encodeURIComponent(key) + "=" + encodeURIComponent(parameters[key]))
      .join("&");
  history.replaceState(null, null, newSearch);
}

const fetchURL = window.location.href.split("?")[0];

function httpUrlToWebSocketUrl(url) {
  const parsedURL = new URL(url);
  parsedURL.protocol = parsedURL.protocol === "http:" ? "ws:" : "wss:";
  parsedURL.hash = "";
  return parsedURL.toString();
}

const defaultHeaders = {};
const csrfToken = Cookies.get("csrftoken");

if (csrfToken) {
  defaultHeaders["x-csrftoken"] = csrfToken;
}

// createFetcher sends the Headers pane's headers with every HTTP request, and as
// connection_init's payload on the websocket (where the API key is checked).
const fetcher = GraphiQL.createFetcher({
  url: fetchURL,
  headers: defaultHeaders,
  subscriptionUrl: httpUrlToWebSocketUrl(fetchURL),
});

function GraphiQLWithExplorer() {
  const [query, setQuery] = React.useState(parameters.q || EXAMPLE_QUERY);
  const [variables, setVariables] = React.useState(parameters.variables);
  const [headers, setHeaders] = React.useState(parameters.headers);

  function onEditQuery(newQuery) {
    setQuery(newQuery);
    updateURL({ q: newQuery });
  }

  function onEditVariables(newVariables) {
    setVariables(newVariables);
    updateURL({ variables: newVariables });
  }

  function onEditHeaders(newHeaders) {
    setHeaders(newHeaders);
  }

  const explorerPlugin = GraphiQLPluginExplorer.explorerPlugin();

  return React.createElement(GraphiQL, {
    fetcher: fetcher,
    // The Headers pane is open from the start: nothing works without a key.
    defaultEditorToolsVisibility: "headers",
    defaultHeaders: HEADERS_TEMPLATE,
    plugins: [explorerPlugin],
    query: query,
    variables: variables,
    headers: headers,
    onEditQuery: onEditQuery,
    onEditVariables: onEditVariables,
    onEditHeaders: onEditHeaders,
    inputValueDeprecation: true,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: true,
  });
}

const root = ReactDOM.createRoot(document.getElementById("graphiql"));
root.render(React.createElement(GraphiQLWithExplorer));
