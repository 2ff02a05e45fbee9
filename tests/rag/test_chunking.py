from corpus.schema import Product, Stock
from rag.chunking import ChunkConfig, chunk_product, price_text


def test_chunks_carry_provenance_and_approved_name(tiny_catalog, tiny_kit):
    stove = tiny_catalog.by_id()["QK-STV-01"]
    chunks = chunk_product(stove, tiny_kit)
    assert [c.field for c in chunks] == ["overview", "specs", "description"]
    assert all(c.product_id == "QK-STV-01" for c in chunks)
    assert all(c.approved_name == "Quokka Blaze Mini Stove" for c in chunks)
    overview = chunks[0].text.splitlines()
    assert overview[0] == "Product: Quokka Blaze Mini Stove"
    assert "Price: $59.50" in overview and "Stock: out of stock" in overview
    assert chunks[0].in_stock is False


def test_aliases_are_embedded_but_not_shown_to_the_model(tiny_catalog, tiny_kit):
    stove = tiny_catalog.by_id()["QK-STV-01"]
    for c in chunk_product(stove, tiny_kit):
        assert "Sparky" in c.embed_text  # a shopper typing the old name still finds it
    overview = chunk_product(stove, tiny_kit)[0]
    assert "Sparky" not in overview.text


def test_long_description_is_windowed_with_overlap():
    words = [f"w{i}" for i in range(300)]
    p = Product(id="X-1", name="X", collection="C", category="K", price=1.0, description=" ".join(words))
    chunks = [c for c in chunk_product(p, cfg=ChunkConfig(description_words=100, overlap_words=20))
              if c.field == "description"]
    assert len(chunks) == 4  # windows start at 0, 80, 160, 240
    assert "w80" in chunks[0].text and "w80" in chunks[1].text
    assert chunks[-1].text.endswith("w299")


def test_price_text_shows_sale_and_regular():
    p = Product(id="X-1", name="X", collection="C", category="K", price=389.0, sale_price=329.0,
                stock=Stock.LOW_STOCK)
    assert price_text(p) == "$329.00 on sale (regular $389.00)"


def test_product_bound_disclaimers_are_shown_in_the_overview_but_not_embedded(tiny_catalog, tiny_kit):
    stove = tiny_catalog.by_id()["QK-STV-01"]  # a Camp Stoves product: the kit binds stove_safety to it
    overview, *rest = chunk_product(stove, tiny_kit)
    assert "Note: Use stoves outdoors only." in overview.text.splitlines()
    assert "Use stoves" not in overview.embed_text  # retrieval ranks on the product, not on boilerplate
    assert all("Note:" not in c.text for c in rest)
    off = chunk_product(stove, tiny_kit, ChunkConfig(notes=False))[0]
    assert "Note:" not in off.text
    others = [p for p in tiny_catalog.products if p.category != "Camp Stoves"]
    assert others and all("Note:" not in chunk_product(p, tiny_kit)[0].text for p in others)
