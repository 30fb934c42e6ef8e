// Runs the interop suite's browser harness on Node, with undici's EventSource and fetch in place
// of a browser's (started by run_undici_harness() in tests/support/node.py).
//
// Usage: node undici_harness_runner.mjs <undici package dir> <harness module> <base url> <client>
//
// The harness fetches its cases from <base url>, runs them and posts its results back there as
// <client>, as it does in Chromium; this script only supplies the globals a page would have.
// Exit status 0 when the harness reported its results, 1 when it could not, 2 on bad usage.

import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const [packageDir, harnessPath, baseUrl, client] = process.argv.slice(2);
if (!packageDir || !harnessPath || !baseUrl || !client) {
  process.stderr.write(
    "usage: undici_harness_runner.mjs <undici package dir> <harness module> <base url> <client>\n",
  );
  process.exit(2);
}

// undici is CommonJS; require() resolves its "main" from the package directory itself.
const require = createRequire(import.meta.url);
const undici = require(packageDir);
const { runAll } = await import(pathToFileURL(harnessPath).href);

const ok = await runAll({
  EventSource: undici.EventSource,
  fetch: undici.fetch,
  baseUrl,
  client,
  log: (line) => process.stderr.write(line + "\n"),
});
// undici keeps idle keep-alive sockets open; exit instead of waiting for them to time out.
process.exit(ok ? 0 : 1);
