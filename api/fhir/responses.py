"""FHIR Bundles of search results and the SUBSETTED tag of projected resources."""

from typing import Any

SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "subsetted",
}


def searchset(
    entries: list[Any], total: int | None, self_url: str, next_url: str | None, base: str
) -> dict[str, Any]:
    """A searchset Bundle; entries are (type, id, resource-or-Fragment, mode) tuples."""
    links = [{"relation": "self", "url": self_url}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if total is not None and total >= 0:
        bundle["total"] = total
    bundle["link"] = links
    if entries:
        bundle["entry"] = [
            {"fullUrl": f"{base}/{rtype}/{rid}", "resource": body, "search": {"mode": mode}}
            for rtype, rid, body, mode in entries
        ]
    return bundle
