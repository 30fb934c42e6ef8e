// The demo page: four panels, each fed by a stream from examples/demo.py. Everything the panels
// receive is also kept in `window.demo`, which the test (tests/examples/test_demo.py) reads.
"use strict";

const $ = (id) => document.getElementById(id);
const tab = `tab-${Math.random().toString(36).slice(2, 6)}`;
const demo = (window.demo = {
  tab,
  byes: [], // the streams that received the server's goodbye
  clock: { connections: 0, numbers: [], reconnects: [] },
  answer: { run: null, text: "", numbers: [], lastEventId: null, done: false, resumes: [] },
  notes: { connected: false, received: [] },
});

function goodbye(name, close, status) {
  // Close it: a browser reconnects after a response ends, and the server is going away.
  close();
  demo.byes.push(name);
  status.textContent = "the server said goodbye: stream closed";
  status.className = "status bye";
}

// A reconnect or resume, shown in the Reconnect panel: the Last-Event-ID the page sent, the
// one the server says it received, and the events replayed from history.
function logReconnect(what, sent, hello) {
  const entry = { what, sent, received: hello.last_event_id, head: hello.head, replayed: [] };
  const item = document.createElement("li");
  entry.render = () => {
    const replayed = entry.replayed.length
      ? `replayed #${entry.replayed[0]}-#${entry.replayed.at(-1)} (${entry.replayed.length})`
      : "nothing missed";
    item.textContent =
      `${what}: sent Last-Event-ID ${sent}, server received ${entry.received}; ${replayed}`;
  };
  entry.render();
  $("reconnects").prepend(item);
  return entry;
}

// Clock: a plain stream. The browser's own EventSource reconnects when the response ends and
// sends the id of the last tick it got; the server replays the ticks after it.
const clock = new EventSource(`/clock?client=${tab}`);
const clockState = { hello: null, lastEventId: null, reconnect: null };
clock.addEventListener("hello", (e) => {
  clockState.hello = JSON.parse(e.data);
  demo.clock.connections += 1;
  $("clock-drop").disabled = false;
  if (demo.clock.connections > 1) {
    clockState.reconnect = logReconnect("clock", clockState.lastEventId, clockState.hello);
    demo.clock.reconnects.push(clockState.reconnect);
  }
});
clock.addEventListener("tick", (e) => {
  const tick = JSON.parse(e.data);
  demo.clock.numbers.push(tick.n);
  clockState.lastEventId = e.lastEventId;
  $("clock-time").textContent = tick.time;
  $("clock-status").textContent = `connected: tick #${tick.n}, event id ${e.lastEventId}`;
  const item = document.createElement("li");
  item.textContent = `#${tick.n}`;
  item.title = `id ${e.lastEventId}: ${tick.time}`;
  const reconnect = clockState.reconnect;
  if (reconnect && tick.n <= clockState.hello.head) {
    item.className = "replayed";
    reconnect.replayed.push(tick.n);
    reconnect.render();
  }
  $("ticks").append(item);
  while ($("ticks").children.length > 20) $("ticks").firstElementChild.remove();
});
clock.addEventListener("error", () => {
  if (clock.readyState === EventSource.CONNECTING) {
    $("clock-status").textContent = "connection lost: the browser reconnects in 2 s";
    $("clock-drop").disabled = true;
  }
});
clock.addEventListener("bye", () => goodbye("clock", () => clock.close(), $("clock-status")));

$("clock-drop").addEventListener("click", async () => {
  $("clock-drop").disabled = true;
  await fetch(`/clock/drop?client=${tab}`, { method: "POST" });
});

// Answer: a POST whose response is the stream, read with fetch. EventSource cannot POST, so
// this is the parser a page needs for it: lines end with CRLF, LF or CR; a blank line
// dispatches the event if it has data.
async function readEvents(response, onEvent) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = { type: "", data: [], id: null };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    // A CR at the very end may be the first half of a CRLF: wait for the next chunk.
    while ((end = /\r\n|\r(?!$)|\n/.exec(buffer))) {
      const line = buffer.slice(0, end.index);
      buffer = buffer.slice(end.index + end[0].length);
      if (line === "") {
        if (event.data.length) {
          onEvent({ type: event.type || "message", data: event.data.join("\n"), id: event.id });
        }
        event = { type: "", data: [], id: event.id };
        continue;
      }
      const colon = line.indexOf(":");
      if (colon === 0) continue; // a comment (keep-alive ping)
      const name = colon < 0 ? line : line.slice(0, colon);
      const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (name === "data") event.data.push(text);
      else if (name === "event") event.type = text;
      else if (name === "id" && !text.includes("\0")) event.id = text;
    }
  }
}

// `resumeSent`: the Last-Event-ID of a resume; `resume`: its entry in the Reconnect panel.
const answer = { controller: null, hello: null, resumeSent: null, resume: null };

function onAnswerEvent(e) {
  const state = demo.answer;
  if (e.type === "hello") {
    answer.hello = JSON.parse(e.data);
    state.run = answer.hello.run;
    if (answer.resumeSent !== null) {
      answer.resume = logReconnect("answer", answer.resumeSent, answer.hello);
      state.resumes.push(answer.resume);
    }
  } else if (e.type === "token") {
    const token = JSON.parse(e.data);
    const span = document.createElement("span");
    span.textContent = token.text;
    if (answer.resume && token.n <= answer.hello.head) {
      span.className = "replayed";
      answer.resume.replayed.push(token.n);
      answer.resume.render();
    }
    $("answer-text").append(span);
    state.text += token.text;
    state.numbers.push(token.n);
    state.lastEventId = e.id;
    $("answer-status").textContent = `${state.numbers.length} tokens, last id ${e.id}`;
  } else if (e.type === "done") {
    state.done = true;
    $("answer-drop").disabled = true;
    $("answer-status").textContent = `done: ${state.numbers.length} tokens`;
  } else if (e.type === "bye") {
    goodbye("answer", () => answer.controller.abort(), $("answer-status"));
  }
}

async function follow(request) {
  answer.controller = new AbortController();
  try {
    const response = await fetch(request, { signal: answer.controller.signal });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    await readEvents(response, onAnswerEvent);
  } catch (error) {
    if (error.name !== "AbortError") $("answer-status").textContent = `error: ${error.message}`;
  }
}

$("answer-form").addEventListener("submit", (e) => {
  e.preventDefault();
  Object.assign(demo.answer, { run: null, text: "", numbers: [], lastEventId: null, done: false });
  answer.resumeSent = answer.resume = null;
  $("answer-text").textContent = "";
  $("answer-drop").disabled = false;
  follow(new Request("/answers", { method: "POST", body: $("question").value }));
});

$("answer-drop").addEventListener("click", () => {
  answer.controller.abort();
  const sent = demo.answer.lastEventId;
  $("answer-status").textContent = `dropped after ${demo.answer.numbers.length} tokens; ` +
    `resuming in 1 s with Last-Event-ID ${sent}`;
  setTimeout(() => {
    answer.resumeSent = sent;
    const headers = sent ? { "Last-Event-ID": sent } : {};
    follow(new Request(`/answers/${demo.answer.run}`, { headers }));
  }, 1000);
});

// Notifications: one channel, every tab follows it.
const notes = new EventSource("/notifications");
notes.addEventListener("open", () => {
  $("notes-status").textContent = `connected as ${tab}: open this page in another tab too`;
});
notes.addEventListener("hello", () => { demo.notes.connected = true; });
notes.addEventListener("note", (e) => {
  const note = JSON.parse(e.data);
  demo.notes.received.push(note);
  const item = document.createElement("li");
  item.textContent = `${note.from}${note.from === tab ? " (this tab)" : ""}: ${note.text}`;
  $("notes").prepend(item);
});
notes.addEventListener("bye", () => goodbye("notifications", () => notes.close(), $("notes-status")));

$("note-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = $("note-text").value.trim();
  if (!text) return;
  $("note-text").value = "";
  await fetch("/notifications", { method: "POST", body: JSON.stringify({ from: tab, text }) });
});
