// The approval page: reads the request with the person's token, shows
// what would change, and posts the decision with the digest of what it
// showed, so a request changed since cannot be approved by this page.
(function () {
  'use strict';
  var id = location.pathname.split('/').pop();
  var tokenKey = 'remotepc-gateway-token';
  var input = document.getElementById('token');
  var state = document.getElementById('state');
  var shown = null;
  input.value = sessionStorage.getItem(tokenKey) || '';

  function headers() {
    return { authorization: 'Bearer ' + input.value.trim(), 'content-type': 'application/json' };
  }

  function message(body, fallback) {
    return (body && body.errors && body.errors[0] && body.errors[0].message) || fallback;
  }

  function cell(row, text, missing) {
    var td = document.createElement('td');
    td.textContent = text == null ? '' : String(text);
    if (missing) td.className = 'missing';
    row.appendChild(td);
  }

  function fill(table, items, columns) {
    var body = table.querySelector('tbody');
    body.textContent = '';
    items.forEach(function (item) {
      var row = document.createElement('tr');
      columns.forEach(function (column, index) {
        var text = index === 0 && !item.found ? item[column] + ' (not in the account)' : item[column];
        cell(row, text, !item.found);
      });
      body.appendChild(row);
    });
    table.hidden = items.length === 0;
  }

  function show(request) {
    shown = request;
    document.getElementById('title').textContent = request.title;
    document.getElementById('account').textContent = request.account;
    document.getElementById('expires').textContent = new Date(request.expiresAt).toLocaleString();
    document.getElementById('group').textContent = request.group || '';
    document.getElementById('group-line').hidden = !request.group;
    fill(document.getElementById('devices'), request.devices, ['name', 'status', 'os', 'lastSessionAt']);
    fill(document.getElementById('users'), request.users, ['username', 'firstName']);
    document.getElementById('arguments').textContent = JSON.stringify(request.arguments, null, 2);
    var open = request.state === 'pending';
    document.getElementById('request').hidden = false;
    document.getElementById('approve').disabled = !open;
    document.getElementById('decline').disabled = !open;
    state.textContent = open ? 'Review the request, then approve or decline it.' : 'This request is ' + request.state + '.';
  }

  function load() {
    sessionStorage.setItem(tokenKey, input.value.trim());
    state.textContent = 'Loading…';
    fetch('/approve/' + encodeURIComponent(id) + '/request', { headers: headers() })
      .then(function (response) { return response.json().then(function (body) { return [response.ok, body]; }); })
      .then(function (answer) {
        if (answer[0]) show(answer[1]);
        else state.textContent = message(answer[1], 'This request cannot be shown.');
      })
      .catch(function () { state.textContent = 'The gateway did not answer.'; });
  }

  function decide(approve) {
    if (!shown) return;
    document.getElementById('approve').disabled = true;
    document.getElementById('decline').disabled = true;
    state.textContent = approve ? 'Approving…' : 'Declining…';
    fetch('/approve/' + encodeURIComponent(id) + '/decision', {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({ approve: approve, digest: shown.digest })
    })
      .then(function (response) { return response.json().then(function (body) { return [response.ok, body]; }); })
      .then(function (answer) {
        if (!answer[0]) { state.textContent = message(answer[1], 'Refused.'); return; }
        state.textContent = answer[1].status === 'approved' ? 'Approved: the change ran.' : 'Declined: nothing changed.';
        var result = document.getElementById('result');
        result.textContent = answer[1].result ? JSON.stringify(answer[1].result, null, 2) : '';
        result.hidden = !answer[1].result;
      })
      .catch(function () { state.textContent = 'The gateway did not answer; reload to see whether the decision was taken.'; });
  }

  document.getElementById('sign-in').addEventListener('submit', function (event) { event.preventDefault(); load(); });
  document.getElementById('approve').addEventListener('click', function () { decide(true); });
  document.getElementById('decline').addEventListener('click', function () { decide(false); });
  if (input.value) load();
})();
