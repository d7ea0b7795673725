"""One template string: checked and compiled when saved, rendered within the budget."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, cast

from jinja2 import Template, meta, nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.visitor import NodeTransformer

from herald.templating.errors import RenderFailed, TemplateInvalid
from herald.templating.limits import LimitExceeded, RenderBudget
from herald.templating.sandbox import (
    BUILT_FILTER,
    CONCAT_FILTER,
    HTML,
    INTERNAL_FILTERS,
    LOOP_FILTER,
    TEXT,
    HeraldSandbox,
)

_MAX_MESSAGE = 300
_UNSUPPORTED_TAGS: dict[type[nodes.Node], str] = {
    nodes.Extends: "extends",
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from ... import",
}
_CHECKED_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Getattr,
    nodes.Getitem,
    nodes.Filter,
    *_UNSUPPORTED_TAGS,
)


@dataclass(frozen=True, slots=True)
class TemplatePart:
    """A compiled template string and the variables it uses."""

    label: str  # names the part in messages: "email.html"
    template: Template
    variables: frozenset[str]
    multiline: bool
    globals: dict[str, Any]  # the template's globals, copied once (Jinja keeps a ChainMap)

    def render(self, variables: Mapping[str, Any], budget: RenderBudget) -> str:
        """The part rendered, counting its output against `budget`.

        Raises RenderFailed naming the part (and the line, for an error in the template
        rather than a limit).
        """
        template = self.template
        context = template.environment.context_class(
            template.environment,
            {**self.globals, **variables},
            template.name,
            template.blocks,
            globals=self.globals,
        )
        chunks: list[str] = []
        size, limit = budget.output, budget.limits.max_output_chars
        try:
            for chunk in template.root_render_func(context):
                size += len(chunk)
                if size > limit:
                    raise LimitExceeded(f"output exceeds {limit:,} characters")
                chunks.append(chunk)
        except LimitExceeded as exc:
            raise RenderFailed(f"{self.label}: {exc}") from None
        except RecursionError:
            raise RenderFailed(f"{self.label}: nested too deeply") from None
        except Exception as exc:  # undefined, blocked access, a type error: the template's
            raise RenderFailed(f"{self._where(exc.__traceback__)}: {_describe(exc)}") from exc
        budget.output = size
        return "".join(chunks)

    def _where(self, tb: TracebackType | None) -> str:
        line = None
        while tb is not None:  # the innermost frame of this template's code
            if tb.tb_frame.f_globals.get("__jinja_template__") is self.template:
                line = self.template.get_corresponding_lineno(tb.tb_lineno)
            tb = tb.tb_next
        return f"{self.label}, line {line}" if line and self.multiline else self.label


def compile_part(source: str, *, label: str, field: str, html: bool) -> TemplatePart:
    """Check and compile one template string; HTML parts are autoescaped.

    Raises TemplateInvalid for a syntax error, an unknown filter, a tag that reaches
    outside the part (`include`, `extends`, `import`) or any access to a name starting
    with `_` (`''.__class__`, `x['__globals__']`), naming the line.
    """
    environment = HTML if html else TEXT
    try:
        tree = environment.parse(source)
        _check_access(tree)
        variables = frozenset(meta.find_undeclared_variables(tree) - environment.globals.keys())
        template = environment.from_string(_budgeted(tree, environment))
    except TemplateSyntaxError as exc:
        raise _invalid(label, field, exc.lineno, exc.message or "invalid template") from None
    except (RecursionError, MemoryError, SyntaxError):  # Python's own nesting limits
        raise _invalid(label, field, None, "nested too deeply") from None
    multiline = "\n" in source.strip()
    return TemplatePart(label, template, variables, multiline, dict(template.globals))


def _invalid(label: str, field: str, line: int | None, message: str) -> TemplateInvalid:
    where = f"line {line}: " if line else ""
    return TemplateInvalid(
        f"{label}, {where}{message}" if where else f"{label}: {message}",
        [{"field": field, "message": f"{where}{message}"}],
    )


def _check_access(tree: nodes.Template) -> None:
    """Refuse what the sandbox would block at render anyway, but on save, with its line."""
    found = [(node.lineno, _forbidden(node)) for node in tree.find_all(_CHECKED_NODES)]
    forbidden = [(line, message) for line, message in found if message is not None]
    if forbidden:
        line, message = min(forbidden, key=lambda item: item[0])
        raise TemplateSyntaxError(message, line)


def _forbidden(node: nodes.Node) -> str | None:
    name: str | None
    if isinstance(node, nodes.Getattr):
        name = node.attr
    elif isinstance(node, nodes.Getitem):
        name = _constant_string(node.arg)
    elif isinstance(node, nodes.Filter):
        if node.name in INTERNAL_FILTERS:
            return f"No filter named '{node.name}'."
        name = _constant_string(node.args[0]) if node.name == "attr" and node.args else None
    else:
        return f"{{% {_UNSUPPORTED_TAGS[type(node)]} %}} is not supported: each part stands alone"
    if name is not None and name.startswith("_"):
        return f"'{name}' cannot be used: names starting with '_' are private"
    return None


def _constant_string(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return node.value
    return None


def _budgeted(tree: nodes.Template, environment: HeraldSandbox) -> nodes.Template:
    """The template rewritten so every costly construct goes through the budget."""
    rewritten = _Budgeted().visit(tree)
    assert isinstance(rewritten, nodes.Template)
    rewritten.set_environment(environment)
    return rewritten


def _filter(name: str, node: nodes.Expr) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


class _Budgeted(NodeTransformer):
    """Loops iterate through the loop budget; `~` and non-constant list, tuple and dict
    literals are size-checked (a literal can share one large value many times)."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _filter(LOOP_FILTER, cast(nodes.Expr, node.iter))
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _filter(CONCAT_FILTER, nodes.List(node.nodes, lineno=node.lineno))

    def visit_List(self, node: nodes.List) -> nodes.Node:
        self.generic_visit(node)
        return _checked_literal(node, node.items)

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:
        self.generic_visit(node)
        return _checked_literal(node, node.items) if node.ctx == "load" else node

    def visit_Dict(self, node: nodes.Dict) -> nodes.Node:
        self.generic_visit(node)
        return _checked_literal(node, [n for pair in node.items for n in (pair.key, pair.value)])


def _checked_literal(node: nodes.Expr, items: list[nodes.Expr]) -> nodes.Expr:
    if all(isinstance(item, nodes.Const) for item in items):
        return node
    return _filter(BUILT_FILTER, node)


def _describe(exc: Exception) -> str:
    message = str(exc) or type(exc).__name__
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 1] + "…"
