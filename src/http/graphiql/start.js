// Starts GraphiQL against this gateway with the team token typed above.
// Subscriptions run over Server-Sent Events (POST /graphql accepting
// text/event-stream): no WebSocket client is bundled, and fetch can send
// the token header, which EventSource cannot.
(function () {
  var input = document.getElementById('token');
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  input.value = sessionStorage.getItem('remotepc-gateway-token') || '';

  // Whether the operation GraphiQL runs is a subscription.
  function isSubscription(params) {
    var text = params.query.replace(/#[^\n]*/g, '');
    var name = params.operationName;
    var pattern = name
      ? new RegExp('\\bsubscription\\s+' + name + '\\b')
      : /^\s*subscription\b/;
    return pattern.test(text);
  }

  // The `next` events of an event stream, as an async iterable.
  async function* events(params, headers) {
    var response = await fetch('/graphql', {
      method: 'POST',
      headers: Object.assign({}, headers, {
        'content-type': 'application/json',
        accept: 'text/event-stream',
      }),
      body: JSON.stringify(params),
    });
    if (!response.ok || !response.body) {
      yield await response.json();
      return;
    }
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = '';
    try {
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) return;
        buffer += decoder.decode(chunk.value, { stream: true });
        var end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          var block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          var event = '';
          var data = '';
          block.split('\n').forEach(function (line) {
            if (line.indexOf('event:') === 0) event = line.slice(6).trim();
            else if (line.indexOf('data:') === 0) data += line.slice(5).trim();
          });
          if (event === 'next') yield JSON.parse(data);
          else if (event === 'complete') return;
        }
      }
    } finally {
      reader.cancel().catch(function () {});
    }
  }

  function render() {
    var token = input.value.trim();
    sessionStorage.setItem('remotepc-gateway-token', token);
    var headers = token ? { authorization: 'Bearer ' + token } : {};
    var http = GraphiQL.createFetcher({ url: '/graphql', headers: headers });
    var fetcher = function (params, options) {
      return isSubscription(params) ? events(params, headers) : http(params, options);
    };
    root.render(React.createElement(GraphiQL, { fetcher: fetcher, key: token }));
  }
  // A form, so Enter in the token field applies it as the button does.
  document.getElementById('bar').addEventListener('submit', function (event) {
    event.preventDefault();
    render();
  });
  render();
})();
