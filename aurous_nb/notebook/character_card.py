"""A character as a notebook shows it: its poses as small embedded previews (bytes, never the
signed ref URLs, so a saved notebook keeps its pictures and shares no token), plus what it cost.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from html import escape
from typing import Any

from aurous_nb.notebook.display import _thumbnail
from aurous_nb.text import credits

__all__ = ["CharacterCard", "card"]


@dataclass
class CharacterCard:
    """``character`` with ``previews`` (pose, content type, bytes) and the credits it cost."""

    character: Any
    previews: list[tuple[str, str, bytes]] = field(default_factory=list, repr=False)
    spent: float | None = None

    @property
    def id(self) -> str:
        return str(self.character.id)

    def _summary(self) -> str:
        char = self.character
        poses = ", ".join(r.pose for r in char.refs) or "no refs yet"
        cost = f" · {credits(self.spent)} spent" if self.spent is not None else ""
        return f"{char.name} ({char.id}) · {char.status} · {poses}{cost}"

    def __repr__(self) -> str:
        return f"<Character {self._summary()}>"

    def _repr_html_(self) -> str:
        figures = []
        for pose, mime, data in self.previews:
            src = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
            figures.append(
                '<figure style="margin:0 6px 0 0;display:inline-block;text-align:center">'
                f'<img alt="{escape(pose)}" src="{src}" style="width:128px;border-radius:4px"/>'
                f'<figcaption style="font-size:11px;color:#555">{escape(pose)}</figcaption>'
                "</figure>"
            )
        note = ""
        if self.character.error_message:
            note = f'<div style="color:#b71c1c">{escape(self.character.error_message)}</div>'
        return (
            f'<div class="aurous-character"><b>{escape(self._summary())}</b>{note}'
            f"<div>{''.join(figures)}</div></div>"
        )


def card(session: Any, character: Any, spent: float | None = None) -> CharacterCard:
    """Fetch the refs (signed URLs, no key) and keep small previews of them."""
    from PIL import Image

    previews = []
    for index, ref in enumerate(character.refs):
        data = session.client.characters.download_ref(character, index)
        with Image.open(io.BytesIO(data)) as image:
            mime, small = _thumbnail(image)
        previews.append((ref.pose, mime, small))
    return CharacterCard(character, previews, spent)
