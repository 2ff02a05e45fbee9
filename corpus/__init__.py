"""Catalog ingest (JSONL, CSV, Shopify export) with validation, and the brand kit."""

from core.config import SAMPLE_BRAND_KIT, SAMPLE_CATALOG, SAMPLE_DIR
from corpus.brandkit import BrandKit, load_brand_kit
from corpus.errors import BrandKitError, CatalogError, InputError, Problem
from corpus.ingest import load_catalog
from corpus.schema import Catalog, Product, Stock

SAMPLE_QUESTIONS = SAMPLE_DIR / "questions.jsonl"
SAMPLE_DATASET = SAMPLE_DIR / "dataset.jsonl"  # made by `onbrand dataset`; the shipped adapter trained on it
SAMPLE_EVAL_PROMPTS = SAMPLE_DIR / "eval_prompts.jsonl"  # held-out prompts with expectations, for `onbrand eval`

__all__ = ["BrandKit", "BrandKitError", "Catalog", "CatalogError", "InputError", "Problem", "Product", "Stock",
           "load_brand_kit", "load_catalog", "SAMPLE_BRAND_KIT", "SAMPLE_CATALOG", "SAMPLE_DATASET", "SAMPLE_DIR", "SAMPLE_EVAL_PROMPTS",
           "SAMPLE_QUESTIONS"]
