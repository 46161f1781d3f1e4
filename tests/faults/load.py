"""A bounded mixed load on the real stack: reads, posts, likes and logins, each answer recorded."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import requests

REQUEST_TIMEOUT = 30.0


@dataclass
class Answer:
    kind: str
    status: int | str  # an HTTP status, or the client-side exception's name
    seconds: float
    started: float  # time.monotonic() when sent
    content: str = ""  # a post's unique content
    code: str = ""  # the error code of a JSON error answer


@dataclass
class Person:
    token: str


def mint_and_log_in(base: str, wechat: str, appid: str) -> requests.Response:
    code = requests.post(f"{wechat}/__standin__/codes", json={"appid": appid}, timeout=10).json()["code"]
    return requests.post(
        f"{base}/api/v1/auth/login",
        json={"appid": appid, "code": code},
        timeout=REQUEST_TIMEOUT,
        headers={"Connection": "close"},
    )


@dataclass
class MixedLoad:
    base: str
    wechat: str
    appid: str
    threads: int = 6
    pause: float = 0.02  # between one thread's requests: a load, not a flood
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        self._counter = itertools.count()
        self.run_id = uuid.uuid4().hex[:6]

    def prepare(self) -> None:
        """Users, a board and a message to like, before the load starts."""
        self.people = []
        for _ in range(self.threads):
            response = mint_and_log_in(self.base, self.wechat, self.appid)
            response.raise_for_status()
            self.people.append(Person(response.json()["token"]))
        board = self._call(self.people[0], "POST", "/api/v1/boards", {"title": f"faults {self.run_id}"})
        board.raise_for_status()
        self.board_id = board.json()["id"]
        message = self._call(self.people[0], "POST", f"/api/v1/boards/{self.board_id}/messages", {"content": "likes"})
        message.raise_for_status()
        self.liked_id = message.json()["id"]

    def _call(self, person: Person, method: str, path: str, body=None, **headers) -> requests.Response:
        return requests.request(
            method,
            f"{self.base}{path}",
            json=body,
            timeout=REQUEST_TIMEOUT,
            headers={"Authorization": f"Bearer {person.token}", "Connection": "close", **headers},
        )

    def _one(self, index: int, person: Person, step: int) -> Answer:
        kind = ("read", "post", "like", "read", "post", "login")[step % 6]
        content = ""
        started = time.monotonic()
        try:
            if kind == "read":
                response = self._call(person, "GET", f"/api/v1/boards/{self.board_id}/messages")
            elif kind == "post":
                content = f"fault-{self.run_id}-{next(self._counter)}"
                response = self._call(
                    person,
                    "POST",
                    f"/api/v1/boards/{self.board_id}/messages",
                    {"content": content},
                    **{"Idempotency-Key": content},
                )
            elif kind == "like":
                method = "PUT" if (step // 6) % 2 == 0 else "DELETE"
                response = self._call(person, method, f"/api/v1/messages/{self.liked_id}/like")
            else:
                response = mint_and_log_in(self.base, self.wechat, self.appid)
            status: int | str = response.status_code
            code = ""
            if status >= 400 and response.headers.get("Content-Type", "").startswith("application/json"):
                code = (response.json().get("error") or {}).get("code", "")
            elif status >= 400:
                code = "not-json"
        except requests.RequestException as error:
            status, code = type(error).__name__, ""
        return Answer(kind, status, time.monotonic() - started, started, content, code)

    def _run(self, index: int) -> None:
        person = self.people[index]
        for step in itertools.count(index):
            if self._stop.is_set():
                return
            answer = self._one(index, person, step)
            with self._lock:
                self.answers.append(answer)
            self._stop.wait(self.pause)

    def __enter__(self) -> MixedLoad:
        for index in range(self.threads):
            worker = threading.Thread(target=self._run, args=(index,), daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=REQUEST_TIMEOUT + 5)

    # --- reading the outcome -------------------------------------------------------------
    def between(self, start: float, end: float) -> list[Answer]:
        return [a for a in self.answers if start <= a.started < end]

    @staticmethod
    def summary(answers: list[Answer]) -> dict[str, Counter]:
        table: dict[str, Counter] = {}
        for answer in answers:
            table.setdefault(answer.kind, Counter())[f"{answer.status}{' ' + answer.code if answer.code else ''}"] += 1
        return table

    def posts(self, *statuses: int) -> list[str]:
        return [a.content for a in self.answers if a.kind == "post" and a.status in statuses]
