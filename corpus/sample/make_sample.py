#!/usr/bin/env python3
"""Generate the Fernhollow Outfitters sample merchant.

Fernhollow Outfitters is a FICTIONAL outdoor-gear brand written for the onbrand
project. Every name, spec, price and sentence below is hand-written for this
sample; nothing is copied from a real store.

Writes, next to this file:
    catalog.jsonl     one product per line (the "store export", messy on purpose)
    brand_kit.yaml    approved names, deprecated aliases, generic terms,
                      trademarks, disclaimers, tone rules, answer formats
    questions.jsonl   30 shopper-style retrieval questions with gold product ids

Deterministic: hand-written tables + random.Random(SEED) for the mess
(which rows keep a legacy name, sale prices, stock, colours, sentence choice).
Run from the repository root:

    .venv/bin/python corpus/sample/make_sample.py
"""
from __future__ import annotations

import json
import math
import pathlib
import random
import re

import yaml

SEED = 20240611
OUT = pathlib.Path(__file__).resolve().parent
BRAND = "Fernhollow Outfitters"
BASE_URL = "https://fernhollow.example/products/"

# --------------------------------------------------------------------------
# size tables
# --------------------------------------------------------------------------
MENS = ["S", "M", "L", "XL", "XXL"]
WOMENS = ["XS", "S", "M", "L", "XL"]
UNISEX = ["XS", "S", "M", "L", "XL", "XXL"]
MENS_SHOES = [f"US {s}" for s in ["7", "7.5", "8", "8.5", "9", "9.5", "10", "10.5", "11", "11.5", "12", "13"]]
WOMENS_SHOES = [f"US {s}" for s in ["5", "5.5", "6", "6.5", "7", "7.5", "8", "8.5", "9", "9.5", "10", "11"]]
KIDS_SHOES = ["10K", "11K", "12K", "13K", "1Y", "2Y", "3Y", "4Y", "5Y"]
HARNESS = ["XS", "S", "M", "L", "XL"]
BAG = ["Regular", "Long"]
PAD = ["Regular", "Long", "Wide Long"]


def S(text: str) -> dict:
    """'key=value; key=value' -> ordered dict of specs."""
    out = {}
    for part in text.split(";"):
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def P(name, category, price, specs, hook, legacy=(), sizes=None, colors=None):
    if isinstance(legacy, str):
        legacy = [legacy]
    return {
        "name": name, "category": category, "price": price, "specs": S(specs),
        "hook": hook, "legacy": list(legacy), "sizes": sizes, "colors": colors,
    }


# --------------------------------------------------------------------------
# product tables: (collection, id prefix, colour palette, products)
# first legacy alias = the name the old export / old copy used
# --------------------------------------------------------------------------
TRAILFORM = [
    P("TrailForm 28 Daypack", "Backpacks", 119.95,
      "capacity=28 L; weight=0.98 kg; fabric=210D recycled ripstop nylon; back panel=AirTrack mesh; hydration=sleeve fits up to 3 L",
      "Our do-everything day hiker, with a zippered lid pocket, two stretch side pockets, and a front shove-it pocket for a wet layer.",
      legacy=["Trekker 28", "Trekker 28L"]),
    P("TrailForm 18 Daypack", "Backpacks", 84.50,
      "capacity=18 L; weight=0.62 kg; fabric=210D recycled ripstop nylon; back panel=AirTrack mesh; hydration=sleeve fits up to 2 L",
      "A slim pack for short loops and after-work hikes that still has room for a warm layer, snacks, and a liter of water.",
      legacy="Trekker 18"),
    P("TrailForm 36 Daypack", "Backpacks", 144.00,
      "capacity=36 L; weight=1.21 kg; fabric=420D nylon with PU coating; back panel=AirTrack mesh; hydration=sleeve fits up to 3 L; torso range=40–53 cm",
      "Big enough for shoulder-season layers or a hut-to-hut overnight, with a U-zip front panel that opens the whole main compartment."),
    P("TrailForm Summit 30 Pack", "Backpacks", 159.95,
      "capacity=30 L; weight=1.06 kg; fabric=330D gridstop nylon; back panel=foam channels; features=removable lid, two ice-axe loops, ski A-frame straps",
      "A streamlined alpine pack for summit pushes and scrambles, with a removable lid so it strips down when the climbing starts.",
      legacy="Summit 30 Pack"),
    P("TrailForm Summit 45 Pack", "Backpacks", 209.00,
      "capacity=45 L; weight=1.44 kg; fabric=330D gridstop nylon; back panel=foam channels; torso range=43–53 cm; features=removable lid, crampon pocket, rope strap",
      "The bigger sibling of our 30-liter alpine pack, sized for overnight alpine routes and winter day trips with a rope and crampons.",
      legacy="Summit 45 Pack"),
    P("TrailForm Traverse 55", "Backpacks", 249.95,
      "capacity=55 L; weight=1.86 kg; fabric=420D recycled nylon; back panel=AirTrack suspended mesh; torso range=S/M 40–48 cm, M/L 46–54 cm; load range=up to 18 kg",
      "A multi-day backpacking pack with an adjustable torso, a hipbelt that pivots as you walk, and a sleeping bag compartment with a zip divider.",
      legacy="Long Haul 55", sizes=["S/M", "M/L"]),
    P("TrailForm Traverse 65", "Backpacks", 279.00,
      "capacity=65 L; weight=2.08 kg; fabric=420D recycled nylon; back panel=AirTrack suspended mesh; torso range=S/M 40–48 cm, M/L 46–54 cm; load range=up to 22 kg",
      "Built for week-long trips and bear-canister loads, with side-zip access to the main compartment and a lid that converts to a summit bag.",
      legacy="Long Haul 65", sizes=["S/M", "M/L"]),
    P("TrailForm Traverse 50 Women's", "Backpacks", 239.95,
      "capacity=50 L; weight=1.74 kg; fabric=420D recycled nylon; back panel=AirTrack suspended mesh; torso range=XS/S 36–43 cm, S/M 40–47 cm; load range=up to 18 kg",
      "A women's-specific backpacking pack with S-curved shoulder straps, a conical hipbelt, and a shorter torso range.",
      sizes=["XS/S", "S/M"]),
    P("TrailForm Ultra 40", "Backpacks", 179.00,
      "capacity=40 L; weight=0.74 kg; fabric=140D high-tenacity ripstop; back pad=removable foam sit pad; load range=up to 11 kg",
      "A frameless ultralight pack for thru-hikers with a dialed base weight, with a roll-top closure and a big stretch-mesh front pocket.",
      legacy="Featherpack 40"),
    P("TrailForm Ultra 30", "Backpacks", 149.00,
      "capacity=30 L; weight=0.58 kg; fabric=140D high-tenacity ripstop; load range=up to 9 kg",
      "A minimalist roll-top for fastpacking and long day hikes, with stretch shoulder-strap pockets for a phone and a soft flask."),
    P("TrailForm Cragger 35", "Backpacks", 139.00,
      "capacity=35 L; weight=1.12 kg; fabric=420D nylon with a 630D ballistic base; access=full clamshell zip; features=haul loop, rope strap, padded helmet pocket",
      "A crag pack that unzips like a duffel so you can find your shoes without unpacking the rope, with a tough base that shrugs off granite."),
    P("TrailForm Commute 22", "Backpacks", 99.00,
      "capacity=22 L; weight=0.88 kg; fabric=420D recycled nylon with DWR; laptop sleeve=fits up to 16 in; back panel=AirTrack mesh",
      "A trail-bred commuter with a suspended sleeve for a 16-inch laptop, a quick-grab top pocket, and a clip for a bike light.",
      legacy="Metro 22"),
    P("TrailForm Pathway 24", "Backpacks", 94.00,
      "capacity=24 L; weight=0.82 kg; fabric=210D recycled ripstop nylon; back panel=foam channels; hydration=sleeve fits up to 2 L",
      "A value daypack with a simple panel-loading design, padded hipbelt wings, and a stash pocket sized for a trail map."),
    P("TrailForm Kids 14 Daypack", "Backpacks", 49.95,
      "capacity=14 L; weight=0.45 kg; fabric=210D ripstop nylon; age range=6–12 years; safety=reflective trim, whistle on sternum strap",
      "A real trail pack scaled for kids, with a sternum-strap whistle, a name tag inside the lid, and a hipbelt that actually fits small hips.",
      legacy="Sprout 14"),
    P("TrailForm Sling 5", "Backpacks", 39.99,
      "capacity=5 L; weight=0.24 kg; fabric=210D recycled ripstop nylon; carry=sling, wearable on front or back",
      "A crossbody sling for town days and short walks that keeps your phone, keys, and snacks within reach."),
    P("TrailForm Stowaway 20", "Backpacks", 44.95,
      "capacity=20 L; weight=0.19 kg; fabric=30D siliconized nylon; packed size=13 × 10 cm",
      "A packable daypack that stuffs into its own pocket, ideal as a summit bag or a travel backup.",
      legacy="Pocket Pack 20"),
    P("TrailForm Expedition 80", "Backpacks", 349.00,
      "capacity=80 L; weight=2.65 kg; fabric=500D nylon with PU coating; back panel=AirTrack suspended mesh; torso range=M 44–51 cm, L 49–56 cm; load range=up to 30 kg",
      "Our biggest hauler, made for glacier approaches and basecamp carries, with a removable lid, side compression, and a stout aluminum frame.",
      sizes=["M", "L"]),
    P("TrailForm Hydro 12 Vest", "Hydration Packs", 129.95,
      "capacity=12 L; weight=310 g; hydration=two 500 ml soft flasks included; fabric=stretch mesh; fit=wraps the torso, two sternum straps",
      "A running vest for long mountain days, with front flask pockets, a rear stash for a shell, and pole loops that release on the run.",
      sizes=["XS", "S", "M", "L", "XL"]),
    P("TrailForm Hydro 6 Vest", "Hydration Packs", 109.00,
      "capacity=6 L; weight=240 g; hydration=two 500 ml soft flasks included; fabric=stretch mesh",
      "A lighter vest for races and fast loops that carries just the essentials: two flasks, a phone, gels, and a wind shell.",
      sizes=["XS", "S", "M", "L", "XL"]),
    P("TrailForm Hydro 3 Waistpack", "Hydration Packs", 54.95,
      "capacity=3 L; weight=150 g; hydration=one 500 ml soft flask included; fits waist=66–112 cm",
      "A bounce-free running belt with a holster for one soft flask and a zip pocket that swallows a large phone.",
      legacy="Trail Belt 3"),
    P("TrailForm Stream 2L Reservoir", "Hydration Reservoirs", 34.95,
      "volume=2 L; weight=165 g; material=BPA-free TPU; opening=wide slide-top for cleaning; hose=insulated, with magnetic clip",
      "A hydration bladder with a slide-top opening wide enough for ice cubes and a brush, and a bite valve that shuts off with a quarter turn."),
    P("TrailForm Pack Rain Cover", "Pack Accessories", 24.95,
      "weight=95 g; fabric=silnylon; fit range=S 15–30 L, M 30–50 L, L 50–75 L; closure=elastic edge with toggle",
      "A bright, packable rain cover with an elastic edge and a buckle strap that keeps it on in wind.",
      sizes=["S", "M", "L"]),
]

RIDGELINE = [
    P("Ridgeline Storm Jacket (Men's)", "Rain Jackets", 229.00,
      "membrane=HydroLock 3L; waterproof rating=20,000 mm; breathability=15,000 g/m²/24h; weight=410 g; pit zips=yes",
      "Our most-asked-for shell for backpacking, with a helmet-compatible hood, pit zips, and fully taped seams.",
      legacy=["Stormbreaker Jacket"], sizes=MENS),
    P("Ridgeline Storm Jacket (Women's)", "Rain Jackets", 229.00,
      "membrane=HydroLock 3L; waterproof rating=20,000 mm; breathability=15,000 g/m²/24h; weight=365 g; pit zips=yes",
      "The women's cut of our backpacking shell, with a longer drop hem, a slimmer waist, and a hood that cinches with one pull.",
      legacy=["Stormbreaker Jacket W"], sizes=WOMENS),
    P("Ridgeline Drizzle Jacket (Men's)", "Rain Jackets", 129.95,
      "membrane=HydroLock 2.5L; waterproof rating=10,000 mm; breathability=10,000 g/m²/24h; weight=320 g; packs into=left hand pocket",
      "An easygoing shell for day hikes and rainy commutes that packs into its own hand pocket.",
      legacy=["Everyday Rain Shell"], sizes=MENS),
    P("Ridgeline Drizzle Jacket (Women's)", "Rain Jackets", 124.95,
      "membrane=HydroLock 2.5L; waterproof rating=10,000 mm; breathability=10,000 g/m²/24h; weight=285 g; packs into=left hand pocket",
      "A relaxed women's fit with room for a fleece underneath, a brimmed hood, and a hem that cinches from inside the pockets.",
      legacy=["Everyday Rain Shell W"], sizes=WOMENS),
    P("Ridgeline Alpine Shell", "Shell Jackets", 379.00,
      "membrane=HydroLock 3L Pro; waterproof rating=28,000 mm; breathability=20,000 g/m²/24h; weight=455 g; face fabric=70D ripstop",
      "A burly shell for alpine climbing and ski touring, with reinforced shoulders for pack straps and a high chest pocket that clears a harness.",
      legacy=["Couloir Shell"], sizes=UNISEX),
    P("Ridgeline Packlite Jacket", "Rain Jackets", 169.00,
      "membrane=HydroLock 2.5L; waterproof rating=15,000 mm; breathability=12,000 g/m²/24h; weight=198 g; packed size=fist-sized",
      "An emergency-grade rain layer for fastpackers and runners that weighs less than a sandwich and stuffs into its chest pocket.",
      legacy=["Featherlight Rain Jacket"], sizes=UNISEX),
    P("Ridgeline Storm Anorak", "Rain Jackets", 199.00,
      "membrane=HydroLock 3L; waterproof rating=20,000 mm; breathability=15,000 g/m²/24h; weight=380 g; zip=half-length with side zip",
      "A pullover rain shell with a big kangaroo pocket for maps and gloves, for folks who like fewer zips.",
      sizes=UNISEX),
    P("Ridgeline Kids Drizzle Jacket", "Rain Jackets", 69.95,
      "membrane=HydroLock 2.5L; waterproof rating=10,000 mm; weight=260 g; extras=reflective trim, grow-with-me sleeve cuffs",
      "A jacket for puddle-jumpers and school hikes, with cuffs that fold down an extra size as kids grow.",
      legacy=["Puddle Jacket"], sizes=["4/5", "6/7", "8", "10/12", "14/16"]),
    P("Ridgeline Loft Jacket", "Insulated Jackets", 199.00,
      "insulation=LoftWeave synthetic, 100 g/m²; weight=380 g; shell=20D recycled nylon with DWR; comfort range=-5 to 10 °C; packs into=internal pocket",
      "A classic puffer jacket that keeps its warmth when damp, built for cold camp mornings and belay stances.",
      legacy=["Cloudpuff Jacket"], sizes=UNISEX),
    P("Ridgeline Loft Hoody", "Insulated Jackets", 229.95,
      "insulation=LoftWeave synthetic, 120 g/m² body, 80 g/m² hood; weight=440 g; shell=20D recycled nylon with DWR; comfort range=-8 to 8 °C",
      "The hooded version of our synthetic puffy, with an under-helmet hood and slightly more fill through the body.",
      sizes=UNISEX),
    P("Ridgeline Loft Vest", "Insulated Jackets", 139.00,
      "insulation=LoftWeave synthetic, 100 g/m²; weight=240 g; shell=20D recycled nylon with DWR; comfort range=0 to 12 °C",
      "A warm core layer that fits under a shell without bunching at the arms.",
      legacy=["Cloudpuff Vest"], sizes=UNISEX),
    P("Ridgeline Down Sweater", "Insulated Jackets", 249.00,
      "insulation=800-fill responsibly sourced goose down; fill weight=110 g; weight=330 g; comfort range=-3 to 10 °C; packs into=chest pocket",
      "A light, sweater-cut down jacket that layers under a shell on the move and over a fleece at camp.",
      legacy=["Featherdown Sweater"], sizes=UNISEX),
    P("Ridgeline Down Parka", "Insulated Jackets", 329.00,
      "insulation=700-fill responsibly sourced duck down; fill weight=240 g; weight=890 g; length=mid-thigh; comfort range=-20 to -5 °C",
      "A thigh-length parka for winter camp and frozen trailheads, with a two-way zip and fleece-lined hand pockets.",
      sizes=UNISEX),
    P("Ridgeline Loft Pants", "Insulated Pants", 149.95,
      "insulation=LoftWeave synthetic, 80 g/m²; weight=320 g; side zips=full-length; comfort range=-5 to 8 °C",
      "Puffy pants for cold camps and winter belays, with full side zips so they go on over boots.",
      sizes=UNISEX),
    P("Ridgeline Storm Pants", "Rain Pants", 149.00,
      "membrane=HydroLock 3L; waterproof rating=20,000 mm; weight=330 g; side zips=full-length; inseam=81 cm (regular)",
      "Full-zip rain pants you can pull on over boots and crampons without sitting down in the mud.",
      sizes=UNISEX),
    P("Ridgeline Drizzle Pants", "Rain Pants", 89.95,
      "membrane=HydroLock 2.5L; waterproof rating=10,000 mm; weight=240 g; side zips=30 cm at the ankle",
      "Simple packable rain pants with ankle zips and an elastic waist for wet day hikes.",
      sizes=UNISEX),
    P("Ridgeline Softshell Jacket", "Softshell Jackets", 159.00,
      "fabric=stretch woven nylon with DWR; weight=470 g; wind resistance=windproof membrane; stretch=4-way",
      "A stretchy, breathable layer for cold, dry days and scrambling, tougher than fleece and quieter than a hardshell.",
      sizes=UNISEX),
    P("Ridgeline Wind Shell", "Wind Jackets", 94.00,
      "fabric=15D ripstop nylon with DWR; weight=96 g; packed size=palm-sized; hood=yes",
      "A feather-light windbreaker for ridge runs that packs into its chest pocket and clips to a harness.",
      sizes=UNISEX),
    P("Ridgeline Fleece Quarter-Zip", "Fleece", 79.00,
      "fabric=recycled 200-weight polyester fleece; weight=340 g; zip=quarter-length; fit=regular",
      "A soft, classic midlayer for cool mornings and camp evenings, with a zippered chest pocket.",
      legacy=["Basecamp Fleece"], sizes=UNISEX),
    P("Ridgeline Grid Fleece Hoody", "Fleece", 109.00,
      "fabric=recycled grid fleece, 150 g/m²; weight=290 g; hood=balaclava-style; thumb loops=yes",
      "A breathable grid-fleece midlayer for high-output days, with a snug balaclava hood that fits under a helmet.",
      sizes=UNISEX),
    P("Ridgeline Sun Hoody", "Sun Shirts", 64.95,
      "fabric=recycled polyester knit; sun protection=UPF 50; weight=180 g; fit=relaxed",
      "A breezy, long-sleeve sun shirt with a hood that covers your neck and ears on exposed trails.",
      sizes=UNISEX),
    P("Ridgeline Trail Poncho", "Ponchos", 49.95,
      "fabric=40D PU-coated ripstop nylon; waterproof rating=3,000 mm; weight=310 g; extras=covers hiker and pack, doubles as a tarp",
      "A roomy poncho that covers you and your pack, and snaps into an emergency tarp with trekking poles.",
      sizes=["One Size"]),
]

EMBERLITE = [
    P("Emberlite Flash Stove", "Camp Stoves", 59.95,
      "burner=EmberCore; output=10,200 BTU/h; boil time=3 min 10 s per 1 L; weight=83 g; fuel=isobutane-propane canister gas (EN417 thread); ignition=piezo",
      "A tiny canister stove that screws onto any threaded gas canister, with a wide burner head that spreads heat across small pots.",
      legacy="Flicker Stove", colors=["Graphite"]),
    P("Emberlite Flash Ti Stove", "Camp Stoves", 84.95,
      "burner=EmberCore; output=9,800 BTU/h; boil time=3 min 30 s per 1 L; weight=56 g; fuel=isobutane-propane canister gas (EN417 thread); material=titanium",
      "The titanium version of our lightest stove, for gram-counters who still want a simmer control that actually simmers.",
      colors=["Titanium"]),
    P("Emberlite Rapid Boil System", "Camp Stoves", 139.95,
      "burner=EmberCore; heat exchanger=finned pot base; boil time=2 min 20 s per 0.5 L; pot volume=1.0 L; weight=390 g (with pot); fuel=isobutane-propane canister gas (EN417 thread)",
      "An all-in-one stove and insulated cook cup that boils fast in wind, with the canister, stove, and stabilizer nesting inside.",
      legacy="QuickPot System", colors=["Ember Orange", "Graphite"]),
    P("Emberlite Rapid Boil System 1.8 L", "Camp Stoves", 164.00,
      "burner=EmberCore; heat exchanger=finned pot base; boil time=4 min 5 s per 1 L; pot volume=1.8 L; weight=520 g (with pot); fuel=isobutane-propane canister gas (EN417 thread)",
      "The group-size version of our integrated stove, with a larger pot that feeds two or three people and a lid with a pour spout.",
      colors=["Graphite"]),
    P("Emberlite Remote Canister Stove", "Camp Stoves", 99.00,
      "burner=EmberCore; output=9,500 BTU/h; weight=190 g; fuel=isobutane-propane canister gas (EN417 thread), inverted use supported; hose=braided, with preheat loop",
      "A low, stable stove on a fuel hose that lets you flip the canister upside-down for better performance below freezing.",
      colors=["Graphite"]),
    P("Emberlite Trek Liquid Fuel Stove", "Camp Stoves", 169.95,
      "output=11,000 BTU/h; boil time=3 min 45 s per 1 L; weight=355 g (stove and pump); fuel=white gas, kerosene, or unleaded auto fuel; pump=included",
      "A field-maintainable liquid-fuel stove for cold weather, high altitude, and travel where gas canisters are hard to find.",
      legacy="Omnifuel Stove", colors=["Graphite"]),
    P("Emberlite Basecamp Two-Burner", "Camp Stoves", 149.00,
      "burners=2; output=2 × 12,000 BTU/h; weight=5.1 kg; fuel=propane (16 oz cylinder); cooking area=fits a 25 cm and a 30 cm pan; ignition=push-button",
      "A fold-up propane stove for car camping with two full-size burners, wind flaps, and a removable grate for easy cleaning.",
      legacy="Campfire Duo", colors=["Forest Green", "Graphite"]),
    P("Emberlite Basecamp Three-Burner", "Camp Stoves", 229.00,
      "burners=3; output=3 × 12,000 BTU/h; weight=7.4 kg; fuel=propane (16 oz cylinder, or 20 lb tank with the adapter hose); ignition=push-button",
      "A three-burner camp kitchen for group trips and tailgates, with an adapter hose for bulk propane tanks in the box.",
      colors=["Forest Green"]),
    P("Emberlite Twig Stove", "Camp Stoves", 74.50,
      "fuel=twigs, pinecones, or solid fuel tablets; weight=480 g; material=stainless steel; packed size=13 × 10 cm",
      "A stainless wood-burning stove with a secondary-burn design that turns sticks and pinecones into a clean, hot flame.",
      colors=["Stainless"]),
    P("Emberlite Pocket Alcohol Stove", "Camp Stoves", 29.95,
      "fuel=denatured alcohol; weight=34 g; boil time=7 min per 0.5 L; fuel well=60 ml; material=brass",
      "A silent brass alcohol burner with a simmer ring, for minimalists and backup kits.",
      legacy="Spirit Burner", colors=["Brass"]),
    P("Emberlite Isobutane Fuel 100 g", "Fuel", 5.95,
      "net fuel=100 g; blend=80% isobutane / 20% propane; valve=EN417 self-sealing; approx. burn time=45 min on high",
      "A pocket-size gas canister for overnights and ultralight trips that fits any threaded canister stove.",
      colors=[]),
    P("Emberlite Isobutane Fuel 230 g", "Fuel", 7.95,
      "net fuel=230 g; blend=80% isobutane / 20% propane; valve=EN417 self-sealing; approx. burn time=95 min on high",
      "Our most popular canister size, good for a long weekend of coffee and dinners for two.",
      colors=[]),
    P("Emberlite Isobutane Fuel 450 g", "Fuel", 11.49,
      "net fuel=450 g; blend=80% isobutane / 20% propane; valve=EN417 self-sealing; approx. burn time=3 h on high",
      "A big canister for group trips and basecamps, with a low, wide shape that sits stable on uneven ground.",
      legacy="Ember Gas 450", colors=[]),
    P("Emberlite Winter Blend Fuel 230 g", "Fuel", 9.25,
      "net fuel=230 g; blend=65% isobutane / 35% propane; valve=EN417 self-sealing; rated down to=-12 °C",
      "A higher-propane canister that keeps pressure up in the cold, for shoulder-season and winter trips.",
      colors=[]),
    P("Emberlite Propane Cylinder 16 oz", "Fuel", 6.49,
      "net fuel=16 oz (454 g); fuel=propane; fits=Emberlite Basecamp stoves and most 1 lb cylinder appliances; refillable=no",
      "A standard one-pound propane cylinder for car-camping stoves and lanterns.",
      colors=[]),
    P("Emberlite White Gas 1 qt", "Fuel", 14.99,
      "volume=1 qt (946 ml); fuel=refined white gas (naphtha); fits=liquid-fuel stoves and lanterns; container=metal can with child-resistant cap",
      "Clean-burning refined white gas for liquid-fuel stoves, with fewer additives to clog jets.",
      legacy="Clear Burn Fuel", colors=[]),
    P("Emberlite Solo Cook Kit", "Cook Sets", 44.95,
      "pot volume=0.9 L; material=hard-anodized aluminum; weight=210 g; includes=pot, lid with strainer, folding spork; nests=230 g canister and Emberlite Flash Stove",
      "A one-person pot set that nests a 230 g canister and an Emberlite Flash Stove inside, so the whole kitchen packs down to one pot.",
      colors=["Graphite"]),
    P("Emberlite Duo Cook Kit", "Cook Sets", 69.00,
      "pot volume=1.6 L + 1.0 L; material=hard-anodized aluminum; weight=480 g; includes=two pots, two insulated mugs, lid, pot gripper",
      "A nesting two-person kitchen with two pots, two insulated mugs, and a gripper, for couples who cook real meals on the trail.",
      legacy="Camp Kitchen 2", colors=["Graphite"]),
    P("Emberlite Titanium Mug 450", "Cook Sets", 34.95,
      "volume=450 ml; material=titanium; weight=68 g; extras=folding handles, measurement marks",
      "A single-wall titanium mug that doubles as a pot over a small stove, with folding handles and measure lines.",
      colors=["Titanium"]),
    P("Emberlite Windscreen", "Stove Accessories", 19.95,
      "material=aluminum, 10 folding panels; weight=70 g; height=14 cm",
      "A folding aluminum windscreen that improves boil times in a breeze, for remote-canister and liquid-fuel stoves only and never wrapped around a canister.",
      colors=["Silver"]),
    P("Emberlite Canister Stabilizer", "Stove Accessories", 11.95,
      "fits=100 g, 230 g, and 450 g canisters; weight=24 g; material=glass-filled nylon",
      "Clip-on legs that turn a tippy canister into a stable base for a stove and a full pot.",
      colors=["Ember Orange"]),
]

CANOPY = [
    P("Canopy Ridge 1 Tent", "Tents", 329.00,
      "capacity=1 person; trail weight=1.05 kg; floor area=1.9 m²; peak height=100 cm; doors=1; fly=20D siliconized nylon, 3,000 mm",
      "A freestanding solo backpacking tent with one big door, a vestibule for boots and a pack, and color-coded clips for fast pitching.",
      legacy="Ridgetop 1"),
    P("Canopy Ridge 2 Tent", "Tents", 399.00,
      "capacity=2 people; trail weight=1.38 kg; floor area=2.7 m²; peak height=104 cm; doors=2; fly=20D siliconized nylon, 3,000 mm",
      "Our best-selling two-person backpacking tent, with two doors, two vestibules, and a ridge-pole hub that keeps the walls steep.",
      legacy="Ridgetop 2"),
    P("Canopy Ridge 3 Tent", "Tents", 469.00,
      "capacity=3 people; trail weight=1.79 kg; floor area=3.7 m²; peak height=112 cm; doors=2; fly=20D siliconized nylon, 3,000 mm",
      "Room for three, or two plus a dog, with the same quick-pitch frame as the rest of the Ridge family.",
      legacy="Ridgetop 3"),
    P("Canopy Ultra 2 Tent", "Tents", 549.00,
      "capacity=2 people; trail weight=0.98 kg; floor area=2.6 m²; peak height=102 cm; doors=2; fly=10D siliconized nylon, 1,800 mm",
      "Our lightest two-person tent, a semi-freestanding design for fast-and-light trips where every gram counts."),
    P("Canopy Alpine 2 Tent", "Tents", 649.00,
      "capacity=2 people; trail weight=2.45 kg; season=4-season; floor area=2.8 m²; fly=40D nylon with HydroLock coating, 5,000 mm; poles=4 aluminum",
      "A four-season mountaineering tent built to shed snow and stand up to high wind, with a crossing-pole frame and snow flaps.",
      legacy="Stormcrest 2"),
    P("Canopy Hollow 2 Tent", "Tents", 199.95,
      "capacity=2 people; packed weight=2.3 kg; floor area=3.0 m²; peak height=110 cm; doors=2; fly=68D polyester, 1,500 mm",
      "A sturdy, affordable dome for first backpacking trips and campground weekends.",
      legacy="Hollow Dome 2"),
    P("Canopy Hollow 4 Tent", "Tents", 279.00,
      "capacity=4 people; packed weight=4.4 kg; floor area=5.6 m²; peak height=150 cm; doors=2; fly=68D polyester, 1,500 mm",
      "A roomy four-person dome for family campgrounds, tall enough to kneel and change."),
    P("Canopy Trail 2 Tent", "Tents", 149.99,
      "capacity=2 people; packed weight=2.6 kg; floor area=2.9 m²; peak height=107 cm; doors=1; fly=68D polyester, 1,200 mm",
      "A budget two-person tent for campground weekends and scout trips.",
      legacy="Trailhead 2"),
    P("Canopy Basecamp 4 Tent", "Tents", 389.00,
      "capacity=4 people; packed weight=7.2 kg; floor area=6.5 m²; peak height=198 cm; doors=1 large D-door; fly=75D polyester, 2,000 mm",
      "A near-vertical-wall cabin tent you can stand up in, with a gear loft and windows on three sides."),
    P("Canopy Basecamp 6 Tent", "Tents", 499.00,
      "capacity=6 people; packed weight=8.9 kg; floor area=9.3 m²; peak height=203 cm; doors=2; fly=75D polyester, 2,000 mm",
      "A six-person family cabin with a removable room divider, so the kids get their own side and the adults get some peace.",
      legacy="Family Cabin 6"),
    P("Canopy Trekking Pole Shelter 1", "Shelters", 289.00,
      "capacity=1 person; trail weight=0.68 kg; setup=two trekking poles (not included); floor area=1.8 m²; fly=20D siliconized polyester",
      "A single-wall shelter that pitches on your trekking poles, for thru-hikers who want a full floor and bug mesh at minimal weight.",
      legacy="Pole Tent 1"),
    P("Canopy Solo Bivy", "Shelters", 179.00,
      "capacity=1 person; weight=480 g; fabric=HydroLock 2.5L top, 40D nylon floor; waterproof rating=15,000 mm; entry=side zip with bug net",
      "A waterproof-breathable bivy sack for alpine starts and minimalist overnights, with a wire hoop that keeps fabric off your face."),
    P("Canopy Flat Tarp 3x3", "Shelters", 119.00,
      "size=3 × 3 m; weight=520 g; fabric=30D siliconized nylon; tie-outs=16",
      "A square tarp with 16 tie-outs for endless pitch options, from a lean-to over camp to a storm-proof A-frame."),
    P("Canopy Flat Tarp 2x3", "Shelters", 89.95,
      "size=2 × 3 m; weight=380 g; fabric=30D siliconized nylon; tie-outs=12",
      "A rectangular tarp for hammock campers and shade over the camp kitchen."),
    P("Canopy Screen House", "Shelters", 229.00,
      "floor area=12 m²; peak height=210 cm; packed weight=6.8 kg; walls=no-see-um mesh with roll-down privacy panels",
      "A bug-free dining room for camp, big enough for a picnic table, with privacy panels that roll down when the wind picks up."),
    P("Canopy Hang Hammock", "Hammocks", 89.00,
      "length=3.1 m; weight=610 g; max load=150 kg; includes=tree straps, bug net",
      "A camping hammock with an integrated bug net and tree-friendly straps that go up in five minutes.",
      legacy="Swing Camp Hammock"),
    P("Canopy Ridge 2 Footprint", "Tent Accessories", 49.95,
      "fits=Canopy Ridge 2 Tent; weight=170 g; fabric=68D polyester, 3,000 mm",
      "A custom-fit groundsheet that protects the floor of the Ridge 2 and allows a fast-fly pitch without the inner tent."),
    P("Canopy Hollow 4 Footprint", "Tent Accessories", 54.95,
      "fits=Canopy Hollow 4 Tent; weight=410 g; fabric=150D polyester, 3,000 mm",
      "A heavy-duty footprint cut to the Hollow 4 floor to keep campground grit from wearing through."),
    P("Canopy Vestibule Extender", "Tent Accessories", 79.00,
      "fits=Canopy Ridge 2 Tent and Canopy Ridge 3 Tent; added area=1.1 m²; weight=310 g",
      "A zip-on gear garage that adds a big, sheltered space for packs and boots to the Ridge 2 and Ridge 3."),
    P("Canopy Aluminum Stakes 6-Pack", "Tent Accessories", 24.95,
      "quantity=6; length=16 cm; weight=72 g (set); material=7075 aluminum, Y-profile",
      "Y-profile stakes that hold in hard-packed ground better than the wire pins most tents ship with."),
]

SUMMIT_SOLE = [
    P("Summit Sole Ridgeback Mid (Men's)", "Hiking Boots", 179.95,
      "waterproofing=HydroLock bootie; outsole=GripTrace rubber; lug depth=5 mm; weight=1,180 g per pair (US 9); drop=12 mm; fit=runs a half size small",
      "A waterproof mid-height hiking boot with a cushioned midsole, a rubber toe cap, and a gusseted tongue that keeps trail grit out.",
      legacy=["Ridgeback Mid WP"], sizes=MENS_SHOES),
    P("Summit Sole Ridgeback Mid (Women's)", "Hiking Boots", 179.95,
      "waterproofing=HydroLock bootie; outsole=GripTrace rubber; lug depth=5 mm; weight=960 g per pair (US 7); drop=12 mm; fit=runs a half size small",
      "Built on a women's last with a narrower heel, this waterproof mid boot is ready for rocky trails and wet shoulder seasons.",
      legacy=["Ridgeback Mid WP Women's"], sizes=WOMENS_SHOES),
    P("Summit Sole Ridgeback Low (Men's)", "Hiking Shoes", 149.00,
      "waterproofing=HydroLock bootie; outsole=GripTrace rubber; lug depth=4 mm; weight=860 g per pair (US 9); drop=10 mm; fit=fits true to size",
      "The low-cut version of the Ridgeback for lighter loads and warm-weather day hikes.",
      sizes=MENS_SHOES),
    P("Summit Sole Ridgeback Low (Women's)", "Hiking Shoes", 144.00,
      "waterproofing=HydroLock bootie; outsole=GripTrace rubber; lug depth=4 mm; weight=720 g per pair (US 7); drop=10 mm; fit=fits true to size",
      "A low-cut waterproof hiker on a women's last, light enough for travel days and stable enough for rooty trails.",
      sizes=WOMENS_SHOES),
    P("Summit Sole Highpass Boot (Men's)", "Hiking Boots", 249.00,
      "upper=2.2 mm full-grain leather; waterproofing=HydroLock lining; outsole=GripTrace rubber; lug depth=6 mm; weight=1,540 g per pair (US 9); fit=fits true to size with a roomy toe box",
      "A full-grain leather backpacking boot that supports heavy loads on rough ground and can be resoled when the tread wears down.",
      legacy=["Highpass Leather"], sizes=MENS_SHOES),
    P("Summit Sole Highpass Boot (Women's)", "Hiking Boots", 249.00,
      "upper=2.2 mm full-grain leather; waterproofing=HydroLock lining; outsole=GripTrace rubber; lug depth=6 mm; weight=1,260 g per pair (US 7); fit=fits true to size with a roomy toe box",
      "A resoleable leather backpacking boot on a women's last, with a lower-volume heel cup and a padded collar that won't rub the ankle.",
      legacy=["Highpass Leather Women's"], sizes=WOMENS_SHOES),
    P("Summit Sole Winter Trek Boot (Men's)", "Hiking Boots", 219.00,
      "insulation=LoftWeave 200 g; waterproofing=HydroLock bootie; outsole=GripTrace Ice cold-flex rubber; lug depth=5 mm; weight=1,620 g per pair (US 9); fit=fits true to size with a midweight sock",
      "An insulated winter hiking boot for snowshoeing and frozen trails, with a gaiter ring and a rubber outsole that stays flexible in the cold.",
      sizes=MENS_SHOES),
    P("Summit Sole Winter Trek Boot (Women's)", "Hiking Boots", 219.00,
      "insulation=LoftWeave 200 g; waterproofing=HydroLock bootie; outsole=GripTrace Ice cold-flex rubber; lug depth=5 mm; weight=1,340 g per pair (US 7); fit=fits true to size with a midweight sock",
      "A warm, waterproof snow boot on a women's last, rated for long days on packed snow and icy trailheads.",
      sizes=WOMENS_SHOES),
    P("Summit Sole Kids Trailblazer", "Hiking Boots", 69.95,
      "waterproofing=HydroLock bootie; outsole=GripTrace rubber; lug depth=4 mm; closure=bungee lace with hook-and-loop strap; fit=fits true to size with a thumb's width left for growth",
      "A waterproof kids' hiking boot that little hands can get on without help.",
      legacy=["Little Trekker"], sizes=KIDS_SHOES),
    P("Summit Sole Trail 300 (Men's)", "Trail Runners", 139.95,
      "outsole=GripTrace rubber; lug depth=4.5 mm; stack height=30 mm heel / 24 mm forefoot; drop=6 mm; weight=290 g per shoe (US 9); fit=runs a half size small",
      "A cushioned trail runner for long miles on mixed terrain, with a rock plate and a roomy toe box that leaves space for swelling feet.",
      legacy=["Trail 300 Runner"], sizes=MENS_SHOES),
    P("Summit Sole Trail 300 (Women's)", "Trail Runners", 139.95,
      "outsole=GripTrace rubber; lug depth=4.5 mm; stack height=30 mm heel / 24 mm forefoot; drop=6 mm; weight=245 g per shoe (US 7); fit=runs a half size small",
      "The women's version of our long-distance trail shoe, with a narrower heel and the same rock plate and roomy forefoot.",
      legacy=["Trail 300 Runner W"], sizes=WOMENS_SHOES),
    P("Summit Sole Swift 2 (Men's)", "Trail Runners", 124.00,
      "outsole=GripTrace rubber; lug depth=3.5 mm; stack height=24 mm heel / 20 mm forefoot; drop=4 mm; weight=240 g per shoe (US 9); fit=fits true to size but narrow",
      "A light, nimble trail shoe for fast training runs and races, with a snug heel and a flexible forefoot.",
      legacy=["Swiftfoot"], sizes=MENS_SHOES),
    P("Summit Sole Swift 2 (Women's)", "Trail Runners", 124.00,
      "outsole=GripTrace rubber; lug depth=3.5 mm; stack height=24 mm heel / 20 mm forefoot; drop=4 mm; weight=205 g per shoe (US 7); fit=fits true to size but narrow",
      "A quick, low-to-the-ground trail shoe for women who like to feel the trail, with a secure heel lock for steep descents.",
      legacy=["Swiftfoot W"], sizes=WOMENS_SHOES),
    P("Summit Sole Mudline", "Trail Runners", 134.50,
      "outsole=GripTrace rubber; lug pattern=chevron; lug depth=6 mm; drop=6 mm; weight=275 g per shoe (men's US 9); fit=fits true to size in men's sizing (women order 1.5 sizes down)",
      "An aggressive mud and fell-running shoe with deep lugs that clear fast in wet, soft ground.",
      sizes=MENS_SHOES),
    P("Summit Sole Crag Approach (Men's)", "Approach Shoes", 154.00,
      "outsole=GripTrace Sticky rubber; climbing zone=dotted toe; lug depth=3 mm; upper=suede leather; weight=760 g per pair (US 9); fit=runs slightly large, so lace it snug to the toe",
      "An approach shoe that hikes like a trail shoe and smears like a climbing shoe, with lace-to-toe adjustment for technical scrambling.",
      sizes=MENS_SHOES),
    P("Summit Sole Crag Approach (Women's)", "Approach Shoes", 154.00,
      "outsole=GripTrace Sticky rubber; climbing zone=dotted toe; lug depth=3 mm; upper=suede leather; weight=620 g per pair (US 7); fit=runs slightly large, so lace it snug to the toe",
      "A women's approach shoe with a low-volume fit, sticky rubber for slabby approaches, and a heel loop for clipping to a harness.",
      sizes=WOMENS_SHOES),
    P("Summit Sole Riverstep Sandal (Men's)", "Sandals", 79.95,
      "outsole=GripTrace Wet rubber; lug depth=3 mm; straps=quick-dry webbing, 3-point adjustment; weight=640 g per pair (US 9); fit=fits true to size",
      "A sporty river sandal with a grippy wet-rock outsole and a heel strap that stays put in current.",
      legacy=["Creekwalker Sandal"], sizes=MENS_SHOES),
    P("Summit Sole Riverstep Sandal (Women's)", "Sandals", 79.95,
      "outsole=GripTrace Wet rubber; lug depth=3 mm; straps=quick-dry webbing, 3-point adjustment; weight=520 g per pair (US 7); fit=fits true to size",
      "A women's river sandal with a contoured footbed, a toe bumper for rocky creeks, and straps that dry before lunch.",
      legacy=["Creekwalker Sandal W"], sizes=WOMENS_SHOES),
    P("Summit Sole Camp Slide", "Camp Shoes", 49.00,
      "upper=quilted ripstop with LoftWeave insulation; outsole=GripTrace rubber; weight=310 g per pair; fit=fits true to size in men's sizing (women order 1.5 sizes down)",
      "An insulated camp bootie you can slip on at the tent door, with a rubber sole for walks to the bear box.",
      sizes=MENS_SHOES),
    P("Summit Sole Merino Hiking Sock", "Socks", 22.00,
      "material=62% merino wool / 35% nylon / 3% elastane; cushion=medium; height=crew; size guide=S (W 5–7), M (M 6–8.5 / W 7.5–10), L (M 9–11.5), XL (M 12–14)",
      "A cushioned merino crew sock that stays soft, fights stink for days, and doesn't bunch under the arch.",
      sizes=["S", "M", "L", "XL"]),
    P("Summit Sole Lightweight Run Sock", "Socks", 16.50,
      "material=54% merino wool / 43% nylon / 3% elastane; cushion=light; height=quarter; size guide=S, M, L, XL",
      "A thin, quick-drying running sock with a seamless toe and a heel tab that blocks grit.",
      sizes=["S", "M", "L", "XL"]),
    P("Summit Sole Trail Gaiter", "Gaiters", 29.95,
      "material=stretch softshell; weight=62 g per pair; attachment=hook and strap, fits most trail runners; height=ankle",
      "A low, stretchy gaiter that keeps pebbles and sand out of trail runners.",
      sizes=["S/M", "L/XL"]),
]

LUMEN = [
    P("Lumen Trail 300", "Headlamps", 39.95,
      "max output=300 lm; beam distance=75 m; runtime=4 h high / 60 h low; battery=3 × AAA (included); weight=78 g; water resistance=IPX4",
      "A dependable everyday headlamp with a flood-and-spot beam, a red night-vision mode, and a lock so it doesn't turn on in your pack.",
      legacy="Trail 300 Headlamp"),
    P("Lumen Trail 450", "Headlamps", 54.95,
      "max output=450 lm; beam distance=90 m; runtime=5 h high / 80 h low; battery=Lumen Core Battery 1250 (USB-C) or 3 × AAA; weight=86 g; water resistance=IPX4",
      "A step up for backpackers, with a USB-C rechargeable battery that swaps for AAAs when you're days from an outlet."),
    P("Lumen Nightrunner 500", "Headlamps", 69.00,
      "max output=500 lm; beam distance=100 m; runtime=3 h high / 40 h low; battery=rechargeable 1,800 mAh, USB-C; weight=110 g; rear light=red, steady or blink",
      "A bounce-free running headlamp with the battery at the back to balance the weight and a red rear light for road sections.",
      legacy=["Night Owl 500", "Night Owl Headlamp"]),
    P("Lumen Summit 900", "Headlamps", 99.95,
      "max output=900 lm; beam distance=160 m; runtime=2 h 30 min high / 100 h low; battery=rechargeable 3,200 mAh, USB-C; weight=155 g; water resistance=IPX7",
      "A powerful headlamp for alpine starts and night navigation, with reactive lighting that dims automatically when you read a map."),
    P("Lumen Summit 1200", "Headlamps", 129.00,
      "max output=1,200 lm; beam distance=200 m; runtime=2 h high / 120 h low; battery=rechargeable 4,000 mAh, USB-C; weight=198 g; water resistance=IPX7",
      "Our brightest headlamp, with a top strap for stability and enough throw to spot cairns across a boulder field."),
    P("Lumen Alpine 750", "Headlamps", 84.00,
      "max output=750 lm; beam distance=140 m; runtime=3 h high / 90 h low; battery=remote pack, 3,400 mAh, cold-rated to -20 °C; weight=190 g",
      "A cold-weather headlamp with a battery pack on a cord that rides inside your jacket to stay warm."),
    P("Lumen Pocket 200", "Headlamps", 29.50,
      "max output=200 lm; runtime=2 h high / 30 h low; battery=rechargeable, USB-C; weight=34 g; water resistance=IPX4",
      "A tiny rechargeable headlamp for emergency kits and ultralight trips that also clips to a cap brim."),
    P("Lumen Kids Glow 100", "Headlamps", 24.95,
      "max output=100 lm; runtime=10 h high / 50 h low; battery=rechargeable, USB-C; weight=62 g; extras=glow-in-the-dark strap, locking button",
      "A kid-safe headlamp with capped brightness, a glow-in-the-dark strap, and a button small fingers can work but won't bump on by accident.",
      legacy="Firefly Headlamp"),
    P("Lumen Red Night 80", "Headlamps", 32.00,
      "max output=80 lm red / 40 lm white; runtime=30 h (red, low); battery=2 × AAA; weight=58 g; modes=always starts in red",
      "A stargazing headlamp that always starts in red so you never ruin your night vision, with a dim white mode for setting up."),
    P("Lumen Campglow 350", "Lanterns", 44.95,
      "max output=350 lm; runtime=6 h high / 120 h low; battery=rechargeable 4,400 mAh, USB-C; weight=260 g; water resistance=IPX4",
      "A warm-white camp lantern with a hanging hook, a stepless dimmer, and a frosted globe that lights the whole picnic table.",
      legacy="Glow Jar 350"),
    P("Lumen Campglow 600", "Lanterns", 64.00,
      "max output=600 lm; runtime=5 h high / 150 h low; battery=rechargeable 10,000 mAh, USB-C; power bank=USB-A output to charge a phone; weight=420 g",
      "A big rechargeable lantern that doubles as a power bank, so the light that runs dinner can also top off your phone."),
    P("Lumen Collapsible Solar Lantern", "Lanterns", 27.95,
      "max output=150 lm; runtime=4 h high / 24 h low; charging=solar panel or USB-C; collapsed height=3 cm; weight=120 g",
      "A collapsible lantern that folds flat and charges in the sun on top of your pack during the day.",
      legacy="Sun Jar"),
    P("Lumen String Lights 5 m", "Lanterns", 34.00,
      "length=5 m; LEDs=50; max output=200 lm; battery=rechargeable 2,000 mAh, USB-C; runtime=10 h",
      "Warm string lights that make a campsite feel like home, winding back onto their own charging spool."),
    P("Lumen Tent Light 60", "Lanterns", 14.95,
      "max output=60 lm; runtime=20 h low; battery=2 × AAA; weight=48 g; mount=magnetic base with hang loop",
      "A small clip-on light for the inside of a tent, with a magnetic base for the car."),
    P("Lumen Beacon 1000 Flashlight", "Flashlights", 79.95,
      "max output=1,000 lm; beam distance=220 m; runtime=1 h 45 min high / 48 h low; battery=rechargeable 21700 cell, USB-C; water resistance=IPX8",
      "A rugged handheld flashlight for search work, ranch chores, and the camp host who always gets the late-night noise call."),
    P("Lumen Pen Light 120", "Flashlights", 19.95,
      "max output=120 lm; runtime=1 h 30 min high; battery=1 × AAA; weight=28 g; clip=pocket clip",
      "A pen-sized light with a pocket clip for glove boxes and first-aid kits."),
    P("Lumen Core Battery 1250", "Headlamp Accessories", 19.00,
      "capacity=1,250 mAh; charging=USB-C; fits=Lumen Trail 450; weight=24 g",
      "A spare rechargeable pack for the Trail 450, so you can keep a charged one in the lid pocket."),
    P("Lumen Power Bank 10000", "Power Banks", 49.95,
      "capacity=10,000 mAh; ports=USB-C in/out, USB-A out; weight=195 g; water resistance=IPX4",
      "A weather-resistant power bank that charges a phone about two and a half times, with enough left over for your lights."),
]

DRIFTWOOD = [
    P("Driftwood Summit 30 Bag", "Sleeping Bags", 279.00,
      "temperature rating=30 °F / -1 °C (comfort 38 °F / 3 °C); insulation=650-fill water-resistant down; weight=1.02 kg (Regular); shape=mummy; packed size=17 × 30 cm",
      "A three-season down mummy bag for backpackers, with a contoured hood and a full-length zip draft tube.",
      legacy="Summit 30 Sleeping Bag", sizes=BAG),
    P("Driftwood Summit 15 Bag", "Sleeping Bags", 339.00,
      "temperature rating=15 °F / -9 °C (comfort 24 °F / -4 °C); insulation=650-fill water-resistant down; weight=1.31 kg (Regular); shape=mummy; packed size=20 × 34 cm",
      "A warmer down bag for shoulder-season trips, with a neck baffle and a roomy foot box.",
      legacy="Summit 15 Sleeping Bag", sizes=BAG),
    P("Driftwood Summit 0 Bag", "Sleeping Bags", 429.00,
      "temperature rating=0 °F / -18 °C (comfort 10 °F / -12 °C); insulation=800-fill down; weight=1.68 kg (Regular); shape=mummy; packed size=23 × 38 cm",
      "A winter expedition bag with a draft collar and a two-way zip for venting on warmer nights.",
      sizes=BAG),
    P("Driftwood Women's Summit 20 Bag", "Sleeping Bags", 309.00,
      "temperature rating=20 °F / -7 °C (comfort 29 °F / -2 °C); insulation=650-fill water-resistant down; weight=1.18 kg (Regular); shape=women's mummy, extra fill at hips and feet",
      "A women's-specific down bag with extra insulation at the hips and feet and a narrower cut, so there's less dead air to warm.",
      sizes=BAG),
    P("Driftwood Hearth 40 Bag", "Sleeping Bags", 129.95,
      "temperature rating=40 °F / 4 °C; insulation=LoftWeave synthetic; weight=1.45 kg (Regular); shape=semi-rectangular; zip=unzips flat into a quilt",
      "A roomy synthetic bag for summer camping that stays warm when damp and unzips into a blanket.",
      legacy="Cozy Camper 40", sizes=BAG),
    P("Driftwood Hearth 20 Bag", "Sleeping Bags", 159.00,
      "temperature rating=20 °F / -7 °C; insulation=LoftWeave synthetic; weight=2.05 kg (Regular); shape=semi-rectangular; care=machine washable",
      "A warm, washable synthetic bag for car camping and cold campgrounds.",
      legacy="Cozy Camper 20", sizes=BAG),
    P("Driftwood Double Hearth 35", "Sleeping Bags", 219.00,
      "temperature rating=35 °F / 2 °C; insulation=LoftWeave synthetic; weight=3.6 kg; size=two-person, 152 × 203 cm; zips=both sides",
      "A two-person camping bag with zips on both sides so either sleeper can get out without waking the other."),
    P("Driftwood Kids Hearth 45", "Sleeping Bags", 69.95,
      "temperature rating=45 °F / 7 °C; insulation=LoftWeave synthetic; weight=0.95 kg; fits=kids up to 150 cm tall",
      "A sleeping bag for young campers, with a glow-in-the-dark zipper pull and a stuff sack shaped like a pinecone.",
      legacy="Little Camper Bag", sizes=["Youth"]),
    P("Driftwood Drift Quilt 30", "Sleeping Quilts", 249.00,
      "temperature rating=30 °F / -1 °C; insulation=700-fill down; weight=620 g (Regular); attachment=pad straps, cinchable foot box",
      "A backpacking quilt that drops the zipper and the insulation you crush underneath, with pad straps to block drafts.",
      legacy="Backcountry Quilt", sizes=BAG),
    P("Driftwood Drift Quilt 20", "Sleeping Quilts", 289.00,
      "temperature rating=20 °F / -7 °C; insulation=700-fill down; weight=760 g (Regular); attachment=pad straps, sewn foot box",
      "A warmer version of our down quilt with a sewn foot box for shoulder-season nights.",
      sizes=BAG),
    P("Driftwood Float Air Pad", "Sleeping Pads", 149.95,
      "R-value=4.2; weight=480 g (Regular); thickness=7.6 cm; packed size=10 × 23 cm; valve=flat one-way inflate/deflate",
      "A three-season insulated air pad that is quiet to sleep on and inflates in about 20 breaths.",
      legacy=["AirNest Pad", "AirNest Sleeping Pad"], sizes=PAD),
    P("Driftwood Float XT Pad", "Sleeping Pads", 199.00,
      "R-value=6.8; weight=620 g (Regular); thickness=7.6 cm; packed size=11 × 25 cm; valve=flat one-way inflate/deflate",
      "A winter-warm air pad with reflective layers that bounce heat back at you on frozen ground.",
      sizes=PAD),
    P("Driftwood Foam Z Pad", "Sleeping Pads", 44.95,
      "R-value=2.0; weight=410 g; thickness=2 cm; folded size=51 × 13 × 14 cm",
      "An egg-crate closed-cell foam pad that can't pop, doubles as a sit pad, and adds warmth under an air pad in winter.",
      legacy="Egg Crate Pad", sizes=["Regular"]),
    P("Driftwood Basecamp Self-Inflating Pad", "Sleeping Pads", 119.00,
      "R-value=5.5; weight=2.1 kg; thickness=7.5 cm; size=196 × 66 cm",
      "A thick self-inflating foam pad for car camping that feels close to a real mattress.",
      sizes=["Regular", "XL"]),
    P("Driftwood Camp Cot", "Cots", 139.00,
      "weight=2.4 kg; max load=145 kg; sleeping surface=190 × 64 cm; height=16 cm",
      "A low, packable aluminum cot that fits in a two-person tent and keeps you off cold, lumpy ground."),
    P("Driftwood Air Pillow", "Pillows", 29.95,
      "weight=85 g; size=38 × 28 × 11 cm; fabric=brushed 50D polyester",
      "An inflatable pillow with a soft brushed cover and a scooped shape that cradles your head.",
      legacy="Cloud Pillow"),
    P("Driftwood Down Pillow", "Pillows", 44.00,
      "weight=140 g; fill=600-fill duck down, compressible; size=40 × 30 cm",
      "A compressible down pillow that packs to the size of a grapefruit and lofts back up in minutes."),
    P("Driftwood Silk Liner", "Sleeping Bag Liners", 59.95,
      "material=100% silk; weight=140 g; adds=up to 5 °F / 3 °C; shape=mummy",
      "A silk liner that keeps your bag clean, adds a little warmth, and doubles as a hut-sleeping sheet."),
    P("Driftwood Fleece Liner", "Sleeping Bag Liners", 39.95,
      "material=recycled polyester microfleece; weight=380 g; adds=up to 8 °F / 4 °C; shape=rectangular",
      "A cozy fleece liner that adds warmth to a summer bag or works on its own on hot nights."),
    P("Driftwood Camp Blanket", "Blankets", 89.00,
      "insulation=LoftWeave synthetic; size=190 × 140 cm; weight=850 g; shell=20D recycled nylon with DWR",
      "A puffy camp blanket for chilly evenings around the fire, with a snap closure that turns it into a cape."),
    P("Driftwood Pump Sack", "Pad Accessories", 24.95,
      "volume=28 L; weight=60 g; fits=Driftwood Float Air Pad and Driftwood Float XT Pad valves",
      "A pump sack that inflates your pad in a few squeezes, keeps breath moisture out of the insulation, and doubles as a dry bag."),
]

BELAY = [
    P("Belay Crux Harness (Men's)", "Climbing Harnesses", 74.95,
      "weight=340 g (size M); gear loops=4; leg loops=adjustable; certification=UIAA / EN 12277; waist=S 71–81 cm, M 79–89 cm, L 86–97 cm",
      "An all-around sport and gym harness with four gear loops, a haul loop, and adjustable leg loops for layering.",
      legacy="Crux Sport Harness", sizes=HARNESS),
    P("Belay Crux Harness (Women's)", "Climbing Harnesses", 74.95,
      "weight=310 g (size S); gear loops=4; leg loops=adjustable; certification=UIAA / EN 12277; rise=longer rise for a women's fit",
      "The women's version of our all-around harness, with a longer rise and a contoured waistbelt that sits comfortably on the hips.",
      legacy="Crux Sport Harness W", sizes=HARNESS),
    P("Belay Alpine Light Harness", "Climbing Harnesses", 89.00,
      "weight=205 g (size M); gear loops=4; leg loops=drop-seat, fully opening; certification=UIAA / EN 12277; packed size=fits in a jacket pocket",
      "A minimalist harness for glacier travel and ski mountaineering that you can put on while wearing crampons and skis.",
      legacy="Glacier Harness", sizes=HARNESS),
    P("Belay Big Wall Harness", "Climbing Harnesses", 149.95,
      "weight=590 g (size M); gear loops=6; padding=wide waist and leg padding; certification=UIAA / EN 12277; extras=haul loop, two ice-clipper slots",
      "A heavily padded harness for long hangs on big walls, with six gear loops and room for a full aid rack.",
      sizes=HARNESS),
    P("Belay Kids Full-Body Harness", "Climbing Harnesses", 64.00,
      "weight=330 g; fits=children 15–40 kg, roughly ages 3–10; certification=EN 12277 Type B; tie-in=high chest point",
      "A full-body harness for young climbers whose hips aren't yet defined enough to keep a sit harness in place.",
      legacy="Little Climber Harness", sizes=["One Size"]),
    P("Belay Shell Helmet", "Helmets", 64.95,
      "weight=340 g (S/M); construction=ABS hardshell, EPS foam liner; certification=UIAA / EN 12492; head size=S/M 50–58 cm, M/L 56–62 cm; vents=8",
      "A tough hardshell helmet for crags, ice, and via ferrata that shrugs off being tossed into the pack.",
      legacy="Crag Helmet", sizes=["S/M", "M/L"]),
    P("Belay Ultralight Helmet", "Helmets", 119.00,
      "weight=215 g (S/M); construction=EPP/EPS foam with polycarbonate cap; certification=UIAA / EN 12492; head size=S/M 50–57 cm, M/L 56–62 cm; vents=18",
      "An ultralight foam helmet for alpine routes and long approaches, with protection against side and rear impacts.",
      legacy="Featherweight Helmet", sizes=["S/M", "M/L"]),
    P("Belay Kids Helmet", "Helmets", 49.95,
      "weight=290 g; construction=ABS hardshell, EPS foam liner; certification=EN 12492; head size=48–54 cm",
      "A climbing helmet for kids with a one-hand dial adjuster and bright colors that are easy to spot on the wall.",
      sizes=["One Size"]),
    P("Belay Catch Assist Device", "Belay Devices", 99.95,
      "type=assisted braking; rope diameter=8.9–10.5 mm; weight=195 g; certification=EN 15151-1",
      "An assisted-braking belay device with a smooth lowering lever, made for gym and sport climbing.",
      legacy="Catch Assist"),
    P("Belay Tube Device", "Belay Devices", 29.95,
      "type=tubular, dual slot; rope diameter=7.7–11 mm; weight=78 g; certification=EN 15151-2",
      "A simple, versatile tube device for belaying and rappelling on single or double ropes."),
    P("Belay Guide Plate Device", "Belay Devices", 42.00,
      "type=guide-mode plate; rope diameter=7.5–11 mm; weight=88 g; certification=EN 15151-2; guide mode=belays one or two seconds",
      "A multipitch belay plate with a guide mode for bringing up one or two followers from an anchor."),
    P("Belay Screwgate Carabiner", "Carabiners", 14.95,
      "strength=24 kN major axis / 8 kN minor axis / 8 kN gate open; weight=62 g; shape=offset D; certification=EN 12275 / UIAA",
      "A locking offset-D carabiner for anchors and belay devices, with a smooth keylock nose that doesn't snag.",
      colors=["Anodized Blue", "Grey"]),
    P("Belay Pear HMS Carabiner", "Carabiners", 18.50,
      "strength=25 kN major axis / 7 kN minor axis / 7 kN gate open; weight=78 g; shape=HMS pear; certification=EN 12275 / UIAA",
      "A big pear-shaped locker that works with a Munter hitch and makes a roomy master point on belay.",
      colors=["Gold", "Grey"]),
    P("Belay Wiregate Quickdraw 12 cm", "Quickdraws", 19.95,
      "length=12 cm; weight=88 g; strength=23 kN major axis, 22 kN sling; gates=wiregate on both ends, rubber retainer",
      "A versatile sport-climbing draw with a wide sling that's easy to grab when you're pumped.",
      legacy="Snap Draw", colors=["Anodized Blue/Silver"]),
    P("Belay Dynamic Rope 9.8 mm x 60 m", "Ropes", 219.00,
      "diameter=9.8 mm; length=60 m; weight=62 g/m; UIAA falls=7; dynamic elongation=34%; treatment=sheath-only dry treatment",
      "A durable single rope for gym-to-crag climbers who want one line that lasts many seasons.",
      legacy="Anchor Line 9.8", colors=["Blue/Lime", "Red/White"]),
    P("Belay Dynamic Rope 9.2 mm x 70 m", "Ropes", 289.00,
      "diameter=9.2 mm; length=70 m; weight=55 g/m; UIAA falls=6; dynamic elongation=33%; treatment=full dry treatment, UIAA water repellent",
      "A light, fully dry-treated single rope for long sport pitches, multipitch, and ice.",
      colors=["Green/Orange"]),
    P("Belay Chalk Bag", "Chalk Bags", 24.00,
      "fits=a large hand; weight=95 g; closure=drawcord with cinch; extras=brush holder, zippered pocket",
      "A stiff-rimmed chalk bag that stays open for quick dips, with a brush holder and a zip pocket for tape."),
    P("Belay Via Ferrata Set", "Via Ferrata", 139.00,
      "user weight=40–120 kg; energy absorber=tear webbing; carabiners=two self-locking with swivel; certification=EN 958:2017",
      "A via ferrata lanyard with an energy absorber and two auto-locking carabiners for iron-way routes in the Alps and beyond."),
    P("Belay Leather Belay Gloves", "Gloves", 34.95,
      "material=double-layer goatskin palm; finger=full-finger; closure=hook-and-loop wrist; fit=fits true to size",
      "Full-finger leather gloves for long belays and rappels that protect your hands from rope burn.",
      sizes=["XS", "S", "M", "L", "XL"]),
]

COLLECTIONS = [
    ("TrailForm", "FH-TRL", ["Moss", "Slate", "Ember Orange", "Basalt Black", "Lichen", "Dusk Blue", "Sandstone"], TRAILFORM),
    ("Ridgeline", "FH-RDG", ["Fern Green", "Storm Blue", "Basalt Black", "Ember Orange", "Glacier", "Rust", "Heather Grey", "Plum"], RIDGELINE),
    ("Emberlite", "FH-EMB", ["Graphite", "Ember Orange"], EMBERLITE),
    ("Canopy", "FH-CNP", ["Fern/Sand", "Sunrise Orange", "Grey/Lime", "Sage"], CANOPY),
    ("Summit Sole", "FH-SSL", ["Granite/Moss", "Black/Ember", "Sand/Slate", "Dusk Blue", "Heather/Plum", "Brown/Olive"], SUMMIT_SOLE),
    ("Lumen", "FH-LUM", ["Basalt Black", "Ember Orange", "Glacier Blue", "Moss"], LUMEN),
    ("Driftwood", "FH-DRF", ["Moss/Charcoal", "Deep Lake", "Ember Orange", "Plum", "Sand"], DRIFTWOOD),
    ("Belay", "FH-BLY", ["Slate/Lime", "Fern", "Basalt Black", "Ember Orange", "Glacier Blue"], BELAY),
]

# --------------------------------------------------------------------------
# description building blocks
# --------------------------------------------------------------------------
JACKET_T = [
    "The {membrane} membrane is rated to {waterproof_rating} waterproof and {breathability} breathable, and the jacket weighs {weight}.",
    "It's built on {membrane} with a {waterproof_rating} waterproof rating and weighs just {weight}.",
]
FOOT_T = [
    "The {outsole} outsole has {lug_depth} lugs, and the weight is {weight}.",
    "It weighs {weight} and {fit}.",
    "With a {outsole} outsole and {lug_depth} lugs, it {fit}.",
]
BAG_T = [
    "Rated to {temperature_rating}, it uses {insulation} and weighs {weight}.",
    "Insulation is {insulation}, with a temperature rating of {temperature_rating}.",
]
HARNESS_T = ["It weighs {weight} with {gear_loops} gear loops and is certified to {certification}."]
TEMPLATES = {
    "Backpacks": [
        "It carries {capacity} and weighs {weight}, with a back panel of {back_panel}.",
        "Made from {fabric}, it holds {capacity} and weighs {weight}.",
        "It holds {capacity} at {weight}, and the hydration {hydration}.",
    ],
    "Hydration Packs": ["It carries {capacity} with {hydration}, and weighs {weight}."],
    "Rain Jackets": JACKET_T,
    "Shell Jackets": JACKET_T,
    "Rain Pants": ["The {membrane} membrane is rated to {waterproof_rating}, and the pants weigh {weight}."],
    "Insulated Jackets": [
        "Insulation is {insulation}, and it weighs {weight}.",
        "Comfortable from {comfort_range}, it weighs {weight} with {insulation} insulation.",
    ],
    "Insulated Pants": ["Insulation is {insulation}, and they weigh {weight}."],
    "Camp Stoves": [
        "The {burner} burner delivers {output}, and the stove weighs {weight}.",
        "Boil time is {boil_time}, and it weighs {weight}.",
        "It burns {fuel} and weighs {weight}.",
    ],
    "Fuel": ["It holds {net_fuel} of fuel ({blend}) behind an {valve} valve."],
    "Tents": [
        "It sleeps {capacity} and weighs {trail_weight} on the trail, with {floor_area} of floor space.",
        "Packed weight is {packed_weight}, with {floor_area} of floor and {peak_height} of headroom.",
        "Peak height is {peak_height}, and the fly is {fly}.",
    ],
    "Hiking Boots": FOOT_T, "Hiking Shoes": FOOT_T, "Trail Runners": FOOT_T,
    "Approach Shoes": FOOT_T, "Sandals": FOOT_T,
    "Headlamps": [
        "It throws up to {max_output} with a {beam_distance} beam and runs {runtime}.",
        "Battery: {battery}; it weighs {weight}.",
        "Max output is {max_output}, with a runtime of {runtime}.",
    ],
    "Flashlights": ["It throws up to {max_output} with a {beam_distance} beam and runs {runtime}."],
    "Lanterns": ["It puts out up to {max_output} and runs {runtime}."],
    "Sleeping Bags": BAG_T, "Sleeping Quilts": BAG_T,
    "Sleeping Pads": [
        "With an R-value of {r_value} and {thickness} of thickness, it weighs {weight}.",
        "It has an R-value of {r_value} and weighs {weight}.",
    ],
    "Climbing Harnesses": HARNESS_T,
    "Helmets": ["It weighs {weight} and is certified to {certification}, with head sizes {head_size}."],
    "Belay Devices": ["It takes ropes from {rope_diameter}, weighs {weight}, and meets {certification}."],
    "Carabiners": ["Strength ratings are {strength}, and it weighs {weight}."],
    "Ropes": ["At {diameter} and {weight}, it is rated for {uiaa_falls} UIAA falls."],
}
FALLBACK_T = "Specs at a glance: {items}."

LEGACY_T = [
    "Formerly the {old}.",
    "You may know it by its old name, the {old}.",
    "Same design as the {old}, just a new name.",
    "Longtime customers still call it the {old}.",
    # the messy kind: old name used as if it were current
    "The {old} has been a staff favorite for years.",
    "Reviews for the {old} are shown on this page.",
]

# category -> generic market label used (sometimes) in place of the branded line
GENERIC_BY_CATEGORY = {
    "Rain Jackets": "rain jacket", "Shell Jackets": "hardshell",
    "Insulated Jackets": "puffer jacket", "Backpacks": "hiking backpack",
    "Hydration Packs": "hydration vest", "Camp Stoves": "camp stove",
    "Hiking Boots": "hiking boots", "Trail Runners": "trail runners",
    "Headlamps": "headlamp", "Lanterns": "camp lantern",
    "Sleeping Bags": "sleeping bag", "Sleeping Pads": "sleeping pad",
    "Climbing Harnesses": "climbing harness", "Helmets": "climbing helmet",
}
GENERIC_T = [
    "If you're shopping for a {g}, this is where most of our staff would start.",
    "Simply put, a dependable {g} with no fuss.",
    "It's the {g} we lend to friends who are new to the outdoors.",
]
GENERIC_T_PLURAL = [
    "If you're shopping for {g}, this is where most of our staff would start.",
    "Simply put, dependable {g} with no fuss.",
]

# --------------------------------------------------------------------------
# brand kit tables
# --------------------------------------------------------------------------
GENERIC_TERMS = [
    ("puffer jacket", "Ridgeline Loft Jacket"),
    ("rain jacket", "Ridgeline"),
    ("hardshell", "Ridgeline Alpine Shell"),
    ("hiking backpack", "TrailForm"),
    ("hydration vest", "TrailForm"),
    ("camp stove", "Emberlite"),
    ("fuel canister", "Emberlite"),
    ("backpacking tent", "Canopy"),
    ("hiking boots", "Summit Sole"),
    ("trail runners", "Summit Sole"),
    ("headlamp", "Lumen"),
    ("camp lantern", "Lumen"),
    ("sleeping bag", "Driftwood"),
    ("sleeping pad", "Driftwood"),
    ("climbing harness", "Belay"),
    ("climbing helmet", "Belay"),
]

TRADEMARKS = [
    ("HydroLock", ["Hydrolock", "Hydro-Lock", "Hydro Lock", "HydroLok"],
     "waterproof-breathable membrane (Ridgeline, Summit Sole, Canopy)"),
    ("EmberCore", ["Embercore", "Ember Core", "Ember-Core"],
     "stove burner design (Emberlite)"),
    ("LoftWeave", ["Loftweave", "Loft Weave", "Loft-Weave"],
     "synthetic insulation (Ridgeline, Driftwood, Summit Sole)"),
    ("GripTrace", ["Griptrace", "Grip Trace", "Grip-Trace"],
     "outsole rubber (Summit Sole)"),
    ("AirTrack", ["Airtrack", "Air Track", "Air-Track"],
     "ventilated back panel (TrailForm)"),
]

DISCLAIMERS = [
    ("price",
     "Prices and availability can change; the product page shows the current price at checkout.",
     {"mentions_price": True}, "any stated price or sale price"),
    ("stove_safety",
     "Use stoves and fuel only outdoors in a well-ventilated spot, never inside a tent, vestibule, or vehicle: "
     "carbon monoxide is odorless and can kill. Check connections for leaks and follow the printed instructions before lighting.",
     {"categories": ["Camp Stoves", "Fuel", "Stove Accessories"]}, "answer concerns a stove, fuel, or stove accessory"),
    ("fuel_shipping",
     "Fuel canisters and white gas ship by ground only within the contiguous US and cannot ship to P.O. boxes.",
     {"categories": ["Fuel"]}, "answer concerns a fuel product"),
    ("climbing_safety",
     "Climbing is dangerous. Inspect harnesses, helmets, ropes, and hardware before every use, retire gear after a "
     "major fall or when the manufacturer's instructions say so, and learn from a qualified instructor before climbing unsupervised.",
     {"collections": ["Belay"]}, "answer concerns any Belay product"),
    ("sizing",
     "Fit varies with foot and body shape; check the size chart on the product page. Unworn items can be exchanged for another size within 60 days.",
     {"keywords": ["size", "sizes", "sizing", "fit", "fits", "half size", "true to size", "runs small", "runs large"]},
     "sizing or fit advice in the question or answer"),
]

TONE = [
    "Warm and practical, like a trail-savvy friend at the shop counter; skip hype words such as \"epic\", \"game-changer\", or \"ultimate\".",
    "Lead with the direct answer, then give at most three supporting points; keep answers short.",
    "Always use the approved product name from this kit on first mention; a short form like \"the Storm Jacket\" is fine after that.",
    "Never present a deprecated name as current; mention it only to tell the shopper the product was renamed (\"formerly the Trekker 28\").",
    "Say the line name (TrailForm, Ridgeline, Emberlite, Canopy, Summit Sole, Lumen, Driftwood, Belay) instead of a generic label like \"puffer jacket\" or \"hiking backpack\" when talking about our products.",
    "Spell trademarks exactly as registered (HydroLock, EmberCore, LoftWeave, GripTrace, AirTrack) and do not add (TM) or (R) symbols in chat.",
    "Quote specs and prices exactly as the catalog lists them, in the catalog's units; if a detail is not in the catalog, say you'll check rather than guess.",
    "Be honest about stock: if an item is out of stock or on preorder, say so and suggest the closest in-stock alternative.",
]

# --------------------------------------------------------------------------
# retrieval questions: (question, [approved names]) - resolved to ids below
# --------------------------------------------------------------------------
QUESTIONS = [
    ("how much is the trailform 28?", ["TrailForm 28 Daypack"]),
    ("waterpoof jacket for hiking under 200", ["Ridgeline Drizzle Jacket (Men's)", "Ridgeline Drizzle Jacket (Women's)",
                                              "Ridgeline Packlite Jacket", "Ridgeline Storm Anorak"]),
    ("do u still sell the stormbreaker jacket? mens", ["Ridgeline Storm Jacket (Men's)"]),
    ("is the cloudpuff jacket warm enough for like -5c", ["Ridgeline Loft Jacket"]),
    ("summit 30 sleeping bag temp rating??", ["Driftwood Summit 30 Bag"]),
    ("summit 30 backpack - how many liters and how heavy", ["TrailForm Summit 30 Pack"]),
    ("trail 300 headlamp battery life on high", ["Lumen Trail 300"]),
    ("do the trail 300 running shoes run small? im a 10.5 in most brands", ["Summit Sole Trail 300 (Men's)", "Summit Sole Trail 300 (Women's)"]),
    ("ridgeback mid womens - do you have it in a size 8", ["Summit Sole Ridgeback Mid (Women's)"]),
    ("whats the boil time on the flash stove", ["Emberlite Flash Stove"]),
    ("price of the 450g isobutane canister", ["Emberlite Isobutane Fuel 450 g"]),
    ("2 burner propane stove for car camping", ["Emberlite Basecamp Two-Burner"]),
    ("lightest 2 person tent u have", ["Canopy Ultra 2 Tent"]),
    ("footprint for the ridgetop 2", ["Canopy Ridge 2 Footprint"]),
    ("6 person family tent with 2 rooms, can u stand up in it", ["Canopy Basecamp 6 Tent"]),
    ("harness for my 5 yr old, full body", ["Belay Kids Full-Body Harness"]),
    ("lightwieght climbing helmet for alpine, how many grams", ["Belay Ultralight Helmet"]),
    ("crux harness womens - what sizes", ["Belay Crux Harness (Women's)"]),
    ("9.8 rope 60m how much", ["Belay Dynamic Rope 9.8 mm x 60 m"]),
    ("r value of the airnest pad", ["Driftwood Float Air Pad"]),
    ("winter sleeping pad r-value 6.8 in stock?", ["Driftwood Float XT Pad"]),
    ("headlamp for night running with a red rear light", ["Lumen Nightrunner 500"]),
    ("rechargable camp lantern that can charge my phone", ["Lumen Campglow 600"]),
    ("hydro 12 running vest sizes and does it come w flasks", ["TrailForm Hydro 12 Vest"]),
    ("is the long haul 65 on sale", ["TrailForm Traverse 65"]),
    ("backpack that fits a 16 inch laptop", ["TrailForm Commute 22"]),
    ("white gas for my liquid fuel stove, 1 quart", ["Emberlite White Gas 1 qt"]),
    ("womens insulated winter hiking boots, how many grams of insulation", ["Summit Sole Winter Trek Boot (Women's)"]),
    ("hydro lock bivy sack waterproof rating", ["Canopy Solo Bivy"]),
    ("down quilt 20 degree how much does it weigh", ["Driftwood Drift Quilt 20"]),
]


# --------------------------------------------------------------------------
def slug(s: str) -> str:
    s = s.lower().replace("'", "").replace("’", "")
    return re.sub(r"[^a-z0-9]+", "-", s).strip("-")


def fmt_keys(specs: dict) -> dict:
    return {re.sub(r"[^a-z0-9]+", "_", k.lower()).strip("_"): v for k, v in specs.items()}


def spec_sentence(rng: random.Random, p: dict) -> str:
    cands = list(TEMPLATES.get(p["category"], []))
    rng.shuffle(cands)
    keys = fmt_keys(p["specs"])
    for t in cands:
        try:
            return t.format(**keys)
        except KeyError:
            continue
    items = "; ".join(f"{k}: {v}" for k, v in list(p["specs"].items())[:3])
    return FALLBACK_T.format(items=items)


def sale_price(rng: random.Random, price: float) -> float:
    x = price * rng.choice([0.7, 0.75, 0.8, 0.85])
    sp = math.floor(x) + 0.95
    if sp >= price:
        sp = x
    return round(sp, 2)


def build():
    rng = random.Random(SEED)
    products = []
    for coll, prefix, palette, items in COLLECTIONS:
        for i, p in enumerate(items, 1):
            q = dict(p)
            q["id"] = f"{prefix}-{i:03d}"
            q["collection"] = coll
            q["palette"] = palette
            products.append(q)
    n = len(products)

    renamed = [p for p in products if p["legacy"]]
    legacy_export = {p["id"] for p in rng.sample(renamed, round(0.15 * n))}
    legacy_desc = {p["id"] for p in rng.sample(renamed, round(0.30 * len(renamed)))}
    on_sale = {p["id"] for p in rng.sample(products, round(0.25 * n))}
    eligible_generic = [p for p in products if p["category"] in GENERIC_BY_CATEGORY and not p["hook"].lower().count(GENERIC_BY_CATEGORY[p["category"]])]
    generic_desc = {p["id"] for p in rng.sample(eligible_generic, round(0.3 * len(eligible_generic)))}

    catalog = []
    for p in products:
        sentences = [p["hook"], spec_sentence(rng, p)]
        if p["id"] in generic_desc:
            g = GENERIC_BY_CATEGORY[p["category"]]
            plural = g.endswith("s") and not g.endswith("ss")
            sentences.append(rng.choice(GENERIC_T_PLURAL if plural else GENERIC_T).format(g=g))
        if p["id"] in legacy_desc:
            pool = LEGACY_T[4:] if p["id"] in legacy_export else LEGACY_T
            s = rng.choice(pool).format(old=p["legacy"][0])
            if rng.random() < 0.5:
                sentences.insert(0, s)
            else:
                sentences.insert(2, s)
        desc = " ".join(sentences[:4])

        export_name = p["legacy"][0] if p["id"] in legacy_export else p["name"]
        price = round(float(p["price"]), 2)
        sp = sale_price(rng, price) if p["id"] in on_sale else None
        stock = rng.choices(["in_stock", "low_stock", "out_of_stock", "preorder"], weights=[70, 14, 10, 6])[0]
        if p["colors"] is not None:
            colors = list(p["colors"])
        else:
            k = min(len(p["palette"]), rng.choice([1, 2, 2, 3, 3, 4]))
            colors = rng.sample(p["palette"], k)
        catalog.append({
            "id": p["id"],
            "name": export_name,
            "collection": p["collection"],
            "category": p["category"],
            "price": price,
            "sale_price": sp,
            "currency": "USD",
            "specs": dict(p["specs"]),
            "sizes": list(p["sizes"] or []),
            "colors": colors,
            "stock": stock,
            "description": desc,
            "url": BASE_URL + slug(export_name),
        })

    # mess: a few descriptions misspell a trademark
    marks = {m: alts for m, alts, _ in TRADEMARKS}
    with_mark = [c for c in catalog if any(m in c["description"] for m in marks)]
    for c in rng.sample(with_mark, 7):
        m = next(m for m in marks if m in c["description"])
        c["description"] = c["description"].replace(m, rng.choice(marks[m]), 1)

    return products, catalog


def yaml_scalar(s) -> str:
    if isinstance(s, bool):
        return "true" if s else "false"
    s = str(s)
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 .,'()/&+\-]*", s) and not s.endswith(" ") and yaml.safe_load(s) == s:
        return s
    return json.dumps(s, ensure_ascii=False)


def flow_list(xs) -> str:
    return "[" + ", ".join(yaml_scalar(x) for x in xs) + "]"


def brand_kit_yaml(products) -> str:
    L = []
    w = L.append
    w("# Fernhollow Outfitters - brand kit (FICTIONAL sample merchant for onbrand).")
    w("# Generated by corpus/sample/make_sample.py; edit the generator, not this file.")
    w("#")
    w("# The catalog export (catalog.jsonl) is messy on purpose: some rows still carry a")
    w("# deprecated name, some descriptions mention old names, flatten branded lines into")
    w("# generic labels, or misspell a trademark. This kit is the source of truth.")
    w(f"brand: {BRAND}")
    w("version: 1")
    w("")
    w("# products: the approved name for every catalog id. Every id in catalog.jsonl")
    w("# appears exactly once, and every approved name is unique across the brand")
    w("# (near-duplicates across lines are disambiguated by the line prefix, e.g.")
    w("# TrailForm Summit 30 Pack vs Driftwood Summit 30 Bag, Lumen Trail 300 vs")
    w("# Summit Sole Trail 300 (Men's)).")
    w("products:")
    for p in products:
        w(f"  {p['id']}: {yaml_scalar(p['name'])}")
    w("")
    w("# deprecated_aliases: old / legacy name -> approved name. Each value is one of the")
    w("# approved names above; aliases are unique and never equal an approved name.")
    w("# Note: an alias may be a substring of its approved name (\"Summit 30 Pack\" inside")
    w("# \"TrailForm Summit 30 Pack\"), so match on whole names, not substrings. Bare")
    w("# ambiguous forms (\"Summit 30\", \"Trail 300\") are deliberately NOT aliases.")
    w("deprecated_aliases:")
    for p in products:
        for a in p["legacy"]:
            w(f"  {yaml_scalar(a)}: {yaml_scalar(p['name'])}")
    w("")
    w("# generic_terms: market labels that must NOT stand in for a branded line or")
    w("# product in our answers. use_instead is a collection (line) name or an approved")
    w("# product name. No approved name contains one of these terms (\"daypack\" is left")
    w("# out on purpose because approved names such as TrailForm 28 Daypack use it);")
    w("# older aliases may contain them (\"Trail 300 Headlamp\").")
    w("generic_terms:")
    for term, inst in GENERIC_TERMS:
        w(f"  - term: {yaml_scalar(term)}")
        w(f"    use_instead: {yaml_scalar(inst)}")
    w("")
    w("# trademarks: registered marks with their exact spelling, plus misspellings seen")
    w("# in the wild (including in our own catalog copy) that answers must correct.")
    w("trademarks:")
    for mark, miss, what in TRADEMARKS:
        w(f"  - mark: {mark}   # {what}")
        w(f"    misspellings: {flow_list(miss)}")
    w("")
    w("# disclaimers: text that must be appended when its condition holds. `when` is an")
    w("# OR of the conditions given: mentions_price (answer states a price),")
    w("# categories / collections (answer concerns a product in one of them),")
    w("# keywords (case-insensitive, in the question or the answer).")
    w("disclaimers:")
    for did, text, when, why in DISCLAIMERS:
        w(f"  - id: {did}")
        w(f"    text: {json.dumps(text, ensure_ascii=False)}")
        parts = []
        for k, v in when.items():
            parts.append(f"{k}: {flow_list(v) if isinstance(v, list) else yaml_scalar(v)}")
        w(f"    when: {{{', '.join(parts)}}}   # {why}")
    w("")
    w("# tone: plain-language voice rules for every answer.")
    w("tone:")
    for t in TONE:
        w(f"  - {json.dumps(t, ensure_ascii=False)}")
    w("")
    w("# formats: answer layouts. comparison when two or more products are compared;")
    w("# list when three or more options are recommended.")
    w("formats:")
    w("  comparison:")
    w("    when: two or more products compared")
    w("    style: markdown_table")
    w("    columns: [Product, Price, Key spec, Stock]")
    w("  list:")
    w("    when: three or more options recommended")
    w("    style: bullets")
    w("")
    w("# for the training-data builder: other brands shoppers compare with (fictional), what shoppers")
    w("# say about their plans, and things the shop does not sell.")
    w(f"competitors: {flow_list(COMPETITORS)}")
    w(f"occasions: {flow_list(OCCASIONS)}")
    w(f"not_carried: {flow_list(NOT_CARRIED)}")
    return "\n".join(L) + "\n"


COMPETITORS = ["Northpeak", "Cragline", "Alpenrock", "Summitry"]
OCCASIONS = ["heading out this weekend", "it's for a hut trip", "going on a canoe trip", "sorting out my gear list",
             "planning a thru-hike", "for a winter camping trip"]
NOT_CARRIED = ["kayaks", "bike helmets", "ski boots", "fishing rods", "snowshoes", "surfboards", "golf bags",
               "paddle boards", "trekking umbrellas", "dog harnesses"]


def expected_kit(products) -> dict:
    return {
        "brand": BRAND, "version": 1,
        "products": {p["id"]: p["name"] for p in products},
        "deprecated_aliases": {a: p["name"] for p in products for a in p["legacy"]},
        "generic_terms": [{"term": t, "use_instead": u} for t, u in GENERIC_TERMS],
        "trademarks": [{"mark": m, "misspellings": list(x)} for m, x, _ in TRADEMARKS],
        "disclaimers": [{"id": d, "text": t, "when": w} for d, t, w, _ in DISCLAIMERS],
        "tone": list(TONE),
        "formats": {
            "comparison": {"when": "two or more products compared", "style": "markdown_table",
                           "columns": ["Product", "Price", "Key spec", "Stock"]},
            "list": {"when": "three or more options recommended", "style": "bullets"},
        },
        "competitors": list(COMPETITORS), "occasions": list(OCCASIONS), "not_carried": list(NOT_CARRIED),
    }


def main():
    products, catalog = build()
    by_name = {p["name"]: p["id"] for p in products}

    with open(OUT / "catalog.jsonl", "w", encoding="utf-8") as f:
        for c in catalog:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")

    text = brand_kit_yaml(products)
    assert yaml.safe_load(text) == expected_kit(products), "brand_kit.yaml does not round-trip"
    (OUT / "brand_kit.yaml").write_text(text, encoding="utf-8")

    assert len(QUESTIONS) == 30
    with open(OUT / "questions.jsonl", "w", encoding="utf-8") as f:
        for q, names in QUESTIONS:
            f.write(json.dumps({"question": q, "product_ids": [by_name[n] for n in names]}, ensure_ascii=False) + "\n")

    print(f"wrote {len(catalog)} products, {len(QUESTIONS)} questions to {OUT}")


if __name__ == "__main__":
    main()
