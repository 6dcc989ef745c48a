// The demo page's client: Flask-SocketIO's example, against Herald's /test namespace.
(function () {
  "use strict";
  var socket = io("/test");
  var log = document.getElementById("log");
  function show(text) {
    var item = document.createElement("li");
    item.textContent = text;
    log.insertBefore(item, log.firstChild);
  }
  function describe(data) {
    if (data instanceof ArrayBuffer) return "<" + data.byteLength + " bytes>";
    return typeof data === "string" ? data : JSON.stringify(data);
  }
  socket.on("connect", function () {
    document.getElementById("transport").textContent = socket.io.engine.transport.name;
    socket.io.engine.on("upgrade", function () {
      document.getElementById("transport").textContent = socket.io.engine.transport.name;
    });
  });
  socket.on("my_response", function (message, ack) {
    show("Received #" + message.count + ": " + describe(message.data));
    if (ack) ack();
  });
  var sentAt = 0;
  socket.on("my_pong", function () {
    document.getElementById("ping").textContent = String(Date.now() - sentAt);
  });
  setInterval(function () { sentAt = Date.now(); socket.emit("my_ping"); }, 1000);
  function value(id) { return document.getElementById(id).value; }
  document.getElementById("emit").addEventListener("submit", function (event) {
    event.preventDefault();
    socket.emit("my_event", { data: value("emit_data") });
  });
  document.getElementById("broadcast_button").addEventListener("click", function () {
    socket.emit("my_broadcast_event", { data: value("emit_data") });
  });
  document.getElementById("room").addEventListener("submit", function (event) {
    event.preventDefault();
    socket.emit("join", { room: value("room_name") });
  });
  document.getElementById("leave_button").addEventListener("click", function () {
    socket.emit("leave", { room: value("room_name") });
  });
  document.getElementById("room_send_button").addEventListener("click", function () {
    socket.emit("my_room_event", { room: value("room_name"), data: value("room_data") });
  });
  // For scripts (and tests): emit any data, binary included, through the same path as the form.
  window.demoEmit = function (data) { socket.emit("my_event", { data: data }); };
})();
