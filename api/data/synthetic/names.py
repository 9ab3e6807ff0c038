"""Name and address tables for the synthetic data generator.

All names are plain ASCII so they can be reused in e-mail addresses.
Cities are fictional; state abbreviations are real US postal codes.
"""

from __future__ import annotations

# fmt: off
FAMILY_NAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Garcia", "Martinez", "Nguyen", "Kim", "Patel", "Okafor",
    "Kowalski", "Haddad", "Rossi", "Muller", "Dubois", "Tanaka", "Sato", "Chen",
    "Wang", "Singh", "Khan", "Cohen", "Levi", "Andersson", "Johansson", "Novak",
    "Horvat", "Popescu", "Ivanova", "Petrov", "Mensah", "Adeyemi", "Mwangi", "Abebe",
    "Hernandez", "Lopez", "Gonzalez", "Silva", "Santos", "Costa", "Fernandes", "Murphy",
    "OBrien", "Kelly", "Walsh", "Campbell", "Stewart", "Jensen", "Nielsen", "Virtanen",
    "Korhonen", "Yilmaz", "Demir", "Kaya", "Rahman", "Hossain", "Ali", "Ahmed",
    "Park", "Choi", "Tran", "Pham", "Begay", "Yazzie", "Brown", "Wilson",
)

MALE_GIVEN_NAMES: tuple[str, ...] = (
    "James", "Michael", "David", "Daniel", "Carlos", "Luis", "Jose", "Miguel",
    "Wei", "Jun", "Hiroshi", "Kenji", "Minho", "Arjun", "Rahul", "Omar",
    "Yusuf", "Ahmed", "Chinedu", "Kwame", "Tariq", "Ivan", "Dmitri", "Piotr",
    "Lukas", "Matteo", "Giovanni", "Pierre", "Lars", "Erik", "Sean", "Liam",
    "Noah", "Ethan", "Mateo", "Thanh", "Samuel", "Elijah",
)

FEMALE_GIVEN_NAMES: tuple[str, ...] = (
    "Mary", "Jennifer", "Sarah", "Emily", "Maria", "Sofia", "Lucia", "Camila",
    "Mei", "Yuki", "Aiko", "Jisoo", "Priya", "Ananya", "Fatima", "Aisha",
    "Leila", "Zainab", "Ngozi", "Amara", "Abena", "Olga", "Anastasia", "Agnieszka",
    "Giulia", "Chiara", "Claire", "Amelie", "Ingrid", "Freya", "Siobhan", "Aoife",
    "Emma", "Olivia", "Ava", "Linh", "Hana", "Grace",
)

STREET_NAMES: tuple[str, ...] = (
    "Maple Street", "Oak Avenue", "Cedar Lane", "Willow Way", "Birch Road",
    "Elm Court", "Pine Ridge Drive", "Lakeview Terrace", "Harbor Boulevard",
    "Sunset Parkway", "Meadow Lane", "Juniper Circle", "Aspen Trail", "Chestnut Place",
)
# fmt: on

# (fictional city, state abbreviation, 3-digit postal prefix)
CITIES: tuple[tuple[str, str, str], ...] = (
    ("Maple Hollow", "OR", "974"),
    ("Riverton Falls", "VT", "056"),
    ("Cedar Bluff Junction", "TN", "373"),
    ("Port Ellery", "ME", "046"),
    ("Silverbrook", "CO", "805"),
    ("Ashgrove", "WI", "539"),
    ("New Halden", "CT", "064"),
    ("Lake Corrin", "MN", "563"),
    ("Fairhaven Springs", "NM", "875"),
    ("Brambleton", "GA", "306"),
    ("Westmarch", "OH", "437"),
    ("Kestrel Point", "WA", "983"),
)
