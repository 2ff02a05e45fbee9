from dataclasses import replace

from core.config import Retrieval
from rag.index_store import load_index
from rag.retrieval import Retriever

WIDE = Retrieval(top_k=5, chunks_per_product=3, score_gap=None)  # every filtered product, all its chunks


def _retriever(tiny_index, embedder):
    root, name, _ = tiny_index
    return Retriever(load_index(root, name, embedder.info), embedder)


def test_top_product_with_scores_grouped(tiny_index, embedder):
    r = _retriever(tiny_index, embedder)
    hits = r.retrieve("four person family tent", k=2, settings=WIDE)
    assert hits[0].product_id == "QK-TNT-02"
    assert len(hits) == 2 and hits[0].score >= hits[1].score
    assert all(h.product_id == hits[0].product_id for h in hits[0].hits)
    assert hits[0].hits[0].score == hits[0].score


def test_deprecated_name_finds_the_product(tiny_index, embedder):
    assert _retriever(tiny_index, embedder).retrieve("sparky", k=1)[0].product_id == "QK-STV-01"


def test_overview_always_travels_with_a_product(tiny_index, embedder):
    hits = _retriever(tiny_index, embedder).retrieve("boils a litre in three and a half minutes", k=1,
                                                     settings=Retrieval(chunks_per_product=1))
    fields = [h.field for h in hits[0].hits]
    assert "overview" in fields
    assert any("Price: $59.50" in h.text for h in hits[0].hits)


def test_collection_filter(tiny_index, embedder):
    hits = _retriever(tiny_index, embedder).retrieve("tent", k=5, collection="Quokka Light", settings=WIDE)
    assert [h.product_id for h in hits] == ["QK-LMP-01"]


def test_in_stock_filter_drops_out_of_stock_and_preorder(tiny_index, embedder):
    hits = _retriever(tiny_index, embedder).retrieve("stove headlamp tent boot", k=5, in_stock=True, settings=WIDE)
    ids = {h.product_id for h in hits}
    assert ids == {"QK-TNT-01", "QK-TNT-02", "QK-BOT-01"}


def test_max_gap_drops_distant_products(tiny_index, embedder):
    r = _retriever(tiny_index, embedder)
    all5 = r.retrieve("Quokka Dome 4 Tent price", k=5, settings=WIDE)
    close = r.retrieve("Quokka Dome 4 Tent price", k=5, settings=replace(WIDE, score_gap=0.05))
    assert len(close) < len(all5)
    assert all(h.score >= close[0].score - 0.05 for h in close)


def test_a_possessive_cut_matches_as_shoppers_type_it():
    from rag.retrieval import NameMatcher, tokens
    assert tokens("Stride Full Tight (Men's)") == ["stride", "full", "tight", "men"]
    m = NameMatcher({"A": ["Stride Full Tight (Men's)"], "B": ["Stride Full Tight (Women's)"]})
    assert m.match("stride full tight mens, any good?") == {"A": 1.0, "B": 0.75}
    assert m.less_specific("stride full tight mens, any good?") == {"B"}  # its words are all in A's name


def test_the_most_specific_name_ranks_first_and_its_sibling_stays_named():
    from rag.retrieval import NameMatcher
    m = NameMatcher({"M": ["Summit Sole Swift 2 (Men's)", "Swiftfoot"], "W": ["Summit Sole Swift 2 (Women's)",
                                                                             "Swiftfoot W"]})
    assert m.match("swiftfoot w still available in a 7.5?") == {"M": 1.0, "W": 1.0}
    assert m.less_specific("swiftfoot w still available in a 7.5?") == {"M"}
    assert m.less_specific("swiftfoot still available in a 7.5?") == set()
    assert m.less_specific("summit sole swift 2 mens or womens?") == set()  # both named in full: a comparison


def test_a_named_product_is_never_cut_by_the_score_gap(tiny_index, embedder):
    r = _retriever(tiny_index, embedder)
    question = "Quokka Dome 4 Tent price, or the Blaze Mini Stove?"
    ranked = r.retrieve(question, k=5, settings=WIDE)
    named = set(r.names.match(question))
    assert {"QK-TNT-02", "QK-STV-01"} <= named
    tight = r.retrieve(question, k=5, settings=replace(WIDE, score_gap=0.0))
    kept = {h.product_id for h in tight}
    assert named <= kept  # both named products stay with no gap allowed at all
    assert all(h.product_id in named or h.score >= tight[0].score for h in tight)
    assert len(tight) <= len(ranked)


def test_a_recommendation_within_limits_retrieves_among_the_products_that_meet_them(tiny_index, embedder):
    r = _retriever(tiny_index, embedder)
    question = "a tent that sleeps 2 for under $300"  # the Dome 2 ($249, sleeps 2) fits; the Dome 4 ($329) not
    off = [h.product_id for h in r.retrieve(question, k=5, settings=replace(WIDE, honour_limits=False))]
    on = [h.product_id for h in r.retrieve(question, k=5, settings=WIDE)]
    assert "QK-TNT-02" in off and "QK-TNT-02" not in on and on[0] == "QK-TNT-01"
    assert set(on) == set(off) - {"QK-TNT-02"}  # products whose records do not say (a stove's people) stay
    # nothing meets them: retrieval as without limits
    nothing = "a tent that sleeps 9 for under $20"
    assert [h.product_id for h in r.retrieve(nothing, k=5, settings=WIDE)] == \
        [h.product_id for h in r.retrieve(nothing, k=5, settings=replace(WIDE, honour_limits=False))]
    # a question that names a product asks about that product, whatever its price
    assert r.retrieve("is the quokka dome 4 under $300?", k=1)[0].product_id == "QK-TNT-02"


def test_an_order_retrieves_the_extreme_of_the_best_matchs_category(tiny_index, embedder):
    r = _retriever(tiny_index, embedder)
    # the Dome 2 ($249.00, 2.1 kg) against the Dome 4 ($329.00 on sale, 3.6 kg); never the stove or the lamp,
    # and the extreme alone (both are in stock): given more, the adapter described another
    assert [h.product_id for h in r.retrieve("whats the cheapest tent you have", k=5, settings=WIDE)] == ["QK-TNT-01"]
    assert [h.product_id for h in r.retrieve("your most expensive tent?", k=5, settings=WIDE)] == ["QK-TNT-02"]
    assert [h.product_id for h in r.retrieve("lightest tent", k=1)] == ["QK-TNT-01"]
    # the other limits still hold: the cheapest tent for 4 is the Dome 4 (the Dome 2 sleeps 2)
    assert [h.product_id for h in r.retrieve("cheapest tent that sleeps 4", k=5, settings=WIDE)] == ["QK-TNT-02"]
    # without honour_limits the order is not read: the search's neighbours, other categories among them
    off = r.retrieve("whats the cheapest tent you have", k=5, settings=replace(WIDE, honour_limits=False))
    assert {h.product_id for h in off} > {"QK-TNT-01", "QK-TNT-02"}
    # the ranked product carries its overview (price and stock); its score is still its text's
    [h] = r.retrieve("whats the cheapest tent you have", k=2)
    assert any(x.field == "overview" for x in h.hits) and -1 <= h.score <= 1


def test_a_question_that_names_a_product_is_about_it_whatever_the_order(tiny_index, embedder):
    r = _retriever(tiny_index, embedder)
    assert r.retrieve("is the quokka dome 4 your cheapest tent?", k=1)[0].product_id == "QK-TNT-02"
