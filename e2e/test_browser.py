"""Two people in two real browsers (headless Chromium through selenium)."""
import os
import tempfile

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def make_driver():
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1100,760", "--no-first-run", "--no-default-browser-check"):
        options.add_argument(arg)
    options.add_argument("--user-data-dir=" + tempfile.mkdtemp(prefix="herald-chrome-"))
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=os.environ.get("CHROMEDRIVER_BIN", "/usr/bin/chromedriver"))
    return webdriver.Chrome(service=service, options=options)


@pytest.fixture
def browsers():
    made = []

    def new():
        driver = make_driver()
        made.append(driver)
        return driver

    yield new
    for driver in made:
        driver.quit()


def log_in(driver, base, name, password):
    driver.get(base + "/login")
    driver.find_element(By.ID, "username").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "submit").click()
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.ID, "profile_link"))


def badge(driver):
    return driver.find_element(By.ID, "message_count")


def send(driver, base, recipient, text):
    driver.get(base + "/user/" + recipient)
    driver.find_element(By.ID, "send_message_link").click()
    driver.find_element(By.ID, "message").send_keys(text)
    driver.find_element(By.ID, "submit").click()
    WebDriverWait(driver, 10).until(lambda d: "Your message has been sent." in d.page_source)


def test_badge_follows_messages_live_in_a_second_browser(herald, browsers):
    herald.add_user("alice", "alice-password")
    herald.add_user("bob", "bob-password")
    alice, bob = browsers(), browsers()
    log_in(alice, herald.base, "alice", "alice-password")
    log_in(bob, herald.base, "bob", "bob-password")

    bob.get(herald.base + "/users")
    assert not badge(bob).is_displayed()

    send(alice, herald.base, "bob", "Hello <Bob> & friends")
    # No reload on Bob's side: the page's EventSource hears about it within a second of the send.
    WebDriverWait(bob, 1, poll_frequency=0.05).until(lambda d: badge(d).is_displayed() and badge(d).text == "1")
    assert bob.current_url == herald.base + "/users"

    bob.find_element(By.ID, "messages_link").click()
    WebDriverWait(bob, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "li.message"))
    body = bob.find_element(By.CSS_SELECTOR, "li.message .body").text
    assert body == "Hello <Bob> & friends"
    assert not badge(bob).is_displayed()

    # While Bob reads his inbox, a second message lights the badge up again.
    send(alice, herald.base, "bob", "One more thing: the release is Friday.")
    WebDriverWait(bob, 10).until(lambda d: badge(d).is_displayed() and badge(d).text == "1")
    screenshot = os.environ.get("HERALD_SCREENSHOT")
    if screenshot:
        # Reload to list both messages (the visit resets the badge), then light it up once more.
        bob.refresh()
        send(alice, herald.base, "bob", "And the demo is at 3 pm.")
        WebDriverWait(bob, 10).until(lambda d: badge(d).is_displayed() and badge(d).text == "1")
        bob.save_screenshot(screenshot)

    errors = [entry for entry in bob.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []


def test_the_badge_clears_in_other_tabs_when_the_inbox_is_opened(herald, browsers):
    herald.add_user("alice", "alice-password")
    herald.add_user("bob", "bob-password")
    alice, bob_here, bob_there = browsers(), browsers(), browsers()
    log_in(alice, herald.base, "alice", "alice-password")
    log_in(bob_here, herald.base, "bob", "bob-password")
    log_in(bob_there, herald.base, "bob", "bob-password")
    bob_there.get(herald.base + "/users")

    send(alice, herald.base, "bob", "hi")
    WebDriverWait(bob_there, 10).until(lambda d: badge(d).text == "1")
    bob_here.get(herald.base + "/messages")
    WebDriverWait(bob_there, 10).until(lambda d: not badge(d).is_displayed())


def test_two_browsers_in_one_chat_room_see_each_others_lines(herald, browsers):
    herald.add_user("alice", "alice-password")
    herald.add_user("bob", "bob-password")
    alice, bob = browsers(), browsers()
    log_in(alice, herald.base, "alice", "alice-password")
    log_in(bob, herald.base, "bob", "bob-password")

    alice.get(herald.base + "/rooms")
    alice.find_element(By.ID, "room_name").send_keys("lobby")
    alice.find_element(By.ID, "create_room").click()
    WebDriverWait(alice, 10).until(lambda d: d.current_url.endswith("/rooms/lobby"))
    bob.get(herald.base + "/rooms")
    bob.find_element(By.LINK_TEXT, "#lobby").click()
    WebDriverWait(bob, 10).until(lambda d: d.current_url.endswith("/rooms/lobby"))

    def say(driver, text):
        driver.find_element(By.ID, "text").send_keys(text)
        driver.find_element(By.ID, "say").click()

    def lines(driver):
        return [(line.find_element(By.CLASS_NAME, "from").text, line.find_element(By.CLASS_NAME, "text").text)
                for line in driver.find_elements(By.CSS_SELECTOR, "#room .line")]

    say(alice, "hi <b>bob</b>")
    WebDriverWait(bob, 2, poll_frequency=0.05).until(lambda d: lines(d) == [("alice", "hi <b>bob</b>")])
    say(bob, "hello alice & all")
    expected = [("alice", "hi <b>bob</b>"), ("bob", "hello alice & all")]
    WebDriverWait(alice, 2, poll_frequency=0.05).until(lambda d: lines(d) == expected)
    WebDriverWait(bob, 2, poll_frequency=0.05).until(lambda d: lines(d) == expected)
    # No reloads happened: the form was sent by the script and the lines came over SSE.
    assert alice.current_url.endswith("/rooms/lobby") and alice.find_element(By.ID, "text").get_attribute("value") == ""
    # A late joiner gets the history from the page itself.
    late = browsers()
    log_in(late, herald.base, "alice", "alice-password")
    late.get(herald.base + "/rooms/lobby")
    assert lines(late) == expected
    for driver in (alice, bob, late):
        assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []


def test_without_event_source_the_page_falls_back_to_long_polling(herald, browsers):
    herald.add_user("alice", "alice-password")
    herald.add_user("bob", "bob-password")
    alice, bob = browsers(), browsers()
    # Bob's browser has no EventSource: herald.js must long-poll instead.
    bob.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": "delete window.EventSource;"})
    log_in(alice, herald.base, "alice", "alice-password")
    log_in(bob, herald.base, "bob", "bob-password")
    bob.get(herald.base + "/users")
    assert bob.execute_script("return typeof window.EventSource") == "undefined"

    send(alice, herald.base, "bob", "over long-polling")
    WebDriverWait(bob, 5, poll_frequency=0.05).until(lambda d: badge(d).is_displayed() and badge(d).text == "1")
    assert [e for e in bob.get_log("browser") if e["level"] == "SEVERE"] == []
