"""Meta's shapes for message templates and template messages, built from small typed values.

The dashboard describes a template with `TemplateContent` (a header, a body with example values, a footer
and one Flow button) and a send with the arguments of `GraphClient.send_template_message`; the functions
here turn them into exactly the JSON Meta documents, and Meta's answers back into plain dicts:
https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/components and
https://developers.facebook.com/docs/whatsapp/flows/guides/sendingaflow

They check only what would make the JSON itself wrong (a variable without an example, an empty flow
token) and raise ValueError for it: Meta's review rules are the caller's to apply and Meta's to enforce.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# {{1}} in POSITIONAL templates, {{first_name}} in NAMED ones.
VARIABLE = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
MEDIA_FORMATS = ("IMAGE", "VIDEO", "DOCUMENT")
HEADER_FORMATS = ("TEXT", *MEDIA_FORMATS, "LOCATION")
FLOW_ACTIONS = ("navigate", "data_exchange")


def variables(text: str) -> list[str]:
    """The variable names in a text, in order of first appearance: ["1", "2"] or ["first_name"]."""
    return list(dict.fromkeys(VARIABLE.findall(text or "")))


@dataclass(frozen=True)
class TemplateHeader:
    """A template's header: TEXT (at most one variable), IMAGE, VIDEO, DOCUMENT or LOCATION."""

    format: str
    text: str = ""  # TEXT only
    example: str = ""  # TEXT with a variable: the value Meta's reviewers see
    handle: str = ""  # IMAGE, VIDEO, DOCUMENT: the handle `upload_media_resumable` returned

    def component(self, *, named: bool) -> dict:
        kind = self.format.upper()
        if kind not in HEADER_FORMATS:
            raise ValueError(
                f"A header's format is one of {', '.join(HEADER_FORMATS)}, not {kind}."
            )
        component: dict[str, Any] = {"type": "HEADER", "format": kind}
        if kind == "TEXT":
            component["text"] = self.text
            names = variables(self.text)
            if names:
                if not self.example:
                    raise ValueError("The header's variable needs an example value.")
                component["example"] = (
                    {
                        "header_text_named_params": [
                            {"param_name": names[0], "example": self.example}
                        ]
                    }
                    if named
                    else {"header_text": [self.example]}
                )
        elif kind in MEDIA_FORMATS:
            if not self.handle:
                raise ValueError(f"An {kind} header needs the handle of an uploaded sample.")
            component["example"] = {"header_handle": [self.handle]}
        return component


@dataclass(frozen=True)
class FlowButton:
    """The template's "Complete Flow" button: its text and the published flow it opens, and how."""

    text: str
    flow_id: str
    flow_action: str = (
        "navigate"  # or "data_exchange": the endpoint answers INIT with the first screen
    )
    navigate_screen: str = ""  # navigate only; Meta opens the flow's first screen when left out
    icon: str = ""  # DOCUMENT, PROMOTION or REVIEW; WhatsApp's default icon when left out

    def button(self) -> dict:
        if self.flow_action not in FLOW_ACTIONS:
            raise ValueError(f"flow_action is navigate or data_exchange, not {self.flow_action!r}.")
        if self.navigate_screen and self.flow_action != "navigate":
            raise ValueError("navigate_screen goes only with flow_action navigate.")
        button = {
            "type": "FLOW",
            "text": self.text,
            "flow_id": self.flow_id,
            "flow_action": self.flow_action,
        }
        if self.navigate_screen:
            button["navigate_screen"] = self.navigate_screen
        if self.icon:
            button["icon"] = self.icon
        return button


@dataclass(frozen=True)
class TemplateContent:
    """What a template says: the part that is created, and replaced whole by an edit.

    `examples` maps each body variable, as written between the braces, to its example value:
    {"1": "Ana", "2": "B-1042"} for {{1}} and {{2}}, or {"first_name": "Ana"} for {{first_name}}.
    Variables that are all numbers make a POSITIONAL template; names make a NAMED one.
    """

    body: str
    examples: Mapping[str, str] = field(default_factory=dict)
    header: TemplateHeader | None = None
    footer: str = ""
    flow_button: FlowButton | None = None

    @property
    def parameter_format(self) -> str:
        names = variables(self.body) + variables(self.header.text if self.header else "")
        return "NAMED" if any(not name.isdigit() for name in names) else "POSITIONAL"

    def components(self) -> list[dict]:
        """Meta's `components`: HEADER, BODY (with its examples), FOOTER, BUTTONS, in that order."""
        named = self.parameter_format == "NAMED"
        components = [self.header.component(named=named)] if self.header else []
        components.append(self._body(named=named))
        if self.footer:
            components.append({"type": "FOOTER", "text": self.footer})
        if self.flow_button:
            components.append({"type": "BUTTONS", "buttons": [self.flow_button.button()]})
        return components

    def _body(self, *, named: bool) -> dict:
        body: dict[str, Any] = {"type": "BODY", "text": self.body}
        names = variables(self.body)
        missing = [name for name in names if not self.examples.get(name)]
        if missing:
            raise ValueError(f"The body's {{{{{missing[0]}}}}} needs an example value.")
        if names and named:
            body["example"] = {
                "body_text_named_params": [
                    {"param_name": name, "example": self.examples[name]} for name in names
                ]
            }
        elif names:
            body["example"] = {"body_text": [[self.examples[n] for n in sorted(names, key=int)]]}
        return body


def template_payload(*, name: str, language: str, category: str, content: TemplateContent) -> dict:
    """The body of POST /{waba-id}/message_templates."""
    return {
        "name": name,
        "language": language,
        "category": category,
        "parameter_format": content.parameter_format,
        "components": content.components(),
    }


def template_from_meta(body: dict) -> dict:
    """A template as Meta answers it, with `id` a string and `quality_score` just the score.

    Meta gives the quality as {"score": "GREEN", "date": ...}; the rest is passed on as it came:
    id, name, language, status, category, parameter_format, components, rejected_reason and, when
    Meta moved it, previous_category.
    """
    template = dict(body)
    if "id" in template:
        template["id"] = str(template["id"])
    quality = template.get("quality_score")
    if isinstance(quality, dict):
        template["quality_score"] = quality.get("score")
    return template


# --- sending --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeaderParameter:
    """The send-time value of a template's header: its variable's text, its media, or its location."""

    type: str  # "text", "image", "video", "document" or "location"
    text: str = ""  # text: the variable's value
    parameter_name: str = ""  # text in a NAMED template: the variable's name
    media_id: str = ""  # image, video, document: an uploaded media id...
    link: str = ""  # ...or a public HTTPS link
    filename: str = ""  # document: the name the phone shows
    location: Mapping[str, Any] | None = None  # location: latitude, longitude, name, address

    def component(self) -> dict:
        kind = self.type.lower()
        if kind == "text":
            parameter: dict[str, Any] = {"type": "text", "text": self.text}
            if self.parameter_name:
                parameter["parameter_name"] = self.parameter_name
        elif kind in ("image", "video", "document"):
            if bool(self.media_id) == bool(self.link):
                raise ValueError(f"An {kind} header parameter takes a media id or a link.")
            media = {"id": self.media_id} if self.media_id else {"link": self.link}
            if kind == "document" and self.filename:
                media["filename"] = self.filename
            parameter = {"type": kind, kind: media}
        elif kind == "location":
            parameter = {"type": "location", "location": dict(self.location or {})}
        else:
            raise ValueError(
                f"A header parameter is text, image, video, document or location, not {kind}."
            )
        return {"type": "header", "parameters": [parameter]}


def body_component(values: Sequence[str] | Mapping[str, str]) -> dict:
    """The body's parameters: a list in {{1}}, {{2}} order, or a mapping of variable names."""
    if isinstance(values, Mapping):
        parameters = [
            {"type": "text", "parameter_name": name, "text": str(value)}
            for name, value in values.items()
        ]
    else:
        parameters = [{"type": "text", "text": str(value)} for value in values]
    return {"type": "body", "parameters": parameters}


def flow_button_component(
    *, index: int, flow_token: str, flow_action_data: Mapping[str, Any] | None = None
) -> dict:
    """The FLOW button's send-time values; a template with a Flow button can't be sent without it."""
    if not flow_token:
        raise ValueError("A Flow button needs a flow_token; Meta refuses an empty one.")
    action: dict[str, Any] = {"flow_token": flow_token}
    if flow_action_data:
        # The first screen's data for navigate buttons; Meta refuses an empty object.
        action["flow_action_data"] = dict(flow_action_data)
    return {
        "type": "button",
        "sub_type": "flow",
        "index": str(index),
        "parameters": [{"type": "action", "action": action}],
    }


@dataclass(frozen=True)
class SentMessage:
    """Meta's answer to a send: the message id, what Meta did with it, and the recipient's WhatsApp id.

    message_status is "accepted", "held_for_quality_assessment" (Meta holds some sends of a new
    template while it gathers feedback) or "paused".
    """

    wamid: str
    message_status: str
    wa_id: str
