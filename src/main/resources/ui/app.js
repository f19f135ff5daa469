// The Vera dashboard: plain ES modules, Preact with htm templates (no build step), uPlot for plots.
import { html, render, useState, useEffect, useRef, useCallback } from './htm-preact-3.1.1.js';
import { get, post, del, token, setToken, ApiError, Live } from './api.js';
import { TimeChart, DayChart } from './chart.js';

const live = new Live();

// ---- small helpers ------------------------------------------------------------------------------

const fmt = new Intl.NumberFormat('en-US');
const num = (n) => (n === null || n === undefined ? '–' : fmt.format(n));
const rate = (n) => (n >= 10 ? Math.round(n) : Math.round(n * 10) / 10);
const money = (n) => (n === null || n === undefined ? '–' : '$' + Number(n).toFixed(n < 10 ? 4 : 2));

function ago(epochSeconds) {
  if (!epochSeconds) return '–';
  return duration(Date.now() / 1000 - epochSeconds) + ' ago';
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  seconds = Math.max(0, seconds);
  if (seconds < 1) return Math.round(seconds * 1000) + ' ms';
  if (seconds < 60) return seconds.toFixed(seconds < 10 ? 1 : 0) + ' s';
  if (seconds < 3600) return Math.floor(seconds / 60) + ' min ' + Math.floor(seconds % 60) + ' s';
  if (seconds < 86400) return Math.floor(seconds / 3600) + ' h ' + Math.floor((seconds % 3600) / 60) + ' min';
  return Math.floor(seconds / 86400) + ' d ' + Math.floor((seconds % 86400) / 3600) + ' h';
}

function when(epochSeconds) {
  if (!epochSeconds) return '–';
  return new Date(epochSeconds * 1000).toLocaleString();
}

const UNFINISHED = ['pending', 'queued', 'running'];

/** Calls fn now and whenever deps change; returns [data, error, reload]. */
function useData(fn, deps) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const seq = useRef(0);
  const load = useCallback(() => {
    const mine = ++seq.current;
    return fn().then(
      (d) => {
        if (mine === seq.current) {
          setData(d);
          setError(null);
        }
      },
      (e) => {
        if (mine === seq.current) setError(e);
      }
    );
  }, deps);
  useEffect(() => {
    load();
  }, [load]);
  return [data, error, load];
}

/** Calls fn on every live message for which accept(message) is true, at most every `wait` ms. */
function useLive(fn, accept, wait = 400) {
  const timer = useRef(null);
  const latest = useRef(fn);
  const accepts = useRef(accept);
  latest.current = fn;
  accepts.current = accept;
  useEffect(() => {
    const off = live.on((message) => {
      if (!accepts.current(message) || timer.current) return;
      timer.current = setTimeout(() => {
        timer.current = null;
        latest.current(message);
      }, wait);
    });
    return () => {
      off();
      clearTimeout(timer.current);
      timer.current = null;
    };
  }, []);
}

function useRoute() {
  const [hash, setHash] = useState(location.hash || '#/overview');
  useEffect(() => {
    const onChange = () => setHash(location.hash || '#/overview');
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  const [path, queryString] = hash.slice(1).split('?');
  return { parts: path.split('/').filter(Boolean), query: new URLSearchParams(queryString || '') };
}

function Badge({ value }) {
  return html`<span class=${'badge ' + (value || '')}>${value || '–'}</span>`;
}

/** A progress bar; with no fraction (work that cannot tell how much is left) a moving stripe. */
function ProgressBar({ fraction, label, text }) {
  if (fraction === null || fraction === undefined) {
    return html`<div class="bar unknown" role="progressbar" aria-valuetext=${text || 'in progress'} aria-label=${label || 'progress'}>
      <span></span>
    </div>`;
  }
  const percent = Math.round(fraction * 100);
  return html`<div
    class="bar"
    role="progressbar"
    aria-valuemin="0"
    aria-valuemax="100"
    aria-valuenow=${percent}
    aria-label=${label || 'progress'}
  >
    <span style=${{ width: percent + '%' }}></span>
  </div>`;
}

/** What a progress report says in a few characters: its percent, or "…" when it has none. */
const percentText = (progress) =>
  progress.fraction === null || progress.fraction === undefined ? '…' : Math.round(progress.fraction * 100) + '%';

function ErrorNote({ error }) {
  if (!error) return null;
  const text =
    error instanceof ApiError && error.status === 403
      ? 'Not allowed: ' + error.message
      : error.message || String(error);
  return html`<div class="error-box" role="alert">${text}</div>`;
}

function Stat({ label, value, sub }) {
  return html`<div class="card">
    <div class="label">${label}</div>
    <div class="value">${value}</div>
    ${sub ? html`<div class="sub">${sub}</div>` : null}
  </div>`;
}

// ---- overview -----------------------------------------------------------------------------------

function Overview() {
  const [overview, error, reload] = useData(() => get('/ui/api/overview'), []);
  const [series, , reloadSeries] = useData(() => get('/ui/api/series'), []);
  useLive(reload, (m) => m.type === 'status_update' || m.type.startsWith('task_'), 1000);
  useEffect(() => {
    const timer = setInterval(reloadSeries, 10000);
    return () => clearInterval(timer);
  }, []);
  if (error) return html`<${ErrorNote} error=${error} />`;
  if (!overview) return html`<p class="muted">Loading…</p>`;
  const t = overview.totals;
  const gated = overview.pools.filter((p) => p.cpu_gated);
  const times = series ? series.t : [];
  return html`
    <div class="cards">
      <${Stat} label="Queued" value=${num(t.queued)} />
      <${Stat} label="Running" value=${num(t.running)} />
      <${Stat} label="Succeeded" value=${num(t.succeeded)} />
      <${Stat} label="Failed" value=${num(t.failed)} />
      <${Stat}
        label="Host CPU"
        value=${Math.round(overview.cpu_percent) + '%'}
        sub=${gated.length
          ? 'CPU gate holds ' + gated.map((p) => p.name).join(', ')
          : 'no pool is held by its CPU gate'}
      />
    </div>
    <section class="panel" aria-labelledby="plots-title">
      <h2 id="plots-title" class="visually-hidden">The last hour</h2>
      ${times.length < 2
        ? html`<p class="empty">Plots appear after the first samples (one every ${series ? series.interval_seconds : 10} s, kept for an hour).</p>`
        : html`<div class="charts">
            <${TimeChart}
              title="Throughput, tasks finished per minute"
              times=${times}
              series=${[{ label: 'finished/min', values: series.finished_per_minute }]}
              summary=${'latest ' + num(series.finished_per_minute[series.finished_per_minute.length - 1])}
            />
            <${TimeChart}
              title="Queue depth and running tasks"
              times=${times}
              series=${[
                { label: 'queued', values: series.queued },
                { label: 'running', values: series.running },
              ]}
              summary=${'latest ' + num(series.queued[series.queued.length - 1]) + ' queued'}
            />
          </div>`}
    </section>
    <section class="panel" aria-labelledby="pools-title">
      <h2 id="pools-title">Pools</h2>
      <div class="wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Pool</th>
              <th scope="col">Type</th>
              <th scope="col" class="num">Replicas</th>
              <th scope="col" class="num">Ready</th>
              <th scope="col" class="num">Queued</th>
              <th scope="col" class="num">Running</th>
              <th scope="col" class="num">Succeeded/min</th>
              <th scope="col" class="num">Failed/min</th>
              <th scope="col" class="num">Oldest queued</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            ${overview.pools.map(
              (p) => html`<tr key=${p.name}>
                <td><a href=${'#/tasks?pool=' + encodeURIComponent(p.name)}>${p.name}</a></td>
                <td>${p.task_type || p.kind}</td>
                <td class="num">${p.replicas === undefined ? '–' : num(p.replicas)}</td>
                <td class="num">${p.ready === undefined ? '–' : num(p.ready)}</td>
                <td class="num">${num(p.queued)}</td>
                <td class="num">${num(p.running)}</td>
                <td class="num">${num(rate(p.succeeded_per_minute))}</td>
                <td class="num">${num(rate(p.failed_per_minute))}</td>
                <td class="num">${p.oldest_queued_seconds === null ? '–' : duration(p.oldest_queued_seconds)}</td>
                <td>
                  ${p.suspended
                    ? html`<${Badge} value="suspended" />`
                    : p.cpu_gated
                      ? html`<span class="badge warn">CPU gate</span>`
                      : html`<span class="badge ok">active</span>`}
                </td>
              </tr>`
            )}
          </tbody>
        </table>
      </div>
    </section>
  `;
}

// ---- tasks --------------------------------------------------------------------------------------

const STATES = ['pending', 'queued', 'running', 'completed', 'failed', 'cancelled'];
const PRIORITIES = ['critical', 'high', 'normal', 'low', 'background'];
const PAGE = 50;

function Tasks({ query }) {
  const [filters, setFilters] = useState({
    state: query.get('state') || '',
    pool: query.get('pool') || '',
    handler: query.get('handler') || '',
    priority: query.get('priority') || '',
    q: query.get('q') || '',
  });
  const [sort, setSort] = useState({ by: 'created', order: 'desc' });
  const [offset, setOffset] = useState(0);
  const params = new URLSearchParams();
  Object.entries(filters).forEach(([k, v]) => v && params.set(k, v));
  params.set('sort', sort.by);
  params.set('order', sort.order);
  params.set('limit', PAGE);
  params.set('offset', offset);
  const url = '/ui/api/tasks?' + params;
  const [page, error, reload] = useData(() => get(url), [url]);
  useLive(reload, (m) => m.type.startsWith('task_'), 500);

  const set = (field) => (e) => {
    setOffset(0);
    setFilters({ ...filters, [field]: e.target.value });
  };
  const sortBy = (by) => () => {
    setOffset(0);
    setSort(sort.by === by ? { by, order: sort.order === 'desc' ? 'asc' : 'desc' } : { by, order: 'desc' });
  };
  const header = (by, label, cls) => html`<th
    scope="col"
    class=${cls || ''}
    aria-sort=${sort.by === by ? (sort.order === 'desc' ? 'descending' : 'ascending') : 'none'}
  >
    <button class="sort" onClick=${sortBy(by)}>
      ${label} ${sort.by === by ? (sort.order === 'desc' ? '↓' : '↑') : ''}
    </button>
  </th>`;

  return html`
    <form class="filters" role="search" onSubmit=${(e) => e.preventDefault()}>
      <label>State
        <select value=${filters.state} onChange=${set('state')}>
          <option value="">any</option>
          ${STATES.map((s) => html`<option value=${s}>${s}</option>`)}
        </select>
      </label>
      <label>Priority
        <select value=${filters.priority} onChange=${set('priority')}>
          <option value="">any</option>
          ${PRIORITIES.map((s) => html`<option value=${s}>${s}</option>`)}
        </select>
      </label>
      <label>Pool <input value=${filters.pool} onChange=${set('pool')} placeholder="any" /></label>
      <label>Handler <input value=${filters.handler} onChange=${set('handler')} placeholder="e.g. compute.sum" /></label>
      <label>Search id or name
        <input type="search" value=${filters.q} onInput=${set('q')} placeholder="id, handler, description" />
      </label>
    </form>
    <${ErrorNote} error=${error} />
    <section class="panel" aria-label="Tasks">
      <div class="wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Task</th>
              ${header('handler', 'Handler')}
              ${header('phase', 'State')}
              ${header('priority', 'Priority')}
              <th scope="col">Pool</th>
              <th scope="col">Progress</th>
              <th scope="col" class="num">Attempts</th>
              ${header('created', 'Created')}
              ${header('duration', 'Duration', 'num')}
            </tr>
          </thead>
          <tbody>
            ${page && page.tasks.length === 0
              ? html`<tr><td colspan="9" class="empty">No task matches.</td></tr>`
              : null}
            ${page &&
            page.tasks.map(
              (t) => html`<tr key=${t.task_id} data-task=${t.task_id}>
                <td class="mono clip"><a href=${'#/tasks/' + t.task_id}>${t.task_id}</a></td>
                <td>${t.name}</td>
                <td><${Badge} value=${t.status} /></td>
                <td>${t.priority}</td>
                <td>${t.pool || '–'}</td>
                <td>
                  ${t.progress
                    ? html`<div class="progress-cell">
                        <${ProgressBar} fraction=${t.progress.fraction} text=${t.progress.message} label=${'progress of ' + t.task_id} />
                        <small title=${t.progress.message || ''}>${percentText(t.progress)}</small>
                      </div>`
                    : html`<span class="muted">–</span>`}
                </td>
                <td class="num">${t.attempts}</td>
                <td title=${when(t.created_at)}>${ago(t.created_at)}</td>
                <td class="num">${t.duration_ms === null ? '–' : duration(t.duration_ms / 1000)}</td>
              </tr>`
            )}
          </tbody>
        </table>
      </div>
      ${page &&
      html`<div class="pager">
        <span aria-live="polite">
          ${page.total === 0 ? '0 tasks' : num(offset + 1) + '–' + num(Math.min(offset + PAGE, page.total)) + ' of ' + num(page.total)}
          ${page.complete === false ? ' (still reading older finished tasks)' : ''}
        </span>
        <span class="buttons">
          <button disabled=${offset === 0} onClick=${() => setOffset(Math.max(0, offset - PAGE))}>Previous</button>
          <button disabled=${offset + PAGE >= page.total} onClick=${() => setOffset(offset + PAGE)}>Next</button>
        </span>
      </div>`}
    </section>
  `;
}

function TaskDetail({ id, can, toast }) {
  const [task, error, reload] = useData(() => get('/ui/api/tasks/' + encodeURIComponent(id)), [id]);
  const [busy, setBusy] = useState(false);
  useLive(reload, (m) => m.type.startsWith('task_') && m.data && m.data.task_id === id, 200);

  const act = (what) => async () => {
    setBusy(true);
    try {
      const answer = await post('/orchestrator/tasks/' + encodeURIComponent(id) + '/' + what);
      if (what === 'retry') {
        toast('Resubmitted as ' + answer.task_id);
        location.hash = '#/tasks/' + answer.task_id;
      } else {
        toast('Task cancelled');
        reload();
      }
    } catch (e) {
      toast(e.message);
    } finally {
      setBusy(false);
    }
  };

  if (error) return html`<${ErrorNote} error=${error} />`;
  if (!task) return html`<p class="muted">Loading…</p>`;
  const unfinished = UNFINISHED.includes(task.status);
  const retryable = task.status === 'failed' || task.status === 'cancelled';
  return html`
    <div class="detail-head">
      <a href="#/tasks" class="muted">← Tasks</a>
      <h1>${task.task_id}</h1>
      <${Badge} value=${task.status} />
      <div class="actions">
        ${unfinished && can.cancel_tasks
          ? html`<button class="danger" disabled=${busy} onClick=${act('cancel')}>Cancel task</button>`
          : null}
        ${retryable && can.create_tasks
          ? html`<button class="primary" disabled=${busy} onClick=${act('retry')}>Retry</button>`
          : null}
      </div>
    </div>
    ${task.progress
      ? html`<div class="big-progress">
          <${ProgressBar} fraction=${task.progress.fraction} text=${task.progress.message} label="task progress" />
          ${task.progress.fraction === null || task.progress.fraction === undefined ? null : html`<strong>${percentText(task.progress)}</strong>`}
          <span class="muted">${task.progress.message || ''}</span>
        </div>`
      : null}
    <div class="grid2">
      <section class="panel">
        <h2>Summary</h2>
        <dl class="facts">
          <dt>Handler</dt><dd class="mono">${task.name}</dd>
          <dt>Priority</dt><dd>${task.priority}</dd>
          <dt>Pool</dt><dd>${task.pool || '–'} <span class="muted">(${task.task_type})</span></dd>
          <dt>Attempts</dt><dd>${task.attempts} of ${task.max_retries + 1}</dd>
          <dt>Worker</dt><dd class="mono">${task.worker_id || '–'}</dd>
          <dt>Created</dt><dd>${when(task.created_at)}</dd>
          <dt>Queued</dt><dd>${when(task.queued_at)}</dd>
          <dt>Started</dt><dd>${when(task.started_at)}</dd>
          <dt>Finished</dt><dd>${when(task.completed_at)}</dd>
          <dt>Duration</dt><dd>${task.duration_ms === null ? '–' : duration(task.duration_ms / 1000)}</dd>
          <dt>Timeout</dt><dd>${task.timeout} s</dd>
          ${task.pending_reason ? html`<dt>Waiting</dt><dd>${task.pending_reason}</dd>` : null}
          ${task.usage
            ? html`<dt>Tokens</dt><dd>${num(task.usage.tokens_in)} in, ${num(task.usage.tokens_out)} out</dd>
                <dt>Cost</dt><dd>${money(task.usage.cost_usd)}</dd>
                <dt>Latency</dt><dd>${task.usage.latency_ms === null ? '–' : Math.round(task.usage.latency_ms) + ' ms'}</dd>`
            : null}
        </dl>
      </section>
      <section class="panel">
        <h2>${task.error ? 'Error' : 'Result'}</h2>
        ${task.error
          ? html`<div class="error-box"><strong>${task.error_type}</strong>: ${task.error}</div>`
          : task.result === null
            ? html`<p class="muted">No result yet.</p>`
            : html`<pre class="json" tabindex="0" aria-label="result">${JSON.stringify(task.result, null, 2)}</pre>`}
      </section>
      <section class="panel">
        <h2>Payload</h2>
        <pre class="json" tabindex="0" aria-label="payload">${JSON.stringify(task.payload, null, 2)}</pre>
      </section>
      <section class="panel">
        <h2>Kubernetes Events</h2>
        ${task.events_error ? html`<p class="muted">${task.events_error}</p>` : null}
        ${task.events.length === 0
          ? html`<p class="muted">No Events (they are recorded for failures, retries and cancellation).</p>`
          : html`<table>
              <thead><tr><th scope="col">Type</th><th scope="col">Reason</th><th scope="col">Message</th><th scope="col">Last seen</th></tr></thead>
              <tbody>
                ${task.events.map(
                  (e) => html`<tr>
                    <td><span class=${'badge ' + (e.type === 'Warning' ? 'warn' : '')}>${e.type}</span></td>
                    <td>${e.reason}</td><td>${e.message}</td><td>${e.last_seen || '–'}</td>
                  </tr>`
                )}
              </tbody>
            </table>`}
      </section>
    </div>
  `;
}

// ---- queue --------------------------------------------------------------------------------------

function Queue() {
  const [queue, error, reload] = useData(() => get('/ui/api/queue'), []);
  useLive(reload, (m) => m.type.startsWith('task_') || m.type === 'status_update', 1000);
  if (error) return html`<${ErrorNote} error=${error} />`;
  if (!queue) return html`<p class="muted">Loading…</p>`;
  return html`<section class="panel" aria-label="Waiting tasks">
    <p class="muted">
      ${num(queue.total)} task(s) waiting. Each pool leases in priority order, then oldest first.
    </p>
    <div class="wrap">
      <table>
        <thead>
          <tr>
            <th scope="col" class="num">Position</th>
            <th scope="col">Task</th>
            <th scope="col">Handler</th>
            <th scope="col">Priority</th>
            <th scope="col">Pool</th>
            <th scope="col" class="num">Waiting</th>
            <th scope="col">Why it waits</th>
          </tr>
        </thead>
        <tbody>
          ${queue.tasks.length === 0 ? html`<tr><td colspan="7" class="empty">Nothing waits.</td></tr>` : null}
          ${queue.tasks.map(
            (t) => html`<tr key=${t.task_id}>
              <td class="num">${t.position === null ? '–' : t.position}</td>
              <td class="mono clip"><a href=${'#/tasks/' + t.task_id}>${t.task_id}</a></td>
              <td>${t.name}</td>
              <td>${t.priority}</td>
              <td>${t.pool || '–'}</td>
              <td class="num">${t.wait_seconds < 1 ? 'just now' : duration(t.wait_seconds)}</td>
              <td>${t.reason}</td>
            </tr>`
          )}
        </tbody>
      </table>
    </div>
  </section>`;
}

// ---- compute ------------------------------------------------------------------------------------

function ResourceStats({ id }) {
  const [stats, error, reload] = useData(
    () => get('/orchestrator/infrastructure/stats/resources/' + encodeURIComponent(id)),
    [id]
  );
  useEffect(() => {
    const timer = setInterval(reload, 3000);
    return () => clearInterval(timer);
  }, [id]);
  if (error) return html`<${ErrorNote} error=${error} />`;
  if (!stats) return html`<p class="muted">Reading stats…</p>`;
  return html`<div class="cards">
    <${Stat} label="CPU" value=${stats.cpu_percent === null ? '–' : stats.cpu_percent.toFixed(1) + '%'} />
    <${Stat}
      label="Memory"
      value=${stats.memory_used_mb === null ? '–' : Math.round(stats.memory_used_mb) + ' MB'}
      sub=${stats.memory_limit_mb ? 'of ' + Math.round(stats.memory_limit_mb) + ' MB' : ''}
    />
    <${Stat} label="Network in" value=${stats.network_rx_bytes === null ? '–' : num(stats.network_rx_bytes) + ' B'} />
    <${Stat} label="Network out" value=${stats.network_tx_bytes === null ? '–' : num(stats.network_tx_bytes) + ' B'} />
  </div>`;
}

function Compute({ can, toast }) {
  const [list, error, reload] = useData(() => get('/ui/api/compute'), []);
  const [selected, setSelected] = useState(null);
  const [image, setImage] = useState('');
  const [cpu, setCpu] = useState('1');
  const [memory, setMemory] = useState('512');
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const timer = setInterval(reload, 5000);
    return () => clearInterval(timer);
  }, []);

  const provision = async (e) => {
    e.preventDefault();
    setBusy(true);
    try {
      const body = { spec: { cpu_cores: Number(cpu), memory_mb: Number(memory) } };
      if (image) body.image = image;
      await post('/orchestrator/infrastructure/resources/docker/provision', body);
      toast('Docker container provisioned');
      reload();
    } catch (err) {
      toast(err.message);
    } finally {
      setBusy(false);
    }
  };
  const remove = (r) => async () => {
    if (!confirm('Delete ' + r.name + '?')) return;
    try {
      await del('/orchestrator/infrastructure/resources/' + encodeURIComponent(r.resource_id || r.name));
      toast(r.name + ' is being removed');
      reload();
    } catch (err) {
      toast(err.message);
    }
  };

  if (error) return html`<${ErrorNote} error=${error} />`;
  if (!list) return html`<p class="muted">Loading…</p>`;
  return html`
    <section class="panel" aria-label="Compute resources">
      <div class="wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th><th scope="col">Type</th><th scope="col">Phase</th>
              <th scope="col">Host</th><th scope="col">Capacity</th><th scope="col">Current task</th>
              <th scope="col" class="num">Tasks</th><th scope="col">Last used</th>
              <th scope="col" class="num">Idle</th><th scope="col"><span class="visually-hidden">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            ${list.resources.length === 0
              ? html`<tr><td colspan="10" class="empty">No compute resources.</td></tr>`
              : null}
            ${list.resources.map(
              (r) => html`<tr key=${r.name}>
                <td><button class="sort" aria-pressed=${selected === r.name} onClick=${() => setSelected(r.name)}>${r.name}</button></td>
                <td>${r.type}</td>
                <td><${Badge} value=${r.phase} /></td>
                <td class="mono">${r.address || r.provider || '–'}</td>
                <td>${r.capacity.cpu_cores ?? '–'} CPU, ${r.capacity.memory_mb ?? '–'} MB</td>
                <td class="mono clip">${r.current_task ? html`<a href=${'#/tasks/' + r.current_task}>${r.current_task}</a>` : '–'}</td>
                <td class="num">${num(r.total_tasks)}</td>
                <td>${r.last_used ? new Date(r.last_used).toLocaleString() : '–'}</td>
                <td class="num">${r.idle_seconds === null ? '–' : duration(r.idle_seconds)}</td>
                <td>${can.delete_resources ? html`<button class="danger" onClick=${remove(r)} aria-label=${'Delete ' + r.name}>Delete</button>` : null}</td>
              </tr>`
            )}
          </tbody>
        </table>
      </div>
    </section>
    ${selected
      ? html`<section class="panel" aria-label=${'Live stats of ' + selected}>
          <h2>Live stats of ${selected}</h2>
          <${ResourceStats} id=${selected} />
        </section>`
      : null}
    ${can.create_resources
      ? html`<section class="panel">
          <h2>Provision a Docker container</h2>
          <form class="row" onSubmit=${provision}>
            <label>Image <input value=${image} onInput=${(e) => setImage(e.target.value)} placeholder="the default image" /></label>
            <label>CPU cores <input type="number" min="0.1" step="0.1" value=${cpu} onInput=${(e) => setCpu(e.target.value)} /></label>
            <label>Memory (MB) <input type="number" min="128" step="128" value=${memory} onInput=${(e) => setMemory(e.target.value)} /></label>
            <button class="primary" disabled=${busy}>Provision</button>
          </form>
        </section>`
      : null}
  `;
}

// ---- providers ----------------------------------------------------------------------------------

function Providers() {
  const [list, error, reload] = useData(() => get('/ui/api/providers'), []);
  useEffect(() => {
    const timer = setInterval(reload, 10000);
    return () => clearInterval(timer);
  }, []);
  if (error) return html`<${ErrorNote} error=${error} />`;
  if (!list) return html`<p class="muted">Loading…</p>`;
  if (list.providers.length === 0) {
    return html`<section class="panel"><p class="empty">No Providers in this namespace.</p></section>`;
  }
  return html`<section class="panel" aria-label="Providers">
    <div class="wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Provider</th><th scope="col">Type</th><th scope="col">Ready</th>
            <th scope="col" class="num">Requests</th><th scope="col" class="num">Failed</th>
            <th scope="col" class="num">Tokens in</th><th scope="col" class="num">Tokens out</th>
            <th scope="col" class="num">Avg latency</th><th scope="col" class="num">Spend this month</th>
            <th scope="col">Budget</th>
          </tr>
        </thead>
        <tbody>
          ${list.providers.map((p) => {
            const u = p.usage || {};
            const budget = p.limits && p.limits.monthly_budget_usd;
            const spent = u.month_cost_usd || 0;
            return html`<tr key=${p.name}>
              <td><strong>${p.name}</strong>${p.default_model ? html`<div class="muted mono">${p.default_model}</div>` : null}</td>
              <td>${p.type}</td>
              <td title=${p.ready_message || ''}>
                <span class=${'badge ' + (p.ready ? 'ok' : 'bad')}>${p.ready ? 'Ready' : 'Not ready'}</span>
              </td>
              <td class="num">${num(u.requests)}</td>
              <td class="num">${num(u.failed)}</td>
              <td class="num">${num(u.tokens_in)}</td>
              <td class="num">${num(u.tokens_out)}</td>
              <td class="num">${u.average_latency_ms ? Math.round(u.average_latency_ms) + ' ms' : '–'}</td>
              <td class="num">${money(spent)}</td>
              <td>
                ${budget
                  ? html`<${AgainstBudget} spent=${spent} budget=${budget} label=${'budget used by ' + p.name} />`
                  : html`<span class="muted">no limit</span>`}
              </td>
            </tr>`;
          })}
        </tbody>
      </table>
    </div>
  </section>
  ${list.providers.filter((p) => p.this_month && !HOSTS.includes(p.type)).map((p) => html`<${ProviderMonth} key=${p.name} provider=${p} />`)}`;
}

/** Docker hosts and Proxmox clusters run machines; they take no calls, so they have no spend. */
const HOSTS = ['Docker', 'Proxmox'];

function monthName(month) {
  return new Date(month + '-01T00:00:00Z').toLocaleDateString('en-US', { month: 'long', year: 'numeric', timeZone: 'UTC' });
}

/** A spend figure against its budget: a bar when there is a budget, else the figure alone. */
function AgainstBudget({ spent, budget, label }) {
  if (!budget) return html`<span>${money(spent)} <span class="muted">(no limit)</span></span>`;
  const share = (100 * spent) / budget;
  return html`<div class="progress-cell">
    <div class=${'bar' + (spent > budget ? ' over' : '')} role="progressbar" aria-valuemin="0" aria-valuemax="100"
      aria-valuenow=${Math.min(100, Math.round(share))} aria-label=${label}>
      <span style=${{ width: Math.min(100, share) + '%' }}></span>
    </div>
    <small>${money(spent)} of ${money(budget)}</small>
  </div>`;
}

/** One provider's month: spend per day against its daily budget, and calls and spend per model. */
function ProviderMonth({ provider }) {
  const m = provider.this_month;
  const limits = provider.limits || {};
  const today = m.days.length ? m.days[m.days.length - 1] : null;
  const spent = Number(m.totals.cost_usd);
  const title = provider.name + ': spend per day, ' + monthName(m.month);
  const summary = m.days.filter((d) => Number(d.cost_usd) > 0).map((d) => d.day + ' ' + money(Number(d.cost_usd))).join(', ') || 'no spend';
  return html`<section class="panel" aria-label=${'Spend of ' + provider.name + ' in ' + monthName(m.month)}>
    <div class="month-head">
      <div><div class="muted">This month</div><${AgainstBudget} spent=${spent} budget=${limits.monthly_budget_usd} label=${'monthly budget used by ' + provider.name} /></div>
      <div><div class="muted">Today</div><${AgainstBudget} spent=${today ? Number(today.cost_usd) : 0} budget=${limits.daily_budget_usd} label=${'daily budget used by ' + provider.name} /></div>
      <div><div class="muted">Calls this month</div><strong>${num(m.totals.requests)}</strong>${m.totals.failed ? html` <span class="muted">(${num(m.totals.failed)} failed)</span>` : null}</div>
    </div>
    <${DayChart} title=${title} days=${m.days} budget=${limits.daily_budget_usd} summary=${summary} />
    ${m.models.length === 0
      ? html`<p class="empty">No calls this month.</p>`
      : html`<div class="wrap">
          <table>
            <caption class="visually-hidden">Calls and spend of ${provider.name} per model in ${monthName(m.month)}</caption>
            <thead>
              <tr>
                <th scope="col">Model</th><th scope="col" class="num">Requests</th><th scope="col" class="num">Failed</th>
                <th scope="col" class="num">Tokens in</th><th scope="col" class="num">Tokens out</th>
                <th scope="col" class="num">Spend</th><th scope="col" class="num">Share</th>
              </tr>
            </thead>
            <tbody>
              ${m.models.map((row) => html`<tr key=${row.model}>
                <td class="mono">${row.model}</td>
                <td class="num">${num(row.requests)}</td>
                <td class="num">${num(row.failed)}</td>
                <td class="num">${num(row.tokens_in)}</td>
                <td class="num">${num(row.tokens_out)}</td>
                <td class="num">${money(Number(row.cost_usd))}</td>
                <td class="num">${spent > 0 ? Math.round((100 * Number(row.cost_usd)) / spent) + ' %' : '–'}</td>
              </tr>`)}
            </tbody>
          </table>
        </div>`}
  </section>`;
}

// ---- shell --------------------------------------------------------------------------------------

function Login({ error, onToken }) {
  const [value, setValue] = useState('');
  return html`<main class="login panel" id="main">
    <h1>Sign in to Vera</h1>
    <p>
      Paste a Kubernetes bearer token (a ServiceAccount token, or <code>kubectl create token NAME</code>).
      It is kept in this browser tab only and sent to this
      operator alone; what you may see and do follows your RBAC permissions.
    </p>
    ${error ? html`<${ErrorNote} error=${error} />` : null}
    <form class="form" onSubmit=${(e) => { e.preventDefault(); onToken(value.trim()); }}>
      <label>Bearer token <input type="password" autocomplete="off" value=${value} onInput=${(e) => setValue(e.target.value)} required /></label>
      <button class="primary">Sign in</button>
    </form>
  </main>`;
}

const PAGES = [
  { id: 'overview', title: 'Overview', needs: 'list_pools' },
  { id: 'tasks', title: 'Tasks' },
  { id: 'queue', title: 'Queue' },
  { id: 'compute', title: 'Compute', needs: 'list_resources' },
  { id: 'providers', title: 'Providers', needs: 'list_providers' },
];

function App() {
  const [me, setMe] = useState(null);
  const [authError, setAuthError] = useState(null);
  const [connected, setConnected] = useState(false);
  const [message, setMessage] = useState(null);
  const route = useRoute();

  const signIn = useCallback(() => {
    get('/ui/api/permissions').then(
      (answer) => {
        setMe(answer);
        setAuthError(null);
      },
      (e) => {
        setMe(null);
        setAuthError(e);
      }
    );
  }, []);
  useEffect(signIn, []);
  useEffect(() => {
    if (!me) return undefined;
    const off = live.onState(setConnected);
    live.stopped = false;
    live.start();
    return () => {
      off();
      live.stop();
    };
  }, [me]);

  const toast = useCallback((text) => {
    setMessage(text);
    setTimeout(() => setMessage(null), 4000);
  }, []);

  if (!me) {
    if (authError && (authError.status === 401 || authError.status === 403)) {
      return html`<${Login}
        error=${token() ? authError : null}
        onToken=${(value) => {
          setToken(value);
          signIn();
        }}
      />`;
    }
    return authError
      ? html`<main class="login panel"><${ErrorNote} error=${authError} /><button onClick=${signIn}>Try again</button></main>`
      : html`<p class="boot">Loading…</p>`;
  }

  const can = me.can;
  const visible = PAGES.filter((p) => !p.needs || can[p.needs]);
  const pageId = route.parts[0] || 'overview';
  const page = visible.find((p) => p.id === pageId) || visible[0];
  let body;
  let title = page.title;
  if (page.id === 'tasks' && route.parts[1]) {
    title = 'Task';
    body = html`<${TaskDetail} id=${route.parts[1]} key=${route.parts[1]} can=${can} toast=${toast} />`;
  } else if (page.id === 'overview') body = html`<${Overview} />`;
  else if (page.id === 'tasks') body = html`<${Tasks} query=${route.query} key=${route.query.toString()} />`;
  else if (page.id === 'queue') body = html`<${Queue} />`;
  else if (page.id === 'compute') body = html`<${Compute} can=${can} toast=${toast} />`;
  else body = html`<${Providers} />`;

  return html`
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById('main').focus(); }}>Skip to content</a>
    <div class="shell">
      <nav class="side" aria-label="Dashboard">
        <div class="brand"><img src="/ui/assets/favicon.svg" alt="" /> Vera</div>
        ${visible.map(
          (p) => html`<a href=${'#/' + p.id} aria-current=${p.id === page.id ? 'page' : undefined}>${p.title}</a>`
        )}
        <div class="foot">
          ${me.user ? html`<div>Signed in as <strong>${me.user}</strong></div>` : html`<div>Local, no sign-in</div>`}
          <div>Namespace ${me.namespace}</div>
          ${me.auth
            ? html`<div><button class="sort" onClick=${() => { setToken(null); location.reload(); }}>Sign out</button></div>`
            : null}
        </div>
      </nav>
      <main class="main" id="main" tabindex="-1">
        <div class="topbar">
          <h1>${title}</h1>
          <span class="live" role="status">
            <span class=${'dot ' + (connected ? 'on' : 'off')}></span>
            ${connected ? 'Live' : 'Reconnecting…'}
          </span>
        </div>
        ${body}
      </main>
    </div>
    ${message ? html`<div class="toast" role="status">${message}</div>` : null}
  `;
}

render(html`<${App} />`, document.getElementById('app'));
