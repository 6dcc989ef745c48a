// Herald's browser client: keeps the page in step with the user's notification stream.
// Served by Herald itself; no dependencies.
(function () {
  "use strict";

  // The one place the unread badge changes, whatever transport brought the news.
  function setMessageCount(n) {
    var badge = document.getElementById("message_count");
    if (!badge) return;
    badge.textContent = String(n);
    badge.style.visibility = n > 0 ? "visible" : "hidden";
  }

  var handlers = { unread_message_count: setMessageCount };

  function dispatch(notification) {
    var handle = handlers[notification.name];
    if (handle) handle(notification.data);
    document.dispatchEvent(new CustomEvent("herald:notification", { detail: notification }));
  }

  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  // Long-poll: the server answers as soon as there is something after `since`, or with [] after `wait`.
  async function longPoll() {
    var since = 0, failures = 0;
    for (;;) {
      try {
        var response = await fetch("/api/notifications?since=" + since + "&wait=30",
                                   { credentials: "same-origin", cache: "no-store" });
        if (response.status === 401) return;          // logged out: nothing to follow
        if (!response.ok) throw new Error("HTTP " + response.status);
        var list = await response.json();
        for (var i = 0; i < list.length; i++) {
          since = Math.max(since, list[i].seq);
          dispatch(list[i]);
        }
        failures = 0;
      } catch (e) {
        failures += 1;
        await sleep(Math.min(30000, 500 * Math.pow(2, failures)));
      }
    }
  }

  window.Herald = { setMessageCount: setMessageCount, on: function (name, fn) { handlers[name] = fn; } };
  window.setMessageCount = setMessageCount;
  longPoll();
})();
