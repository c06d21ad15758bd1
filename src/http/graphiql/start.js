// Starts GraphiQL against this gateway with the team token typed above.
(function () {
  var input = document.getElementById('token');
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  input.value = sessionStorage.getItem('remotepc-gateway-token') || '';
  function render() {
    var token = input.value.trim();
    sessionStorage.setItem('remotepc-gateway-token', token);
    var fetcher = GraphiQL.createFetcher({
      url: '/graphql',
      headers: token ? { authorization: 'Bearer ' + token } : {},
    });
    root.render(React.createElement(GraphiQL, { fetcher: fetcher, key: token }));
  }
  // A form, so Enter in the token field applies it as the button does.
  document.getElementById('bar').addEventListener('submit', function (event) {
    event.preventDefault();
    render();
  });
  render();
})();
