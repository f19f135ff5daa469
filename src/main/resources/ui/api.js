// Talks to the operator: REST calls with the session's bearer token, and the live event stream
// (the legacy WebSocket ws/updates, which carries task events, task_progress and a status every
// two seconds). Nothing here reaches any other origin.

const TOKEN_KEY = 'vera.token';
const WS_PROTOCOL = 'vera.v1';
const TOKEN_PROTOCOL = 'base64url.bearer.authorization.k8s.io.';

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** An answer that was not 2xx: its status and the server's {"detail"}. */
export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

export async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  const bearer = token();
  if (bearer) headers.Authorization = 'Bearer ' + bearer;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'omit',
    cache: 'no-store',
  });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (e) {
    data = { detail: text };
  }
  if (!response.ok) {
    throw new ApiError(response.status, (data && data.detail) || response.statusText);
  }
  return data;
}

export const get = (path) => call('GET', path);
export const post = (path, body) => call('POST', path, body === undefined ? {} : body);
export const del = (path) => call('DELETE', path);

function base64url(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  bytes.forEach((b) => (binary += String.fromCharCode(b)));
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * The live stream. Listeners get every message ({type, data}); onState(true|false) says whether
 * the stream is connected. It reconnects with a growing pause, so an operator restart heals.
 */
export class Live {
  constructor() {
    this.listeners = new Set();
    this.stateListeners = new Set();
    this.connected = false;
    this.pause = 1000;
    this.stopped = false;
  }

  start() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = scheme + '//' + location.host + '/orchestrator/ws/updates';
    const bearer = token();
    // With a token the server selects vera.v1 and never the entry that carries the token; without
    // one (embedded mode, no auth) no subprotocol is offered, so none needs selecting.
    const socket = bearer
      ? new WebSocket(url, [WS_PROTOCOL, TOKEN_PROTOCOL + base64url(bearer)])
      : new WebSocket(url);
    this.socket = socket;
    socket.onopen = () => {
      this.pause = 1000;
      this.setState(true);
    };
    socket.onmessage = (message) => {
      let parsed;
      try {
        parsed = JSON.parse(message.data);
      } catch (e) {
        return;
      }
      this.listeners.forEach((listener) => listener(parsed));
    };
    socket.onclose = () => {
      this.setState(false);
      if (!this.stopped) {
        setTimeout(() => this.start(), this.pause);
        this.pause = Math.min(this.pause * 2, 15000);
      }
    };
  }

  setState(connected) {
    this.connected = connected;
    this.stateListeners.forEach((listener) => listener(connected));
  }

  on(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onState(listener) {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  stop() {
    this.stopped = true;
    if (this.socket) this.socket.close();
  }
}
