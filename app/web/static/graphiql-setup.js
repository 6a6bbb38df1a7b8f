/*
 * GraphiQL against this server, with nothing loaded from elsewhere.
 *
 * Queries and mutations: POST to the endpoint with the headers of the header editor.
 * Subscriptions: a graphql-ws client (protocol graphql-transport-ws) on the same path, whose
 * connection_init payload (connectionParams) is the headers of the header editor, so
 * {"Authorization": "Bearer <token>"} authenticates subscriptions too. One client per set of
 * headers: changing the headers opens a new connection.
 *
 * Needs the globals React, ReactDOM, GraphiQL and graphqlWs (loaded before this file).
 */
(function () {
  "use strict";

  var root = document.getElementById("graphiql");
  var endpoint = root.getAttribute("data-endpoint") || "/graphql";
  var PLACEHOLDER = "Bearer <paste a token>";
  var DEFAULT_HEADERS = JSON.stringify({ Authorization: PLACEHOLDER }, null, 2);
  var DEFAULT_QUERY =
    "# Paste a token in the Headers tab below\n" +
    "# (python -m app seed-demo prints some),\n" +
    "# then run this query: the button or Ctrl-Enter.\n" +
    "\n" +
    "query Viewer {\n" +
    "  viewer {\n" +
    "    name\n" +
    "  }\n" +
    "}\n";

  var httpUrl = new URL(endpoint, window.location.href).toString();
  var wsUrl = (function () {
    var url = new URL(endpoint, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return url.toString();
  })();

  /* The editor's headers as a flat object of strings; the untouched placeholder is dropped. */
  function cleanHeaders(headers) {
    var result = {};
    if (!headers || typeof headers !== "object" || Array.isArray(headers)) return result;
    Object.keys(headers).forEach(function (name) {
      var value = headers[name];
      if (value === null || value === undefined || typeof value === "object") return;
      value = String(value);
      if (value.indexOf("<paste a token>") !== -1) return;
      result[name] = value;
    });
    return result;
  }

  function isSubscription(documentAST, operationName) {
    if (!documentAST || !documentAST.definitions) return false;
    var operations = documentAST.definitions.filter(function (d) {
      return d.kind === "OperationDefinition";
    });
    var chosen = operationName
      ? operations.filter(function (d) {
          return d.name && d.name.value === operationName;
        })[0]
      : operations.length === 1
        ? operations[0]
        : undefined;
    return Boolean(chosen && chosen.operation === "subscription");
  }

  function httpFetch(params, headers) {
    var requestHeaders = Object.assign(
      {
        Accept: "application/graphql-response+json, application/json",
        "Content-Type": "application/json",
      },
      headers
    );
    return fetch(httpUrl, {
      method: "POST",
      headers: requestHeaders,
      body: JSON.stringify(params),
      credentials: "same-origin",
    }).then(function (response) {
      return response.text().then(function (text) {
        try {
          return JSON.parse(text);
        } catch (e) {
          throw new Error("HTTP " + response.status + " " + response.statusText + ": " + text);
        }
      });
    });
  }

  var ws = { key: null, client: null };

  function wsClient(headers) {
    var key = JSON.stringify(headers);
    if (ws.client && ws.key === key) return ws.client;
    if (ws.client) ws.client.dispose();
    ws.key = key;
    ws.client = graphqlWs.createClient({
      url: wsUrl,
      connectionParams: headers,
      lazy: true,
      retryAttempts: 0,
    });
    return ws.client;
  }

  /* A CloseEvent (or anything else) as an Error that GraphiQL can show. */
  function asError(error) {
    if (error instanceof Error) return error;
    if (Array.isArray(error)) return { errors: error };
    if (error && typeof error.code === "number") {
      return new Error(
        "WebSocket closed with code " + error.code + (error.reason ? ": " + error.reason : "")
      );
    }
    return new Error("WebSocket error (is the server reachable?)");
  }

  function wsSubscribe(params, headers) {
    var client = wsClient(headers);
    return {
      subscribe: function (observer) {
        var dispose = client.subscribe(params, {
          next: function (value) {
            observer.next(value);
          },
          error: function (error) {
            var err = asError(error);
            if (err instanceof Error) observer.error(err);
            else {
              observer.next(err);
              observer.complete();
            }
          },
          complete: function () {
            observer.complete();
          },
        });
        return { unsubscribe: dispose };
      },
    };
  }

  function fetcher(params, options) {
    var headers = cleanHeaders(options && options.headers);
    if (isSubscription(options && options.documentAST, params.operationName)) {
      return wsSubscribe(params, headers);
    }
    return httpFetch(params, headers);
  }

  window.graphiqlFetcher = fetcher; /* for debugging from the console */

  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: DEFAULT_QUERY,
      defaultHeaders: DEFAULT_HEADERS,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: "headers",
    })
  );
})();
