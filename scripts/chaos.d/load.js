// The load of scripts/chaos: a steady mix of redirects, creates and reads against two hop
// replicas while the driver breaks PostgreSQL, Redis and one replica underneath it.
//
// It is started by scripts/chaos, never on its own: the driver passes the replicas' URLs and
// the timeline of phases (absolute times, so both sides agree on which phase a request fell
// in without talking to each other). Every request is counted under its phase, its kind and
// its outcome in one counter per combination; handleSummary writes the non-zero ones to
// CHAOS_SUMMARY for the driver's book checks. Every acknowledged create is written to the
// console (CHAOS console file) as "ACK <id> <code> <url>" so the driver can look each one up
// afterwards.

import http from 'k6/http';
import exec from 'k6/execution';
import { Counter, Trend } from 'k6/metrics';

const TARGETS = { a: __ENV.HOP_A, b: __ENV.HOP_B };
const PHASES = JSON.parse(__ENV.CHAOS_PHASES);
const RATE = parseInt(__ENV.CHAOS_RATE, 10);
const DURATION_S = parseInt(__ENV.CHAOS_DURATION_S, 10);
const WARM = parseInt(__ENV.CHAOS_WARM, 10);
const USERS = parseInt(__ENV.CHAOS_USERS, 10);
// A response slower than this is counted "slow": the pool's acquire timeout plus a margin.
const SLOW_MS = parseInt(__ENV.CHAOS_SLOW_MS, 10);
// Slower than this is past hop's request deadline (plus a margin): counted "over_deadline".
const DEADLINE_MS = parseInt(__ENV.CHAOS_DEADLINE_MS, 10);

const KINDS = ['redirect_cached', 'redirect_new', 'create', 'read', 'health'];
const OUTCOMES = [
  'all', 'ok', 'unexpected', 's500', 's502', 's503', 's504', 's5xx_other', 'conn_error',
  'timeout', 'non_json_error', 'no_retry_after', 'slow', 'over_deadline',
];
// The k6 error code of a request that ran past its timeout; other failures without a status
// (refused, reset, EOF) are connection errors.
const TIMEOUT_ERROR = 1050;

// Custom metrics must exist before the test starts, so every combination is made here.
const counters = {};
const latency = {};
for (const phase of PHASES) {
  for (const kind of KINDS) {
    for (const outcome of OUTCOMES) {
      const name = `c__${phase.name}__${kind}__${outcome}`;
      counters[name] = new Counter(name);
    }
    latency[`${phase.name}__${kind}`] = new Trend(`lat__${phase.name}__${kind}`, true);
  }
  for (const replica of Object.keys(TARGETS)) {
    const name = `conn__${phase.name}__${replica}`;
    counters[name] = new Counter(name);
  }
}

export const options = {
  scenarios: Object.fromEntries(Object.keys(TARGETS).map((replica) => [replica, {
    executor: 'constant-arrival-rate',
    rate: RATE,
    timeUnit: '1s',
    duration: `${DURATION_S}s`,
    preAllocatedVUs: 10,
    maxVUs: 200,
    gracefulStop: '30s',
  }])),
  maxRedirects: 0,
  setupTimeout: '60s',
  summaryTrendStats: ['count', 'avg', 'p(50)', 'p(99)', 'max'],
};

// Links this VU created and saw acknowledged: [{id, code, url}].
const mine = [];
let samplesLogged = 0;

export function setup() {
  const list = http.get(`${TARGETS.a}/urls?is_active=true&page=1&per_page=${WARM}`);
  if (list.status !== 200) {
    throw new Error(`cannot list links to warm up: ${list.status} ${list.body}`);
  }
  const warm = list.json().map((link) => ({ code: link.short_code, url: link.original_url }));
  for (const base of Object.values(TARGETS)) {
    for (const link of warm) {
      const res = http.get(`${base}/${link.code}`);
      if (res.status !== 302) {
        throw new Error(`warm-up redirect of ${link.code} answered ${res.status}`);
      }
    }
  }
  console.log(`SETUP_DONE ${warm.length}`);
  return { warm };
}

export default function (data) {
  const phase = phaseAt(Date.now());
  if (phase === null) {
    return; // before the timeline starts or after it ends: send nothing
  }
  const home = exec.scenario.name;
  const roll = Math.random();
  if (roll < 0.6) {
    redirectCached(phase, home, data.warm);
  } else if (roll < 0.72) {
    create(phase, home);
  } else if (roll < 0.84) {
    read(phase);
  } else if (roll < 0.96) {
    redirectNew(phase, home, data.warm);
  } else {
    health(phase, home);
  }
}

function phaseAt(now) {
  for (const phase of PHASES) {
    if (now >= phase.start && now < phase.end) {
      return phase.name;
    }
  }
  return null;
}

function pick(list) {
  return list[Math.floor(Math.random() * list.length)];
}

function otherOrSame() {
  return Math.random() < 0.5 ? 'a' : 'b';
}

function redirectCached(phase, replica, warm) {
  const link = pick(warm);
  const res = http.get(`${TARGETS[replica]}/${link.code}`, params('redirect_cached'));
  record(phase, 'redirect_cached', replica, res,
    (r) => r.status === 302 && r.headers.Location === link.url);
}

function create(phase, replica) {
  const n = exec.scenario.iterationInTest;
  const url = `https://chaos.example/${replica}/${exec.vu.idInTest}/${n}`
    + `?b=2&a=1+1&b=%41&r=${Math.floor(Math.random() * 1e9)}`;
  const body = JSON.stringify({
    user_id: 1 + Math.floor(Math.random() * USERS),
    original_url: url,
    title: `chaos ${phase}`,
  });
  const res = http.post(`${TARGETS[replica]}/urls`, body, params('create', {
    'Content-Type': 'application/json',
  }));
  const acked = record(phase, 'create', replica, res, (r) => r.status === 201);
  if (acked) {
    const link = res.json();
    console.log(`ACK ${link.id} ${link.short_code} ${link.original_url}`);
    mine.push({ id: link.id, code: link.short_code, url: link.original_url });
  }
}

function read(phase) {
  if (mine.length === 0) {
    return;
  }
  const link = pick(mine);
  const replica = otherOrSame();
  const res = http.get(`${TARGETS[replica]}/urls/${link.id}`, params('read'));
  record(phase, 'read', replica, res,
    (r) => r.status === 200 && r.json('short_code') === link.code);
}

// A code created during the run, on either replica: it may not be cached there yet, so it
// needs Redis or the database, and must never be a 404.
function redirectNew(phase, home, warm) {
  if (mine.length === 0) {
    redirectCached(phase, home, warm);
    return;
  }
  const link = pick(mine);
  const replica = otherOrSame();
  const res = http.get(`${TARGETS[replica]}/${link.code}`, params('redirect_new'));
  record(phase, 'redirect_new', replica, res,
    (r) => r.status === 302 && r.headers.Location === link.url);
}

function health(phase, replica) {
  const res = http.get(`${TARGETS[replica]}/health`, params('health'));
  record(phase, 'health', replica, res, (r) => r.status === 200);
}

function params(kind, headers = {}) {
  return { headers, timeout: '20s', tags: { name: kind } };
}

function count(phase, kind, outcome) {
  counters[`c__${phase}__${kind}__${outcome}`].add(1);
}

// Counts one response and returns whether it was the expected success.
function record(phase, kind, replica, res, expected) {
  count(phase, kind, 'all');
  if (res.status === 0) {
    if (res.error_code === TIMEOUT_ERROR) {
      count(phase, kind, 'timeout');
      sample('TIMEOUT', phase, kind, replica, res);
    } else {
      // Counted when it happened, not when the request began: a request in flight when its
      // replica was killed fails at the kill.
      const now = phaseAt(Date.now()) || phase;
      count(now, kind, 'conn_error');
      counters[`conn__${now}__${replica}`].add(1);
    }
    return false;
  }

  latency[`${phase}__${kind}`].add(res.timings.duration);
  if (res.timings.duration > SLOW_MS) {
    count(phase, kind, 'slow');
  }
  if (res.timings.duration > DEADLINE_MS) {
    count(phase, kind, 'over_deadline');
    sample('OVER_DEADLINE', phase, kind, replica, res);
  }
  if (res.status >= 400 && !isJsonError(res)) {
    count(phase, kind, 'non_json_error');
    sample('NON_JSON', phase, kind, replica, res);
  }

  if (res.status >= 500) {
    const known = { 500: 's500', 502: 's502', 503: 's503', 504: 's504' };
    count(phase, kind, known[res.status] || 's5xx_other');
    if (res.status === 503 && res.headers['Retry-After'] === undefined) {
      count(phase, kind, 'no_retry_after');
    }
    if (res.status !== 503) {
      sample('5XX', phase, kind, replica, res);
    }
    return false;
  }
  let ok = false;
  try {
    ok = expected(res);
  } catch (err) {
    ok = false; // a body that is not the JSON expected
  }
  count(phase, kind, ok ? 'ok' : 'unexpected');
  if (!ok) {
    sample('UNEXPECTED', phase, kind, replica, res);
  }
  return ok;
}

function isJsonError(res) {
  const type = res.headers['Content-Type'] || '';
  if (!type.startsWith('application/json')) {
    return false;
  }
  try {
    const body = JSON.parse(res.body);
    return body !== null && typeof body === 'object' && typeof body.error === 'string';
  } catch (err) {
    return false;
  }
}

// A few examples of each surprise for the report, not all of them.
function sample(what, phase, kind, replica, res) {
  if (samplesLogged >= 5) {
    return;
  }
  samplesLogged += 1;
  const body = (res.body || '').toString().slice(0, 200).replace(/\s+/g, ' ');
  const line = `SAMPLE ${what} phase=${phase} kind=${kind} replica=${replica} `
    + `status=${res.status} ms=${Math.round(res.timings.duration)} `
    + `error=${JSON.stringify(res.error || '')} url=${res.request.url} body=${body}`;
  console.log(line);
}

export function handleSummary(data) {
  const figures = {};
  for (const [name, metric] of Object.entries(data.metrics)) {
    const nonZero = metric.type === 'counter' ? metric.values.count > 0
      : metric.type === 'trend' && metric.values.count > 0;
    if ((name.startsWith('c__') || name.startsWith('conn__') || name.startsWith('lat__'))
      && nonZero) {
      figures[name] = metric.values;
    }
  }
  return { [__ENV.CHAOS_SUMMARY]: JSON.stringify(figures, null, 1) };
}
