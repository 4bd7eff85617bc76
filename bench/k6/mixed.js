// Mixed hop traffic: 80% redirects, 10% link creations, 10% link reads.
//
//   k6 run -e BASE_URL=http://127.0.0.1:18091 -e CODES=codes.txt -e USERS=400 -e LINKS=2000 \
//          -e MODE=tier -e VUS=200 -e DURATION=15s -e THINK_MS=100 -e SUMMARY=out.json mixed.js
//
// MODE=tier: VUS virtual users for DURATION, each pausing THINK_MS on average (uniform between
// half and one and a half times it) between requests, like people clicking links.
// MODE=ramp: no pause; the users step through STEPS (comma-separated counts), STEP_SECS each,
// and the test stops itself once a step's p99 passes P99_LIMIT_MS. bench/run reads each
// step's throughput and p99 from the summary file.
//
// Redirects are never followed (maxRedirects 0): the 302 is the answer being measured, and
// the targets are hosts outside this machine.

import http from 'k6/http';
import { sleep } from 'k6';
import { SharedArray } from 'k6/data';

const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:18091';
const MODE = __ENV.MODE || 'tier';
const USERS = parseInt(__ENV.USERS || '400', 10);
const LINKS = parseInt(__ENV.LINKS || '2000', 10);
const THINK_MS = parseFloat(__ENV.THINK_MS || '100');
const STEPS = (__ENV.STEPS || '10,25,50,100,200,400,800').split(',').map(Number);
const STEP_SECS = parseInt(__ENV.STEP_SECS || '6', 10);
const P99_LIMIT_MS = parseFloat(__ENV.P99_LIMIT_MS || '100');

if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(BASE_URL)) {
  throw new Error(`BASE_URL must be http://127.0.0.1:PORT, not ${BASE_URL}`);
}

const codes = new SharedArray('codes', () =>
  open(__ENV.CODES).split('\n').filter((line) => line.length > 0),
);

const JSON_HEADERS = { headers: { 'Content-Type': 'application/json' } };

function tierOptions() {
  return {
    scenarios: {
      tier: { executor: 'constant-vus', vus: parseInt(__ENV.VUS || '50', 10),
              duration: __ENV.DURATION || '15s', gracefulStop: '2s' },
    },
    thresholds: {
      'http_req_duration{name:redirect}': ['p(95)>=0'],
      'http_req_duration{name:create}': ['p(95)>=0'],
      'http_req_duration{name:read}': ['p(95)>=0'],
    },
  };
}

function rampOptions() {
  const scenarios = {};
  const thresholds = {};
  STEPS.forEach((vus, i) => {
    const name = `step${i}`;
    scenarios[name] = { executor: 'constant-vus', vus, duration: `${STEP_SECS}s`,
                        startTime: `${i * STEP_SECS}s`, gracefulStop: '0s' };
    thresholds[`http_req_duration{scenario:${name}}`] = [
      { threshold: `p(99)<${P99_LIMIT_MS}`, abortOnFail: true, delayAbortEval: '2s' },
    ];
    thresholds[`http_reqs{scenario:${name}}`] = ['count>=0'];
    thresholds[`http_req_failed{scenario:${name}}`] = ['rate>=0'];
  });
  return { scenarios, thresholds };
}

export const options = Object.assign(MODE === 'ramp' ? rampOptions() : tierOptions(), {
  maxRedirects: 0,
  discardResponseBodies: true,
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
});

http.setResponseCallback(http.expectedStatuses(200, 201, 302));

function pick(n) {
  return 1 + Math.floor(Math.random() * n);
}

export default function () {
  const roll = Math.random();
  if (roll < 0.8) {
    http.get(`${BASE_URL}/${codes[pick(codes.length) - 1]}`, { tags: { name: 'redirect' } });
  } else if (roll < 0.9) {
    const body = JSON.stringify({
      user_id: pick(USERS),
      original_url: `https://example.com/k6/${__VU}/${__ITER}`,
      title: 'k6',
    });
    http.post(`${BASE_URL}/urls`, body, Object.assign({ tags: { name: 'create' } }, JSON_HEADERS));
  } else {
    http.get(`${BASE_URL}/urls/${pick(LINKS)}`, { tags: { name: 'read' } });
  }
  if (MODE !== 'ramp') {
    sleep((THINK_MS / 1000) * (0.5 + Math.random()));
  }
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY || 'k6-summary.json']: JSON.stringify(data) };
}
