"""``Reply``: what a sandbox's handlers answer — a status, a JSON payload, extra headers — made
into a response once, in the media type the system it imitates uses. Shared by the CRM and the
support sandbox."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import Response


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer: status, JSON payload (None: no body), extra headers."""

    status: int
    payload: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def response(self, media_type: str, defaults: Mapping[str, str] | None = None) -> Response:
        """The answer as compact JSON typed ``media_type``, with the ``defaults`` headers under
        its own."""
        headers = {**(defaults or {}), **self.headers}
        if self.payload is None:
            return Response(status_code=self.status, headers=headers)
        content = json.dumps(self.payload, separators=(",", ":")).encode()
        return Response(content, self.status, headers, media_type=media_type)
