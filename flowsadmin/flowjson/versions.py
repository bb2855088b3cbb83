"""Flow JSON versions: which exist, which Meta froze, what each one introduced, and the version rule.

What each version introduced is from Meta's changelog,
https://developers.facebook.com/docs/whatsapp/flows/changelogs, and its component reference,
https://developers.facebook.com/docs/whatsapp/flows/reference/components.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .context import Context

KNOWN_VERSIONS = (
    "2.1", "3.0", "3.1", "4.0", "5.0", "5.1",
    "6.0", "6.1", "6.2", "6.3", "7.0", "7.1", "7.2", "7.3",
)  # fmt: skip
# Meta froze these: Flows with them keep working and can be sent, but can't be published or updated.
FROZEN_VERSIONS = ("2.1", "3.0", "3.1", "4.0", "5.0")
RECOMMENDED_VERSION = "7.3"
DATA_API_VERSIONS = ("3.0", "4.0")

# The version that introduced each component.
COMPONENT_SINCE = {
    **dict.fromkeys(
        ("TextHeading", "TextSubheading", "TextBody", "TextCaption", "TextInput", "TextArea",
         "CheckboxGroup", "RadioButtonsGroup", "Dropdown", "OptIn", "DatePicker", "Footer",
         "EmbeddedLink", "Image", "Form"),
        "2.1",
    ),
    "PhotoPicker": "4.0", "DocumentPicker": "4.0", "If": "4.0", "Switch": "4.0",
    "RichText": "5.1", "CalendarPicker": "6.1", "NavigationList": "6.2",
    "ChipsSelector": "6.3", "ImageCarousel": "7.1",
}  # fmt: skip
# Properties added after their component; using one too early is a warning, as our per-property
# history is less certain than the component table.
PROPERTY_SINCE = {
    ("TextInput", "pattern"): "6.2",
    ("TextInput", "label-variant"): "7.0",
    ("TextArea", "label-variant"): "7.0",
    ("TextBody", "markdown"): "5.1",
    ("TextCaption", "markdown"): "5.1",
    ("CheckboxGroup", "description"): "4.0",
    ("RadioButtonsGroup", "description"): "4.0",
    ("CheckboxGroup", "media-size"): "5.0",
    ("RadioButtonsGroup", "media-size"): "5.0",
    ("CheckboxGroup", "on-unselect-action"): "6.0",
    ("RadioButtonsGroup", "on-unselect-action"): "6.0",
    ("Dropdown", "on-unselect-action"): "6.0",
    ("ChipsSelector", "on-select-action"): "7.1",
    ("ChipsSelector", "on-unselect-action"): "7.1",
    ("Screen", "success"): "3.1",
    ("Screen", "sensitive"): "5.1",
}
ACTION_SINCE = {"update_data": "6.0", "open_url": "6.0"}

# One schema file per family: before 4.0 inputs must sit in a Form and group labels are optional.
SCHEMA_FAMILIES = {"2": ("2.1", "3.0", "3.1"), "4plus": KNOWN_VERSIONS[3:]}


def is_publishable(version: str) -> bool:
    """Whether Meta still lets a Flow with this version be published or updated."""
    return version in KNOWN_VERSIONS and version not in FROZEN_VERSIONS


@cache
@cache
def version_tuple(version: str) -> tuple[int, ...]:
    # "6.10" would come after "6.9": compare the numbers, not the text.
    return tuple(int(part) for part in version.split("."))


def family_for(version: str | None) -> str:
    """The schema family of a version; an unknown version is checked as the newest family."""
    if version in SCHEMA_FAMILIES["2"]:
        return "2"
    return "4plus"


def check_version(ctx: Context) -> None:
    """Report a version that is not text, unknown or frozen; remember a known one on ctx."""
    data = ctx.data
    version = data.get("version")
    if "version" not in data:
        return  # the schema reports it with a hint
    supported = ", ".join(KNOWN_VERSIONS)
    if isinstance(version, int | float) and not isinstance(version, bool):
        as_text = f"{version:.1f}" if isinstance(version, float) else f"{version}.0"
        ctx.error(
            "version-not-text",
            f'"version" must be text: write "version": "{as_text}" with quotes.',
            ("version",),
        )
        version = as_text
    if not isinstance(version, str):
        return  # the schema's type error covers the rest
    if version not in KNOWN_VERSIONS:
        ctx.error(
            "unknown-version",
            f'Version "{version}" is not a Flow JSON version: use one of {supported} '
            f"({RECOMMENDED_VERSION} is recommended; Meta has frozen "
            f"{', '.join(FROZEN_VERSIONS)}).",
            ("version",),
        )
        return
    ctx.version = version
    if version in FROZEN_VERSIONS:
        ctx.warn(
            "frozen-version",
            f"Version {version} is frozen by Meta: this Flow can be kept and sent, but Meta "
            "no longer lets you publish it or update it. To publish or change it, move it to "
            f'"version": "{RECOMMENDED_VERSION}" (check the version changes, e.g. Form is '
            "optional from 4.0 and DatePicker values are YYYY-MM-DD from 5.0).",
            ("version",),
        )
