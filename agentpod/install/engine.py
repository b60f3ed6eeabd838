"""A small Ansible-like engine: a playbook is data (tasks and handlers), a module turns one
task's arguments into a plan, and the engine applies plans, notifies handlers and counts results.

Planning and applying are separate stages (as in pyinfra): a module reads the facts it needs and
returns a :class:`Plan` — the actions it would take, each a description, an optional diff and a
callable — or an empty plan ("ok"). ``check`` mode stops after planning, so no module needs its
own dry-run guard. Every task reports ok / changed / failed / skipped; handlers run once, at the
end (or at a ``flush_handlers`` task), in the order they are declared, only when a task that
notified them changed something. A failed task stops the run; handlers already notified still
run, so that a re-run, which will find those files unchanged, is not left without its restart.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import jinja2

FLUSH = "flush_handlers"


class PlaybookError(ValueError):
    """The playbook itself is wrong (unknown module, bad arguments, bad expression)."""


class TaskFailed(RuntimeError):
    """A module could not plan or apply: its message is shown as the task's failure."""


class Status(StrEnum):
    OK = "ok"
    CHANGED = "changed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Diff:
    path: str
    before: str
    after: str

    def unified(self) -> str:
        import difflib

        lines = difflib.unified_diff(
            self.before.splitlines(keepends=True),
            self.after.splitlines(keepends=True),
            fromfile=f"{self.path} (before)",
            tofile=f"{self.path} (after)",
        )
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


@dataclass(frozen=True)
class Action:
    """One step a module would take. ``changes=False`` marks a wait or a probe: it runs in a real
    run but does not make the task "changed"."""

    describe: str
    run: Callable[[], None]
    diff: Diff | None = None
    changes: bool = True


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...] = ()
    skip: str | None = None  # a reason: the task does not apply here

    @classmethod
    def of(cls, *actions: Action | None) -> Plan:
        return cls(tuple(a for a in actions if a is not None))

    @classmethod
    def skipped(cls, reason: str) -> Plan:
        return cls(skip=reason)


@dataclass(frozen=True)
class Task:
    name: str
    module: str
    args: Mapping[str, Any] = field(default_factory=dict)
    notify: tuple[str, ...] = ()
    when: str | None = None  # a Jinja expression over the variables


@dataclass(frozen=True)
class Playbook:
    name: str
    tasks: tuple[Task, ...]
    handlers: tuple[Task, ...] = ()

    @classmethod
    def load(cls, path: Path) -> Playbook:
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise PlaybookError(f"cannot read playbook {path}: {exc}") from None
        return cls.from_dict(data, default_name=path.stem)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], default_name: str = "playbook") -> Playbook:
        def task(raw: Mapping[str, Any], where: str) -> Task:
            unknown = set(raw) - {"name", "module", "args", "notify", "when"}
            if unknown or "name" not in raw or "module" not in raw:
                raise PlaybookError(
                    f"{where}: a task needs name and module (and only args, notify, when);"
                    f" got {sorted(raw)}"
                )
            notify = raw.get("notify", ())
            return Task(
                name=str(raw["name"]),
                module=str(raw["module"]),
                args=dict(raw.get("args", {})),
                notify=(notify,) if isinstance(notify, str) else tuple(notify),
                when=raw.get("when"),
            )

        tasks = tuple(task(t, f"task {i}") for i, t in enumerate(data.get("tasks", []), 1))
        handlers = tuple(task(h, f"handler {i}") for i, h in enumerate(data.get("handlers", []), 1))
        names = {h.name for h in handlers}
        for t in tasks:
            missing = set(t.notify) - names
            if missing:
                raise PlaybookError(
                    f"task {t.name!r} notifies unknown handler(s) {sorted(missing)}"
                )
        return cls(str(data.get("name", default_name)), tasks, handlers)


class Module(Protocol):
    def __call__(self, args: Mapping[str, Any], host: Any) -> Plan: ...


@dataclass(frozen=True)
class TaskResult:
    task: str
    status: Status
    changes: tuple[str, ...] = ()
    diffs: tuple[Diff, ...] = ()
    message: str | None = None
    handler: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "status": self.status.value,
            "handler": self.handler,
            "changes": list(self.changes),
            "message": self.message,
        }


@dataclass
class Summary:
    results: list[TaskResult] = field(default_factory=list)
    check: bool = False

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)

    @property
    def failed(self) -> bool:
        return self.count(Status.FAILED) > 0

    def line(self) -> str:
        return " ".join(f"{s.value}={self.count(s)}" for s in Status)

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            **{s.value: self.count(s) for s in Status},
            "results": [r.as_dict() for r in self.results],
        }


_JINJA = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def render_value(value: Any, variables: Mapping[str, Any]) -> Any:
    """Render ``{{ }}`` in strings (recursively); a string that is one expression keeps the
    expression's type, as in Ansible."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("{{") and stripped.endswith("}}") and stripped.count("{{") == 1:
            return _JINJA.compile_expression(stripped[2:-2].strip())(**variables)
        if "{{" in value or "{%" in value:
            return _JINJA.from_string(value).render(**variables)
        return value
    if isinstance(value, Mapping):
        return {k: render_value(v, variables) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [render_value(v, variables) for v in value]
    return value


def _when(task: Task, variables: Mapping[str, Any]) -> bool:
    if task.when is None:
        return True
    try:
        return bool(_JINJA.compile_expression(task.when)(**variables))
    except jinja2.TemplateError as exc:
        raise PlaybookError(f"task {task.name!r}: bad when {task.when!r}: {exc}") from None


@dataclass
class Engine:
    modules: Mapping[str, Module]
    host: Any  # what modules get: paths, variables, system access (see modules.Host)
    variables: Mapping[str, Any]
    check: bool = False
    report: Callable[[TaskResult], None] = lambda result: None

    def run(self, playbook: Playbook) -> Summary:
        for t in (*playbook.tasks, *playbook.handlers):
            if t.module != FLUSH and t.module not in self.modules:
                raise PlaybookError(f"task {t.name!r}: unknown module {t.module!r}")
        summary = Summary(check=self.check)
        notified: list[str] = []
        for task in playbook.tasks:
            if task.module == FLUSH:
                if not self._handlers(playbook, notified, summary):
                    return summary
                notified.clear()
                continue
            result = self._run_task(task)
            self._record(summary, result)
            if result.status is Status.CHANGED:
                notified += [n for n in task.notify if n not in notified]
            if result.status is Status.FAILED:
                break
        self._handlers(playbook, notified, summary)
        return summary

    def _record(self, summary: Summary, result: TaskResult) -> None:
        summary.results.append(result)
        self.report(result)

    def _handlers(self, playbook: Playbook, notified: Iterable[str], summary: Summary) -> bool:
        wanted = set(notified)
        for handler in playbook.handlers:
            if handler.name not in wanted:
                continue
            result = self._run_task(handler, is_handler=True)
            self._record(summary, result)
            if result.status is Status.FAILED:
                return False
        return True

    def _run_task(self, task: Task, is_handler: bool = False) -> TaskResult:
        try:
            name = str(render_value(task.name, self.variables))
        except jinja2.TemplateError:
            name = task.name

        def result(status: Status, **kw: Any) -> TaskResult:
            return TaskResult(name, status, handler=is_handler, **kw)

        try:
            if not _when(task, self.variables):
                return result(Status.SKIPPED, message=f"when: {task.when}")
            args = render_value(task.args, self.variables)
            plan = self.modules[task.module](args, self.host)
        except jinja2.TemplateError as exc:
            return result(Status.FAILED, message=f"bad arguments: {exc}")
        except Exception as exc:  # a module's failure is the task's failure, never a traceback
            return result(Status.FAILED, message=_message(exc))
        if plan.skip is not None:
            return result(Status.SKIPPED, message=plan.skip)
        changing = [a for a in plan.actions if a.changes]
        descriptions = tuple(a.describe for a in changing)
        diffs = tuple(a.diff for a in changing if a.diff is not None)
        if not self.check:
            for action in plan.actions:
                try:
                    action.run()
                except Exception as exc:
                    return result(
                        Status.FAILED,
                        changes=descriptions,
                        diffs=diffs,
                        message=f"{action.describe}: {_message(exc)}",
                    )
        status = Status.CHANGED if changing else Status.OK
        return result(status, changes=descriptions, diffs=diffs)


def _message(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, TaskFailed | PlaybookError | OSError):
        return text
    return f"{type(exc).__name__}: {text}"
