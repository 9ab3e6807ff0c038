"""Narrative.div (txt-1, txt-2): well-formed XHTML whose root is a `div` in the XHTML
namespace, holding only the basic formatting elements and attributes the specification
allows (no scripts, forms, event handlers or document type declarations), and some
non-white-space content."""

import re
from xml.etree import ElementTree as ET

__all__ = ["narrative_problem"]

XHTML = "{http://www.w3.org/1999/xhtml}"
_ELEMENTS = frozenset(
    "a abbr acronym b big blockquote br caption cite code col colgroup dd dfn div dl dt em "
    "h1 h2 h3 h4 h5 h6 hr i img li ol p pre q samp small span strong sub sup table tbody td "
    "tfoot th thead tr tt ul var".split()
)
_ATTRIBUTES = frozenset(
    "title style class id lang dir accesskey tabindex span colspan rowspan src alt href name "
    "width height border cellpadding cellspacing align valign char charoff abbr axis headers "
    "scope rules summary frame start type value compact hspace vspace".split()
)
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_DECLARATION = re.compile(r"<!(?!--)", re.IGNORECASE)


def narrative_problem(div: str) -> str | None:
    """Why `div` is not an acceptable narrative (None: acceptable)."""
    if _DECLARATION.search(div):
        return "txt-1: the narrative must not hold declarations or CDATA sections"
    try:
        root = ET.fromstring(div)  # noqa: S314 - no DTD can reach the parser (refused above)
    except ET.ParseError:
        return "txt-1: the narrative is not well-formed XHTML"
    if root.tag != XHTML + "div":
        return "txt-1: the narrative must be a div in the XHTML namespace"
    for node in root.iter():
        if not isinstance(node.tag, str) or not node.tag.startswith(XHTML):
            return "txt-1: the narrative holds an element outside XHTML"
        if node.tag.removeprefix(XHTML) not in _ELEMENTS:
            return "txt-1: the narrative holds an element it may not hold"
        if any(a not in _ATTRIBUTES and a != _XML_LANG for a in node.attrib):
            return "txt-1: the narrative holds an attribute it may not hold"
    has_text = "".join(root.itertext()).strip() or root.find(f".//{XHTML}img") is not None
    return None if has_text else "txt-2: the narrative must have some non-white-space content"
