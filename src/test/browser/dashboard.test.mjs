// Drives Debian's chromium through the Vera dashboard. DashboardBrowserTest starts an operator and
// runs this script with:
//   VERA_URL     the operator's REST base URL (http://127.0.0.1:PORT)
//   VERA_MODE    "open" (embedded mode, no sign-in) or "viewer" (cluster auth, a user who may read
//                tasks but not patch them)
//   VERA_TOKEN   the viewer's bearer token (viewer mode)
//   VERA_ADMIN_TOKEN  a token that may do everything, for REST calls the script makes (viewer mode)
//   VERA_HELD_POOL    a suspended pool, for the queue page's reasons (open mode)
//   VERA_STREAMED_TASK  a provider task streaming slowly, for its tokens so far (open mode)
//   VERA_SHOTS   where screenshots go
// It prints one line per check and exits non-zero on the first failure.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const base = process.env.VERA_URL;
const mode = process.env.VERA_MODE || 'open';
const shots = process.env.VERA_SHOTS || 'target/dashboard-screenshots';
const adminToken = process.env.VERA_ADMIN_TOKEN;
mkdirSync(shots, { recursive: true });

const origin = new URL(base).origin;
const outside = [];
const consoleErrors = [];
let allowedConsole = () => false;

async function rest(method, path, body) {
  const headers = { 'Content-Type': 'application/json' };
  if (adminToken) headers.Authorization = 'Bearer ' + adminToken;
  const response = await fetch(base + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
  return JSON.parse(text);
}

function check(name) {
  console.log('ok - ' + name);
}

const profile = mkdtempSync(join(tmpdir(), 'vera-chromium-'));
// A fresh profile each run (launchPersistentContext passes it as --user-data-dir).
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1366, height: 800 },
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});

let failed = false;
try {
  // Every request the page makes must stay on the operator's origin; anything else is recorded
  // and refused, so the page shows what it would look like offline.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith('data:') || url.startsWith('blob:')) {
      return route.continue();
    }
    outside.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error' && !allowedConsole(message.text())) {
      consoleErrors.push(message.text());
    }
  });
  page.on('pageerror', (error) => consoleErrors.push('page error: ' + error.message));
  page.on('websocket', (socket) => {
    if (!socket.url().startsWith(origin.replace(/^http/, 'ws'))) outside.push(socket.url());
  });

  const shot = async (name, fullPage = false) => {
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(shots, name + '.png'), fullPage });
  };

  if (mode === 'open') {
    await openMode(page, shot);
  } else if (mode === 'paging') {
    await pagingMode(page, shot);
  } else {
    await viewerMode(page, shot);
  }

  assert.deepEqual(outside, [], 'requests that left the operator: ' + outside.join(', '));
  check('no request left the operator');
  assert.deepEqual(consoleErrors, [], 'console errors: ' + consoleErrors.join(' | '));
  check('no console errors');
} catch (error) {
  failed = true;
  console.log('not ok - ' + (error.stack || error.message));
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

async function openMode(page, shot) {
  await page.goto(base + '/ui');
  await page.getByRole('heading', { name: 'Pools' }).waitFor();
  await page.getByRole('cell', { name: 'general', exact: true }).waitFor();
  check('overview lists the pools');
  await shot('overview');

  // Keyboard only: Tab reaches the navigation with a visible focus ring, Enter follows a link.
  await page.locator('body').focus();
  let focused = null;
  for (let i = 0; i < 10 && focused?.text !== 'Tasks'; i++) {
    await page.keyboard.press('Tab');
    focused = await page.evaluate(() => {
      const el = document.activeElement;
      const style = getComputedStyle(el);
      return { text: el.textContent.trim(), ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0 };
    });
  }
  assert.equal(focused?.text, 'Tasks', 'Tab never reached the Tasks link');
  assert.ok(focused.ring, 'the focused link shows no focus ring');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Tasks' }).waitFor();
  check('the navigation works from the keyboard, with a visible focus ring');
  await page.goto(base + '/ui#/overview');
  await page.getByRole('heading', { name: 'Pools' }).waitFor();

  // A streamed provider task shows about how many tokens arrived while it streams.
  const streamed = process.env.VERA_STREAMED_TASK;
  if (streamed) {
    await page.goto(base + '/ui#/tasks/' + streamed);
    await page.getByText(/streaming: about \d+ tokens so far/).waitFor({ timeout: 30000 });
    await page.getByRole('progressbar', { name: 'task progress' }).waitFor();
    check('a streamed provider task shows the tokens so far');
    await shot('task-streaming');
    await page.goto(base + '/ui#/overview');
  }

  // A task submitted over REST appears in the open table without a reload.
  await page.getByRole('link', { name: 'Tasks', exact: true }).click();
  await page.getByRole('heading', { name: 'Tasks' }).waitFor();
  await page.locator('tbody tr').first().waitFor();
  const submitted = await rest('POST', '/orchestrator/tasks/submit', {
    name: 'echo',
    payload: { greeting: 'hello from the browser test' },
  });
  const t0 = Date.now();
  const row = page.locator(`tr[data-task="${submitted.task_id}"]`);
  await row.waitFor({ timeout: 5000 });
  const appearedMs = Date.now() - t0;
  await row.getByText('completed').waitFor({ timeout: 5000 });
  check(`a task submitted over REST appeared live in ${appearedMs} ms and completed`);
  await shot('tasks');

  await row.getByRole('link').click();
  await page.getByRole('heading', { name: 'Result' }).waitFor();
  await page.getByText('hello from the browser test').first().waitFor();
  check('opening the task shows its result');
  await shot('task-detail');

  // Cancel: a long sleep shows its progress, then the button cancels it.
  const sleeper = await rest('POST', '/orchestrator/tasks/submit', {
    name: 'sleep',
    payload: { seconds: 120 },
  });
  await page.goto(base + '/ui#/tasks/' + sleeper.task_id);
  await page.getByRole('progressbar', { name: 'task progress' }).waitFor({ timeout: 10000 });
  await page.getByText(/slept \d+ of 120 s/).waitFor({ timeout: 10000 });
  check('a running sleep shows its progress');
  await shot('task-progress');
  await page.getByRole('button', { name: 'Cancel task' }).click();
  await page.locator('.detail-head .badge', { hasText: 'cancelled' }).waitFor({ timeout: 5000 });
  const after = await rest('GET', `/orchestrator/tasks/${sleeper.task_id}/status`);
  assert.equal(after.status, 'cancelled');
  check('the cancel button cancels the task');

  // Queue: a task for a suspended pool says why it waits.
  const held = process.env.VERA_HELD_POOL;
  const waiting = await rest('POST', '/orchestrator/tasks/submit', {
    name: 'echo',
    payload: {},
    pool: held,
  });
  await page.getByRole('link', { name: 'Queue', exact: true }).click();
  const queued = page.locator('tr', { hasText: waiting.task_id });
  await queued.getByText(`pool ${held} is suspended`).waitFor({ timeout: 5000 });
  check('the queue says a task waits because its pool is suspended');
  await shot('queue');

  // Filtering and sorting run on the server.
  await page.getByRole('link', { name: 'Tasks', exact: true }).click();
  await page.getByLabel('State').selectOption('cancelled');
  await page.locator(`tr[data-task="${submitted.task_id}"]`).waitFor({ state: 'detached' });
  await page.locator(`tr[data-task="${sleeper.task_id}"]`).waitFor();
  check('filtering by state shows only matching tasks');

  await page.getByRole('link', { name: 'Compute', exact: true }).click();
  await page.getByRole('heading', { name: 'Compute' }).waitFor();
  await page.getByText('No compute resources.').waitFor();
  await shot('compute');
  await page.getByRole('link', { name: 'Providers', exact: true }).click();
  await page.getByRole('heading', { name: 'Providers' }).waitFor();
  await page.locator('section.panel').first().waitFor();
  await page.getByRole('heading', { name: /^openai: spend per day/ }).waitFor();
  await page.getByRole('cell', { name: 'gpt-4o-mini', exact: true }).waitFor();
  await page.getByRole('progressbar', { name: 'daily budget used by openai' }).waitFor();
  await shot('providers', true);
  // The day chart's ticks: one per day while they fit, fewer (never the same day twice) when not.
  const ticks = await page.evaluate(async () => {
    const { daySplits } = await import('/ui/assets/chart.js');
    const days = Array.from({ length: 31 }, (_, i) => Date.UTC(2026, 11, i + 1) / 1000);
    return { week: daySplits(days.slice(0, 7), 900).length, month: daySplits(days, 900) };
  });
  assert.equal(ticks.week, 7);
  assert.ok(ticks.month.length <= 900 / 48 && ticks.month.length >= 10, 'ticks ' + ticks.month.length);
  assert.equal(new Set(ticks.month).size, ticks.month.length);
  check('compute and providers pages load; providers show spend per day and per model');
}

async function pagingMode(page, shot) {
  // Paging over the many tasks the test seeded: time what a person's click costs the server.
  const many = Number(process.env.VERA_MANY || 0);
  {
    const timings = [];
    for (const query of [
      'sort=created&order=desc&limit=50&offset=0',
      'sort=created&order=desc&limit=50&offset=5000',
      'state=completed&sort=duration&order=desc&limit=50&offset=0',
      'q=seed-9&sort=handler&order=asc&limit=50&offset=0',
      'priority=low&sort=priority&order=asc&limit=50&offset=100',
    ]) {
      for (let round = 0; round < 5; round++) {
        const started = performance.now();
        const answer = await rest('GET', '/ui/api/tasks?' + query);
        timings.push(performance.now() - started);
        assert.ok(answer.total >= 0);
      }
    }
    timings.sort((a, b) => a - b);
    const p50 = timings[Math.floor(timings.length / 2)];
    const max = timings[timings.length - 1];
    console.log(
      `measured: paging over ${many} tasks, ${timings.length} requests: ` +
        `median ${p50.toFixed(1)} ms, max ${max.toFixed(1)} ms (goal < 300 ms)`
    );
    await page.goto(base + '/ui#/tasks');
    const pager = page.locator('.pager span[aria-live]');
    await pager.getByText(/ of /).waitFor();
    const shown = Number((await pager.innerText()).split(' of ')[1].replace(/,/g, ''));
    assert.ok(shown >= many, `the pager counts ${shown} tasks, fewer than the ${many} seeded`);
    check('the task table pages over all of them');
    await shot('tasks-many');
    await page.goto(base + '/ui#/overview');
    await page.getByRole('heading', { name: 'Pools' }).waitFor();
    await page.locator('.charts canvas').first().waitFor({ timeout: 30000 });
    check('the overview plots throughput and queue depth');
    await shot('overview-busy');
  }
}

async function viewerMode(page, shot) {
  // Before signing in, the page's first call is refused with 401, which chromium logs.
  allowedConsole = (text) => text.includes('status of 401');
  await page.goto(base + '/ui');
  await page.getByRole('heading', { name: 'Sign in to Vera' }).waitFor();
  await shot('sign-in');
  await page.getByLabel('Bearer token').fill(process.env.VERA_TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Tasks' }).waitFor();
  allowedConsole = () => false;
  check('the viewer signs in with a token and lands on the tasks they may see');
  assert.equal(await page.getByRole('link', { name: 'Overview', exact: true }).count(), 0);
  assert.equal(await page.getByRole('link', { name: 'Providers', exact: true }).count(), 0);
  check('pages the viewer may not read are not offered');

  const sleeper = await rest('POST', '/orchestrator/tasks/submit', {
    name: 'sleep',
    payload: { seconds: 60 },
  });
  await page.locator(`tr[data-task="${sleeper.task_id}"]`).waitFor({ timeout: 5000 });
  check('a task submitted by someone else appears live over the token-authenticated stream');
  await page.goto(base + '/ui#/tasks/' + sleeper.task_id);
  await page.locator('.detail-head .badge', { hasText: /queued|running/ }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Cancel task' }).count(), 0);
  check('a user without patch on veratasks sees no cancel button');
  await shot('viewer-task');
  const stored = await page.evaluate(() => sessionStorage.getItem('vera.token'));
  assert.equal(stored, process.env.VERA_TOKEN);
  check('the token is kept in the tab session only');
  await rest('POST', `/orchestrator/tasks/${sleeper.task_id}/cancel`);
}
