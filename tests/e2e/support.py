"""Signing in through a server-rendered page's form, as a person would."""

from selenium.webdriver.support.wait import WebDriverWait

from tests.factories.organizations import PASSWORD


def sign_in(browser, live_server, email: str, *, area: str) -> None:
    """Open /<area>/, expect its sign-in form, submit it, and wait until signed in."""
    browser.get(f"{live_server.url}/{area}/")
    assert f"/{area}/login" in browser.current_url
    browser.find_element("id", "email").send_keys(email)
    browser.find_element("id", "password").send_keys(PASSWORD)
    browser.find_element("id", "sign-in").click()
    signed_in(browser, area=area)


def signed_in(browser, *, area: str) -> None:
    """Wait for the sign-in to land: hashing the password takes a moment, and reading the page
    before the redirect arrives would read the sign-in form again."""
    WebDriverWait(browser, 20).until(lambda b: f"/{area}/login" not in b.current_url)
