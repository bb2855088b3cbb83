"""Personalisation variables in a template's text, and Meta's rules for them. Framework-free.

People write variables as the product document shows, `{{user.name}}`: a profile field or a custom
property after `user.`. Meta takes NAMED parameters of lowercase letters, digits and underscores
(https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/components), so
each variable gets a parameter name: {{user.name}} -> {{user_name}}. The mapping is kept on the
template so a campaign can fill each parameter from the recipient's profile.

Meta's body rules, checked before anything is sent (the same rule the sandbox Meta applies):
no variable at the very start or end of the body (Meta's error 2388299), and not too many variables
for the length (2388293): Meta publishes no ratio, so we ask for at least two words per variable,
plus one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Any {{...}}, so that a malformed variable is reported rather than taken for text.
ANY_VARIABLE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
USER_VARIABLE = re.compile(r"user\.([A-Za-z][A-Za-z0-9_]*)")
WORD = re.compile(r"[^\W_]+")
# Profile fields a variable can name; anything else after `user.` is a custom property.
PROFILE_FIELDS = ("name", "phone", "email", "gender", "date_of_birth", "city", "whatsapp_id")


class VariableError(ValueError):
    """A text's variables break a rule; the message names the rule and what to change."""


@dataclass(frozen=True)
class Variable:
    """One personalisation variable: as written, Meta's parameter name, and its example value."""

    name: str  # "user.name"
    param: str  # "user_name"
    example: str = ""

    @property
    def key(self) -> str:
        """The profile field or custom property it names ("name", "loyalty_tier")."""
        return self.name.split(".", 1)[1]

    def as_dict(self) -> dict:
        return {"variable": self.name, "param": self.param, "example": self.example}


def param_name(variable: str) -> str:
    """Meta's NAMED parameter for a variable: {{user.Loyalty_Tier}} -> user_loyalty_tier."""
    return re.sub(r"[^a-z0-9_]", "_", variable.lower())


def written(text: str) -> list[str]:
    """Everything written between {{ and }}, in order, repeats included."""
    return ANY_VARIABLE.findall(text or "")


def parse(text: str) -> list[str]:
    """The variables of a text, each once, in order; VariableError for one not written as {{user.x}}."""
    found: list[str] = []
    for inside in written(text):
        if not USER_VARIABLE.fullmatch(inside):
            raise VariableError(
                f"{{{{{inside}}}}} is not a personalisation variable: write a profile field or custom "
                "property after user., like {{user.name}} or {{user.city}}."
            )
        if inside not in found:
            found.append(inside)
    return found


def collect(*texts: str) -> list[Variable]:
    """The variables of several texts (header, body), each once, with their parameter names.

    Raises VariableError when two different variables would become the same Meta parameter.
    """
    seen: dict[str, str] = {}
    result: list[Variable] = []
    for text in texts:
        for name in parse(text):
            param = param_name(name)
            if seen.get(param, name) != name:
                raise VariableError(
                    f"{{{{{seen[param]}}}}} and {{{{{name}}}}} would both be Meta's parameter "
                    f"{param}: use one spelling."
                )
            if param not in seen:
                seen[param] = name
                result.append(Variable(name=name, param=param))
    return result


def check_body(text: str) -> None:
    """Meta's body rules; VariableError naming the rule."""
    names = parse(text)
    if not names:
        return
    stripped = text.strip()
    first = ANY_VARIABLE.match(stripped)
    if first or any(m.end() == len(stripped) for m in ANY_VARIABLE.finditer(stripped)):
        where = "start" if first else "end"
        raise VariableError(
            f"Meta's rule: a variable can't be at the very {where} of the body. Add words "
            f'{"before" if first else "after"} it, e.g. "Hi {{{{user.name}}}}, …".'
        )
    count = len(written(text))
    words = len(WORD.findall(ANY_VARIABLE.sub(" ", text)))
    if words < 2 * count + 1:
        raise VariableError(
            f"Meta's rule: too many variables for the length of the body. {count} variable(s) need "
            f"at least {2 * count + 1} words around them; this body has {words}. Add text or "
            "remove a variable."
        )


def no_variables(text: str, where: str) -> None:
    """Meta allows no variables in the footer or a button's text (the product document's do not work)."""
    if written(text):
        raise VariableError(
            f"Meta allows no variables in the {where}: write it as every customer should see it. "
            "Personalise the body instead."
        )


def to_meta(text: str) -> str:
    """The text as Meta stores it: {{user.name}} -> {{user_name}}."""
    return ANY_VARIABLE.sub(lambda m: "{{" + param_name(m.group(1)) + "}}", text or "")


def person_value(person: Mapping[str, Any], name: str) -> str:
    """What a variable naming `name` ("user.city" or "city") takes for one person: the profile field,
    else the custom property, as text without surrounding spaces; "" when they have none (the
    campaign's fallback is sent then). `person` holds the profile's fields and its `properties`:
    a claimed recipient's row when sending, profile_values() in a preview, so both say the same."""
    name = name.removeprefix("user.")
    if name in PROFILE_FIELDS:
        value = person.get(name)
    else:
        value = (person.get("properties") or {}).get(name)
    return "" if value is None else str(value).strip()


def profile_values(profile: object) -> dict[str, Any]:
    """A profile (audience.Profile) as person_value reads it."""
    values = {name: getattr(profile, name, None) for name in PROFILE_FIELDS}
    return values | {"properties": getattr(profile, "properties", None) or {}}


def fill(text: str, values: Mapping[str, str]) -> str:
    """The text with each variable replaced by its value (by variable name), as a phone shows it."""
    return ANY_VARIABLE.sub(lambda m: values.get(m.group(1)) or m.group(0), text or "")
