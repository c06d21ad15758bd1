// The approval page: signs the person in (authorization code with PKCE at
// the company's identity provider, when the gateway names one; else a
// pasted token), reads the request with their token, shows what would
// change, and posts the decision with the digest of what it showed, so a
// request changed since cannot be approved by this page.
(function () {
  'use strict';
  var tokenKey = 'remotepc-gateway-token';
  var pendingKey = 'remotepc-gateway-sign-in';
  var input = document.getElementById('token');
  var state = document.getElementById('state');
  var shown = null;
  var signedIn = location.pathname === '/approve/signed-in';
  var id = signedIn ? null : location.pathname.split('/').pop();
  input.value = sessionStorage.getItem(tokenKey) || '';

  function headers() {
    return { authorization: 'Bearer ' + input.value.trim(), 'content-type': 'application/json' };
  }

  function message(body, fallback) {
    return (body && body.errors && body.errors[0] && body.errors[0].message) || fallback;
  }

  function base64url(bytes) {
    var text = '';
    bytes.forEach(function (byte) { text += String.fromCharCode(byte); });
    return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function randomText() {
    return base64url(crypto.getRandomValues(new Uint8Array(32)));
  }

  function discovery(issuer) {
    return fetch(issuer + '/.well-known/openid-configuration').then(function (response) { return response.json(); });
  }

  // Sends the person to the provider; they come back to /approve/signed-in.
  function signIn(config) {
    var verifier = randomText();
    var nonce = randomText();
    crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)).then(function (hash) {
      return discovery(config.issuer).then(function (provider) {
        sessionStorage.setItem(pendingKey, JSON.stringify({ verifier: verifier, state: nonce, back: location.pathname }));
        var query = new URLSearchParams({
          response_type: 'code', client_id: config.clientId, scope: config.scope,
          redirect_uri: location.origin + '/approve/signed-in', state: nonce,
          code_challenge: base64url(new Uint8Array(hash)), code_challenge_method: 'S256'
        });
        location.assign(provider.authorization_endpoint + '?' + query.toString());
      });
    }).catch(function () { state.textContent = 'The identity provider did not answer.'; });
  }

  // Back from the provider: the code for a token, then back to the request.
  function finishSignIn() {
    var params = new URLSearchParams(location.search);
    var pending = JSON.parse(sessionStorage.getItem(pendingKey) || 'null');
    sessionStorage.removeItem(pendingKey);
    if (!pending || params.get('state') !== pending.state || !params.get('code')) {
      state.textContent = 'The sign-in did not come back from this page: open the approval link again.';
      return;
    }
    fetch('/approve/sign-in').then(function (response) { return response.json(); }).then(function (config) {
      return discovery(config.issuer).then(function (provider) {
        return fetch(provider.token_endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'authorization_code', code: params.get('code'), client_id: config.clientId,
            redirect_uri: location.origin + '/approve/signed-in', code_verifier: pending.verifier
          }).toString()
        });
      });
    }).then(function (response) { return response.json(); }).then(function (tokens) {
      if (!tokens.access_token) throw new Error('no token');
      sessionStorage.setItem(tokenKey, tokens.access_token);
      location.replace(pending.back);
    }).catch(function () { state.textContent = 'The sign-in failed: open the approval link again.'; });
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

  if (signedIn) {
    state.textContent = 'Signing in…';
    document.getElementById('sign-in').hidden = true;
    finishSignIn();
    return;
  }
  document.getElementById('sign-in').addEventListener('submit', function (event) { event.preventDefault(); load(); });
  document.getElementById('approve').addEventListener('click', function () { decide(true); });
  document.getElementById('decline').addEventListener('click', function () { decide(false); });
  fetch('/approve/sign-in').then(function (response) { return response.ok ? response.json() : null; }).then(function (config) {
    if (!config) return;
    document.getElementById('company').hidden = false;
    document.getElementById('sign-in-button').addEventListener('click', function () { signIn(config); });
  }).catch(function () {});
  if (input.value) load();
})();
