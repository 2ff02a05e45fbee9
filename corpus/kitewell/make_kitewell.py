#!/usr/bin/env python3
"""Generate Kitewell Running Co., the second merchant: a running store's catalog export and brand kit.

Kitewell Running Co. is a FICTIONAL running shoes, apparel, watches and nutrition brand written for the
onbrand project; every name, spec, price and sentence below is hand-written for it. Where the sample
(Fernhollow) is a clean JSONL export, this one is what a real store's first try looks like:

- a plain CSV export from a product-information system whose columns were renamed to onbrand's field
  names (so `onbrand lint`, `dataset` and `index build`, which take no `--map`, read it as it is), with the
  columns onbrand ignores still in it (Parent SKU, Barcode, Vendor, Weight (g), Tax Class, Published);
- colour and size variants sold as separate SKUs under one approved name (the kit's `variants`);
- bundles without a price: the raw export (`products_raw.csv`) keeps them and `onbrand ingest` refuses it,
  naming each one; `products.csv` is the same export with those rows left out, as a merchant fixes it;
- HTML in descriptions (`<p>`, `<ul><li>`, `&amp;`), old names and misspelt marks in descriptions, old
  names in the name column;
- approved names that keep a legacy spelling of the brand's own mark ("Glide Aerospring Classic");
- aliases that stood for two products ("Skylark 5": the men's and the women's shoe);
- out-of-stock, low-stock and pre-order SKUs, prices written "$129.00" and "129.00", sale prices.

Writes, next to this file (or under --out DIR):
    products_raw.csv   the export as it came (with the bundles that have no price)
    products.csv       the export with the priceless bundle rows left out
    brand_kit.yaml     approved names (with variants), deprecated and shared aliases, generic terms,
                       trademarks, disclaimers, tone, formats (Product | Price | Key features)

Deterministic: hand-written tables + random.Random(SEED) for the mess. Run from the repository root:

    .venv/bin/python corpus/kitewell/make_kitewell.py
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import re
from pathlib import Path

import yaml

SEED = 20261201
HERE = Path(__file__).resolve().parent
BRAND = "Kitewell Running Co."
BASE_URL = "https://kitewell.example/products/"

# --------------------------------------------------------------------------------------------------------
# size and colour tables
# --------------------------------------------------------------------------------------------------------
MENS_SHOES = [f"US {s}" for s in ["7", "7.5", "8", "8.5", "9", "9.5", "10", "10.5", "11", "11.5", "12", "13"]]
WOMENS_SHOES = [f"US {s}" for s in ["5", "5.5", "6", "6.5", "7", "7.5", "8", "8.5", "9", "9.5", "10", "11"]]
UNISEX_SHOES = [f"US M{s}" for s in ["5", "6", "7", "8", "9", "10", "11", "12", "13"]]
KIDS_SHOES = ["11K", "12K", "13K", "1Y", "2Y", "3Y", "4Y", "5Y"]
MENS = ["S", "M", "L", "XL", "XXL"]
WOMENS = ["XS", "S", "M", "L", "XL"]
UNISEX = ["XS", "S", "M", "L", "XL", "XXL"]


def S(text: str) -> dict[str, str]:
    """'key=value; key=value' -> ordered specs."""
    out = {}
    for part in text.split(";"):
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def M(name, category, price, specs, hook, *, colours=(), sizes=(), split=None, flavours=(), legacy=(),
      stock=None):
    """One model. split: None (one SKU), "colour" (one SKU per colour), "size" (one SKU per size) or
    "flavour" (one SKU per flavour, the flavour as a spec). legacy: old names, the first one is the name
    the old export used. stock: a fixed stock state for every SKU of the model (else the seeded mess)."""
    return {"name": name, "category": category, "price": price, "specs": S(specs), "hook": hook,
            "colours": list(colours), "sizes": list(sizes), "split": split, "flavours": list(flavours),
            "legacy": [legacy] if isinstance(legacy, str) else list(legacy), "stock": stock}


# --------------------------------------------------------------------------------------------------------
# product tables: (line, id code, category note, models)
# --------------------------------------------------------------------------------------------------------
GLIDE = [
    M("Glide 5 Road Shoe (Men's)", "Road Running Shoes", 139.00,
      "weight=268 g (US 9); drop=8 mm; stack height=36 mm heel, 28 mm forefoot; midsole=AeroSpring foam; "
      "outsole=TrakGrip road rubber; fit=true to size, medium width; best for=daily training",
      "Our everyday road trainer, with a soft AeroSpring midsole that stays lively past 500 km and a "
      "breathable engineered-mesh upper.",
      colours=["Storm Grey", "Volt Lime", "Midnight Navy", "Ember Red"], sizes=MENS_SHOES, split="colour"),
    M("Glide 5 Road Shoe (Women's)", "Road Running Shoes", 139.00,
      "weight=226 g (US 7.5); drop=8 mm; stack height=35 mm heel, 27 mm forefoot; midsole=AeroSpring foam; "
      "outsole=TrakGrip road rubber; fit=true to size, medium width; best for=daily training",
      "The women's Glide 5 is built on its own last, with a narrower heel and a softer foam blend for "
      "lighter runners.",
      colours=["Coral Dusk", "Storm Grey", "Glacier Blue"], sizes=WOMENS_SHOES, split="colour"),
    M("Glide 5 Wide Road Shoe (Men's)", "Road Running Shoes", 144.00,
      "weight=276 g (US 9); drop=8 mm; midsole=AeroSpring foam; fit=2E wide, roomy toe box; "
      "best for=daily training",
      "The Glide 5 on a 2E last, with more room across the forefoot and the same cushioning.",
      colours=["Storm Grey"], sizes=MENS_SHOES, legacy="Skylark 5 Wide"),
    M("Glide Elite Racer", "Road Running Shoes", 229.00,
      "weight=198 g (US 9); drop=6 mm; plate=full-length carbon plate; midsole=AeroSpring Max foam; "
      "fit=snug race fit, size up half a size if between sizes; best for=race day, 5 km to marathon",
      "A carbon-plated racer with our highest-rebound foam, for race day and the odd fast session.",
      colours=["Volt Lime", "Pearl White"], sizes=UNISEX_SHOES, split="colour", legacy="Glide Racer"),
    M("Glide Aerospring Classic (Men's)", "Road Running Shoes", 109.00,
      "weight=290 g (US 9); drop=10 mm; midsole=first-generation AeroSpring foam; outsole=carbon rubber; "
      "fit=runs half a size small; best for=easy miles and walking",
      "The shoe that started the Glide line, still made with its original foam and the name it launched "
      "with.",
      colours=["Classic White", "Black Gum"], sizes=MENS_SHOES, split="colour"),
    M("Glide Aerospring Classic (Women's)", "Road Running Shoes", 109.00,
      "weight=238 g (US 7.5); drop=10 mm; midsole=first-generation AeroSpring foam; outsole=carbon rubber; "
      "fit=runs half a size small; best for=easy miles and walking",
      "The women's version of our original trainer, in the retro colourways it shipped with.",
      colours=["Classic White", "Rose Suede"], sizes=WOMENS_SHOES, split="colour"),
    M("Glide Daily Trainer (Men's)", "Road Running Shoes", 99.00,
      "weight=281 g (US 9); drop=10 mm; midsole=EVA foam; fit=true to size; best for=new runners",
      "An affordable first running shoe with a firm, stable ride.",
      colours=["Black", "Slate Blue"], sizes=MENS_SHOES, legacy="Pacer 1 M"),
    M("Glide Daily Trainer (Women's)", "Road Running Shoes", 99.00,
      "weight=236 g (US 7.5); drop=10 mm; midsole=EVA foam; fit=true to size; best for=new runners",
      "The women's first running shoe, stable and easy to like.",
      colours=["Black", "Lilac"], sizes=WOMENS_SHOES, legacy="Pacer 1 W"),
    M("Glide Recovery Slide", "Road Running Shoes", 45.00,
      "weight=180 g (US 9); footbed=AeroSpring foam; fit=runs large, size down if between sizes",
      "A soft slide for the walk home after a long run.",
      colours=["Black", "Sand"], sizes=UNISEX_SHOES),
    M("Glide Kids Runner", "Road Running Shoes", 59.00,
      "weight=170 g (1Y); closure=hook-and-loop strap; fit=true to size",
      "A light, grippy shoe for school runs and first races.",
      colours=["Volt Lime", "Coral Dusk"], sizes=KIDS_SHOES),
]

SCREE = [
    M("Scree 3 Trail Shoe (Men's)", "Trail Running Shoes", 149.00,
      "weight=310 g (US 9); drop=6 mm; lug depth=4 mm; outsole=TrakGrip Wet rubber; rock plate=flexible TPU; "
      "fit=true to size; best for=mixed trail",
      "A do-everything trail shoe with a flexible rock plate and TrakGrip lugs that hold on wet rock.",
      colours=["Moss", "Basalt", "Rust"], sizes=MENS_SHOES, split="colour", legacy="Talus 3 M"),
    M("Scree 3 Trail Shoe (Women's)", "Trail Running Shoes", 149.00,
      "weight=262 g (US 7.5); drop=6 mm; lug depth=4 mm; outsole=TrakGrip Wet rubber; rock plate=flexible TPU; "
      "fit=true to size; best for=mixed trail",
      "The women's Scree 3, on a narrower last with the same grip.",
      colours=["Moss", "Heather"], sizes=WOMENS_SHOES, split="colour", legacy="Talus 3 W"),
    M("Scree 3 Storm Trail Shoe (Men's)", "Trail Running Shoes", 169.00,
      "weight=335 g (US 9); drop=6 mm; lug depth=4 mm; waterproof=StormSeal membrane; fit=true to size",
      "The Scree 3 with a waterproof StormSeal membrane for winter and wet-weather trails.",
      colours=["Basalt"], sizes=MENS_SHOES),
    M("Scree 3 Storm Trail Shoe (Women's)", "Trail Running Shoes", 169.00,
      "weight=284 g (US 7.5); drop=6 mm; lug depth=4 mm; waterproof=StormSeal membrane; fit=true to size",
      "The women's waterproof Scree 3 for slush, puddles and stream crossings.",
      colours=["Heather"], sizes=WOMENS_SHOES),
    M("Scree Ultra 100", "Trail Running Shoes", 179.00,
      "weight=305 g (US M9); drop=4 mm; stack height=38 mm heel, 34 mm forefoot; lug depth=3.5 mm; "
      "fit=roomy toe box for swelling feet; best for=ultra distance",
      "A max-cushion trail shoe for 50 km and beyond, with a roomy toe box for late-race swelling.",
      colours=["Glacier Blue", "Moss"], sizes=UNISEX_SHOES, split="colour", legacy="Ultra Talus"),
    M("Scree Mudlark (Men's)", "Trail Running Shoes", 139.00,
      "weight=295 g (US 9); drop=6 mm; lug depth=6 mm; fit=snug, size up half a size for thick socks; "
      "best for=mud and soft ground",
      "Deep 6 mm lugs for fell running, mud and soft ground.",
      colours=["Rust"], sizes=MENS_SHOES, legacy="Bog Runner"),
    M("Scree Mudlark (Women's)", "Trail Running Shoes", 139.00,
      "weight=248 g (US 7.5); drop=6 mm; lug depth=6 mm; fit=snug, size up half a size for thick socks; "
      "best for=mud and soft ground",
      "The women's Mudlark, the same deep lugs on a narrower last.",
      colours=["Heather"], sizes=WOMENS_SHOES, legacy="Bog Runner W"),
    M("Scree Aerospring Trail (Men's)", "Trail Running Shoes", 119.00,
      "weight=318 g (US 9); drop=8 mm; midsole=first-generation AeroSpring foam; lug depth=3 mm; fit=true to size",
      "Our first trail shoe, still sold under its launch name for runners who never wanted it to change.",
      colours=["Basalt"], sizes=MENS_SHOES),
    M("Scree Trail Gaiter", "Trail Running Shoes", 29.00,
      "fabric=stretch nylon with a hook at the laces; works with=most trail shoes",
      "A low gaiter that keeps grit and pine needles out of your shoes.",
      colours=["Black"], sizes=["S/M", "L/XL"]),
    M("Scree Replacement Laces", "Trail Running Shoes", 9.00,
      "length=120 cm; type=flat, with a lace pocket on the tongue",
      "Spare flat laces for any Scree shoe.",
      colours=["Black", "Volt Lime", "Rust"]),
]

VERVE = [
    M("Verve DryWeave Tee (Men's)", "Running Tops", 38.00,
      "fabric=DryWeave recycled polyester, 110 gsm; fit=athletic; reflective=logo on the back; UPF=30",
      "A light, quick-drying running tee that does not cling when you sweat.",
      colours=["Black", "Storm Grey", "Volt Lime", "Midnight Navy"], sizes=MENS, split="colour"),
    M("Verve DryWeave Tee (Women's)", "Running Tops", 38.00,
      "fabric=DryWeave recycled polyester, 110 gsm; fit=relaxed; reflective=logo on the back; UPF=30",
      "The women's DryWeave tee, cut a little longer and looser.",
      colours=["Black", "Coral Dusk", "Glacier Blue", "Lilac"], sizes=WOMENS, split="colour"),
    M("Verve DryWeave Long Sleeve (Men's)", "Running Tops", 48.00,
      "fabric=DryWeave recycled polyester, 130 gsm; fit=athletic; thumbholes=yes; UPF=30",
      "A long-sleeve layer for cool mornings, with thumbholes to keep your hands warm.",
      colours=["Black", "Midnight Navy"], sizes=MENS, split="colour"),
    M("Verve DryWeave Long Sleeve (Women's)", "Running Tops", 48.00,
      "fabric=DryWeave recycled polyester, 130 gsm; fit=relaxed; thumbholes=yes; UPF=30",
      "The women's long sleeve, with a longer back hem.",
      colours=["Black", "Heather"], sizes=WOMENS, split="colour"),
    M("Verve Race Singlet (Men's)", "Running Tops", 42.00,
      "fabric=DryWeave mesh, 90 gsm; fit=race fit; bib toggles=four",
      "A see-through-light singlet for race day, with bib toggles so you never need safety pins.",
      colours=["Volt Lime", "Pearl White"], sizes=MENS, split="colour"),
    M("Verve Race Crop (Women's)", "Running Tops", 42.00,
      "fabric=DryWeave mesh, 90 gsm; fit=race fit; support=light",
      "A mesh race crop with a light built-in shelf for short, hot races.",
      colours=["Coral Dusk", "Black"], sizes=WOMENS, split="colour"),
    M("Verve Merino Base Layer (Men's)", "Running Tops", 85.00,
      "fabric=merino wool 150 gsm; fit=next to skin",
      "A merino base layer for winter runs that stays warm when damp.",
      colours=["Charcoal"], sizes=MENS),
    M("Verve Merino Base Layer (Women's)", "Running Tops", 85.00,
      "fabric=merino wool 150 gsm; fit=next to skin",
      "The women's merino base layer, with flat seams that do not chafe under a pack.",
      colours=["Charcoal"], sizes=WOMENS),
    M("Verve Thermal Half-Zip (Men's)", "Running Tops", 68.00,
      "fabric=brushed DryWeave fleece, 200 gsm; fit=regular; pocket=zip chest pocket",
      "A brushed half-zip for frosty mornings.",
      colours=["Midnight Navy"], sizes=MENS, legacy="Frostline Zip"),
    M("Verve Thermal Half-Zip (Women's)", "Running Tops", 68.00,
      "fabric=brushed DryWeave fleece, 200 gsm; fit=regular; pocket=zip chest pocket",
      "The women's brushed half-zip.",
      colours=["Heather"], sizes=WOMENS, legacy="Frostline Zip W"),
    M("Verve Sun Hoody", "Running Tops", 58.00,
      "fabric=DryWeave recycled polyester, 120 gsm; UPF=50; hood=sits under a cap",
      "A light hooded layer for desert and summer runs, rated UPF 50.",
      colours=["Sand", "Glacier Blue"], sizes=UNISEX),
    M("Verve Club Tee", "Running Tops", 28.00,
      "fabric=recycled cotton and polyester blend; fit=relaxed",
      "A soft tee for club nights and the coffee afterwards.",
      colours=["Black", "Pearl White", "Ember Red"], sizes=UNISEX, split="colour"),
]

STRIDE = [
    M("Stride 5-Inch Split Short (Men's)", "Shorts & Tights", 52.00,
      "inseam=5 in; fabric=DryWeave stretch woven; liner=brief liner; pockets=back zip pocket, two gel pockets",
      "A split short with a back zip pocket that holds a phone without bouncing.",
      colours=["Black", "Midnight Navy", "Volt Lime"], sizes=MENS, split="colour", legacy="Split Short 5"),
    M("Stride 3-Inch Split Short (Women's)", "Shorts & Tights", 52.00,
      "inseam=3 in; fabric=DryWeave stretch woven; liner=brief liner; pockets=back zip pocket",
      "A light 3-inch split short for racing and hot days.",
      colours=["Black", "Coral Dusk", "Glacier Blue"], sizes=WOMENS, split="colour"),
    M("Stride 7-Inch Trail Short (Men's)", "Shorts & Tights", 62.00,
      "inseam=7 in; fabric=ripstop stretch nylon; liner=none; pockets=five, incl. two zip",
      "A longer trail short with five pockets for gels, keys and a buff.",
      colours=["Moss", "Basalt"], sizes=MENS, split="colour"),
    M("Stride Full Tight (Men's)", "Shorts & Tights", 78.00,
      "inseam=30 in; fabric=brushed stretch knit; pockets=two side pockets, back zip pocket; reflective=ankles",
      "A brushed winter tight with deep side pockets.",
      colours=["Black"], sizes=MENS),
    M("Stride Full Tight (Women's)", "Shorts & Tights", 78.00,
      "inseam=28 in; fabric=brushed stretch knit; pockets=two side pockets, back zip pocket; rise=high rise",
      "A high-rise tight with side pockets that fit a phone.",
      colours=["Black", "Heather"], sizes=WOMENS, split="colour"),
    M("Stride Half Tight (Women's)", "Shorts & Tights", 58.00,
      "inseam=8 in; fabric=compressive stretch knit; pockets=two side pockets",
      "A supportive half tight for long runs and chafe-free thighs.",
      colours=["Black"], sizes=WOMENS),
    M("Stride Winter Tight", "Shorts & Tights", 92.00,
      "inseam=30 in; fabric=windproof front panels, brushed back; reflective=calves and ankles",
      "A windproof tight for sub-zero runs.",
      colours=["Black"], sizes=UNISEX, legacy="Polar Tights"),
    M("Stride Running Skirt", "Shorts & Tights", 56.00,
      "fabric=DryWeave stretch woven; liner=built-in short, 4 in; pockets=two leg pockets",
      "A skirt with a built-in short and two leg pockets.",
      colours=["Black", "Lilac"], sizes=WOMENS),
    M("Stride Track Pant", "Shorts & Tights", 74.00,
      "inseam=31 in; fabric=stretch woven; zips=ankle zips",
      "A warm-up pant with ankle zips that go over shoes.",
      colours=["Black", "Midnight Navy"], sizes=UNISEX),
]

GALE = [
    M("Gale Wind Jacket (Men's)", "Running Jackets & Vests", 98.00,
      "weight=95 g (M); fabric=15D ripstop nylon with DWR; packs into=chest pocket; hood=adjustable",
      "A wind jacket that packs into its own chest pocket, for blowy ridge runs.",
      colours=["Volt Lime", "Storm Grey"], sizes=MENS, split="colour", legacy="Squall Jacket"),
    M("Gale Wind Jacket (Women's)", "Running Jackets & Vests", 98.00,
      "weight=85 g (S); fabric=15D ripstop nylon with DWR; packs into=chest pocket; hood=adjustable",
      "The women's wind jacket, with a dropped back hem.",
      colours=["Coral Dusk", "Storm Grey"], sizes=WOMENS, split="colour", legacy="Squall Jacket W"),
    M("Gale Rain Shell (Men's)", "Running Jackets & Vests", 189.00,
      "weight=180 g (M); waterproof rating=20,000 mm; breathability=25,000 g/m2/24h; seams=fully taped; "
      "packs into=stuff sack",
      "A fully waterproof running shell light enough to carry on every mountain race.",
      colours=["Black"], sizes=MENS, legacy="Downpour Shell"),
    M("Gale Rain Shell (Women's)", "Running Jackets & Vests", 189.00,
      "weight=160 g (S); waterproof rating=20,000 mm; breathability=25,000 g/m2/24h; seams=fully taped; "
      "packs into=stuff sack",
      "The women's waterproof shell, meeting mountain-race kit rules.",
      colours=["Glacier Blue"], sizes=WOMENS, legacy="Downpour Shell W"),
    M("Gale Insulated Vest", "Running Jackets & Vests", 110.00,
      "weight=150 g (M); insulation=60 gsm synthetic; comfort range=-5 to 8 °C",
      "A light insulated vest for cold starts and winter races.",
      colours=["Black", "Ember Red"], sizes=UNISEX),
    M("Gale Reflective Vest", "Running Jackets & Vests", 34.00,
      "weight=60 g; visibility=360-degree reflective panels; fit=adjustable side straps",
      "A mesh hi-vis vest for runs after dark.",
      colours=["Safety Yellow"], sizes=["S/M", "L/XL"], legacy="Glow Vest"),
    M("Gale Packable Anorak", "Running Jackets & Vests", 84.00,
      "weight=140 g (M); fabric=20D nylon with DWR; packs into=kangaroo pocket",
      "A half-zip anorak that packs into its own kangaroo pocket.",
      colours=["Sand"], sizes=UNISEX),
    M("Gale Winter Run Jacket (Men's)", "Running Jackets & Vests", 135.00,
      "weight=260 g (M); fabric=windproof front, brushed DryWeave back; comfort range=-10 to 5 °C",
      "A winter jacket with a windproof front and a breathable back.",
      colours=["Black"], sizes=MENS),
    M("Gale Winter Run Jacket (Women's)", "Running Jackets & Vests", 135.00,
      "weight=230 g (S); fabric=windproof front, brushed DryWeave back; comfort range=-10 to 5 °C",
      "The women's winter jacket, with a longer cut.",
      colours=["Heather"], sizes=WOMENS),
]

PULSE = [
    M("Pulse 40 Watch", "GPS Watches & Sensors", 199.00,
      "battery life=14 days smartwatch, 20 h GPS; display=1.2 in MIP; water rating=5 ATM; weight=38 g; "
      "sensors=PaceSense wrist heart rate, GPS",
      "A light GPS running watch with PaceSense heart rate and two weeks of battery.",
      colours=["Black", "Glacier Blue", "Coral Dusk"], split="colour", legacy="Pulse Trek 40"),
    M("Pulse 60 Multisport Watch", "GPS Watches & Sensors", 349.00,
      "battery life=16 days smartwatch, 36 h GPS; display=1.3 in AMOLED; water rating=10 ATM; weight=52 g; "
      "sensors=PaceSense wrist heart rate, multi-band GPS, barometer; maps=yes",
      "A multisport watch with maps, multi-band GPS and a bright AMOLED screen.",
      colours=["Black"]),
    M("Pulse 60 Solar Watch", "GPS Watches & Sensors", 449.00,
      "battery life=30 days smartwatch, 60 h GPS with solar; display=1.3 in MIP; water rating=10 ATM; "
      "weight=58 g; sensors=PaceSense wrist heart rate, multi-band GPS, barometer; maps=yes",
      "The Pulse 60 with a solar lens, for ultras and week-long trips.",
      colours=["Graphite"], stock="preorder"),
    M("Pulse Dual Time 45 Watch", "GPS Watches & Sensors", 279.00,
      "battery life=18 days smartwatch, 30 h GPS; time zones=two, home and local on the watch face; "
      "display=1.3 in MIP; water rating=10 ATM; weight=46 g",
      "A travel-friendly GPS watch that shows home time and local time side by side.",
      colours=["Black", "Sand"], legacy="Pulse Voyager"),
    M("Pulse HR Chest Strap", "GPS Watches & Sensors", 79.00,
      "battery life=400 h, CR2032 coin cell; connectivity=Bluetooth and ANT+; strap=60 to 110 cm chest",
      "A chest strap for the most accurate heart rate on intervals.",
      colours=["Black"]),
    M("Pulse Footpod", "GPS Watches & Sensors", 59.00,
      "battery life=300 h; connectivity=Bluetooth and ANT+; weight=9 g; measures=pace, cadence, distance indoors",
      "A clip-on footpod for treadmill pace and running cadence.",
      colours=["Black"]),
    M("Pulse Armband HR Sensor", "GPS Watches & Sensors", 89.00,
      "battery life=24 h, rechargeable; connectivity=Bluetooth and ANT+; strap=22 to 40 cm arm",
      "An optical armband for heart rate without a chest strap.",
      colours=["Black"]),
    M("Pulse Charging Cable", "GPS Watches & Sensors", 19.00,
      "length=1 m; connector=USB-C to Pulse clip; compatible with=Pulse 40, Pulse 60, Pulse Dual Time 45",
      "A spare charging cable for every Pulse watch.",
      colours=["Black"]),
    M("Pulse Silicone Band 20 mm", "GPS Watches & Sensors", 25.00,
      "width=20 mm; compatible with=Pulse 40 and Pulse Dual Time 45; material=silicone with a quick-release pin",
      "A spare quick-release band.",
      colours=["Black", "Volt Lime", "Coral Dusk", "Glacier Blue"], split="colour"),
]

SURGE = [
    M("Surge Gel 25", "Energy Gels & Drink Mix", 2.75,
      "carbs=25 g; caffeine=0 mg; sodium=60 mg; serving=40 g sachet",
      "A fast-digesting gel with a 2:1 glucose-to-fructose mix, thin enough to take without water.",
      split="flavour", flavours=["Citrus", "Mixed Berry", "Salted Caramel", "Apple"], legacy="Goo 25"),
    M("Surge Gel 25 Caffeine", "Energy Gels & Drink Mix", 3.25,
      "carbs=25 g; caffeine=40 mg; sodium=60 mg; serving=40 g sachet",
      "The Surge Gel 25 with 40 mg of caffeine for the late miles.",
      split="flavour", flavours=["Espresso", "Cola"], legacy="Rocket Gel"),
    M("Surge Drink Mix 500 g", "Energy Gels & Drink Mix", 24.00,
      "carbs=40 g per serving; sodium=400 mg per serving; servings=twelve; size=500 g tub",
      "A carbohydrate and electrolyte drink mix for long runs in the heat.",
      split="flavour", flavours=["Lemon", "Orange", "Unflavoured"], legacy="Hydromix"),
    M("Surge Electrolyte Tabs", "Energy Gels & Drink Mix", 8.50,
      "sodium=300 mg per tab; caffeine=0 mg; count=twenty tabs per tube",
      "Fizzy electrolyte tablets for your bottle, with no sugar.",
      split="flavour", flavours=["Lime", "Watermelon"]),
    M("Surge Energy Chews", "Energy Gels & Drink Mix", 3.50,
      "carbs=24 g per pack; caffeine=0 mg; serving=six chews",
      "Soft chews for runners who cannot face another gel.",
      split="flavour", flavours=["Strawberry", "Orange"]),
    M("Surge Recovery Shake 1 kg", "Energy Gels & Drink Mix", 39.00,
      "protein=20 g per serving; carbs=30 g per serving; servings=twenty; size=1 kg bag",
      "A protein and carbohydrate shake for the 30 minutes after a hard session.",
      split="flavour", flavours=["Chocolate", "Vanilla"]),
    M("Surge Oat Bar", "Energy Gels & Drink Mix", 2.50,
      "carbs=35 g; protein=5 g; weight=55 g",
      "A soft oat bar for long runs and the start line.",
      flavours=["Peanut"]),
    M("Surge Gel 25 Variety Box", "Energy Gels & Drink Mix", 62.00,
      "contents=24 gels, six of each flavour; carbs=25 g per gel",
      "Twenty-four Surge Gel 25 sachets in every flavour, for a marathon build.",
      stock="low_stock"),
]

HAUL = [
    M("Haul 5 Vest", "Hydration Vests & Belts", 119.00,
      "capacity=5 L; flasks=two 500 ml soft flasks included; weight=210 g (M/L); "
      "chest range=XS/S 66–86 cm, M/L 81–101 cm, XL 96–116 cm",
      "A race vest for half marathons to 50 km, with two soft flasks on the chest.",
      colours=["Black"], sizes=["XS/S", "M/L", "XL"], split="size"),
    M("Haul 12 Vest", "Hydration Vests & Belts", 159.00,
      "capacity=12 L; flasks=two 500 ml soft flasks included; weight=320 g (M/L); pole holder=yes; "
      "chest range=XS/S 66–86 cm, M/L 81–101 cm, XL 96–116 cm",
      "A 12-litre vest for mountain ultras, with room for the mandatory kit list and a pole holder.",
      colours=["Black", "Glacier Blue"], sizes=["XS/S", "M/L", "XL"], split="size"),
    M("Haul Race Belt", "Hydration Vests & Belts", 18.00,
      "waist=60 to 110 cm; gel loops=six; bib toggles=two",
      "A bib belt with six gel loops & two bib toggles.",
      colours=["Black"]),
    M("Haul Phone Belt", "Hydration Vests & Belts", 36.00,
      "phone size=up to 6.9 in; pockets=two stretch pockets, one zip pocket",
      "A bounce-free belt for a big phone and keys.",
      colours=["Black", "Storm Grey"], sizes=["S/M", "L/XL"], legacy="Zip Belt"),
    M("Haul Soft Flask 500 ml", "Hydration Vests & Belts", 22.00,
      "capacity=500 ml; weight=28 g; cap=bite valve",
      "A collapsible flask for every Haul vest.",
      colours=["Clear"]),
    M("Haul Soft Flask 250 ml", "Hydration Vests & Belts", 18.00,
      "capacity=250 ml; weight=20 g; cap=bite valve",
      "A small flask for gels or a short run.",
      colours=["Clear"]),
    M("Haul Handheld 350 ml", "Hydration Vests & Belts", 32.00,
      "capacity=350 ml; pocket=zip pocket for keys and a gel; strap=adjustable hand strap",
      "A handheld bottle that you forget you are holding.",
      colours=["Black"]),
    M("Haul Bladder 1.5 L", "Hydration Vests & Belts", 34.00,
      "capacity=1.5 L; hose=insulated; compatible with=Haul 12 Vest",
      "A 1.5-litre reservoir for the Haul 12 Vest.",
      colours=["Clear"]),
]

CADENCE = [
    M("Cadence Light Crew Sock", "Running Socks", 16.00,
      "fabric=DryWeave nylon blend; cushion=light; height=crew; "
      "size guide=S fits US men's 4–6.5, M fits US men's 7–9.5, L fits US men's 10–12.5",
      "A thin, blister-free crew sock for road running.",
      colours=["White", "Black"], sizes=["S", "M", "L"], split="size", legacy="Comfort Crew"),
    M("Cadence No-Show Sock", "Running Socks", 14.00,
      "fabric=DryWeave nylon blend; cushion=light; height=no-show with heel tab; "
      "size guide=S fits US men's 4–6.5, M fits US men's 7–9.5, L fits US men's 10–12.5",
      "A no-show sock with a heel tab that stays put.",
      colours=["White", "Black"], sizes=["S", "M", "L"], split="size", legacy="Ghost Sock"),
    M("Cadence Trail Quarter Sock", "Running Socks", 19.00,
      "fabric=merino and nylon blend; cushion=medium; height=quarter; "
      "size guide=M fits US men's 7–9.5, L fits US men's 10–12.5",
      "A cushioned quarter sock for trail miles.",
      colours=["Moss"], sizes=["M", "L"], split="size"),
    M("Cadence Compression Sock", "Running Socks", 42.00,
      "compression=20–30 mmHg graduated; height=knee; "
      "size guide=S calf 28–33 cm, M calf 33–38 cm, L calf 38–43 cm, XL calf 43–48 cm",
      "A graduated compression sock for recovery and long flights to races.",
      colours=["Black"], sizes=["S", "M", "L", "XL"], split="size", legacy="Squeeze Sock"),
    M("Cadence Merino Crew Sock", "Running Socks", 22.00,
      "fabric=merino wool blend; cushion=medium; height=crew; "
      "size guide=M fits US men's 7–9.5, L fits US men's 10–12.5",
      "A merino crew sock for winter runs.",
      colours=["Charcoal"], sizes=["M", "L"], split="size"),
    M("Cadence Toe Sock", "Running Socks", 18.00,
      "fabric=DryWeave nylon blend; height=quarter; size guide=one size fits US men's 7–12",
      "A five-toe sock for runners who blister between toes.",
      colours=["Black"], sizes=["One Size"]),
    M("Cadence Light Crew 3-Pack", "Running Socks", 42.00,
      "contents=three pairs of Cadence Light Crew Sock; size guide=M fits US men's 7–9.5, L fits US men's 10–12.5",
      "Three pairs of our light crew sock at a better price.",
      colours=["White"], sizes=["M", "L"]),
]

CREST = [
    M("Crest Running Cap", "Headwear & Accessories", 30.00,
      "fabric=DryWeave mesh; fit=one size, adjustable strap; UPF=50",
      "A light mesh cap with a soft brim you can fold into a pocket.",
      colours=["Black", "Pearl White", "Volt Lime"], split="colour", legacy="Race Cap"),
    M("Crest Visor", "Headwear & Accessories", 24.00,
      "fabric=DryWeave mesh; fit=one size, adjustable strap",
      "A visor that keeps sweat out of your eyes and heat out of your head.",
      colours=["Black"]),
    M("Crest Thermal Beanie", "Headwear & Accessories", 26.00,
      "fabric=brushed DryWeave fleece; fit=one size",
      "A thin, warm beanie that sits under a hood.",
      colours=["Black", "Ember Red"]),
    M("Crest Light Gloves", "Headwear & Accessories", 28.00,
      "fabric=stretch knit; touchscreen=thumb and index finger",
      "Light gloves that work on a phone screen & fold into their own cuff.",
      colours=["Black"], sizes=["S/M", "L/XL"]),
    M("Crest Headband", "Headwear & Accessories", 15.00,
      "fabric=DryWeave stretch knit; fit=one size",
      "A wide headband that keeps sweat and hair in place.",
      colours=["Black", "Coral Dusk"], split="colour"),
    M("Crest Neck Gaiter", "Headwear & Accessories", 18.00,
      "fabric=recycled polyester; UPF=50",
      "A neck gaiter that works as a headband, hat or face cover.",
      colours=["Storm Grey"]),
    M("Crest Clip Light", "Headwear & Accessories", 22.00,
      "output=40 lm; battery life=10 h flashing; charging=USB-C; weight=18 g",
      "A clip-on light that makes you visible from behind after dark.",
      colours=["Black"]),
    M("Crest Beam 300 Run Light", "Headwear & Accessories", 55.00,
      "output=300 lm; battery life=3 h on high, 20 h on low; charging=USB-C; weight=75 g",
      "A chest-mounted light for dark mornings and trail nights.",
      colours=["Black"]),
]

BUNDLES = [  # priced bundles load; the rest have no price in the export
    M("Finisher Race Day Bundle", "Bundles", 96.00,
      "contents=Verve Race Singlet, Haul Race Belt, six Surge Gel 25, Crest Running Cap",
      "Everything but the shoes for your next race.",
      colours=["Volt Lime"], sizes=MENS),
    M("Finisher Trail Starter Bundle", "Bundles", 189.00,
      "contents=Haul 5 Vest, two Haul Soft Flask 500 ml, Scree Trail Gaiter",
      "A vest, flasks and gaiters for your first trail season.",
      sizes=["XS/S", "M/L", "XL"]),
]
UNPRICED_BUNDLES = [  # (name, description HTML): bundles an export writes without a price
    ("Finisher Marathon Training Box", "<p>Sixteen weeks of fuel: <strong>gels, drink mix &amp; chews</strong>. "
                                       "Priced at checkout from the items you pick.</p>"),
    ("Finisher Gift Set (Build Your Own)", "<p>Pick any three accessories; the price is the sum of the items.</p>"),
    ("Finisher Club Team Pack", "<p>Club orders of ten or more tees &amp; singlets. Ask us for a quote.</p>"),
]

LINES = [("Glide", "GLD", GLIDE), ("Scree", "SCR", SCREE), ("Verve", "VRV", VERVE), ("Stride", "STR", STRIDE),
         ("Gale", "GAL", GALE), ("Pulse", "PLS", PULSE), ("Surge", "SRG", SURGE), ("Haul", "HAL", HAUL),
         ("Cadence", "CAD", CADENCE), ("Crest", "CRS", CREST), ("Finisher", "BND", BUNDLES)]

# old names that stood for two products: never say them; a question that uses one means both
SHARED_ALIASES = {
    "Skylark 5": ["Glide 5 Road Shoe (Men's)", "Glide 5 Road Shoe (Women's)"],
    "Breeze Tee": ["Verve DryWeave Tee (Men's)", "Verve DryWeave Tee (Women's)"],
    "Hydra Vest": ["Haul 5 Vest", "Haul 12 Vest"],
    "Talus 3": ["Scree 3 Trail Shoe (Men's)", "Scree 3 Trail Shoe (Women's)"],
}

GENERIC_TERMS = [
    ("gps watch", "Pulse"), ("running watch", "Pulse"), ("energy gel", "Surge"), ("hydration vest", "Haul"),
    ("trail runners", "Scree"), ("trail shoes", "Scree"), ("compression socks", "Cadence"),
    ("running tights", "Stride"), ("rain jacket", "Gale"),
]

TRADEMARKS = [  # (mark, misspellings, what)
    ("AeroSpring", ["Aerospring", "Aero-Spring", "Aero Spring"], "midsole foam (Glide, Scree)"),
    ("DryWeave", ["Dryweave", "Dry-Weave", "Dry Weave"], "quick-drying fabric (Verve, Stride, Cadence, Crest)"),
    ("TrakGrip", ["Trakgrip", "TrackGrip", "Trak-Grip"], "outsole rubber (Glide, Scree)"),
    ("PaceSense", ["Pacesense", "Pace Sense"], "wrist heart-rate sensor (Pulse)"),
    ("StormSeal", ["Stormseal", "Storm Seal"], "waterproof membrane (Scree Storm)"),
]

DISCLAIMERS = [  # (id, text, when, why)
    ("price", "Prices and promotions can change; the price in your cart at checkout is the one that counts.",
     {"mentions_price": True}, "any stated price or sale price"),
    ("fit", "Fit varies from foot to foot; unworn shoes and clothing can be exchanged for another size within 45 days.",
     {"keywords": ["size", "sizes", "sizing", "fit", "fits", "half size", "size up", "size down", "true to size",
                   "runs small", "runs large"]}, "sizing or fit advice in the question or answer"),
    ("nutrition", "Check the label for allergens and caffeine, and try new fuel in training before race day.",
     {"categories": ["Energy Gels & Drink Mix"]}, "answer concerns a gel, drink mix, chew or bar"),
    ("heart_rate", "Heart-rate and other readings are training estimates, not medical measurements.",
     {"categories": ["GPS Watches & Sensors"]}, "answer concerns a watch or sensor"),
]

TONE = [
    "Encouraging and straight to the point, like a coach at the track; no hype words such as \"insane\", \"beast mode\" or \"crushing it\".",
    "Answer the question in the first sentence, then add at most two short tips.",
    "Use the approved product name on first mention; a short form such as \"the Glide 5\" is fine after that.",
    "Mention an old name only to say the product was renamed (\"formerly the Squall Jacket\"); an old name that stood for two products (\"Skylark 5\") is answered for both, by their approved names.",
    "Say the line name (Glide, Scree, Verve, Stride, Gale, Pulse, Surge, Haul, Cadence, Crest) instead of a generic label such as \"gps watch\" or \"energy gel\".",
    "Spell AeroSpring, DryWeave, TrakGrip, PaceSense and StormSeal exactly; a product whose approved name keeps the older spelling (Glide Aerospring Classic) keeps it.",
    "Prices, stock and specs come from the catalog only; if something is sold out or on pre-order, say so plainly and suggest one in-stock alternative.",
]

FORMATS = {
    "comparison": {"when": "two or more products compared", "style": "markdown_table",
                   "columns": ["Product", "Price", "Key features"]},
    "shortlist": {"when": "three or more options suggested", "style": "numbered_list"},
}

COLUMNS = ["id", "Parent SKU", "name", "collection", "category", "price", "sale_price", "currency", "colors",
           "sizes", "specs", "stock", "description", "url", "Barcode", "Vendor", "Weight (g)", "Tax Class",
           "Published"]

# stock states the held-out prompts rely on (make_eval_prompts.py asks about these SKUs); every other SKU
# gets the seeded mess
STOCK = {
    **dict.fromkeys(["KW-GAL-003", "KW-SCR-006", "KW-VRV-011", "KW-CRS-007", "KW-HAL-004", "KW-GLD-001-EMBR",
                     "KW-STR-006", "KW-STR-002-GLAB"], "out_of_stock"),
    **dict.fromkeys(["KW-GAL-005", "KW-CRS-003", "KW-VRV-001-VOLL", "KW-HAL-007", "KW-HAL-001-XSS",
                     "KW-VRV-002-BLAC"], "low_stock"),
    **dict.fromkeys(["KW-GAL-009", "KW-STR-009", "KW-SCR-004", "KW-CRS-005-CORD"], "preorder"),
    **dict.fromkeys(["KW-PLS-006", "KW-HAL-005", "KW-VRV-001-BLAC", "KW-GAL-001-STOG", "KW-GAL-006",
                     "KW-STR-005-BLAC"], "in_stock"),
}

# how the export writes each stock state (several spellings per state, as hand-kept exports do)
STOCK_WORDS = {"in_stock": ["In stock", "In Stock", "instock"], "low_stock": ["Low stock", "Low Stock"],
               "out_of_stock": ["Out of stock", "Sold out", "outofstock"], "preorder": ["Pre-order", "pre order"]}


def code(value: str) -> str:
    """'Storm Grey' -> 'STOG', 'XS/S' -> 'XSS', 'M' -> 'M': a short, stable SKU suffix."""
    words = re.findall(r"[A-Za-z0-9]+", value.upper())
    if len(words) == 1:
        return words[0][:4]
    return words[0][:3] + "".join(w[0] for w in words[1:])


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def skus() -> list[dict]:
    """Every SKU of every model: id, parent, approved name, line, category, price, colours, sizes, specs."""
    out = []
    for line, prefix, models in LINES:
        for n, m in enumerate(models, 1):
            parent = f"KW-{prefix}-{n:03d}"
            if m["split"] == "colour":
                splits = [(code(c), {"colours": [c]}) for c in m["colours"]]
            elif m["split"] == "size":
                splits = [(code(s), {"sizes": [s]}) for s in m["sizes"]]
            elif m["split"] == "flavour":
                splits = [(code(f), {"flavour": f}) for f in m["flavours"]]
            else:
                splits = [("", {})]
            for suffix, var in splits:
                specs = dict(m["specs"])
                if "flavour" in var:
                    specs = {"flavour": var["flavour"], **specs}
                elif m["flavours"]:
                    specs = {"flavour": m["flavours"][0], **specs}
                out.append({
                    "id": f"{parent}-{suffix}" if suffix else parent, "parent": parent, "model": m,
                    "name": m["name"], "line": line, "category": m["category"], "price": m["price"],
                    "colours": var.get("colours", m["colours"]), "sizes": var.get("sizes", m["sizes"]),
                    "specs": specs, "variant": var.get("colours", var.get("sizes", [var.get("flavour", "")]))[0],
                    "split": bool(suffix),
                })
    return out


def money(v: float, rng: random.Random) -> str:
    return f"${v:,.2f}" if rng.random() < 0.6 else f"{v:.2f}"


def describe(s: dict, rng: random.Random) -> str:
    """The product body as the export holds it: HTML most of the time, plain text sometimes."""
    m = s["model"]
    facts = [f"{k}: {v}" for k, v in list(s["specs"].items())[:3]]
    if rng.random() < 0.25:
        return f"{m['hook']} Key facts: " + ", ".join(facts) + "."
    items = "".join(f"<li>{k.capitalize()}: {v.replace('&', '&amp;')}</li>" for k, v in
                    (f.split(': ', 1) for f in facts))
    hook = m["hook"].replace("&", "&amp;")
    return f"<p>{hook}</p><ul>{items}</ul>"


def build(rng: random.Random) -> tuple[list[dict], list[dict]]:
    """(rows of the raw export, SKUs) with the seeded mess applied."""
    units = skus()
    rows = []
    stock_pool = ["in_stock"] * 64 + ["low_stock"] * 13 + ["out_of_stock"] * 16 + ["preorder"] * 7
    for s in units:
        m = s["model"]
        stock = rng.choice(stock_pool)  # drawn for every SKU, so a fixed state does not shift the rest
        stock = STOCK.get(s["id"]) or m["stock"] or stock
        if m["split"] and rng.random() < 0.5:  # about half the variant SKUs carry their colour or size in the name
            name = f"{s['name']} - {s['variant']}"
        else:
            name = s["name"]
        if m["legacy"] and rng.random() < 0.45:  # the old export still uses the old name
            name = m["legacy"][0] + (f" - {s['variant']}" if s["split"] else "")
        price = s["price"]
        sale = round(price * 0.8, 0) - 0.05 if rng.random() < 0.15 and price >= 20 else None
        desc = describe(s, rng)
        s.update(stock=stock, export_name=name, sale=sale)
        rows.append({
            "id": s["id"], "Parent SKU": s["parent"], "name": name, "collection": s["line"],
            "category": s["category"], "price": money(price, rng), "sale_price": money(sale, rng) if sale else "",
            "currency": "USD", "colors": "; ".join(s["colours"]), "sizes": "; ".join(s["sizes"]),
            "specs": "; ".join(f"{k}: {v}" for k, v in s["specs"].items()),
            "stock": rng.choice(STOCK_WORDS[stock]), "description": desc,
            "url": BASE_URL + slug(s["id"]), "Barcode": f"0{rng.randrange(10**11, 10**12)}",
            "Vendor": BRAND, "Weight (g)": str(rng.randrange(20, 900)), "Tax Class": "standard",
            "Published": "TRUE",
        })

    # mess in the copy: old names and misspelt marks in descriptions (approved names are left alone)
    by_id = {r["id"]: r for r in rows}
    renamed = [s for s in units if s["model"]["legacy"]]
    for s in rng.sample(renamed, 12):
        old = s["model"]["legacy"][0]
        by_id[s["id"]]["description"] += rng.choice([f" <p>Same fit as the {old} you know.</p>",
                                                   f" Still the {old} at heart.",
                                                   f" <p>Loved the {old}? This is it.</p>"])
    for alias, names in SHARED_ALIASES.items():  # the shared old name, in one product's copy each
        s = next(u for u in units if u["name"] == names[0])
        by_id[s["id"]]["description"] += f" <p>The {alias} is back for another season.</p>"
    marks = {m: miss for m, miss, _ in TRADEMARKS}
    with_mark = [r for r in rows if any(m in r["description"] for m in marks)]
    for r in rng.sample(with_mark, 10):
        m = next(m for m in marks if m in r["description"])
        r["description"] = r["description"].replace(m, rng.choice(marks[m]), 1)

    # bundles without a price, where the export put them: after the last priced bundle
    for i, (name, html) in enumerate(UNPRICED_BUNDLES, len(BUNDLES) + 1):
        rows.append({**{c: "" for c in COLUMNS}, "id": f"KW-BND-{i:03d}", "Parent SKU": f"KW-BND-{i:03d}",
                     "name": name, "collection": "Finisher", "category": "Bundles", "currency": "USD",
                     "stock": "In stock", "description": html, "url": BASE_URL + slug(name), "Vendor": BRAND,
                     "Tax Class": "standard", "Published": "TRUE"})
    return rows, units


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------------------
# brand kit
# --------------------------------------------------------------------------------------------------------

def yaml_scalar(s) -> str:
    if isinstance(s, bool):
        return "true" if s else "false"
    s = str(s)
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 .,'()/&+\-]*", s) and not s.endswith(" ") and yaml.safe_load(s) == s:
        return s
    return json.dumps(s, ensure_ascii=False)


def flow_list(xs) -> str:
    return "[" + ", ".join(yaml_scalar(x) for x in xs) + "]"


def kit_parts(units: list[dict]) -> tuple[dict, dict, dict]:
    """(products id -> name for single SKUs, variants name -> ids, single aliases alias -> name)."""
    groups: dict[str, list[str]] = {}
    for s in units:
        groups.setdefault(s["name"], []).append(s["id"])
    products = {ids[0]: name for name, ids in groups.items() if len(ids) == 1}
    variants = {name: ids for name, ids in groups.items() if len(ids) > 1}
    aliases = {a: m["name"] for _, _, models in LINES for m in models for a in m["legacy"]}
    return products, variants, aliases


def brand_kit_yaml(units: list[dict]) -> str:
    products, variants, aliases = kit_parts(units)
    L = []
    w = L.append
    w("# Kitewell Running Co. - brand kit (FICTIONAL second merchant for onbrand).")
    w("# Generated by corpus/kitewell/make_kitewell.py; edit the generator, not this file.")
    w("#")
    w("# The catalog export (products.csv) is messy on purpose: colour and size variants are separate SKUs,")
    w("# rows and descriptions still carry old names, descriptions are HTML and misspell our marks. This kit")
    w("# is the source of truth.")
    w(f"brand: {yaml_scalar(BRAND)}")
    w("version: 1")
    w("")
    w("# products: the approved name of every SKU sold on its own.")
    w("products:")
    for pid, name in products.items():
        w(f"  {pid}: {yaml_scalar(name)}")
    w("")
    w("# variants: one approved name for the SKUs sold as its colours, sizes or flavours.")
    w("variants:")
    for name, ids in variants.items():
        w(f"  {yaml_scalar(name)}: {flow_list(ids)}")
    w("")
    w("# deprecated_aliases: old name -> approved name; a list when the old name stood for several")
    w("# products (never say it; a question that uses it means each of them).")
    w("deprecated_aliases:")
    for a, name in aliases.items():
        w(f"  {yaml_scalar(a)}: {yaml_scalar(name)}")
    for a, names in SHARED_ALIASES.items():
        w(f"  {yaml_scalar(a)}: {flow_list(names)}")
    w("")
    w("# generic_terms: market labels that must not stand in for one of our lines.")
    w("generic_terms:")
    for term, inst in GENERIC_TERMS:
        w(f"  - term: {yaml_scalar(term)}")
        w(f"    use_instead: {yaml_scalar(inst)}")
    w("")
    w("# trademarks: exact spellings and the misspellings answers must correct. Two approved names keep the")
    w("# launch spelling \"Aerospring\" (Glide Aerospring Classic, Scree Aerospring Trail): inside those names")
    w("# it is the product's name, not a misspelling.")
    w("trademarks:")
    for mark, miss, what in TRADEMARKS:
        w(f"  - mark: {mark}   # {what}")
        w(f"    misspellings: {flow_list(miss)}")
    w("")
    w("# disclaimers: appended when `when` holds (an OR of its conditions).")
    w("disclaimers:")
    for did, text, when, why in DISCLAIMERS:
        w(f"  - id: {did}")
        w(f"    text: {json.dumps(text, ensure_ascii=False)}")
        parts = [f"{k}: {flow_list(v) if isinstance(v, list) else yaml_scalar(v)}" for k, v in when.items()]
        w(f"    when: {{{', '.join(parts)}}}   # {why}")
    w("")
    w("# tone: voice rules for every answer.")
    w("tone:")
    for t in TONE:
        w(f"  - {json.dumps(t, ensure_ascii=False)}")
    w("")
    w("# formats: a comparison is a table with our three columns; three or more suggestions are numbered.")
    w("formats:")
    for name, f in FORMATS.items():
        w(f"  {name}:")
        w(f"    when: {f['when']}")
        w(f"    style: {f['style']}")
        if "columns" in f:
            w(f"    columns: {flow_list(f['columns'])}")
    w("")
    w("# for the training-data builder: brands shoppers compare with (fictional), what runners say about")
    w("# their plans, and things the shop does not sell.")
    w(f"competitors: {flow_list(COMPETITORS)}")
    w(f"occasions: {flow_list(OCCASIONS)}")
    w(f"not_carried: {flow_list(NOT_CARRIED)}")
    return "\n".join(L) + "\n"


def expected_kit(units: list[dict]) -> dict:
    products, variants, aliases = kit_parts(units)
    return {
        "brand": BRAND, "version": 1, "products": products, "variants": variants,
        "deprecated_aliases": {**aliases, **SHARED_ALIASES},
        "generic_terms": [{"term": t, "use_instead": u} for t, u in GENERIC_TERMS],
        "trademarks": [{"mark": m, "misspellings": list(x)} for m, x, _ in TRADEMARKS],
        "disclaimers": [{"id": d, "text": t, "when": w} for d, t, w, _ in DISCLAIMERS],
        "tone": list(TONE), "formats": FORMATS,
        "competitors": list(COMPETITORS), "occasions": list(OCCASIONS), "not_carried": list(NOT_CARRIED),
    }


COMPETITORS = ["Stridemark", "Velox Running", "Paceline"]
OCCASIONS = ["training for my first half marathon", "it's for a trail race in june", "running in the rain a lot",
             "doing a marathon in the fall", "for my morning 5k", "for a ultra next spring"]
NOT_CARRIED = ["road bikes", "swim goggles", "yoga mats", "tennis rackets", "ski wax", "treadmills", "golf shoes",
               "climbing ropes", "kayaks", "camping stoves"]


def write(out: Path) -> dict:
    """Write every file under `out`; return counts for the log."""
    out.mkdir(parents=True, exist_ok=True)
    rows, units = build(random.Random(SEED))
    priced = [r for r in rows if r["price"]]
    (out / "products_raw.csv").write_text(to_csv(rows), encoding="utf-8", newline="")
    (out / "products.csv").write_text(to_csv(priced), encoding="utf-8", newline="")
    text = brand_kit_yaml(units)
    assert yaml.safe_load(text) == expected_kit(units), "brand_kit.yaml does not round-trip"
    (out / "brand_kit.yaml").write_text(text, encoding="utf-8")
    return {"raw rows": len(rows), "products": len(priced), "unpriced bundles": len(rows) - len(priced)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write into (default: next to this file)")
    counts = write(parser.parse_args().out)
    print(", ".join(f"{k}: {v}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
