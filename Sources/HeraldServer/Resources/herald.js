// Herald's browser client: keeps the page in step with the user's notifications and the open room.
// Served by Herald itself; no dependencies. Server-Sent Events first; long-polling when the browser
// has no EventSource or the stream keeps failing. Both call the same handlers.
(function () {
  "use strict";

  // The one place the unread badge changes, whatever transport brought the news.
  function setMessageCount(n) {
    var badge = document.getElementById("message_count");
    if (!badge) return;
    badge.textContent = String(n);
    badge.style.visibility = n > 0 ? "visible" : "hidden";
  }

  var handlers = { unread_message_count: [setMessageCount] };
  var eventSource = null;
  var lastEventId = null;   // the cursor of the last event seen, for reconnecting by hand

  function on(name, fn) {
    if (!handlers[name]) {
      handlers[name] = [];
      if (eventSource) eventSource.addEventListener(name, sseListener);
    }
    handlers[name].push(fn);
  }

  function dispatch(name, data) {
    (handlers[name] || []).forEach(function (fn) { fn(data); });
    document.dispatchEvent(new CustomEvent("herald:notification", { detail: { name: name, data: data } }));
  }

  function sseListener(event) {
    if (event.lastEventId) lastEventId = event.lastEventId;
    var data;
    try { data = JSON.parse(event.data); } catch (e) { return; }
    dispatch(event.type, data);
  }

  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  var room = document.getElementById("room");
  var roomChannel = room ? room.getAttribute("data-channel") : null;

  // The page was rendered at these cursors; follow the streams from there.
  function initialCursor() {
    var since = document.body.getAttribute("data-herald-since") || "0";
    if (roomChannel) since += ";" + roomChannel + "=" + room.getAttribute("data-cursor");
    return since;
  }

  function eventsURL(since) {
    var url = "/api/events?since=" + encodeURIComponent(since);
    if (roomChannel) url += "&channel=" + encodeURIComponent(roomChannel);
    return url;
  }

  // EventSource reconnects by itself, resuming with Last-Event-ID. When the server refuses the
  // stream outright (the cursor is from another database, say) it stays closed: start afresh,
  // and after repeated failures fall back to long-polling.
  function connectSSE(since, failures) {
    var source = new EventSource(eventsURL(since));
    eventSource = source;
    Object.keys(handlers).forEach(function (name) { source.addEventListener(name, sseListener); });
    source.addEventListener("herald.reset", function () { if (roomChannel) location.reload(); });
    source.onopen = function () { failures = 0; };
    source.onerror = function () {
      failures += 1;
      if (source.readyState === EventSource.CLOSED || failures >= 5) {
        source.close();
        eventSource = null;
        if (failures >= 5) { longPoll(); return; }
        // Refused outright (a cursor from another database, say): start again from where this
        // page's stream got to, or from the page's own cursor, and then from scratch.
        var resume = failures > 1 ? "0" : (lastEventId || initialCursor());
        setTimeout(function () { connectSSE(resume, failures); }, Math.min(30000, 500 * Math.pow(2, failures)));
      }
    };
  }

  // Long-poll: the server answers as soon as there is something after `since`, or [] after `wait`.
  async function longPoll() {
    var since = Number(document.body.getAttribute("data-herald-since") || "0"), failures = 0;
    for (;;) {
      try {
        var response = await fetch("/api/notifications?since=" + since + "&wait=30",
                                   { credentials: "same-origin", cache: "no-store" });
        if (response.status === 401) return;          // logged out: nothing to follow
        if (response.status === 400) { since = 0; continue; }
        if (!response.ok) throw new Error("HTTP " + response.status);
        var list = await response.json();
        for (var i = 0; i < list.length; i++) {
          since = Math.max(since, list[i].seq);
          dispatch(list[i].name, list[i].data);
        }
        failures = 0;
      } catch (e) {
        failures += 1;
        await sleep(Math.min(30000, 500 * Math.pow(2, failures)));
      }
    }
  }

  if (room) {
    var format = function (seconds) {
      var iso = new Date(seconds * 1000).toISOString();
      return iso.slice(0, 10) + " " + iso.slice(11, 16) + " UTC";
    };
    on("message", function (line) {
      if (!line || line.channel !== roomChannel) return;
      var item = document.createElement("li");
      item.className = "line";
      var from = document.createElement("span");
      from.className = "from";
      from.textContent = line.from;
      var time = document.createElement("time");
      time.textContent = format(line.sent_at);
      var text = document.createElement("span");
      text.className = "text";
      text.textContent = line.text;
      item.append(from, " ", time, " ", text);
      room.appendChild(item);
      room.scrollTop = room.scrollHeight;
    });
    var form = document.getElementById("room_form");
    if (form && window.EventSource) {
      form.addEventListener("submit", async function (event) {
        event.preventDefault();
        var input = form.querySelector("[name=text]");
        var response = await fetch(form.action, {
          method: "POST", credentials: "same-origin", headers: { Accept: "application/json" },
          body: new URLSearchParams(new FormData(form))
        });
        if (response.ok) input.value = "";
      });
    }
  }

  window.Herald = { setMessageCount: setMessageCount, on: on };
  window.setMessageCount = setMessageCount;
  if (window.EventSource) connectSSE(initialCursor(), 0); else longPoll();
})();
