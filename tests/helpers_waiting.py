"""One way for a test to wait for something another process does."""
import time


def wait_until(condition, timeout_s: float = 90, what: str = "condition", every_s: float = 0.05):
    """The first truthy value of ``condition()``, polled every ``every_s``; AssertionError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
