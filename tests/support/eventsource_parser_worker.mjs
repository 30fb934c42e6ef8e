// A long-lived worker that parses event streams with eventsource-parser, for the cross-checks in
// tests/sse_core/test_node_crosscheck.py (started and stopped by tests/support/node.py).
//
// Usage: node eventsource_parser_worker.mjs <path to node_modules/eventsource-parser>
//
// Protocol, one JSON object per line each way:
//   first, the worker writes {"ready": true, "version": "<eventsource-parser version>"};
//   then, for each request {"chunks": ["<base64>", ...]} it writes one response
//   {"events": [{"event", "data", "id"}, ...], "raw": [...], "retry": "<digits>" | null,
//    "errors": ["<message>", ...]}
//   or {"error": "<stack>"} if the request could not be handled.
// It exits when its stdin closes.
//
// Each request is one fresh stream: a fresh parser and a fresh streaming TextDecoder, so UTF-8
// split across chunks is decoded as a browser does (and a leading BOM is stripped by the decoder,
// as the WHATWG "UTF-8 decode" algorithm requires).
//
// eventsource-parser reports events in its own terms; "events" converts them to what a browser's
// EventSource dispatches (the comparison's semantics), "raw" keeps them as reported:
//   - `event` is undefined when the stream named no type (or an empty one): a browser says "message";
//   - `id` is the id field of that event's block only (undefined if absent): a browser's
//     lastEventId persists across events until the next id field, and an empty id resets it to "".
//     Ids containing NUL are ignored by the spec; eventsource-parser already drops them.
// An event without its final blank line is never dispatched: the worker never calls
// parser.reset({consume: true}), which would dispatch it.
// `retry` is a JS number (exact up to 2**53); it is sent as the decimal digits of that number.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";

const packageDir = process.argv[2];
if (!packageDir) {
  process.stderr.write("usage: eventsource_parser_worker.mjs <eventsource-parser package dir>\n");
  process.exit(2);
}
const manifest = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8"));
const exported = manifest.exports?.["."];
const entry =
  (typeof exported === "string" ? exported : exported?.import ?? exported?.default) ??
  manifest.module ??
  manifest.main;
const { createParser } = await import(pathToFileURL(join(packageDir, entry)).href);

function parseStream(chunks) {
  const events = [];
  const raw = [];
  const errors = [];
  let retry = null;
  let lastEventId = "";
  const parser = createParser({
    onEvent(message) {
      raw.push({
        event: message.event ?? null,
        data: message.data,
        id: message.id ?? null,
      });
      if (message.id !== undefined && !message.id.includes("\0")) {
        lastEventId = message.id;
      }
      events.push({
        event: message.event === undefined || message.event === "" ? "message" : message.event,
        data: message.data,
        id: lastEventId,
      });
    },
    onRetry(interval) {
      retry = interval;
    },
    onError(error) {
      errors.push(String(error && error.message));
    },
  });
  const decoder = new TextDecoder("utf-8");
  const feed = (text) => {
    // An empty string would only use up the parser's "first chunk" (where it looks for a BOM).
    if (text !== "") {
      parser.feed(text);
    }
  };
  for (const chunk of chunks) {
    feed(decoder.decode(Buffer.from(chunk, "base64"), { stream: true }));
  }
  feed(decoder.decode());
  let retryText = null;
  if (retry !== null) {
    retryText = Number.isFinite(retry) ? BigInt(retry).toString() : String(retry);
  }
  return { events, raw, retry: retryText, errors };
}

process.stdout.write(JSON.stringify({ ready: true, version: manifest.version }) + "\n");

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (line.trim() === "") {
    continue;
  }
  let response;
  try {
    response = parseStream(JSON.parse(line).chunks);
  } catch (error) {
    response = { error: String((error && error.stack) || error) };
  }
  process.stdout.write(JSON.stringify(response) + "\n");
}
process.exit(0);
