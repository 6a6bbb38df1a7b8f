/*
 * GraphiQL against this server, with nothing loaded from elsewhere.
 *
 * Queries and mutations: POST to the endpoint with the headers of the header editor.
 * Subscriptions: a graphql-ws client (protocol graphql-transport-ws) on the same path, whose
 * connection_init payload (connectionParams) is the headers of the header editor, so
 * {"Authorization": "Bearer <token>"} authenticates subscriptions too. One client per set of
 * headers: changing the headers opens a new connection. A refused subscription shows the
 * server's message, as a GraphQL response.
 *
 * Which operation runs, and so which of the two carries it, is read from the text being run:
 * GraphiQL's own parse of the editor may be up to 100 ms old.
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

  function operationsOf(documentAST) {
    return documentAST.definitions.filter(function (d) {
      return d.kind === "OperationDefinition";
    });
  }

  function named(operations, name) {
    return operations.filter(function (d) {
      return d.name && d.name.value === name;
    })[0];
  }

  /* The query editor, for its cursor (only the open tab's editor is in the page). */
  function queryEditor() {
    var element = document.querySelector(".graphiql-query-editor .CodeMirror");
    return element ? element.CodeMirror : null;
  }

  /*
   * The operation to run, taken from the text being sent. GraphiQL parses the editor 100 ms
   * after each change, and a run within those 100 ms comes with the previous text's operation
   * name and document. The choice is the one GraphiQL makes on a fresh parse: Ctrl-Enter in the
   * query editor runs the operation under the cursor; else the selected operation if it is
   * still there, else the one in its place (it was renamed), else the first.
   */
  function currentOperation(query, operationName, staleAST) {
    var operations;
    try {
      operations = operationsOf(GraphiQL.GraphQL.parse(query));
    } catch (e) {
      return null; /* the server answers the syntax error */
    }
    var editor = queryEditor();
    if (editor && editor.hasFocus()) {
      var at = editor.indexFromPos(editor.getCursor());
      var underCursor = operations.filter(function (d) {
        return d.loc.start <= at && at <= d.loc.end;
      })[0];
      if (underCursor) return underCursor;
    }
    var stale = staleAST ? operationsOf(staleAST) : [];
    return (
      named(operations, operationName) ||
      operations[stale.indexOf(named(stale, operationName))] ||
      operations[0] ||
      null
    );
  }

  /*
   * What went wrong, as a GraphQL response: GraphiQL shows that as it is, where it would show
   * an Error with its JavaScript stack.
   */
  function failed(message, extensions) {
    var error = { message: message };
    if (extensions) error.extensions = extensions;
    return { errors: [error] };
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
    }).then(
      function (response) {
        return response.text().then(function (text) {
          try {
            return JSON.parse(text);
          } catch (e) {
            return failed("HTTP " + response.status + " " + response.statusText + ": " + text);
          }
        });
      },
      function (error) {
        return failed("The server could not be reached (" + error.message + ")");
      }
    );
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

  /* A subscription's failure: the server's errors, or the reason it closed the socket with. */
  function subscriptionFailure(error) {
    if (Array.isArray(error)) return { errors: error };
    if (error && typeof error.code === "number") {
      var reason = error.reason || "The WebSocket closed with code " + error.code;
      return failed(reason, { closeCode: error.code });
    }
    return failed(error instanceof Error ? error.message : "WebSocket error (is the server up?)");
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
            observer.next(subscriptionFailure(error));
            observer.complete();
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
    var operation = currentOperation(
      params.query,
      params.operationName,
      options && options.documentAST
    );
    var request = Object.assign({}, params, {
      operationName: operation && operation.name ? operation.name.value : undefined,
    });
    if (operation && operation.operation === "subscription") {
      return wsSubscribe(request, headers);
    }
    return httpFetch(request, headers);
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
