"""The dive sites of MVK-mini: folder names in MVK's ``<Site>_<MonYYYY>`` form, cameras.

Its own module so that the collection writer and :mod:`mvk_tutorial.mvk.synthetic`
both import it without importing each other.

Book: ch09, section "MVK-mini, a procedural world".
"""

from __future__ import annotations

#: Dive-site folders, named like MVK's ``<Site>_<MonYYYY>``, with a camera each.
SITES: tuple[tuple[str, str], ...] = (
    ("Lanai_Jul2022", "GoPro HERO10"),
    ("Tulamben1_Jun2022", "Sony RX100 VI"),
    ("Oahu_Jul2022", "GoPro HERO9"),
    ("Amed_Jun2022", "Olympus TG-6"),
    ("Okinawa_Aug2021", "Sony A7 III"),
    ("Maldives_Mar2021", "GoPro HERO8"),
    ("Bohol_Apr2022", "Olympus TG-6"),
    ("Sipadan_May2019", "Canon G7X II"),
    ("PortDouglas_Nov2019", "GoPro HERO7"),
    ("Komodo_Oct2022", "Sony RX100 VI"),
    ("Cebu_Feb2023", "GoPro HERO11"),
    ("RedSea_Sep2021", "Nikon Z6"),
)
