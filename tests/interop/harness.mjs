// The interop harness: runs every case of the suite against one EventSource implementation and
// posts what it saw back to the server. The same module runs in headless Chromium (loaded by
// harness.html, with the page's own EventSource and fetch) and on Node (loaded by
// tests/support/undici_harness_runner.mjs, with undici's), so both clients are driven by exactly
// the same code.
//
// Protocol with the server (tests/interop/interop_app.py):
//   GET  {base}/cases           -> {cases: [{name, mode, path, types}], caseTimeoutMs, closedGraceMs}
//   GET  {base}{path}?client=.. -> the case's event stream (the server counts connections per
//                                  client and case, so clients run at the same time never mix)
//   POST {base}/results/{client} <- {results: {name: {log, times}}} or {fatal: "<stack>"}
//
// Per case the harness writes a log, one entry per thing the EventSource did, in order:
//   ["open"]                                  the `open` event
//   ["event", type, data, lastEventId]        a MessageEvent (a dispatched stream event)
//   ["error", "CONNECTING" | "OPEN" | "CLOSED"] the `error` event, with readyState at that time
//   ["timeout"]                               the case did not finish within caseTimeoutMs
//   ["exception", message]                    `new EventSource(url)` threw
// and `times`, the milliseconds from the start of the case to each entry (for the retry checks).
//
// A case ends:
//   mode "stream": at the server's end-of-case event (type END_TYPE), or at the first `error`
//     (the stream ended without it, or could not start); the source is closed at once;
//   mode "resume": at an `error` with readyState CLOSED, which is how a client says it will not
//     reconnect (WHATWG: "Once the user agent has failed the connection, it does not attempt to
//     reconnect"). The source is left alone for closedGraceMs more, so a client that said CLOSED
//     and reconnected anyway would show it (an "open" after the error, and one connection too
//     many counted by the server), and only then closed.

const END_TYPE = "interop-end";
const READY_STATES = ["CONNECTING", "OPEN", "CLOSED"];
const CONCURRENCY = 4; // Chromium allows 6 connections per host over HTTP/1.1; keep 2 spare.

function runCase(EventSource, url, testCase, { caseTimeoutMs, closedGraceMs }) {
  return new Promise((resolve) => {
    const log = [];
    const times = [];
    const start = performance.now();
    const note = (entry) => {
      log.push(entry);
      times.push(Math.round(performance.now() - start));
    };
    let finished = false;
    let timer = null;
    let source = null;
    const finish = (graceMs) => {
      if (finished) {
        return;
      }
      finished = true;
      clearTimeout(timer);
      const close = () => {
        source.close();
        resolve({ log, times });
      };
      if (graceMs > 0) {
        setTimeout(close, graceMs);
      } else {
        close();
      }
    };
    const onEvent = (event) => {
      // A stream event is a MessageEvent, whose data is a string; `open` and `error` from the
      // EventSource itself are plain Events. A stream may name its events "open" or "error".
      if (typeof event.data === "string") {
        note(["event", event.type, event.data, event.lastEventId]);
        if (testCase.mode === "stream" && event.type === END_TYPE) {
          finish(0);
        }
      } else if (event.type === "open") {
        note(["open"]);
      } else if (event.type === "error") {
        const state = READY_STATES[source.readyState] ?? String(source.readyState);
        note(["error", state]);
        if (testCase.mode === "stream") {
          finish(0);
        } else if (state === "CLOSED") {
          finish(closedGraceMs);
        }
      }
    };
    timer = setTimeout(() => {
      note(["timeout"]);
      finish(0);
    }, caseTimeoutMs);
    try {
      source = new EventSource(url);
    } catch (error) {
      note(["exception", String(error)]);
      finished = true;
      clearTimeout(timer);
      resolve({ log, times });
      return;
    }
    for (const type of new Set(["open", "error", END_TYPE, ...testCase.types])) {
      source.addEventListener(type, onEvent);
    }
  });
}

async function post(fetch, url, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) {
    throw new Error(`POST ${url} answered ${response.status}`);
  }
}

export async function runAll({ EventSource, fetch, baseUrl, client, log = () => {} }) {
  const resultsUrl = `${baseUrl}/results/${encodeURIComponent(client)}`;
  try {
    const response = await fetch(`${baseUrl}/cases`);
    const { cases, caseTimeoutMs, closedGraceMs } = await response.json();
    const results = {};
    // The resume cases wait for reconnection delays: start them first, so that the quick
    // stream cases fill the other connections meanwhile.
    const queue = [
      ...cases.filter((testCase) => testCase.mode === "resume"),
      ...cases.filter((testCase) => testCase.mode !== "resume"),
    ];
    const worker = async () => {
      while (queue.length > 0) {
        const testCase = queue.shift();
        const url = `${baseUrl}${testCase.path}?client=${encodeURIComponent(client)}`;
        results[testCase.name] = await runCase(EventSource, url, testCase, {
          caseTimeoutMs,
          closedGraceMs,
        });
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    log(`${client}: ${cases.length} cases in ${Math.round(performance.now() - started)} ms`);
    await post(fetch, resultsUrl, { results });
    return true;
  } catch (error) {
    const fatal = String((error && error.stack) || error);
    log(`${client}: ${fatal}`);
    try {
      await post(fetch, resultsUrl, { fatal });
    } catch {
      // The server is gone or broken; the test reports the missing results.
    }
    return false;
  }
}
