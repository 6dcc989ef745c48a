"""The stock Socket.IO JavaScript client (v4.8.1, fetched by scripts/fetch-socketio-client) in
headless Chromium against Herald: the /socketio-demo page (Flask-SocketIO's example), two browsers
in a room, and /notifications recovering by itself (pid + offset) after its transport is closed."""

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import running_herald
from test_browser import browsers, log_in  # noqa: F401 (browsers is a fixture)
from test_socketio_interop import SOCKETIO_CLIENT, socketio_settings


@pytest.fixture(scope="module")
def server():
    with running_herald("herald-sio-browser-", **socketio_settings()) as herald:
        yield herald


def log_lines(driver):
    """The demo page's log, oldest first (the page puts the newest on top)."""
    return [item.text for item in reversed(driver.find_elements(By.CSS_SELECTOR, "#log li"))]


def wait_for_line(driver, text, timeout=5):
    try:
        WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: text in log_lines(d))
    except Exception:
        raise AssertionError(f"{text!r} never showed; the log: {log_lines(driver)}") from None


def open_demo(driver, server):
    driver.get(server.base + "/socketio-demo")
    assert driver.find_elements(By.ID, "client_missing") == [], "the page says the Socket.IO client is missing"
    WebDriverWait(driver, 10, poll_frequency=0.05).until(
        lambda d: d.find_element(By.ID, "transport").text == "websocket")
    wait_for_line(driver, "Received #0: Connected")


def severe_errors(driver):
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def test_the_demo_page_round_trip_with_the_official_client(server, browsers):
    driver = browsers()
    open_demo(driver, server)
    assert driver.execute_script("return typeof io.Manager") == "function"
    served = requests.get(server.base + "/socket.io/socket.io.min.js", timeout=5)
    assert served.status_code == 200 and "javascript" in served.headers.get("Content-Type", "")
    with open(SOCKETIO_CLIENT, "rb") as client:
        assert served.content == client.read()
    assert served.content.startswith(b"/*!\n * Socket.IO v4.8.1\n")
    # It started on polling and upgraded: both kinds of request were made.
    urls = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert any("/socket.io/?EIO=4&transport=polling" in url for url in urls), urls

    driver.find_element(By.ID, "emit_data").send_keys("hello")
    driver.find_element(By.ID, "emit_button").click()
    wait_for_line(driver, "Received #1: hello")
    driver.execute_script("demoEmit(new Uint8Array([1, 2, 3]).buffer)")
    wait_for_line(driver, "Received #2: <3 bytes>")
    driver.execute_script("demoEmit('ünïcode ☃ 😀')")
    wait_for_line(driver, "Received #3: ünïcode ☃ 😀")
    # my_ping / my_pong every second shows a round-trip time; the background task's ticks arrive.
    WebDriverWait(driver, 5, poll_frequency=0.1).until(lambda d: d.find_element(By.ID, "ping").text.isdigit())
    WebDriverWait(driver, 5, poll_frequency=0.1).until(
        lambda d: any(line.endswith(": Server generated event") for line in log_lines(d)))
    assert driver.find_element(By.ID, "transport").text == "websocket"
    assert severe_errors(driver) == []


def test_two_browsers_in_a_room_see_each_others_messages(server, browsers):
    alice, bob = browsers(), browsers()
    for driver in (alice, bob):
        open_demo(driver, server)
        driver.find_element(By.ID, "room_name").send_keys("lobby")
        driver.find_element(By.ID, "join_button").click()
    for driver in (alice, bob):
        WebDriverWait(driver, 5, poll_frequency=0.05).until(
            lambda d: any(line.startswith("Received #1: In rooms: ") and "lobby" in line.split(": ", 2)[2].split(", ")
                          for line in log_lines(d)))

    alice.find_element(By.ID, "room_data").send_keys("hi from alice")
    alice.find_element(By.ID, "room_send_button").click()
    wait_for_line(bob, "Received #2: hi from alice")
    wait_for_line(alice, "Received #2: hi from alice")
    bob.find_element(By.ID, "room_data").send_keys("hello alice")
    bob.find_element(By.ID, "room_send_button").click()
    wait_for_line(alice, "Received #2: hello alice")

    bob.find_element(By.ID, "leave_button").click()
    WebDriverWait(bob, 5, poll_frequency=0.05).until(
        lambda d: any(line.startswith("Received #3: In rooms: ") and "lobby" not in line for line in log_lines(d)))
    alice.find_element(By.ID, "room_data").clear()
    alice.find_element(By.ID, "room_data").send_keys("after bob left")
    alice.find_element(By.ID, "room_send_button").click()
    wait_for_line(alice, "Received #3: after bob left")
    bob.find_element(By.ID, "emit_data").send_keys("marker")
    bob.find_element(By.ID, "emit_button").click()
    wait_for_line(bob, "Received #4: marker")
    assert not any("after bob left" in line for line in log_lines(bob)), log_lines(bob)
    for driver in (alice, bob):
        assert severe_errors(driver) == []


NOTIFICATIONS_CLIENT = """
const channel = arguments[0];
window.got = []; window.connects = []; window.acks = [];
// Its own manager (forceNew) with a fixed reconnection delay, so that the test knows how long the
// client stays away after its transport is closed.
const n = io('/notifications', {forceNew: true, reconnectionDelay: 1500, reconnectionDelayMax: 1500,
                                randomizationFactor: 0});
window.notifications = n;
n.on('connect', () => {
  connects.push({recovered: n.recovered, transport: n.io.engine.transport.name});
  if (connects.length === 1) n.emit('join', {channel}, (ack) => acks.push(ack));
});
n.on('connect_error', (error) => connects.push({error: error.message}));
n.onAny((event, ...args) => { if (event !== 'status') got.push([event, args]); });
"""


class NotificationsPage:
    """A signed-in browser on the demo page with the stock client on /notifications and `channel`
    joined; the user's and the channel's events as (name, data, stream, seq)."""

    def __init__(self, server, driver, user, channel):
        self.server, self.driver, self.user, self.channel = server, driver, user, channel
        self.published = []
        server.add_user(user, user + "-password")
        log_in(driver, server.base, user, user + "-password")
        open_demo(driver, server)
        driver.execute_script(NOTIFICATIONS_CLIENT, channel)
        WebDriverWait(driver, 5, poll_frequency=0.05).until(lambda d: d.execute_script("return acks.length") == 1)
        assert driver.execute_script("return acks") == [{"channel": channel, "seq": 0}]
        [first] = self.connects()
        assert first["recovered"] is False, first

    def js(self, expression):
        return self.driver.execute_script("return " + expression)

    def connects(self):
        return self.js("connects")

    def received(self):
        return [(event, args[0], args[1]["stream"], args[1]["seq"]) for event, args in self.js("got")]

    def wait_received(self, count, timeout=5):
        try:
            WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(lambda d: len(self.received()) >= count)
        except Exception:
            raise AssertionError(f"expected {count} events, got {self.received()}; published {self.published}; "
                                 f"the last offset received: {self.js('got.length ? got[got.length - 1][1][2] : null')!r}") from None
        return self.received()

    def publish_user(self, n):
        seq = self.server.publish(user=self.user, name="build", data={"n": n})["seq"]
        self.published.append(("build", {"n": n}, "user", seq))

    def publish_channel(self, n):
        seq = self.server.publish(channel=self.channel, name="news", data={"n": n})["seq"]
        self.published.append(("news", {"n": n}, f"channel:{self.channel}", seq))

    def away(self, publish):
        """Closes the transport, publishes while the client is away, waits until it is back (and
        says it recovered)."""
        before = len(self.connects())
        self.driver.execute_script("notifications.io.engine.close()")
        publish()
        assert self.js("notifications.connected") is False, \
            "the client was back before the test published: it cannot tell what was missed"
        WebDriverWait(self.driver, 8, poll_frequency=0.05).until(lambda d: len(self.connects()) > before)
        assert self.connects()[before]["recovered"] is True, self.connects()

    def assert_exactly_what_was_published(self):
        """Missed ones replay stream by stream: each stream in order, nothing lost, nothing twice."""
        got = self.wait_received(len(self.published))
        for stream in ("user", f"channel:{self.channel}"):
            assert [g for g in got if g[2] == stream] == [p for p in self.published if p[2] == stream], got
        assert len(got) == len(self.published), got


def test_the_stock_client_recovers_notifications_by_itself(server, browsers):
    """Signed in (session cookie), /notifications with a channel; the transport is closed, more is
    published while the client is away; socket.io-client reconnects with its pid and last offset
    and gets exactly what it missed, then live events: nothing lost, nothing twice."""
    page = NotificationsPage(server, browsers(), "carol", "browser-news")
    for n in range(3):
        page.publish_user(n)
        page.publish_channel(n)
    assert page.wait_received(6) == page.published

    page.away(lambda: [(page.publish_user(n), page.publish_channel(n)) for n in range(3, 6)])
    page.assert_exactly_what_was_published()

    page.publish_user(6)
    page.publish_channel(6)
    assert page.wait_received(14)[12:] == page.published[12:]
    assert len(page.connects()) == 2
    assert severe_errors(page.driver) == []


def test_the_stock_client_recovers_twice_in_a_row(server, browsers):
    """Away twice: first only the user's stream gets events, then only the channel. The client
    resumes the second time from the offset of the last replayed (user) event, which must still
    name the channel."""
    page = NotificationsPage(server, browsers(), "dave", "browser-twice")
    page.publish_channel(0)
    page.publish_user(0)
    page.assert_exactly_what_was_published()
    page.away(lambda: [page.publish_user(n) for n in (1, 2)])
    page.assert_exactly_what_was_published()
    page.away(lambda: [page.publish_channel(n) for n in (1, 2)])
    page.assert_exactly_what_was_published()
    page.publish_channel(3)
    page.publish_user(3)
    page.assert_exactly_what_was_published()
    assert severe_errors(page.driver) == []
