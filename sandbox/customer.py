"""A customer's own endpoint for the weather-or-age example flow, so the relay can be played end to end.

The "hosted endpoint + customer endpoint" example flow: the user enters London, our
hosted endpoint relays the clean decrypted request here, and the customer's server answers the next
screen with "Rain expected this morning." This view answers as that server would, in plain JSON: the
relay between our endpoint and the customer is not encrypted, only Meta's side is.

Nothing here calls a weather service: forecasts and age "predictions" are picked deterministically
from the city or the name, so demos and tests see the same answer every time.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

WEATHER_OPTION = "0_Check_weather_of_the_city"
AGE_OPTION = "1_Check_my_age"
# The customer's server doesn't know the person: our flow token is ours to read, not theirs.
DEFAULT_NAME = "friend"
KNOWN_FORECASTS = {"london": "Rain expected this morning."}
FORECASTS = [
    "Sunny with a few clouds.",
    "Cloudy, with a light breeze.",
    "Showers expected this afternoon.",
    "Clear skies and mild all day.",
]


class BadRequest(Exception):
    """The request is not one the weather flow sends; answered as HTTP 400."""


def _pick(key: str, choices: int) -> int:
    # crc32, not hash(): Python salts str hashes per process, and the pick must stay the same.
    return zlib.crc32(key.casefold().encode("utf-8")) % choices


def forecast(city: str) -> str:
    """Today's weather for a city: London rainy, as the example flow expects; others a stable pick."""
    key = city.strip().casefold()
    return KNOWN_FORECASTS.get(key) or FORECASTS[_pick(key, len(FORECASTS))]


def predicted_age(name: str) -> int:
    return 18 + _pick(name, 60)


def welcome(name: str) -> dict:
    return {
        "name": name,
        "city": "",
        "age": "",
        "next_screen": "WEATHER",
        "toDisplay": "What would you like to check?",
    }


def weather(name: str) -> dict:
    return {
        "name": name,
        "city": "",
        "next_screen": "TODAYS_WEATHER",
        "toDisplay": "Which city?",
    }


def your_age(name: str) -> dict:
    age = str(predicted_age(name))
    return {"name": name, "age": age, "toDisplay": f"We predict you are {age}, {name}."}


def todays_weather(name: str, city: str) -> dict:
    today = forecast(city)
    return {"name": name, "city": city, "weather": today, "toDisplay": f"{city}: {today}"}


# The screens a user can be sent back to, and their data.
BACK_TO = {"WELCOME": welcome, "WEATHER": weather}


def next_screen(relayed: dict) -> dict:
    """The answer to one relayed request: {"screen", "data"}; raises BadRequest for anything else."""
    action, screen = relayed.get("action"), relayed.get("screen")
    if action not in ("INIT", "BACK", "data_exchange"):
        raise BadRequest(f"Unknown action {action!r}.")
    data = relayed.get("data", {})
    if not isinstance(data, dict):
        raise BadRequest("data must be an object.")
    name = data.get("name")
    name = name if isinstance(name, str) and name.strip() else DEFAULT_NAME
    if action == "INIT":
        return {"screen": "WELCOME", "data": welcome(name)}
    if action == "BACK" and isinstance(screen, str) and screen in BACK_TO:
        return {"screen": screen, "data": BACK_TO[screen](name)}
    if action == "data_exchange" and screen == "WELCOME":
        return _chosen(data.get("option"), name)
    if action == "data_exchange" and screen == "WEATHER":
        city = data.get("city")
        if not isinstance(city, str) or not city.strip():
            raise BadRequest("data.city must name a city.")
        return {"screen": "TODAYS_WEATHER", "data": todays_weather(name, city.strip())}
    raise BadRequest(f"No {action} from screen {screen!r} in the weather flow.")


def _chosen(option: Any, name: str) -> dict:
    if option == WEATHER_OPTION:
        return {"screen": "WEATHER", "data": weather(name)}
    if option == AGE_OPTION:
        return {"screen": "YOUR_AGE", "data": your_age(name)}
    raise BadRequest(f"Unknown option {option!r}.")


@csrf_exempt  # called by our endpoint's relay, server to server: there is no browser session
@login_not_required
@require_POST
def weather_endpoint(request: HttpRequest) -> JsonResponse:
    """POST /sandbox/customer/weather/: the next screen of the weather flow, or a 400 with the reason."""
    try:
        relayed = json.loads(request.body)
    except (ValueError, RecursionError):
        return JsonResponse({"error": "The body is not JSON."}, status=400)
    if not isinstance(relayed, dict):
        return JsonResponse({"error": "The body is not a JSON object."}, status=400)
    try:
        return JsonResponse(next_screen(relayed))
    except BadRequest as exc:
        return JsonResponse({"error": str(exc)}, status=400)
