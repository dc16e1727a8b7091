// Drives the operations console in Debian's headless chromium with playwright-core (from
// frontend/node_modules) and prints one JSON object of what it saw; the Python test
// (tests/e2e/test_console.py) and loadtest/console_frames.py assert on it and report it.
//
//   node drive.mjs '<json options>'
//   options: {mode: "tour" | "frames", base, key, frontend, shots, frameSeconds, and for
//             the tour caseId, caseRule, skipPrefix, ruleCondition, readerKey,
//             blockCard}
// Only the data-testid attributes of the console's DOM contract are used.
import { createRequire } from "node:module";
import { join } from "node:path";

const options = JSON.parse(process.argv[2]);
const { chromium } = createRequire(join(options.frontend, "package.json"))("playwright-core");
const TIMEOUT = 20_000;
const byId = (id) => `[data-testid="${id}"]`;

function sleep(ms) {
  return new Promise((done) => setTimeout(done, ms));
}

async function kpis(page) {
  const names = ["throughput", "p50", "p99", "degraded", "declined-amount", "review-amount"];
  const out = {};
  for (const name of names) {
    const el = page.locator(byId(`kpi-${name}`));
    out[name] = (await el.count()) ? await el.first().getAttribute("data-value") : null;
  }
  return out;
}

// requestAnimationFrame intervals for `seconds`, and the distinct feed rows that entered
// the DOM meanwhile (what was rendered: a virtualised feed renders only what fits).
async function frames(page, seconds) {
  const before = { ...received };
  const measured = await page.evaluate(async (ms) => {
    const intervals = [];
    const seen = new Set();
    const note = (node) => {
      if (!(node instanceof Element)) return;
      const rows = node.matches('[data-testid="feed-row"]')
        ? [node]
        : node.querySelectorAll('[data-testid="feed-row"]');
      for (const row of rows) seen.add(row.getAttribute("data-transaction-id"));
    };
    const feed = document.querySelector('[data-testid="feed"]') ?? document.body;
    const observer = new MutationObserver((records) => {
      for (const r of records) {
        if (r.type === "attributes") note(r.target);
        for (const n of r.addedNodes) note(n);
      }
    });
    observer.observe(feed, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: ["data-transaction-id"],
    });
    // The KPIs' raw values every 250 ms meanwhile: they should appear and move.
    const kpis = [];
    const kpi = (name) =>
      document.querySelector(`[data-testid="kpi-${name}"]`)?.getAttribute("data-value") ?? null;
    const started = performance.now();
    let sampled = 0;
    await new Promise((done) => {
      let last = performance.now();
      const tick = (now) => {
        intervals.push(now - last);
        last = now;
        if (now - sampled >= 250) {
          sampled = now;
          kpis.push({ throughput: kpi("throughput"), p50: kpi("p50"), p99: kpi("p99") });
        }
        if (now - started < ms) requestAnimationFrame(tick);
        else done();
      };
      requestAnimationFrame(tick);
    });
    observer.disconnect();
    const elapsed = (performance.now() - started) / 1000;
    return { intervals: intervals.slice(1), rendered: seen.size, seconds: elapsed, kpis };
  }, seconds * 1000);
  const delta = (name) => received[name] - before[name];
  return {
    ...figures(measured),
    kpis: measured.kpis,
    // What the stream brought meanwhile (the page's WebSocket frames, seen by the driver).
    delivered_per_s: Math.round((delta("decision") / measured.seconds) * 10) / 10,
    dropped: delta("dropped"),
    bursts_per_s: Math.round((delta("bursts") / measured.seconds) * 10) / 10,
  };
}

// Stream messages the page received, by type (`dropped` counts the messages the server
// said this client lost, not the notices).
// A burst: messages after a pause of more than 20 ms (the server's feed forwards what each
// poll of the topic returned).
const received = { decision: 0, aggregate: 0, dropped: 0, other: 0, bursts: 0 };
function countStream(page) {
  let last = 0;
  page.on("websocket", (ws) => {
    ws.on("framereceived", ({ payload }) => {
      const now = performance.now();
      if (now - last > 20) received.bursts += 1;
      last = now;
      let message;
      try {
        message = JSON.parse(String(payload));
      } catch {
        received.other += 1;
        return;
      }
      if (message.type === "dropped") received.dropped += message.count ?? 0;
      else if (message.type in received) received[message.type] += 1;
      else received.other += 1;
    });
  });
}

// p50 / p95 / max frame time (ms), frames over 50 ms, and the feed's rendered rate.
function figures({ intervals, rendered, seconds }) {
  const sorted = [...intervals].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? null;
  const round = (x) => (x === null ? null : Math.round(x * 10) / 10);
  return {
    seconds: round(seconds),
    frames: sorted.length,
    p50_ms: round(at(0.5)),
    p95_ms: round(at(0.95)),
    max_ms: round(sorted.at(-1) ?? null),
    long_frames: sorted.filter((x) => x > 50).length,
    rendered_rows: rendered,
    rendered_per_s: round(rendered / seconds),
  };
}

async function enterKey(page, key = options.key) {
  await page.goto(`${options.base}/dashboard/`);
  await page.locator(byId("api-key-input")).fill(key);
  await page.locator(byId("api-key-submit")).click();
  await page.locator(byId("nav-live")).waitFor({ timeout: TIMEOUT });
}

async function openLive(page) {
  await page.locator(byId("nav-live")).click();
  await page.locator(`${byId("connection-state")}[data-state="live"]`).waitFor({ timeout: TIMEOUT });
  await page.locator(byId("feed-row")).first().waitFor({ timeout: TIMEOUT });
}

async function live(page, out) {
  await openLive(page);
  out.live = { before: await kpis(page), rows_before: await page.locator(byId("feed-row")).count() };
  out.live.top_before = await page.locator(byId("feed-row")).first().getAttribute("data-transaction-id");
  out.frames = await frames(page, options.frameSeconds);
  out.live.after = await kpis(page);
  out.live.top_after = await page.locator(byId("feed-row")).first().getAttribute("data-transaction-id");
  out.live.state = await page.locator(byId("connection-state")).getAttribute("data-state");
  out.live.charts = {};
  for (const chart of ["throughput", "latency", "tiers", "scores"]) {
    out.live.charts[chart] = await page.locator(byId(`chart-${chart}`)).count();
  }
  out.live.tiers = await page
    .locator(byId("feed-row"))
    .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-tier")));
  await page.screenshot({ path: join(options.shots, "live.png") });

  // Paused, the feed holds still while decisions keep arriving.
  await page.locator(byId("feed-pause")).click();
  await sleep(300);
  const held = await page.locator(byId("feed-row")).first().getAttribute("data-transaction-id");
  await sleep(1500);
  out.live.paused_top = [held, await page.locator(byId("feed-row")).first().getAttribute("data-transaction-id")];
}

async function detail(page, out) {
  // The paused feed filtered to reviews (reasons come with the tiers above low), then an
  // older row of them, not one of the case's own transactions.
  await page.locator(byId("feed-filter-decision")).selectOption("review");
  await page.locator(byId("feed-row")).first().waitFor({ timeout: TIMEOUT });
  const rows = await page
    .locator(byId("feed-row"))
    .evaluateAll((all) =>
      all.map((r) => [r.getAttribute("data-transaction-id"), r.getAttribute("data-tier")]),
    );
  out.filtered_tiers = rows.map(([, tier]) => tier);
  const candidates = rows.map(([id]) => id).filter((id) => !id.startsWith(options.skipPrefix));
  const chosen = candidates[Math.min(3, candidates.length - 1)];
  // The consumer stores decisions a moment after they stream: open it once it is stored.
  const stored = `${options.base}/v1/transactions/${encodeURIComponent(chosen)}`;
  const headers = { Authorization: `Bearer ${options.key}` };
  for (let tries = 0; (await page.request.get(stored, { headers })).status() !== 200; tries++) {
    if (tries > 100) throw new Error(`${chosen} never stored`);
    await sleep(200);
  }
  const row = page.locator(`${byId("feed-row")}[data-transaction-id="${chosen}"]`);
  await row.focus();
  await page.keyboard.press("Enter");
  await page.locator(byId("detail-reasons")).waitFor({ timeout: TIMEOUT });
  await page.locator(byId("reason-bar")).first().waitFor({ timeout: TIMEOUT });
  out.detail = {
    transaction_id: chosen,
    url: page.url(),
    decision: (await page.locator(byId("detail-decision")).innerText()).trim(),
    source: (await page.locator(byId("detail-source")).innerText()).trim(),
    reasons: await page
      .locator(byId("reason-bar"))
      .evaluateAll((bars) => bars.map((b) => b.getAttribute("data-feature"))),
    history_rows: await page.locator(byId("history-row")).count(),
  };
  await page.screenshot({ path: join(options.shots, "detail.png"), fullPage: true });
  await page.locator(byId("feedback-fraud")).click();
  out.detail.feedback_result = await changed(page, "feedback-result", "");
}

async function queue(page, out) {
  await page.locator(byId("nav-queue")).click();
  const row = page.locator(`${byId("case-row")}[data-case-id="${options.caseId}"]`);
  await row.waitFor({ timeout: TIMEOUT });
  out.queue = {
    cases: await page
      .locator(byId("case-row"))
      .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-case-id"))),
  };
  await page.screenshot({ path: join(options.shots, "queue.png") });
  // The common path from the keyboard when the case is first in the queue (the test
  // asserts it is): j/k move, Enter opens, a assigns, f resolves as fraud.
  out.queue.keyboard = out.queue.cases[0] === options.caseId;
  if (out.queue.keyboard) {
    await blur(page);
    for (const key of ["j", "k", "Enter"]) await page.keyboard.press(key);
  } else {
    await row.click();
  }
  await page.locator(byId("case-verdict-fraud")).waitFor({ timeout: TIMEOUT });
  out.queue.url = page.url();
  if (out.queue.keyboard) await page.keyboard.press("a");
  else await page.locator(byId("case-assign")).click();
  out.queue.assigned = await changed(page, "case-result", "");
  await page.locator(byId("case-note")).fill("confirmed by the cardholder (e2e)");
  await page.screenshot({ path: join(options.shots, "case.png"), fullPage: true });
  if (out.queue.keyboard) {
    await blur(page); // a shortcut typed into the note is text, not a shortcut
    await page.keyboard.press("f");
  } else {
    await page.locator(byId("case-verdict-fraud")).click();
  }
  out.queue.result = await changed(page, "case-result", out.queue.assigned);
}

async function blur(page) {
  await page.evaluate(() => document.activeElement?.blur());
}

// The text of `testId` once it is not `before` (nor empty).
async function changed(page, testId, before) {
  await page.waitForFunction(
    ([sel, old]) => {
      const text = (document.querySelector(sel)?.textContent ?? "").trim();
      return text.length > 0 && text !== old;
    },
    [byId(testId), before],
    { timeout: TIMEOUT },
  );
  return (await page.locator(byId(testId)).innerText()).trim();
}

async function rules(page, out) {
  await page.locator(byId("nav-rules")).click();
  const caseRule = page.locator(`${byId("rule-row")}[data-rule-id="${options.caseRule}"]`);
  await caseRule.waitFor({ timeout: TIMEOUT });
  out.rules = {
    rows: await page
      .locator(byId("rule-row"))
      .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-rule-id"))),
    case_rule_hits: {
      active: await caseRule.locator(byId("rule-hits-active")).innerText(),
      shadow: await caseRule.locator(byId("rule-hits-shadow")).innerText(),
    },
  };
  await page.locator(byId("rule-new")).click();
  await page.locator(byId("rule-id")).fill("e2e_typo");
  await page.locator(byId("rule-condition")).fill(options.ruleCondition);
  await page.locator(byId("rule-save")).click();
  const error = page.locator(byId("rule-error"));
  await error.waitFor({ timeout: TIMEOUT });
  Object.assign(out.rules, {
    error: (await error.innerText()).trim(),
      // Each <mark>: its text, its offset in the text around it, and that text.
    marked: await page.evaluate(() =>
      [...document.querySelectorAll("mark")].map((m) => {
        const before = document.createRange();
        before.setStart(m.parentElement, 0);
        before.setEndBefore(m);
        return {
          text: m.textContent,
          offset: before.toString().length,
          around: m.parentElement.textContent,
        };
      }),
    ),
  });
  await page.screenshot({ path: join(options.shots, "rules-error.png"), fullPage: true });
}

// A block entry added with an expiry a day ahead, shown, then removed.
async function lists(page, out) {
  await page.locator(byId("nav-lists")).click();
  await page.locator(byId("list-add")).waitFor({ timeout: TIMEOUT });
  const tomorrow = new Date(Date.now() + 86_400_000);
  const local = new Date(tomorrow.getTime() - tomorrow.getTimezoneOffset() * 60_000);
  await page.locator(byId("list-entity")).selectOption("card");
  await page.locator(byId("list-value")).fill(options.blockCard);
  await page.locator(byId("list-action")).selectOption("block");
  await page.locator(byId("list-reason")).fill("e2e: card reported stolen");
  await page.locator(byId("list-expires")).fill(local.toISOString().slice(0, 16));
  await page.locator(byId("list-add")).click();
  const row = page.locator(byId("list-row")).filter({ hasText: options.blockCard });
  await row.waitFor({ timeout: TIMEOUT });
  out.lists = { entry_id: await row.getAttribute("data-entry-id"), expires_local: local.toISOString().slice(0, 16) };
  await page.screenshot({ path: join(options.shots, "lists.png") });
  await row.locator(byId("list-remove")).click();
  await row.waitFor({ state: "detached", timeout: TIMEOUT });
  out.lists.removed = true;
}

// The alert deliveries the consumer made for the high and critical decisions.
async function alerts(page, out) {
  await page.locator(byId("nav-alerts")).click();
  await page.locator(byId("alert-row")).first().waitFor({ timeout: TIMEOUT });
  out.alerts = await page
    .locator(byId("alert-row"))
    .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-status")));
  await page.screenshot({ path: join(options.shots, "alerts.png") });
}

// A key with the read scope only, in a fresh context (its own session storage): which
// views the console enables for it.
async function scopes(browser, out) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await enterKey(page, options.readerKey);
    out.reader_nav = {};
    for (const view of ["live", "queue", "rules", "lists", "alerts"]) {
      out.reader_nav[view] = await page.locator(byId(`nav-${view}`)).getAttribute("aria-disabled");
    }
  } finally {
    await context.close();
  }
}

// The API restarted under the live view (the Python test does it when asked on stderr):
// the connection state leaves "live", comes back, and the gap is said.
async function reconnect(page, out) {
  await page.locator(byId("nav-live")).click();
  const state = page.locator(byId("connection-state"));
  await page.locator(`${byId("connection-state")}[data-state="live"]`).waitFor({ timeout: TIMEOUT });
  await page.locator(byId("kpi-throughput")).waitFor({ timeout: TIMEOUT });
  await sleep(2500); // a few aggregates before the gap
  process.stderr.write("restart-api\n");
  await page.locator(`${byId("connection-state")}:not([data-state="live"])`).waitFor({ timeout: 60_000 });
  const left = Date.now();
  out.reconnect = { state_while_away: await state.getAttribute("data-state") };
  await page.locator(`${byId("connection-state")}[data-state="live"]`).waitFor({ timeout: 120_000 });
  out.reconnect.away_s = (Date.now() - left) / 1000;
  const notice = page.locator(byId("gap-notice"));
  await notice.waitFor({ timeout: TIMEOUT });
  out.reconnect.notice = (await notice.innerText()).trim();
  // Decisions flow again, from the new process.
  await page.waitForFunction(
    (sel) => Number(document.querySelector(sel)?.getAttribute("data-value") || 0) > 0,
    byId("kpi-throughput"),
    { timeout: 30_000 },
  );
  out.reconnect.flowing = true;
  await page.screenshot({ path: join(options.shots, "reconnect.png") });
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
  ],
});
let step = "start"; // the step running, for the console errors it causes
const out = { mode: options.mode, console_errors: [], failed_responses: [], steps: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("console", (m) => {
    if (m.type() === "error") out.console_errors.push([step, m.text()]);
  });
  page.on("pageerror", (e) => out.console_errors.push([step, String(e)]));
  countStream(page);
  page.on("response", (r) => {
    if (r.status() >= 400) out.failed_responses.push([r.status(), new URL(r.url()).pathname, step]);
  });
  await enterKey(page);
  out.session_key = await page.evaluate(() => Object.keys(sessionStorage).length);
  const steps =
    options.mode === "frames"
      ? [["live", async () => {
          await openLive(page);
          out.frames = await frames(page, options.frameSeconds);
          await page.screenshot({ path: join(options.shots, "live-load.png") });
        }]]
      : [["live", () => live(page, out)], ["detail", () => detail(page, out)],
         ["queue", () => queue(page, out)], ["rules", () => rules(page, out)],
         ["lists", () => lists(page, out)], ["alerts", () => alerts(page, out)], ["scopes", () => scopes(browser, out)], ["reconnect", () => reconnect(page, out)]];
  for (const [name, run] of steps) {
    step = name;
    try {
      await run();
      out.steps.push(name);
    } catch (error) {
      out.failed = { step: name, error: String(error), url: page.url() };
      await page.screenshot({ path: join(options.shots, `failed-${name}.png`), fullPage: true });
      break;
    }
  }
} finally {
  await browser.close();
}
out.stream = received;
process.stdout.write(JSON.stringify(out));
