"""The demo page in a real headless Chromium (Debian's `chromium`, driven by Playwright): a user uploads, asks and
reads the answers, attention and messages in the page; twenty requests at once are all answered through the
bounded queue. Skipped, saying why, where Chromium or Playwright is missing (.ci/run installs both)."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from bad_uploads import frameless_video, text_file, truncated_png

from vlkit.demo.app import ServeOptions, serve
from vlkit.demo.inputs import DemoLimits

playwright_api = pytest.importorskip("playwright.sync_api",
                                     reason="playwright is not installed (pip install playwright)")
CHROMIUM = os.environ.get("VLKIT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="no Chromium: apt-get install chromium (or set VLKIT_CHROMIUM)")

LIMITS = DemoLimits(max_upload_mb=1.0)
CONCURRENCY = 2
ANSWER_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def served(demo_runs, tmp_path_factory):
    """The page of the three runs at 127.0.0.1 on a free port, with at most CONCURRENCY requests at once; each
    Predictor counts how many of its calls overlap."""
    overlap = {"now": 0, "most": 0}
    lock = threading.Lock()
    for run in demo_runs:
        method = "caption" if run.task == "caption" else "answer"
        original = getattr(run.predictor, method)

        def counted(*args, _original=original, **kwargs):
            with lock:
                overlap["now"] += 1
                overlap["most"] = max(overlap["most"], overlap["now"])
            try:
                time.sleep(0.05)  # long enough for requests that are let through together to overlap
                return _original(*args, **kwargs)
            finally:
                with lock:
                    overlap["now"] -= 1

        setattr(run.predictor, method, counted)
    page = serve(demo_runs, LIMITS, ServeOptions(port=0, concurrency=CONCURRENCY, queue_size=64),
                 tmp_path_factory.mktemp("examples"))
    yield page.local_url, overlap
    page.close()
    for run in demo_runs:
        for method in ("caption", "answer"):
            run.predictor.__dict__.pop(method, None)


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM,
                                              args=["--no-sandbox", "--disable-background-networking"])
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser, served):
    url, _ = served
    tab = browser.new_page(viewport={"width": 1280, "height": 1000})
    outside = []
    tab.on("request", lambda request: outside.append(request.url)
           if not request.url.startswith((url.rstrip("/"), "data:", "blob:")) else None)
    tab.goto(url, wait_until="networkidle")
    tab.outside_requests = outside
    yield tab
    tab.close()


def upload(page, element_id: str, path: Path) -> None:
    """Choose `path` in the component's file input and wait until the server has stored it (a request sent
    before that would carry no file)."""
    with page.expect_response(lambda response: "/upload" in response.url, timeout=ANSWER_TIMEOUT_MS):
        page.locator(f"#{element_id} input[type=file]").set_input_files(str(path))
    page.wait_for_timeout(200)  # the component takes the stored file as its value


def wait_for_message(page, task: str, text: str) -> str:
    message = page.locator(f"#{task}-message")
    message.get_by_text(text, exact=False).wait_for(timeout=ANSWER_TIMEOUT_MS)
    return message.inner_text()


def top_answer(page, element_id: str) -> str:
    """The answer gr.Label shows in large type (its first line)."""
    label = page.locator(f"#{element_id}")
    label.locator("h2").first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    return label.locator("h2").first.inner_text().strip()


def test_the_page_listens_on_localhost_has_a_tab_per_task_and_loads_nothing_from_outside(page, served):
    url, _ = served
    assert url.startswith("http://127.0.0.1:")
    for title in ("Visual question answering", "Image captioning", "Video question answering"):
        assert page.get_by_role("tab", name=title).is_visible()
    assert page.outside_requests == []


def test_a_user_asks_about_an_image_and_sees_the_models_answer_and_its_attention(page, demo_runs, tmp_path):
    from vlkit.demo.examples import vqa_examples

    image, question = vqa_examples(tmp_path)[1]
    upload(page, "vqa-image", Path(image))
    page.locator("#vqa-question textarea").fill(question)
    page.locator("#vqa-submit").click()
    expected = demo_runs[0].predictor.answer(image, question, 5).answers
    assert top_answer(page, "vqa-answers") == expected[0][0]
    page.locator("#vqa-attention img").wait_for(timeout=ANSWER_TIMEOUT_MS)
    assert f"{round(100 * expected[1][1])}%" in page.locator("#vqa-answers").inner_text()


def test_a_user_captions_an_image_and_sees_one_attention_map_per_word(page, demo_runs, tmp_path):
    from vlkit.demo.examples import caption_examples

    (image,) = caption_examples(tmp_path)[1]
    page.get_by_role("tab", name="Image captioning").click()
    upload(page, "caption-image", Path(image))
    page.locator("#caption-submit").click()
    expected = demo_runs[1].predictor.caption(image, 3)
    page.wait_for_function("([selector, text]) => document.querySelector(selector).value === text",
                           arg=["#caption-text textarea", expected.caption], timeout=ANSWER_TIMEOUT_MS)
    assert page.locator("#caption-words img").count() == len(expected.words)


def test_a_user_asks_about_a_video_and_sees_the_answer_and_the_attention_per_clip(page, demo_runs, tmp_path):
    from vlkit.demo.examples import videoqa_examples

    video, question = videoqa_examples(tmp_path)[0]
    page.get_by_role("tab", name="Video question answering").click()
    upload(page, "videoqa-video", Path(video))
    page.locator("#videoqa-question textarea").fill(question)
    page.locator("#videoqa-submit").click()
    expected = demo_runs[2].predictor.answer(Path(video), question, 5)
    assert top_answer(page, "videoqa-answers") == expected.answers[0][0]
    clips = page.locator("#videoqa-clip-attention").inner_text()
    assert all(f"clip {i + 1}" in clips for i in range(len(expected.clip_attention)))
    assert page.locator("#videoqa-clips img").count() == len(expected.clip_attention)


def test_an_example_row_fills_the_inputs_and_is_answered(page):
    page.get_by_text("what is the red shape?").first.click()
    page.wait_for_function("() => document.querySelector('#vqa-question textarea').value === 'what is the red shape?'",
                           timeout=ANSWER_TIMEOUT_MS)
    page.locator("#vqa-image img").first.wait_for(timeout=ANSWER_TIMEOUT_MS)  # the example's image is loaded
    page.locator("#vqa-submit").click()
    assert top_answer(page, "vqa-answers")
    assert page.locator("#vqa-message").inner_text().strip() == ""


@pytest.mark.parametrize("case,expected", [
    ("a text file as the image", "the upload is not an image this demo can read"),
    ("a truncated image", "the image is damaged and cannot be decoded"),
    ("an empty question", "type a question first"),
    ("a 500-word question", "the question has 500 words; the limit is 60"),
])
def test_bad_image_input_gets_a_message_in_the_page_and_the_next_request_is_answered(page, tmp_path, case, expected):
    from vlkit.demo.examples import vqa_examples

    good_image, good_question = vqa_examples(tmp_path)[0]
    image = {"a text file as the image": text_file(tmp_path / "photo.png"),
             "a truncated image": truncated_png(tmp_path / "cut.png")}.get(case, Path(good_image))
    question = {"an empty question": "", "a 500-word question": "shape " * 500}.get(case, good_question)
    upload(page, "vqa-image", image)
    page.locator("#vqa-question textarea").fill(question)
    page.locator("#vqa-submit").click()
    assert "Could not answer" in wait_for_message(page, "vqa", expected)
    upload(page, "vqa-image", Path(good_image))
    page.locator("#vqa-question textarea").fill(good_question)
    page.locator("#vqa-submit").click()
    assert top_answer(page, "vqa-answers")
    assert page.locator("#vqa-message").inner_text().strip() == ""


@pytest.mark.parametrize("case,expected", [
    ("a text file as the video", "the upload is not a video this demo can decode"),
    ("a video without frames", "the video has no frames"),
])
def test_a_bad_video_gets_a_message_in_the_page(page, tmp_path, case, expected):
    video = text_file(tmp_path / "clip.mp4") if case == "a text file as the video" else frameless_video(
        tmp_path / "empty.avi")
    page.get_by_role("tab", name="Video question answering").click()
    upload(page, "videoqa-video", video)
    page.locator("#videoqa-question textarea").fill("what moves to the left")
    page.locator("#videoqa-submit").click()
    assert "Could not answer" in wait_for_message(page, "videoqa", expected)


def test_an_upload_over_the_size_limit_is_refused_in_the_page(page, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + os.urandom(2**20 + 2**18))  # 1.25 MB against the 1 MB limit
    page.locator("#vqa-image input[type=file]").set_input_files(str(big))  # refused before any upload request
    page.get_by_text("exceed the maximum allowed size of 1", exact=False).first.wait_for(timeout=ANSWER_TIMEOUT_MS)


def resident_megabytes() -> float:
    """This process's resident memory now (the server runs in it), from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def test_twenty_simultaneous_requests_are_all_answered_at_most_two_at_a_time_with_memory_bounded(served, demo_runs,
                                                                                                  tmp_path):
    from gradio_client import Client, handle_file

    from vlkit.demo.examples import vqa_examples

    url, overlap = served
    image, question = vqa_examples(tmp_path)[0]
    expected = demo_runs[0].predictor.answer(image, question, 3).answers[0][0]
    client = Client(url, verbose=False)
    before = resident_megabytes()
    overlap["most"] = 0
    jobs = [client.submit(demo_runs[0].label, handle_file(image), question, 3, api_name="/vqa") for _ in range(20)]
    results = [job.result(timeout=120) for job in jobs]
    assert [result[0] for result in results] == [""] * 20  # no message: every request answered
    assert [result[1]["label"] for result in results] == [expected] * 20
    assert overlap["most"] == CONCURRENCY  # requests ran side by side, never more than the limit
    assert resident_megabytes() - before < 200
    client.close()
